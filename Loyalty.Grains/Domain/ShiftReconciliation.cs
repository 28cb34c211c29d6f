using System.Security.Cryptography;
using System.Text;

namespace Loyalty.Grains.Domain;

/// <summary>A register's shift: the first three parts of every receipt key it issued.</summary>
[Orleans.Immutable]
public sealed record ShiftKey(string StoreId, string RegisterId, long ShiftNumber)
{
    public ReceiptRef Receipt(long receiptNumber) => new(StoreId, RegisterId, ShiftNumber, receiptNumber);

    public override string ToString() => $"{StoreId}/{RegisterId}/{ShiftNumber}";
}

public enum ReportedReceiptKind { Sale, Return, Cancelled }

/// <summary>
/// One line as the register reported it: amounts in kopecks before the bonus discount, and the
/// bonus discount the register gave on the line (0..amount).
/// </summary>
[Orleans.Immutable]
public sealed record ReportedLine(string Sku, string Category, string Name, long QuantityMilli, long PriceKopecks, long AmountKopecks, long BonusDiscountKopecks);

/// <summary>
/// One receipt of a shift's sales report, normalised from any register format. A return names the
/// sale it returns when the register gave the reference (<see cref="Original"/>); its lines are the
/// returned SKUs and quantities.
/// </summary>
[Orleans.Immutable]
public sealed record ReportedReceipt(long ReceiptNumber, ReportedReceiptKind Kind, string? CardNumber, IReadOnlyList<ReportedLine> Lines, ReceiptRef? Original = null)
{
    public long TotalKopecks => Lines.Sum(l => l.AmountKopecks);
    public long BonusKopecks => Lines.Sum(l => l.BonusDiscountKopecks);
}

/// <summary>
/// A closed shift's sales report as the server reconciles it: the shift, when it closed, whether the
/// register's Z record (shift close) was in it, the source format and the SHA-256 digest of the file
/// it came from (to tell a re-upload from a different report), and its receipts.
/// </summary>
[Orleans.Immutable]
public sealed record ShiftReportData(ShiftKey Shift, DateTimeOffset ClosedAt, bool ZReportPresent, string SourceFormat, string Digest, IReadOnlyList<ReportedReceipt> Receipts);

/// <summary>What reconciliation found for one receipt (design.md, "Reconciliation per shift").</summary>
public enum ReceiptOutcome
{
    /// <summary>Seen online with the same card, total and bonuses: nothing to apply.</summary>
    Matched,
    /// <summary>Not seen online: the register's redemption and the programme's accrual are applied once.</summary>
    AppliedFromReport,
    /// <summary>Committed online but absent from the report, or cancelled on the register: waits for the accountant.</summary>
    OnlineOnly,
    /// <summary>Seen online with other figures (card, total or bonuses): waits for the accountant.</summary>
    Mismatch,
    /// <summary>A return whose sale is known: applied like an online refund.</summary>
    ReturnApplied,
    /// <summary>A return whose sale cannot be identified: flagged, nothing applied.</summary>
    ReturnUnmatched,
    /// <summary>A sale or return without a loyalty card: nothing to do.</summary>
    WithoutCard,
    /// <summary>Cancelled on the register and never seen online: nothing to do.</summary>
    Cancelled,
    /// <summary>To be applied, but the card refused it (unknown or closed card, a return it cannot pay back): waits for the accountant.</summary>
    NotApplied,
}

/// <summary>A receipt's figures on one side: total before bonuses and bonuses redeemed, in kopecks.</summary>
public sealed record ReceiptFigures(string CardNumber, long TotalKopecks, long RedeemedKopecks)
{
    public override string ToString() => $"card {CardNumber}, total {TotalKopecks} kopecks, bonuses {RedeemedKopecks} kopecks";
}

/// <summary>
/// One receipt's line of the reconciliation: its outcome, both sides' figures where they exist, the
/// difference in words for a mismatch, and for receipts to apply the operation id derived from the
/// receipt key (so a crash mid-upload and a retry apply each receipt once) and what to apply.
/// </summary>
public sealed record ReceiptReconciliation(
    ReceiptRef Ref, ReceiptOutcome Outcome, ReceiptFigures? Online, ReceiptFigures? Report, string? Difference = null,
    string? OperationId = null, Receipt? ToApply = null, IReadOnlyList<long>? LineDiscounts = null,
    ReceiptRef? ReturnOf = null, IReadOnlyList<ReturnedLine>? Returned = null);

/// <summary>
/// Reconciles a closed shift's sales report with what the server saw online, receipt by receipt,
/// as pure decisions: which receipts match, which are applied from the report (and how), which
/// wait for the accountant. Applying the decisions (through the card grains) and keeping the result
/// are the shift's grain's job; the rules are here.
/// </summary>
public static class ShiftReconciliation
{
    /// <summary>Receipts in one report; a shift of a busy register has a few thousand.</summary>
    public const int MaxReceiptsPerReport = 100_000;

    /// <summary>
    /// Refuses a report that cannot be reconciled, naming what is wrong: a shift not closed (no Z
    /// record: the register may still add receipts), duplicate receipt numbers, bad lines or
    /// discounts, a return without lines. Throws <see cref="CardException"/>; nothing is applied.
    /// </summary>
    public static void Validate(ShiftReportData report)
    {
        Domain.Validate.Identifier(report.Shift.StoreId, "store id");
        Domain.Validate.Identifier(report.Shift.RegisterId, "register id");
        if (report.Shift.ShiftNumber <= 0)
            throw Domain.Validate.Invalid($"The shift number must be positive; {report.Shift.ShiftNumber} was given.");
        if (!report.ZReportPresent)
            throw new CardException(CardErrorCode.AlreadyResolved,
                $"The report of shift {report.Shift} has no Z record: the shift is not closed, so the register may still add receipts. Upload the report after the shift is closed.");
        if (report.Receipts.Count > MaxReceiptsPerReport)
            throw Domain.Validate.Invalid($"The report of shift {report.Shift} has {report.Receipts.Count} receipts; at most {MaxReceiptsPerReport} are accepted.");
        var seen = new HashSet<long>();
        foreach (var receipt in report.Receipts)
        {
            if (!seen.Add(receipt.ReceiptNumber))
                throw Domain.Validate.Invalid($"Receipt number {receipt.ReceiptNumber} appears more than once in the report of shift {report.Shift}.");
            if (receipt.CardNumber is not null) Domain.Validate.CardNumber(receipt.CardNumber);
            var asReceipt = ToReceipt(report.Shift, receipt);
            // A receipt cancelled before its first line has none; every other receipt is a whole receipt.
            if (receipt.Kind != ReportedReceiptKind.Cancelled || receipt.Lines.Count > 0)
                Domain.Validate.Receipt(asReceipt);
            for (var i = 0; i < receipt.Lines.Count; i++)
                if (receipt.Lines[i].BonusDiscountKopecks < 0 || receipt.Lines[i].BonusDiscountKopecks > receipt.Lines[i].AmountKopecks)
                    throw Domain.Validate.Invalid($"The bonus discount of line {i + 1} of receipt {asReceipt.Ref} must be between 0 and the line amount; {receipt.Lines[i].BonusDiscountKopecks} was given.");
            if (receipt.Kind == ReportedReceiptKind.Return && receipt.Original is { } original)
                Domain.Validate.ReceiptRef(original);
        }
    }

    /// <summary>
    /// Decides every receipt of <paramref name="report"/> (validated first) against
    /// <paramref name="committedOnline"/>, the receipts of this shift the server has committed
    /// (online or from an earlier application), and <paramref name="findSale"/>, which finds the sale
    /// a return names. Receipts committed online but absent from the report come last, as online only.
    /// </summary>
    public static IReadOnlyList<ReceiptReconciliation> Plan(
        ShiftReportData report, IReadOnlyCollection<ReceiptRecord> committedOnline, Func<ReceiptRef, ReceiptRecord?> findSale)
    {
        Validate(report);
        var online = committedOnline.ToDictionary(r => r.Ref);
        var plan = new List<ReceiptReconciliation>(report.Receipts.Count + online.Count);
        var reported = new HashSet<ReceiptRef>();
        foreach (var receipt in report.Receipts)
        {
            var key = report.Shift.Receipt(receipt.ReceiptNumber);
            reported.Add(key);
            online.TryGetValue(key, out var seen);
            var onlineFigures = seen is null ? null : new ReceiptFigures(seen.CardNumber, seen.Lines.Sum(l => l.AmountKopecks), seen.Redeemed);
            var reportFigures = receipt.CardNumber is null ? null : new ReceiptFigures(receipt.CardNumber, receipt.TotalKopecks, receipt.BonusKopecks);
            plan.Add(receipt.Kind switch
            {
                ReportedReceiptKind.Cancelled when seen is not null =>
                    new(key, ReceiptOutcome.OnlineOnly, onlineFigures, reportFigures, $"committed online ({onlineFigures}) but cancelled on the register"),
                ReportedReceiptKind.Cancelled => new(key, ReceiptOutcome.Cancelled, null, reportFigures),
                ReportedReceiptKind.Return => PlanReturn(key, receipt, reportFigures, findSale),
                _ when seen is not null && reportFigures is not null && onlineFigures == reportFigures =>
                    new(key, ReceiptOutcome.Matched, onlineFigures, reportFigures),
                _ when seen is not null =>
                    new(key, ReceiptOutcome.Mismatch, onlineFigures, reportFigures,
                        $"online: {onlineFigures}; report: {(reportFigures is null ? "no card" : reportFigures.ToString())}"),
                _ when receipt.CardNumber is null => new(key, ReceiptOutcome.WithoutCard, null, null),
                _ => new(key, ReceiptOutcome.AppliedFromReport, null, reportFigures, OperationId: OperationIdFor("sale", key),
                    ToApply: ToReceipt(report.Shift, receipt), LineDiscounts: [.. receipt.Lines.Select(l => l.BonusDiscountKopecks)]),
            });
        }
        foreach (var missing in online.Values.Where(r => !reported.Contains(r.Ref)).OrderBy(r => r.Ref.ReceiptNumber))
            plan.Add(new(missing.Ref, ReceiptOutcome.OnlineOnly, new ReceiptFigures(missing.CardNumber, missing.Lines.Sum(l => l.AmountKopecks), missing.Redeemed),
                null, "committed online but absent from the report"));
        return plan;
    }

    /// <summary>
    /// The operation id of an action reconciliation takes on a receipt: derived from the receipt key
    /// alone, so every upload of the shift (a retry after a crash, the same report again) names the
    /// same operation and the card applies it once. Reserved (<c>sys:</c>) so no client id collides.
    /// </summary>
    public static string OperationIdFor(string action, ReceiptRef receipt)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{action}\n{receipt}"));
        return $"{CardChange.SystemOperationPrefix}shift-{action}:{Convert.ToHexStringLower(hash, 0, 12)}";
    }

    /// <summary>The report's view of a receipt as the card's commands take it.</summary>
    public static Receipt ToReceipt(ShiftKey shift, ReportedReceipt receipt) =>
        new(shift.Receipt(receipt.ReceiptNumber),
            [.. receipt.Lines.Select(l => new ReceiptLine(l.Sku, l.Category, l.Name, l.QuantityMilli, l.PriceKopecks, l.AmountKopecks))]);

    private static ReceiptReconciliation PlanReturn(ReceiptRef key, ReportedReceipt receipt, ReceiptFigures? figures, Func<ReceiptRef, ReceiptRecord?> findSale)
    {
        if (receipt.CardNumber is null && receipt.Original is null)
            return new(key, ReceiptOutcome.WithoutCard, null, null);
        var sale = receipt.Original is { } original ? findSale(original) : null;
        if (sale is null)
            return new(key, ReceiptOutcome.ReturnUnmatched, null, figures,
                receipt.Original is null ? "the return names no sale" : $"sale {receipt.Original} is not known to the server");
        if (receipt.CardNumber is not null && receipt.CardNumber != sale.CardNumber)
            return new(key, ReceiptOutcome.ReturnUnmatched, null, figures, $"sale {sale.Ref} was made with card {sale.CardNumber}, the return names card {receipt.CardNumber}");
        return new(key, ReceiptOutcome.ReturnApplied, null, figures ?? new ReceiptFigures(sale.CardNumber, receipt.TotalKopecks, 0),
            OperationId: OperationIdFor("return", key), ReturnOf: sale.Ref,
            Returned: [.. receipt.Lines.Select(l => new ReturnedLine(l.Sku, l.QuantityMilli))]);
    }
}
