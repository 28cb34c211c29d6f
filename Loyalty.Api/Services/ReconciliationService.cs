using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Loyalty.Api.Auth;
using Loyalty.Grains.Runtime;
using D = Loyalty.Grains.Domain;
using P = Loyalty.Protos.V1;

namespace Loyalty.Api.Services;

/// <summary>
/// The accountant's service for tools and 1C: proto in, one <see cref="AccountantBooks"/> call,
/// proto out. The rules are in the domain (<c>Domain/ShiftResolution.cs</c>, <c>Domain/Liability.cs</c>).
/// An accountant or admin key; a pos key is refused.
/// </summary>
public sealed class ReconciliationService(CardDirectory cards, Access access) : P.Reconciliation.ReconciliationBase
{
    /// <summary>The service's full name on the wire.</summary>
    public const string Name = "loyalty.v1.Reconciliation";

    /// <summary>Rows a list returns when the request names no limit.</summary>
    public const int DefaultListLimit = 100;

    private AccountantBooks Books => new(cards, TimeProvider.System);

    public override async Task<P.ListShiftsResponse> ListShifts(P.ListShiftsRequest request, ServerCallContext context)
    {
        access.Accountant(context);
        var shifts = await Books.ListShiftsAsync(request.StoreId, request.RegisterId, Day(request.From, "from", optional: true), Day(request.To, "to", optional: true),
            Limit(request.Limit), context.CancellationToken);
        var response = new P.ListShiftsResponse();
        response.Shifts.AddRange(shifts.Select(ToWire));
        return response;
    }

    public override async Task<P.ShiftDetail> GetShift(P.GetShiftRequest request, ServerCallContext context)
    {
        access.Accountant(context);
        var detail = await Books.GetShiftAsync(new D.ShiftKey(request.StoreId, request.RegisterId, request.ShiftNumber), context.CancellationToken)
            ?? throw new D.CardException(D.CardErrorCode.NotFound, $"The server knows no receipt of shift {request.StoreId}/{request.RegisterId}/{request.ShiftNumber}.");
        var reply = new P.ShiftDetail { Summary = ToWire(detail.Summary) };
        if (detail.Summary.State != ShiftState.Open && detail.Result is not null) reply.Reconciliation = ExchangeMapping.ToWire(detail.Result);
        reply.Resolutions.AddRange(detail.Resolutions.Select(ToWire));
        reply.Movements.AddRange(detail.Movements.Select(ToWire));
        return reply;
    }

    public override async Task<P.ResolveReceiptResponse> ResolveReceipt(P.ResolveReceiptRequest request, ServerCallContext context)
    {
        var caller = access.Accountant(context);
        var kind = request.Kind switch
        {
            P.ResolutionKind.AcceptReport => D.ResolutionKind.AcceptReport,
            P.ResolutionKind.KeepOnline => D.ResolutionKind.KeepOnline,
            P.ResolutionKind.Adjustment => D.ResolutionKind.Adjustment,
            _ => throw D.Validate.Invalid("The resolution kind is missing: accept the report, keep the online figures, or an adjustment."),
        };
        var outcome = await Books.ResolveAsync(new D.ShiftKey(request.StoreId, request.RegisterId, request.ShiftNumber), request.ReceiptNumber, kind,
            request.Amount, request.Reason, caller.Actor, context.CancellationToken);
        var reply = new P.ResolveReceiptResponse { Resolution = ToWire(outcome.Record), Repeated = outcome.Repeated };
        reply.Movements.AddRange(outcome.Movements.Select(m => new P.Movement
        {
            CardNumber = m.CardNumber, OperationId = m.OperationId, Amount = m.AmountKopecks, Reason = m.Reason, Actor = outcome.Record.Actor,
            At = Timestamp.FromDateTimeOffset(outcome.Record.At),
        }));
        return reply;
    }

    public override async Task<P.LiabilityStatement> GetLiabilityStatement(P.LiabilityRequest request, ServerCallContext context)
    {
        access.Accountant(context);
        var report = await Books.LiabilityAsync(Day(request.From, "from", optional: false)!.Value, Day(request.To, "to", optional: false)!.Value, context.CancellationToken);
        var s = report.Statement;
        var reply = new P.LiabilityStatement
        {
            From = ToWire(s.From), To = ToWire(s.To), Total = ToWire(s.Total), RollsForward = s.RollsForward,
            CheckedAgainstCards = report.Cards is not null, TiesToCards = report.TiesToCards ?? false,
            CardsBalance = report.Cards?.BalanceKopecks ?? 0, CardsPending = report.Cards?.PendingKopecks ?? 0, CardsHeld = report.Cards?.HeldKopecks ?? 0,
        };
        reply.Lines.AddRange(s.Lines.Select(ToWire));
        reply.Programs.AddRange(s.Programs.Select(ToWire));
        reply.Daily.AddRange(report.Daily.Select(d => new P.DailyClosing { Day = ToWire(d.Day), Liability = d.LiabilityKopecks, Pending = d.PendingKopecks }));
        return reply;
    }

    public override async Task<P.ListDebtsResponse> ListDebts(P.ListDebtsRequest request, ServerCallContext context)
    {
        access.Accountant(context);
        var debts = await Books.ListDebtsAsync(request.OutstandingOnly, Limit(request.Limit), context.CancellationToken);
        var reply = new P.ListDebtsResponse();
        foreach (var d in debts)
        {
            var debt = new P.Debt
            {
                CardNumber = d.CardNumber, Redeemed = -d.Incurred.AmountKopecks, AvailableAfter = d.Incurred.AvailableAfterKopecks,
                StoreId = d.Incurred.Receipt?.StoreId ?? "", RegisterId = d.Incurred.Receipt?.RegisterId ?? "",
                ShiftNumber = d.Incurred.Receipt?.ShiftNumber ?? 0, ReceiptNumber = d.Incurred.Receipt?.ReceiptNumber ?? 0,
                IncurredAt = Timestamp.FromDateTimeOffset(d.Incurred.At), DebtNow = d.DebtNowKopecks,
            };
            if (d.RepaidAt is { } repaid) debt.RepaidAt = Timestamp.FromDateTimeOffset(repaid);
            debt.Repayments.AddRange(d.Repayments.Select(r =>
            {
                var movement = ToWire(r.Row);
                movement.Amount = r.RepaidKopecks;   // what the row repaid of the debt (see the proto)
                return movement;
            }));
            reply.Debts.Add(debt);
        }
        return reply;
    }

    private static int Limit(int limit) => limit <= 0 ? DefaultListLimit : Math.Min(limit, AccountantBooks.MaxListRows);

    /// <summary>A book day from the wire; unset is null when optional, refused otherwise; an impossible date is refused naming the field.</summary>
    public static DateOnly? Day(P.BookDay? day, string field, bool optional)
    {
        if (day is null || (day.Year == 0 && day.Month == 0 && day.Day == 0))
            return optional ? null : throw D.Validate.Invalid($"The day \"{field}\" is missing.");
        if (day.Year is < 2000 or > 9999 || day.Month is < 1 or > 12 || day.Day < 1 || day.Day > DateTime.DaysInMonth(day.Year, day.Month))
            throw D.Validate.Invalid($"The day \"{field}\" ({day.Year}-{day.Month}-{day.Day}) is not a date between 2000 and 9999.");
        return new DateOnly(day.Year, day.Month, day.Day);
    }

    public static P.BookDay ToWire(DateOnly day) => new() { Year = day.Year, Month = day.Month, Day = day.Day };

    public static P.ShiftSummary ToWire(ShiftSummary s) => new()
    {
        StoreId = s.Shift.StoreId, RegisterId = s.Shift.RegisterId, ShiftNumber = s.Shift.ShiftNumber, At = Timestamp.FromDateTimeOffset(s.At),
        State = s.State switch { ShiftState.Open => P.ShiftState.Open, ShiftState.NeedsAttention => P.ShiftState.NeedsAttention, _ => P.ShiftState.Settled },
        Receipts = s.Receipts, Matched = s.Matched, AppliedFromReport = s.AppliedFromReport, OnlineOnly = s.OnlineOnly, Mismatch = s.Mismatch,
        Other = s.Other, Debts = s.Debts, Unresolved = s.Unresolved,
    };

    private static P.Resolution ToWire(ResolutionRecord r) => new()
    {
        ReceiptNumber = r.Receipt.ReceiptNumber,
        Kind = r.Kind switch { D.ResolutionKind.AcceptReport => P.ResolutionKind.AcceptReport, D.ResolutionKind.KeepOnline => P.ResolutionKind.KeepOnline, _ => P.ResolutionKind.Adjustment },
        Amount = r.AmountKopecks, Reason = r.Reason, Actor = r.Actor, At = Timestamp.FromDateTimeOffset(r.At), OperationId = r.OperationId, Applied = r.Applied,
    };

    private static P.Movement ToWire(D.LedgerEntry e) => new()
    {
        CardNumber = e.CardNumber, OperationId = e.OperationId, Amount = e.AmountKopecks, Reason = e.Reason ?? "", Actor = e.Actor ?? "",
        At = Timestamp.FromDateTimeOffset(e.At),
    };

    private static P.LiabilityLine ToWire(D.LiabilityLine l) => new()
    {
        ProgramId = l.ProgramId, StoreId = l.StoreId, Opening = l.OpeningKopecks, Accrued = l.AccruedKopecks, ReleasedFromPending = l.ReleasedKopecks,
        RedeemedOnline = l.RedeemedOnlineKopecks, RedeemedOffline = l.RedeemedOfflineKopecks, Expired = l.ExpiredKopecks, Returns = l.ReturnsKopecks,
        Adjustments = l.AdjustmentsKopecks, Transfers = l.TransfersKopecks, Other = l.OtherKopecks, Closing = l.ClosingKopecks,
        PendingOpening = l.PendingOpeningKopecks, PendingAccrued = l.PendingAccruedKopecks, PendingReleased = l.PendingReleasedKopecks,
        PendingReturned = l.PendingReturnedKopecks, PendingTransferred = l.PendingTransferredKopecks, PendingClosing = l.PendingClosingKopecks,
        HeldClosing = l.HeldClosingKopecks, Rows = l.Rows,
    };
}
