namespace Loyalty.Grains.Domain;

/// <summary>Whether a movement sum lies before the statement's period (it makes the opening) or inside it.</summary>
public enum LiabilityPeriodPart { Before, During }

/// <summary>
/// The ledger's movements of one kind summed for one programme and store ('' = no store: expiry,
/// releases, adjustments, transfers), before or during a period: what the statement is built from.
/// Amounts in kopecks, the sums of the ledger's <c>amount</c>, <c>held_delta</c>, <c>pending_delta</c>.
/// </summary>
public sealed record MovementSum(string ProgramId, string StoreId, string Kind, LiabilityPeriodPart Part, long Rows, long AmountKopecks, long HeldKopecks, long PendingKopecks);

/// <summary>
/// One row of the bonus liability statement, for one programme and store (or a total), all in
/// kopecks. The liability is what customers may spend or have set aside for a purchase: the card
/// balances less pending accruals (not yet spendable, taken back if the goods come back); pending is
/// shown apart, with its own roll-forward, and <see cref="HeldClosingKopecks"/> is the part of the
/// closing liability set aside by open holds. Reductions (redeemed, expired) are positive numbers
/// that are subtracted; returns, adjustments, transfers and other are signed.
/// </summary>
public sealed record LiabilityLine(
    string ProgramId, string StoreId,
    long OpeningKopecks, long AccruedKopecks, long ReleasedKopecks, long RedeemedOnlineKopecks, long RedeemedOfflineKopecks,
    long ExpiredKopecks, long ReturnsKopecks, long AdjustmentsKopecks, long TransfersKopecks, long OtherKopecks,
    long ClosingKopecks,
    long PendingOpeningKopecks, long PendingAccruedKopecks, long PendingReleasedKopecks, long PendingReturnedKopecks, long PendingTransferredKopecks,
    long PendingClosingKopecks, long HeldClosingKopecks, long Rows)
{
    /// <summary>Opening plus every movement of the period: must equal <see cref="ClosingKopecks"/>, which is summed independently.</summary>
    public long RolledForwardKopecks => OpeningKopecks + AccruedKopecks + ReleasedKopecks - RedeemedOnlineKopecks - RedeemedOfflineKopecks
        - ExpiredKopecks + ReturnsKopecks + AdjustmentsKopecks + TransfersKopecks + OtherKopecks;

    public long PendingRolledForwardKopecks => PendingOpeningKopecks + PendingAccruedKopecks - PendingReleasedKopecks - PendingReturnedKopecks + PendingTransferredKopecks;

    /// <summary>True when both roll-forwards reach the independently summed closing figures.</summary>
    public bool RollsForward => RolledForwardKopecks == ClosingKopecks && PendingRolledForwardKopecks == PendingClosingKopecks;
}

/// <summary>The statement for a period [From, To] of book days: a line per programme and store, per programme, and the total.</summary>
public sealed record LiabilityStatement(DateOnly From, DateOnly To, IReadOnlyList<LiabilityLine> Lines, IReadOnlyList<LiabilityLine> Programs, LiabilityLine Total)
{
    /// <summary>Every line rolls forward (opening + movements = closing, for the liability and for pending).</summary>
    public bool RollsForward => Total.RollsForward && Lines.All(l => l.RollsForward) && Programs.All(l => l.RollsForward);
}

/// <summary>The closing figures summed over the card table, to tie the statement's total to (when the period ends today or later).</summary>
public sealed record CardTotals(long BalanceKopecks, long PendingKopecks, long HeldKopecks, long Cards);

/// <summary>
/// The bonus liability statement's rules, in one place: which ledger kinds make which line. A pure
/// function over movement sums (summed in SQL from <c>ledger_days</c>); nothing here reads a database.
/// Each kind's effect on the liability is amount − pending_delta (a pending accrual raises pending,
/// not the liability; its release moves it across); held changes no line (held bonuses are still owed).
/// </summary>
public static class Liability
{
    /// <summary>Statements cover at most this many days (the chart draws one point a day).</summary>
    public const int MaxPeriodDays = 3_660;

    public static void ValidatePeriod(DateOnly from, DateOnly to)
    {
        if (to < from)
            throw Validate.Invalid($"The period ends ({to:yyyy-MM-dd}) before it starts ({from:yyyy-MM-dd}).");
        if (to.DayNumber - from.DayNumber + 1 > MaxPeriodDays)
            throw Validate.Invalid($"A statement covers at most {MaxPeriodDays} days; {to.DayNumber - from.DayNumber + 1} were asked.");
    }

    /// <summary>Builds the statement from movement sums (any order; several sums of one key add up).</summary>
    public static LiabilityStatement Build(DateOnly from, DateOnly to, IEnumerable<MovementSum> sums)
    {
        ValidatePeriod(from, to);
        var all = sums.ToList();
        var lines = all.GroupBy(s => (s.ProgramId, s.StoreId)).OrderBy(g => g.Key.ProgramId, StringComparer.Ordinal).ThenBy(g => g.Key.StoreId, StringComparer.Ordinal)
            .Select(g => Line(g.Key.ProgramId, g.Key.StoreId, g)).ToList();
        var programs = all.GroupBy(s => s.ProgramId).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Line(g.Key, "*", g)).ToList();
        return new LiabilityStatement(from, to, lines, programs, Line("*", "*", all));
    }

    /// <summary>One line from the sums of one programme and store (or any group of them).</summary>
    public static LiabilityLine Line(string programId, string storeId, IEnumerable<MovementSum> sums)
    {
        long opening = 0, accrued = 0, released = 0, online = 0, offline = 0, expired = 0, returns = 0, adjustments = 0, transfers = 0, other = 0;
        long pendingOpening = 0, pendingAccrued = 0, pendingReleased = 0, pendingReturned = 0, pendingTransferred = 0, held = 0, rows = 0;
        foreach (var s in sums)
        {
            var liability = s.AmountKopecks - s.PendingKopecks;
            held += s.HeldKopecks;
            if (s.Part == LiabilityPeriodPart.Before)
            {
                opening += liability;
                pendingOpening += s.PendingKopecks;
                continue;
            }
            rows += s.Rows;
            switch (Enum.TryParse<LedgerKind>(s.Kind, out var kind) ? kind : (LedgerKind?)null)
            {
                case LedgerKind.Accrual: accrued += liability; pendingAccrued += s.PendingKopecks; break;
                case LedgerKind.AccrualRelease: released += liability; pendingReleased -= s.PendingKopecks; break;
                case LedgerKind.HoldPost: online -= liability; break;
                case LedgerKind.OfflineRedeem: offline -= liability; break;
                case LedgerKind.Expiry: expired -= liability; break;
                case LedgerKind.RefundRestore or LedgerKind.RefundReversal: returns += liability; pendingReturned -= s.PendingKopecks; break;
                case LedgerKind.Adjustment: adjustments += liability; break;
                case LedgerKind.TransferIn or LedgerKind.TransferOut: transfers += liability; pendingTransferred += s.PendingKopecks; break;
                // Holds, voids and expired holds move only `held`; anything else (a kind added later) is
                // shown as "other" rather than dropped, so the roll-forward still ties.
                default: other += liability; pendingTransferred += s.PendingKopecks; break;
            }
        }
        var list = sums as ICollection<MovementSum> ?? sums.ToList();
        var closing = list.Sum(s => s.AmountKopecks - s.PendingKopecks);
        var pendingClosing = list.Sum(s => s.PendingKopecks);
        return new LiabilityLine(programId, storeId, opening, accrued, released, online, offline, expired, returns, adjustments, transfers, other, closing,
            pendingOpening, pendingAccrued, pendingReleased, pendingReturned, pendingTransferred, pendingClosing, held, rows);
    }

    /// <summary>
    /// The daily closing liability (and pending) for the chart: the opening, then each day's movements
    /// added in turn. <paramref name="days"/> are (day, liability movement, pending movement) sums.
    /// </summary>
    public static IReadOnlyList<(DateOnly Day, long LiabilityKopecks, long PendingKopecks)> DailyClosing(
        DateOnly from, DateOnly to, long openingKopecks, long pendingOpeningKopecks, IEnumerable<(DateOnly Day, long LiabilityKopecks, long PendingKopecks)> days)
    {
        var byDay = days.GroupBy(d => d.Day).ToDictionary(g => g.Key, g => (g.Sum(x => x.LiabilityKopecks), g.Sum(x => x.PendingKopecks)));
        var result = new List<(DateOnly, long, long)>(to.DayNumber - from.DayNumber + 1);
        var (liability, pending) = (openingKopecks, pendingOpeningKopecks);
        for (var day = from; day <= to; day = day.AddDays(1))
        {
            if (byDay.TryGetValue(day, out var moved)) (liability, pending) = (liability + moved.Item1, pending + moved.Item2);
            result.Add((day, liability, pending));
        }
        return result;
    }
}
