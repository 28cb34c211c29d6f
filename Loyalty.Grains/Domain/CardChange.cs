using System.Collections.Immutable;

namespace Loyalty.Grains.Domain;

/// <summary>
/// Scratch space for one command on one card: starts from an immutable state, settles what time
/// has changed, applies the command's movements while writing their ledger rows, and yields the
/// next immutable state. The only place where balance, held and pending figures change.
/// </summary>
internal sealed class CardChange
{
    /// <summary>Rows the card writes by itself as time passes carry operation ids with this prefix, which clients may not use.</summary>
    public const string SystemOperationPrefix = "sys:";

    private readonly ProgramSettings _program;
    private readonly DateTimeOffset _now;
    private readonly List<LedgerEntry> _entries = [];
    private readonly Dictionary<string, int> _entryNumbers = new(StringComparer.Ordinal);
    private CardState _state;

    public CardChange(CardState state, ProgramSettings program, DateTimeOffset now)
    {
        _state = state;
        _program = program;
        _now = now;
        Settle();
    }

    public CardState State => _state;

    /// <summary>Ledger rows written so far (the time-driven ones included).</summary>
    public int EntryCount => _entries.Count;

    public void Update(Func<CardState, CardState> change) => _state = change(_state);

    public void RequireActive()
    {
        if (_state.Status == CardStatus.Blocked)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {_state.Number} is blocked{(_state.StatusReason is null ? "" : $" ({_state.StatusReason})")}.");
        if (_state.Status == CardStatus.Closed)
            throw new CardException(CardErrorCode.CardNotActive, $"Card {_state.Number} is closed; its balance moved to card {_state.MovedTo}.");
    }

    public Hold ActiveHold(string holdId)
    {
        if (_state.Holds.FirstOrDefault(h => h.Id == holdId) is { } hold) return hold;
        if (_state.ResolvedHolds.FirstOrDefault(h => h.Id == holdId) is { } resolved)
            throw new CardException(CardErrorCode.AlreadyResolved, resolved.Resolution switch
            {
                HoldResolution.Committed => $"Hold {holdId} was already committed at {resolved.At:u}.",
                HoldResolution.Cancelled => $"Hold {holdId} was cancelled at {resolved.At:u}; hold the bonuses again.",
                _ => $"Hold {holdId} expired at {resolved.At:u} and its bonuses were released; hold them again.",
            });
        throw new CardException(CardErrorCode.NotFound, $"Hold {holdId} is not known on card {_state.Number}.");
    }

    /// <summary>Records one movement and applies it to the card's three figures.</summary>
    public void Post(string operationId, LedgerKind kind, long amount, long held, long pending, ReceiptRef? receipt,
        bool offline = false, string? reason = null, string? actor = null, DateTimeOffset? at = null)
    {
        _state = _state with
        {
            BalanceKopecks = checked(_state.BalanceKopecks + amount),
            HeldKopecks = checked(_state.HeldKopecks + held),
            PendingKopecks = checked(_state.PendingKopecks + pending),
        };
        _entryNumbers.TryGetValue(operationId, out var number);
        _entryNumbers[operationId] = number + 1;
        _entries.Add(new LedgerEntry(_state.Number, operationId, number, kind, amount, held, pending,
            _state.BalanceKopecks, _state.AvailableKopecks, _state.Version + 1, receipt, offline, reason, actor, at ?? _now));
    }

    /// <summary>Consumes released lots, nearest expiry first. Offline, a shortfall becomes debt instead of a refusal.</summary>
    public IReadOnlyList<LotTake> TakeFromLots(long amount, bool allowDebt = false)
    {
        var takes = new List<LotTake>();
        var lots = _state.Lots;
        var remaining = amount;
        foreach (var lot in lots.Where(l => l.Released).OrderBy(l => l.ExpiresAt ?? DateTimeOffset.MaxValue).ThenBy(l => l.Id).ToList())
        {
            if (remaining == 0) break;
            var take = Math.Min(remaining, lot.RemainingKopecks);
            takes.Add(new LotTake(take, lot.AvailableAt, lot.ExpiresAt));
            lots = take == lot.RemainingKopecks ? lots.Remove(lot) : lots.Replace(lot, lot with { RemainingKopecks = lot.RemainingKopecks - take });
            remaining -= take;
        }
        if (remaining > 0 && !allowDebt)
            throw new InvalidOperationException($"Card {_state.Number}: lots hold less than the available balance; the state is inconsistent.");
        _state = _state with { Lots = lots, DebtKopecks = _state.DebtKopecks + remaining };
        return takes;
    }

    /// <summary>Adds spendable bonuses: they first repay any debt, the rest becomes a new lot.</summary>
    public void Credit(long amount)
    {
        var repaid = Math.Min(amount, _state.DebtKopecks);
        _state = _state with { DebtKopecks = _state.DebtKopecks - repaid };
        AddLot(amount - repaid, _now, ProgramRules.ExpiresAt(_program, _now), released: true, source: null);
    }

    /// <summary>Accrues bonuses for a receipt, pending until the return window closes. Returns when they become spendable.</summary>
    public DateTimeOffset Accrue(string operationId, long amount, ReceiptRef receipt, bool offline)
    {
        var availableAt = ProgramRules.AvailableAt(_program, _now);
        if (amount <= 0) return availableAt;
        if (availableAt <= _now)
        {
            Credit(amount);
            Post(operationId, LedgerKind.Accrual, amount, held: 0, pending: 0, receipt, offline);
        }
        else
        {
            AddLot(amount, availableAt, ProgramRules.ExpiresAt(_program, availableAt), released: false, source: receipt.ToString());
            Post(operationId, LedgerKind.Accrual, amount, held: 0, pending: amount, receipt, offline);
        }
        return availableAt;
    }

    /// <summary>
    /// Takes back accrued bonuses on a return: first from the receipt's own lot while it is still
    /// pending, then from what the customer may spend, which must cover it online.
    /// </summary>
    public void Reverse(string operationId, long amount, ReceiptRef receipt)
    {
        var source = receipt.ToString();
        long fromPending = 0;
        if (_state.Lots.FirstOrDefault(l => !l.Released && l.SourceReceipt == source) is { } lot)
        {
            fromPending = Math.Min(amount, lot.RemainingKopecks);
            _state = _state with
            {
                Lots = fromPending == lot.RemainingKopecks ? _state.Lots.Remove(lot) : _state.Lots.Replace(lot, lot with { RemainingKopecks = lot.RemainingKopecks - fromPending }),
            };
        }
        var fromAvailable = amount - fromPending;
        if (fromAvailable > _state.AvailableKopecks)
            throw new CardException(CardErrorCode.InsufficientBonuses,
                $"The return takes back {amount} kopecks of bonuses accrued on receipt {receipt}, but card {_state.Number} has only {Math.Max(0, _state.AvailableKopecks)} kopecks available; the customer has spent them. Withhold {fromAvailable - Math.Max(0, _state.AvailableKopecks)} kopecks from the money refund and refund fewer lines, or adjust the card.");
        if (fromAvailable > 0) TakeFromLots(fromAvailable);
        Post(operationId, LedgerKind.RefundReversal, -amount, held: 0, pending: -fromPending, receipt);
    }

    /// <summary>Voids a hold: its takes go back into lots with their original dates.</summary>
    public void Void(Hold hold, string operationId, LedgerKind kind, HoldResolution resolution, DateTimeOffset? resolvedAt = null)
    {
        var at = resolvedAt ?? _now;
        foreach (var take in hold.Takes)
            AddLot(take.AmountKopecks, take.AvailableAt, take.ExpiresAt, released: true, source: null);
        _state = _state with
        {
            Holds = _state.Holds.Remove(hold),
            ResolvedHolds = Card.Remember(_state.ResolvedHolds, new ResolvedHold(hold.Id, hold.AmountKopecks, resolution, at)),
        };
        Post(operationId, kind, amount: 0, held: -hold.AmountKopecks, pending: 0, hold.Receipt.Ref, at: resolvedAt);
        // Bonuses whose lot burnt while they were held burn now, before they could repay a debt or be counted.
        BurnExpiredLots(notBefore: at);
        RepayDebtFromLots();
    }

    /// <summary>
    /// Gives <paramref name="amount"/> returned bonuses back to the lots a committed redemption took
    /// (<paramref name="redeemedFrom"/>), in <see cref="ProgramRules.RestoreOrder"/>, each with its
    /// original dates; what those lots cannot take back (the debt part of an offline redemption, or a
    /// receipt from before lots were recorded) is credited as new bonuses. Lots already past their
    /// expiry burn at once, as expiry rows of this moment. Returns the lots with what each got back.
    /// </summary>
    public IReadOnlyList<RedeemedLot> Restore(string operationId, IReadOnlyList<RedeemedLot> redeemedFrom, long amount, ReceiptRef receipt)
    {
        var lots = redeemedFrom.ToArray();
        var left = amount;
        foreach (var i in ProgramRules.RestoreOrder(lots))
        {
            var give = Math.Min(left, lots[i].LeftToRestoreKopecks);
            if (give <= 0) continue;
            AddLot(give, lots[i].AvailableAt, lots[i].ExpiresAt, released: true, source: null);
            lots[i] = lots[i] with { RestoredKopecks = lots[i].RestoredKopecks + give };
            left -= give;
        }
        if (left > 0) Credit(left);
        Post(operationId, LedgerKind.RefundRestore, amount: amount, held: 0, pending: 0, receipt);
        BurnExpiredLots(notBefore: _now);
        RepayDebtFromLots();
        return lots;
    }

    /// <summary>Receives the lots, debt and history of a card being replaced or merged into this one.</summary>
    public void Adopt(IEnumerable<Lot> lots, long debt, IEnumerable<string> predecessors)
    {
        var list = _state.Lots;
        var nextId = _state.NextLotId;
        foreach (var lot in lots) list = list.Add(lot with { Id = nextId++ });
        _state = _state with
        {
            Lots = list, NextLotId = nextId, DebtKopecks = _state.DebtKopecks + debt,
            Predecessors = _state.Predecessors.AddRange(predecessors),
        };
        RepayDebtFromLots();
    }

    public Decision<TReply> Finish<TReply>(Func<CardState, TReply> reply, ReceiptRecord? created = null, ReceiptRecord? updated = null)
    {
        _state = _state with { Version = _state.Version + 1 };
        CompactLots();
        return new Decision<TReply>(_state, _entries, reply(_state), created, updated);
    }

    /// <summary>Time-driven changes, in order: holds past their timeout, accruals past their delay, lots past their expiry.</summary>
    private void Settle()
    {
        foreach (var hold in _state.Holds.Where(h => h.ExpiresAt <= _now).ToList())
            Void(hold, $"{SystemOperationPrefix}hold-expired:{hold.Id}", LedgerKind.HoldExpired, HoldResolution.Expired, resolvedAt: hold.ExpiresAt);

        foreach (var lot in _state.Lots.Where(l => !l.Released && l.AvailableAt <= _now).OrderBy(l => l.Id).ToList())
        {
            _state = _state with { Lots = _state.Lots.Replace(lot, lot with { Released = true }) };
            Post($"{SystemOperationPrefix}accrual-released:{_state.Number}:{lot.SourceReceipt ?? lot.Id.ToString()}:{lot.Id}", LedgerKind.AccrualRelease,
                amount: 0, held: 0, pending: -lot.RemainingKopecks, receipt: null, at: lot.AvailableAt);
            RepayDebtFromLots();
        }

        BurnExpiredLots(notBefore: DateTimeOffset.MinValue);
    }

    /// <summary>
    /// Released lots past their expiry burn. The ledger row carries the moment they expired, or
    /// <paramref name="notBefore"/> if later: bonuses that came back to the card after their expiry
    /// (a voided hold, a return) burn when they came back, so no row says they burnt before they
    /// were on the card.
    /// </summary>
    private void BurnExpiredLots(DateTimeOffset notBefore)
    {
        foreach (var lot in _state.Lots.Where(l => l.Released && l.ExpiresAt <= _now).OrderBy(l => l.Id).ToList())
        {
            _state = _state with { Lots = _state.Lots.Remove(lot) };
            var at = lot.ExpiresAt!.Value > notBefore ? lot.ExpiresAt.Value : notBefore;
            Post($"{SystemOperationPrefix}expired:{_state.Number}:{lot.Id}:{lot.ExpiresAt:yyyyMMddHHmmss}", LedgerKind.Expiry,
                amount: -lot.RemainingKopecks, held: 0, pending: 0, receipt: null, at: at);
        }
    }

    /// <summary>A debt is repaid from released lots as soon as there are any; the balance does not change.</summary>
    private void RepayDebtFromLots()
    {
        if (_state.DebtKopecks == 0) return;
        var available = _state.Lots.Where(l => l.Released).Sum(l => l.RemainingKopecks);
        var repay = Math.Min(available, _state.DebtKopecks);
        if (repay == 0) return;
        var debt = _state.DebtKopecks;
        _state = _state with { DebtKopecks = 0 };
        TakeFromLots(repay);
        _state = _state with { DebtKopecks = debt - repay };
    }

    private void AddLot(long amount, DateTimeOffset availableAt, DateTimeOffset? expiresAt, bool released, string? source)
    {
        if (amount <= 0) return;
        _state = _state with
        {
            Lots = _state.Lots.Add(new Lot(_state.NextLotId, amount, availableAt, expiresAt, released, source)),
            NextLotId = _state.NextLotId + 1,
        };
    }

    /// <summary>
    /// Keeps the lot list bounded: released lots with the same expiry are one lot, and beyond the
    /// limit the two nearest-expiry released lots merge (taking the nearer expiry, in the company's favour).
    /// </summary>
    private void CompactLots()
    {
        var lots = _state.Lots;
        var merged = lots.Where(l => !l.Released)
            .Concat(lots.Where(l => l.Released).GroupBy(l => l.ExpiresAt)
                .Select(g => g.Count() == 1 ? g.First() : g.First() with { RemainingKopecks = g.Sum(l => l.RemainingKopecks), SourceReceipt = null }))
            .OrderBy(l => l.Id).ToImmutableList();
        while (merged.Count > Limits.MaxLotsPerCard)
        {
            var two = merged.Where(l => l.Released).OrderBy(l => l.ExpiresAt ?? DateTimeOffset.MaxValue).Take(2).ToList();
            if (two.Count < 2) break;
            merged = merged.Remove(two[1]).Replace(two[0], two[0] with { RemainingKopecks = two[0].RemainingKopecks + two[1].RemainingKopecks });
        }
        _state = _state with { Lots = merged };
    }
}
