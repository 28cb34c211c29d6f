using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;

namespace Loyalty.Grains.Domain;

[Orleans.Immutable]
public sealed record QuoteResult(long MaxRedeemKopecks, long RedeemKopecks, long AccrualKopecks, IReadOnlyList<long> LineDiscounts, IReadOnlyList<long> LineAccruals);
[Orleans.Immutable]
public sealed record HoldResult(string HoldId, long AmountKopecks, IReadOnlyList<long> LineDiscounts, DateTimeOffset ExpiresAt, CardView Card);
[Orleans.Immutable]
public sealed record CommitResult(long RedeemedKopecks, long AccruedKopecks, DateTimeOffset AccrualAvailableAt, CardView Card, bool DroveBalanceNegative);
[Orleans.Immutable]
public sealed record CancelResult(long ReleasedKopecks, HoldResolution Resolution, CardView Card);
/// <summary>An open hold as the card has it: the receipt it was made for (line amounts before bonuses) and the discount it puts on each line, in the receipt's line order; kopecks.</summary>
[Orleans.Immutable]
public sealed record OpenHoldView(string HoldId, long AmountKopecks, Receipt Receipt, IReadOnlyList<long> LineDiscounts, DateTimeOffset ExpiresAt);
[Orleans.Immutable]
public sealed record RefundResult(long AccrualReversedKopecks, long RedeemRestoredKopecks, CardView Card);

/// <summary>
/// The outcome of a command that was accepted: the new state, the ledger rows it writes, its reply,
/// and the receipt record it creates or updates. Nothing is durable yet; the grain persists it.
/// </summary>
public sealed record Decision<TReply>(CardState State, IReadOnlyList<LedgerEntry> Entries, TReply Reply, ReceiptRecord? ReceiptCreated = null, ReceiptRecord? ReceiptUpdated = null)
{
    /// <summary>
    /// A receipt that must still be uncommitted when this decision is stored (a hold is only valid on
    /// an open receipt): the ledger writer checks it in the same transaction, so a commit of the
    /// receipt elsewhere (another card, another server) cannot slip in between, and no extra read is
    /// needed before holding. A write whose receipt was committed meanwhile stores nothing.
    /// </summary>
    public ReceiptRef? RequiresOpenReceipt { get; init; }

    /// <summary>Further cards the same decision writes (a transfer writes two), in one transaction.</summary>
    public IReadOnlyList<CardState> OtherStates { get; init; } = [];

    public IReadOnlyList<CardState> AllStates => [State, .. OtherStates];

    public Decision<TReply> With(CardState other) => this with { OtherStates = [.. OtherStates, other] };
}

/// <summary>
/// The card's commands as pure functions of (state, programme, command, now). Validation and every
/// balance movement happen here, in memory; a refused command throws <see cref="CardException"/> and
/// leaves the state untouched (it is immutable). Time-driven changes (expired holds, released
/// accruals, burnt lots) are settled first, so no answer ever counts an expired hold or a burnt lot.
/// </summary>
public static class Card
{
    /// <summary>Applies time-driven changes for reading; the rows are not kept (the next write records them).</summary>
    public static CardState Settled(CardState state, ProgramSettings program, DateTimeOffset now) =>
        new CardChange(state, program, now).State;

    /// <summary>
    /// Writes what time has changed (holds past their timeout voided, accruals past their delay
    /// released, lots past their expiry burnt) as a decision of its own, for a card nobody touches;
    /// null when nothing is due. Each row carries the time-driven id and the moment it happened, the
    /// same ones the card's next command would write, so the sweep and a command never both write it.
    /// </summary>
    public static Decision<bool>? Settle(CardState state, ProgramSettings program, DateTimeOffset now)
    {
        var change = new CardChange(state, program, now);
        return change.EntryCount == 0 ? null : change.Finish(_ => true);
    }

    /// <summary>
    /// The next moment a time-driven change falls due on this card without any command: the earliest
    /// hold timeout, accrual release or lot expiry; null when nothing is waiting. The sweeper looks
    /// for cards whose moment has passed (stored beside the card as <c>cards.due_at</c>).
    /// </summary>
    public static DateTimeOffset? NextDueAt(CardState state)
    {
        DateTimeOffset? next = null;
        void Consider(DateTimeOffset? at)
        {
            if (at is { } t && (next is null || t < next)) next = t;
        }
        foreach (var hold in state.Holds) Consider(hold.ExpiresAt);
        foreach (var lot in state.Lots) Consider(lot.Released ? lot.ExpiresAt : lot.AvailableAt);
        return next;
    }

    /// <summary>A new card with nothing on it, in the given programme.</summary>
    public static Decision<CardView> Issue(string number, ProgramSettings program, string? phone, string? email, DateTimeOffset now)
    {
        Validate.CardNumber(number);
        Validate.Text(phone, "phone", required: false);
        Validate.Text(email, "e-mail", required: false);
        var state = CardState.Issued(number, program.ProgramId, phone, email, now) with { Version = 1 };
        return new Decision<CardView>(state, [], CardView.Of(state));
    }

    /// <summary>
    /// The dry run of Redeem then Commit: the most this receipt may be paid with bonuses now, the
    /// requested amount capped at that, and what Redeem of the capped amount (none when it is 0)
    /// followed by Commit would do: the same decision code on the same state at the same moment, so a
    /// quote never promises what they would refuse. When they would refuse, Quote throws the refusal
    /// they would give (a blocked or closed card, a held or committed receipt, too many holds).
    /// </summary>
    /// <param name="committed">The receipt's committed record, if it was committed (see <see cref="ReceiptLifecycle"/>).</param>
    public static QuoteResult Quote(CardState state, ProgramSettings program, Receipt receipt, long requestedKopecks, ReceiptRecord? committed, DateTimeOffset now)
    {
        Validate.Receipt(receipt);
        if (requestedKopecks < 0 || requestedKopecks > Limits.MaxAmountKopecks)
            throw Validate.Invalid($"The requested redemption must be between 0 and {Limits.MaxAmountKopecks} kopecks; {requestedKopecks} was given.");
        var settled = Settled(state, program, now);
        // What a hold could take now: nothing on a card that is not active or takes no more holds.
        var available = settled.Status == CardStatus.Active && settled.Holds.Count < Limits.MaxActiveHoldsPerCard ? settled.AvailableKopecks : 0;
        var max = ProgramRules.MaxRedeem(program, receipt, available);
        var redeem = Math.Min(requestedKopecks, max);
        const string dryRun = "quote-dry-run";
        string? holdId = null;
        if (redeem > 0)
        {
            var hold = Redeem(state, program, dryRun, receipt, redeem, committed, now);
            (state, holdId) = (hold.State, hold.Reply.HoldId);
        }
        var commit = Commit(state, program, dryRun, receipt, holdId, committed, now);
        var record = commit.ReceiptCreated!;
        return new QuoteResult(max, commit.Reply.RedeemedKopecks, commit.Reply.AccruedKopecks,
            [.. record.Lines.Select(l => l.DiscountKopecks)], [.. record.Lines.Select(l => l.AccrualKopecks)]);
    }

    /// <summary>Holds <paramref name="amountKopecks"/> for a receipt: the first phase of paying with bonuses.</summary>
    /// <param name="committed">The receipt's committed record, if it was committed: a committed receipt takes no new hold.</param>
    public static Decision<HoldResult> Redeem(CardState state, ProgramSettings program, string operationId, Receipt receipt, long amountKopecks, ReceiptRecord? committed, DateTimeOffset now)
    {
        Validate.Receipt(receipt);
        Validate.PositiveAmount(amountKopecks, "redemption amount");
        var change = new CardChange(state, program, now);
        change.RequireActive();
        var s = change.State;
        ReceiptLifecycle.RequireOpenForHold(s, receipt.Ref, committed);
        if (s.Holds.Count >= Limits.MaxActiveHoldsPerCard)
            throw new CardException(CardErrorCode.LimitExceeded, $"Card {s.Number} already has {s.Holds.Count} active holds, the most allowed.");
        var capacity = ProgramRules.RedeemCapacity(program, receipt);
        if (amountKopecks > capacity)
            throw new CardException(CardErrorCode.LimitExceeded,
                $"Receipt {receipt.Ref} of {receipt.TotalKopecks} kopecks allows at most {capacity} kopecks of bonuses under the programme's limits; {amountKopecks} were asked.");
        if (amountKopecks > s.AvailableKopecks)
            throw new CardException(CardErrorCode.InsufficientBonuses,
                $"Redeeming {amountKopecks} kopecks from card {s.Number} would overdraw it. This card has {Math.Max(0, s.AvailableKopecks)} kopecks available.");

        var discounts = ProgramRules.SpreadDiscount(program, receipt, amountKopecks);
        var takes = change.TakeFromLots(amountKopecks);
        var hold = new Hold(HoldIdFor(s.Number, operationId), operationId, amountKopecks, receipt, discounts,
            ProgramRules.HoldExpiresAt(program, now), takes);
        change.Update(x => x with { Holds = x.Holds.Add(hold) });
        change.Post(operationId, LedgerKind.Hold, amount: 0, held: amountKopecks, pending: 0, receipt.Ref);
        return change.Finish(st => new HoldResult(hold.Id, amountKopecks, discounts, hold.ExpiresAt, CardView.Of(st))) with { RequiresOpenReceipt = receipt.Ref };
    }

    /// <summary>
    /// An open hold of the card at <paramref name="now"/> (one past its timeout is not open), read
    /// without writing anything. Refused as a commit would refuse it: AlreadyResolved when it was
    /// committed, cancelled or timed out (saying when), NotFound when the card never gave it.
    /// </summary>
    public static OpenHoldView OpenHold(CardState state, ProgramSettings program, string holdId, DateTimeOffset now)
    {
        var hold = new CardChange(state, program, now).ActiveHold(holdId);
        return new OpenHoldView(hold.Id, hold.AmountKopecks, hold.Receipt, hold.LineDiscounts, hold.ExpiresAt);
    }

    /// <summary>
    /// Gives an open hold to the office register's print job <paramref name="printJobId"/> that prints
    /// its receipt: from then on only that job commits it (when printed) or cancels it (when printing
    /// fails); by hand it is refused, since a printed discount must be paid and an unprinted sale must
    /// not be booked. No ledger row: the bonuses stay held. A hold already another job's is refused.
    /// </summary>
    public static Decision<bool> BindHoldToPrintJob(CardState state, ProgramSettings program, string holdId, string printJobId, DateTimeOffset now)
    {
        var change = new CardChange(state, program, now);
        var hold = change.ActiveHold(holdId);
        if (hold.PrintJobId is { } other && other != printJobId)
            throw new CardException(CardErrorCode.AlreadyResolved, $"Hold {holdId} belongs to print job {other} already.");
        change.Update(x => x with { Holds = x.Holds.Replace(hold, hold with { PrintJobId = printJobId }) });
        return change.Finish(_ => true);
    }

    private static void RequireSettledByItsPrintJob(Hold hold, string operationId, string what)
    {
        if (hold.PrintJobId is { } job && !PrintQueue.IsBonusStepOf(operationId, job))
            throw new CardException(CardErrorCode.AlreadyResolved,
                $"Hold {hold.Id} belongs to print job {job} of an office register: the job commits it when the receipt is printed and cancels it if printing fails; it cannot be {what} by hand.");
    }

    /// <summary>Commits a receipt: posts its hold, if any, and accrues on the part paid with money.</summary>
    /// <param name="committed">The receipt's committed record, if it was committed already: then the commit is refused, naming it.</param>
    public static Decision<CommitResult> Commit(CardState state, ProgramSettings program, string operationId, Receipt receipt, string? holdId, ReceiptRecord? committed, DateTimeOffset now)
    {
        Validate.Receipt(receipt);
        var change = new CardChange(state, program, now);
        change.RequireActive();
        ReceiptLifecycle.RequireCommittable(change.State, receipt.Ref, holdId, committed);
        IReadOnlyList<long> discounts = new long[receipt.Lines.Count];
        IReadOnlyList<LotTake> takes = [];
        long redeemed = 0;
        if (!string.IsNullOrEmpty(holdId))
        {
            var hold = change.ActiveHold(holdId);
            RequireSettledByItsPrintJob(hold, operationId, "committed");
            if (!hold.Receipt.SameAs(receipt))
                throw Validate.Invalid($"Receipt {receipt.Ref} differs from receipt {hold.Receipt.Ref} that hold {holdId} was made for; commit the same receipt or cancel the hold.");
            change.Update(x => x with
            {
                Holds = x.Holds.Remove(hold),
                ResolvedHolds = Remember(x.ResolvedHolds, new ResolvedHold(hold.Id, hold.AmountKopecks, HoldResolution.Committed, now)),
            });
            change.Post(operationId, LedgerKind.HoldPost, amount: -hold.AmountKopecks, held: -hold.AmountKopecks, pending: 0, receipt.Ref);
            discounts = hold.LineDiscounts;
            takes = hold.Takes;
            redeemed = hold.AmountKopecks;
        }

        var accruals = ProgramRules.Accruals(program, receipt, discounts);
        var availableAt = change.Accrue(operationId, accruals.Sum(), receipt.Ref, offline: false);
        var record = RecordOf(receipt, change.State.Number, discounts, accruals, takes, operationId, now, offline: false);
        return change.Finish(st => new CommitResult(redeemed, accruals.Sum(), availableAt, CardView.Of(st), false), created: record);
    }

    /// <summary>
    /// Applies a receipt that a register closed offline (from a shift's sales report). It is never
    /// refused for lack of bonuses: the register already gave the discount, so a shortfall becomes
    /// a debt on the card, flagged on the ledger row for the accountant. An online hold left open for
    /// the receipt is voided first (the register closed the receipt without it); a receipt the
    /// server saw committed is refused (reconciliation matches it instead), see <see cref="ReceiptLifecycle"/>.
    /// </summary>
    public static Decision<CommitResult> ApplyOffline(CardState state, ProgramSettings program, string operationId, Receipt receipt, IReadOnlyList<long> lineDiscounts, ReceiptRecord? committed, DateTimeOffset now)
    {
        Validate.Receipt(receipt);
        if (lineDiscounts.Count != receipt.Lines.Count)
            throw Validate.Invalid($"Receipt {receipt.Ref} has {receipt.Lines.Count} lines but {lineDiscounts.Count} line discounts.");
        for (var i = 0; i < lineDiscounts.Count; i++)
            if (lineDiscounts[i] < 0 || lineDiscounts[i] > receipt.Lines[i].AmountKopecks)
                throw Validate.Invalid($"The bonus discount of line {i + 1} of receipt {receipt.Ref} must be between 0 and the line amount; {lineDiscounts[i]} was given.");
        var change = new CardChange(state, program, now);
        if (change.State.Status == CardStatus.Closed)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {state.Number} is closed; its balance moved to {state.MovedTo}.");
        if (ReceiptLifecycle.RequireApplicableOffline(change.State, receipt.Ref, committed) is { } staleHold)
            change.Void(staleHold, operationId, LedgerKind.HoldVoid, HoldResolution.Cancelled);
        var redeemed = lineDiscounts.Sum();
        var negative = false;
        IReadOnlyList<LotTake> takes = [];
        if (redeemed > 0)
        {
            negative = redeemed > change.State.AvailableKopecks;
            takes = change.TakeFromLots(redeemed, allowDebt: true);
            change.Post(operationId, LedgerKind.OfflineRedeem, amount: -redeemed, held: 0, pending: 0, receipt.Ref, offline: true,
                reason: negative ? "offline redemption exceeded the available balance" : null);
        }
        // The register gave the discount, so it is booked; a blocked card earns nothing, online or not.
        var accruals = change.State.Status == CardStatus.Blocked
            ? new long[receipt.Lines.Count]
            : ProgramRules.Accruals(program, receipt, lineDiscounts);
        var availableAt = change.Accrue(operationId, accruals.Sum(), receipt.Ref, offline: true);
        var record = RecordOf(receipt, change.State.Number, lineDiscounts, accruals, takes, operationId, now, offline: true);
        return change.Finish(st => new CommitResult(redeemed, accruals.Sum(), availableAt, CardView.Of(st), negative), created: record);
    }

    /// <summary>
    /// Voids a hold. A hold that already timed out answers with nothing released; a committed one is refused.
    /// With <paramref name="storeId"/> given, only a hold made for a receipt of that store may be voided.
    /// </summary>
    public static Decision<CancelResult> Cancel(CardState state, ProgramSettings program, string operationId, string holdId, DateTimeOffset now, string? storeId = null)
    {
        var change = new CardChange(state, program, now);
        if (change.State.Holds.FirstOrDefault(h => h.Id == holdId) is { } hold)
        {
            if (storeId is not null && hold.Receipt.Ref.StoreId != storeId)
                throw new CardException(CardErrorCode.Forbidden, $"Hold {holdId} was made for a receipt of another store; a register of store {storeId} may not cancel it.");
            RequireSettledByItsPrintJob(hold, operationId, "cancelled");
            change.Void(hold, operationId, LedgerKind.HoldVoid, HoldResolution.Cancelled);
            return change.Finish(st => new CancelResult(hold.AmountKopecks, HoldResolution.Cancelled, CardView.Of(st)));
        }
        var resolved = change.State.ResolvedHolds.FirstOrDefault(h => h.Id == holdId)
            ?? throw new CardException(CardErrorCode.NotFound, $"Hold {holdId} is not known on card {state.Number}.");
        if (resolved.Resolution == HoldResolution.Committed)
            throw new CardException(CardErrorCode.AlreadyResolved, $"Hold {holdId} was committed at {resolved.At:u}; refund the receipt instead.");
        return change.Finish(st => new CancelResult(0, resolved.Resolution, CardView.Of(st)));
    }

    /// <summary>
    /// Refunds returned lines of an earlier receipt: gives back their share of the discount and takes
    /// back their share of the accrual. Online, the card must be able to pay back what it takes.
    /// Given-back bonuses return to the lots the redemption took, with their original dates
    /// (<see cref="ProgramRules.RestoreOrder"/>); those already past their expiry burn at once.
    /// </summary>
    /// <param name="committed">The receipt's committed record (null: not committed; refused as not found).</param>
    public static Decision<RefundResult> Refund(CardState state, ProgramSettings program, string operationId, ReceiptRef reference, ReceiptRecord? committed, IReadOnlyList<ReturnedLine> returned, DateTimeOffset now)
    {
        var original = ReceiptLifecycle.RequireRefundable(state.Number, state.Predecessors, reference, committed);
        if (returned is null || returned.Count == 0)
            throw Validate.Invalid($"The refund of receipt {original.Ref} names no returned lines.");
        if (returned.Count > Limits.MaxReceiptLines)
            throw Validate.Invalid($"The refund names {returned.Count} lines; at most {Limits.MaxReceiptLines} are allowed.");
        var change = new CardChange(state, program, now);
        if (change.State.Status == CardStatus.Closed)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {state.Number} is closed; its balance moved to {state.MovedTo}.");

        var lines = original.Lines.ToArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long accrualBack = 0, discountBack = 0;
        foreach (var r in returned)
        {
            Validate.Identifier(r.Sku, "SKU of a returned line");
            if (!seen.Add(r.Sku))
                throw Validate.Invalid($"SKU {r.Sku} appears more than once in the refund of receipt {original.Ref}.");
            var index = Array.FindIndex(lines, l => l.Sku == r.Sku);
            if (index < 0)
                throw Validate.Invalid($"Receipt {original.Ref} has no line with SKU {r.Sku}.");
            var line = lines[index];
            var left = line.QuantityMilli - line.ReturnedQuantityMilli;
            if (r.QuantityMilli <= 0 || r.QuantityMilli > Limits.MaxQuantityMilli)
                throw Validate.Invalid($"The returned quantity of SKU {r.Sku} must be positive; {r.QuantityMilli} was given.");
            if (left == 0)
                throw new CardException(CardErrorCode.AlreadyResolved, $"SKU {r.Sku} of receipt {original.Ref} was already refunded in full.");
            if (r.QuantityMilli > left)
                throw new CardException(CardErrorCode.AlreadyResolved,
                    $"Only {left} thousandths of SKU {r.Sku} of receipt {original.Ref} are left to refund; {r.QuantityMilli} were asked.");
            var (lineAccrualBack, lineDiscountBack) = ProgramRules.ReturnShare(line, r.QuantityMilli);
            lines[index] = line with
            {
                ReturnedQuantityMilli = line.ReturnedQuantityMilli + r.QuantityMilli,
                AccrualReversedKopecks = line.AccrualReversedKopecks + lineAccrualBack,
                RedeemRestoredKopecks = line.RedeemRestoredKopecks + lineDiscountBack,
            };
            accrualBack += lineAccrualBack;
            discountBack += lineDiscountBack;
        }

        var redeemedFrom = original.RedeemedFrom;
        if (discountBack > 0)
            redeemedFrom = change.Restore(operationId, original.RedeemedFrom, discountBack, original.Ref);
        if (accrualBack > 0)
            change.Reverse(operationId, accrualBack, original.Ref);
        var updated = original with { Lines = lines, RedeemedFrom = redeemedFrom };
        return change.Finish(st => new RefundResult(accrualBack, discountBack, CardView.Of(st)), updated: updated);
    }

    /// <summary>A manual correction by staff: signed, with a reason and who did it. It may not overdraw the card.</summary>
    public static Decision<CardView> Adjust(CardState state, ProgramSettings program, string operationId, long amountKopecks, string reason, string actor, DateTimeOffset now)
    {
        Validate.SignedAmount(amountKopecks, "adjustment");
        Validate.Text(reason, "reason of the adjustment", required: true);
        Validate.Text(actor, "author of the adjustment", required: true);
        var change = new CardChange(state, program, now);
        if (change.State.Status == CardStatus.Closed)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {state.Number} is closed; its balance moved to {state.MovedTo}.");
        if (amountKopecks > 0)
            change.Credit(amountKopecks);
        else
        {
            if (-amountKopecks > change.State.AvailableKopecks)
                throw new CardException(CardErrorCode.InsufficientBonuses,
                    $"Taking {-amountKopecks} kopecks from card {state.Number} would overdraw it. This card has {Math.Max(0, change.State.AvailableKopecks)} kopecks available.");
            change.TakeFromLots(-amountKopecks);
        }
        change.Post(operationId, LedgerKind.Adjustment, amountKopecks, held: 0, pending: 0, receipt: null, reason: reason, actor: actor);
        return change.Finish(CardView.Of);
    }

    /// <summary>Blocks or unblocks a card. A blocked card can neither redeem nor earn; its balance stays.</summary>
    public static Decision<CardView> SetStatus(CardState state, ProgramSettings program, CardStatus status, string reason, DateTimeOffset now)
    {
        Validate.Text(reason, "reason", required: status == CardStatus.Blocked);
        if (status == CardStatus.Closed)
            throw Validate.Invalid("A card is closed only by replacing or merging it.");
        var change = new CardChange(state, program, now);
        if (change.State.Status == CardStatus.Closed)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {state.Number} is closed; its balance moved to {state.MovedTo}.");
        change.Update(x => x with { Status = status, StatusReason = string.IsNullOrWhiteSpace(reason) ? null : reason });
        return change.Finish(CardView.Of);
    }

    /// <summary>
    /// Moves everything of <paramref name="source"/> (balance, lots, pending accruals, debt, history)
    /// into <paramref name="target"/> and closes the source: the core of both replace and merge.
    /// </summary>
    public static (Decision<CardView> Source, Decision<CardView> Target) Transfer(
        CardState source, CardState target, ProgramSettings sourceProgram, ProgramSettings targetProgram, string operationId, string reason, string actor, DateTimeOffset now)
    {
        Validate.Text(reason, "reason", required: true);
        if (source.Number == target.Number)
            throw Validate.Invalid($"Card {source.Number} cannot be merged into itself.");
        var from = new CardChange(source, sourceProgram, now);
        var to = new CardChange(target, targetProgram, now);
        if (from.State.Status == CardStatus.Closed)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {source.Number} is already closed; its balance moved to {source.MovedTo}.");
        if (to.State.Status == CardStatus.Closed)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {target.Number} is closed and cannot receive a balance.");
        if (from.State.Holds.Count > 0)
            throw new CardException(CardErrorCode.AlreadyResolved, $"Card {source.Number} has {from.State.Holds.Count} active holds; commit or cancel them before moving its balance.");

        var moved = from.State;
        var lots = moved.Lots;
        from.Update(x => x with
        {
            Lots = [], DebtKopecks = 0, Status = CardStatus.Closed, MovedTo = target.Number, StatusReason = reason,
        });
        from.Post(operationId, LedgerKind.TransferOut, -moved.BalanceKopecks, held: 0, pending: -moved.PendingKopecks, receipt: null, reason: reason, actor: actor);
        to.Adopt(lots, moved.DebtKopecks, [moved.Number, .. moved.Predecessors]);
        to.Post(operationId, LedgerKind.TransferIn, moved.BalanceKopecks, held: 0, pending: moved.PendingKopecks, receipt: null, reason: reason, actor: actor);
        return (from.Finish(CardView.Of), to.Finish(CardView.Of));
    }

    /// <summary>Hold ids carry the card number so a cancel needs nothing else, and derive from the operation id so a retry names the same hold.</summary>
    public static string HoldIdFor(string cardNumber, string operationId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(operationId));
        return $"H{cardNumber}-{Convert.ToHexStringLower(hash, 0, 8)}";
    }

    public static string? CardNumberOfHold(string? holdId)
    {
        if (string.IsNullOrEmpty(holdId) || holdId.Length > 64 || holdId[0] != 'H') return null;
        var dash = holdId.LastIndexOf('-');
        return dash > 1 ? holdId[1..dash] : null;
    }

    /// <summary>Keeps the last few resolved holds so late cancels get a precise answer, bounded per card.</summary>
    internal static ImmutableList<ResolvedHold> Remember(ImmutableList<ResolvedHold> resolved, ResolvedHold hold)
    {
        var list = resolved.Add(hold);
        return list.Count > Limits.ResolvedHoldsRemembered ? list.RemoveAt(0) : list;
    }

    private static ReceiptRecord RecordOf(Receipt receipt, string cardNumber, IReadOnlyList<long> discounts, IReadOnlyList<long> accruals,
        IReadOnlyList<LotTake> takes, string operationId, DateTimeOffset now, bool offline) =>
        new(receipt.Ref, cardNumber,
            receipt.Lines.Select((l, i) => new ReceiptRecordLine(l.Sku, l.Category, l.QuantityMilli, l.AmountKopecks, discounts[i], accruals[i], 0, 0, 0)).ToArray(),
            offline)
        {
            OperationId = operationId,
            CommittedAt = now,
            RedeemedFrom = [.. takes.Select(t => new RedeemedLot(t.AmountKopecks, t.AvailableAt, t.ExpiresAt))],
        };
}
