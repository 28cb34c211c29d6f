using Google.Protobuf.WellKnownTypes;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using D = Loyalty.Grains.Domain;
using P = Loyalty.Protos.V1;

namespace Loyalty.Api.Services;

/// <summary>The offline exchange's messages ↔ the domain's shift report and reconciliation, field by field. No rule lives here.</summary>
public static class ExchangeMapping
{
    /// <summary>A wire report as the reconciler takes it; shape errors (missing store, no receipts' lines) are the domain's to refuse with sentences.</summary>
    public static D.ShiftReportData ToDomain(P.ShiftReport report) => new(
        new D.ShiftKey(report.StoreId, report.RegisterId, report.ShiftNumber),
        report.ClosedAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue,
        report.ZReportPresent,
        string.IsNullOrEmpty(report.SourceFormat) ? "unknown" : report.SourceFormat,
        report.Digest,
        [.. report.Receipts.Select(r => new D.ReportedReceipt(
            r.ReceiptNumber,
            r.Kind switch
            {
                P.ReportedReceiptKind.Return => D.ReportedReceiptKind.Return,
                P.ReportedReceiptKind.Cancelled => D.ReportedReceiptKind.Cancelled,
                P.ReportedReceiptKind.Sale => D.ReportedReceiptKind.Sale,
                _ => throw D.Validate.Invalid($"Receipt {r.ReceiptNumber} of the report has no kind (sale, return or cancelled)."),
            },
            string.IsNullOrEmpty(r.CardNumber) ? null : r.CardNumber,
            [.. r.Lines.Select(l => new D.ReportedLine(l.Sku, l.Category, l.Name, l.QuantityMilli, l.Price, l.Amount, l.BonusDiscount))],
            r.Original is null ? null : new D.ReceiptRef(r.Original.StoreId, r.Original.RegisterId, r.Original.ShiftNumber, r.Original.ReceiptNumber)))]);

    public static P.ShiftReconciliation ToWire(ShiftResult result)
    {
        var wire = new P.ShiftReconciliation
        {
            StoreId = result.Shift.StoreId, RegisterId = result.Shift.RegisterId, ShiftNumber = result.Shift.ShiftNumber,
            Digest = result.Digest,
            Status = result.Status == ShiftStatus.Settled ? P.ShiftStatus.Settled : P.ShiftStatus.NeedsAttention,
            ReconciledAt = Timestamp.FromDateTimeOffset(result.ReconciledAt),
            HoldsVoided = result.HoldsVoided,
        };
        foreach (var r in result.Receipts)
            wire.Receipts.Add(new P.ReconciledReceipt
            {
                ReceiptNumber = r.Ref.ReceiptNumber,
                Outcome = r.Outcome switch
                {
                    D.ReceiptOutcome.Matched => P.ReceiptOutcome.Matched,
                    D.ReceiptOutcome.AppliedFromReport => P.ReceiptOutcome.AppliedFromReport,
                    D.ReceiptOutcome.OnlineOnly => P.ReceiptOutcome.OnlineOnly,
                    D.ReceiptOutcome.Mismatch => P.ReceiptOutcome.Mismatch,
                    D.ReceiptOutcome.ReturnApplied => P.ReceiptOutcome.ReturnApplied,
                    D.ReceiptOutcome.ReturnUnmatched => P.ReceiptOutcome.ReturnUnmatched,
                    D.ReceiptOutcome.WithoutCard => P.ReceiptOutcome.WithoutCard,
                    D.ReceiptOutcome.Cancelled => P.ReceiptOutcome.Cancelled,
                    _ => P.ReceiptOutcome.NotApplied,
                },
                CardNumber = r.Report?.CardNumber ?? r.Online?.CardNumber ?? "",
                OnlineTotal = r.Online?.TotalKopecks ?? 0, OnlineRedeemed = r.Online?.RedeemedKopecks ?? 0,
                ReportTotal = r.Report?.TotalKopecks ?? 0, ReportRedeemed = r.Report?.RedeemedKopecks ?? 0,
                Note = r.Note ?? "",
                AppliedRedeemed = r.AppliedRedeemedKopecks, AppliedAccrued = r.AppliedAccruedKopecks,
                ReturnRestored = r.ReturnRestoredKopecks, ReturnReversed = r.ReturnReversedKopecks,
                Debt = r.Debt,
            });
        return wire;
    }

    public static P.ExportedCard ToWire(ExportedCard card) => new()
    {
        CardNumber = card.Number,
        Status = card.Status switch
        {
            D.CardStatus.Active => P.CardStatus.Active,
            D.CardStatus.Blocked => P.CardStatus.Blocked,
            _ => P.CardStatus.Closed,
        },
        OfflineSpendable = card.OfflineSpendableKopecks,
        Balance = card.BalanceKopecks,
    };
}
