namespace Loyalty.Grains.Domain;

/// <summary>
/// The programme's terms as code: what a receipt may be paid with, how a discount is spread over
/// its lines, what it earns, and what a return takes back. Every rule of the programme is here and
/// nowhere else; the card only applies these numbers to its balance.
///
/// Rounding, written down once:
/// <list type="bullet">
/// <item>Accrual is computed per line and rounded down to the kopeck (the customer never gets a
/// fraction the shop did not grant); the receipt's accrual is the sum of its lines.</item>
/// <item>The redemption cap is the percent of the receipt total, rounded down.</item>
/// <item>A discount is spread over eligible lines in proportion to their amounts, rounded down,
/// never below a line's minimum; the kopecks left by rounding go one each to the lines with the
/// largest remainders, ties to the earlier line. The spread always sums exactly to the amount
/// and is the same for the same receipt.</item>
/// <item>A partial return takes back floor(total × returned quantity ÷ line quantity) minus what
/// earlier returns of the line already took; the return that completes a line takes back the
/// exact remainder, so returning everything returns exactly what the receipt gave.</item>
/// <item>Bonuses a return gives back go to the lots the redemption took, with their original dates,
/// nearest expiry first (the order they were taken in): a partial return restores the soonest-burning
/// bonuses first, in the company's favour, as lot consolidation does.</item>
/// </list>
/// </summary>
public static class ProgramRules
{
    private const int BasisPointsPerUnit = 10_000;

    /// <summary>Excluded categories neither earn bonuses nor may be paid with them.</summary>
    public static bool IsExcluded(ProgramSettings program, ReceiptLine line) =>
        program.ExcludedCategories.Contains(line.Category);

    /// <summary>The accrual rate of a line: its category's own rate, else the programme's; 0 when excluded.</summary>
    public static int AccrualRateBasisPoints(ProgramSettings program, ReceiptLine line) =>
        IsExcluded(program, line) ? 0
        : program.CategoryRates.TryGetValue(line.Category, out var rate) ? rate
        : program.AccrualBasisPoints;

    /// <summary>How much bonuses may take off one line: all but its minimum amount, nothing when excluded.</summary>
    public static long LineRedeemRoom(ProgramSettings program, ReceiptLine line) =>
        IsExcluded(program, line) ? 0 : Math.Max(0, line.AmountKopecks - program.MinLineAmountKopecks);

    /// <summary>The most bonuses this receipt may take, whatever the card holds: the percent cap and the line minimums.</summary>
    public static long RedeemCapacity(ProgramSettings program, Receipt receipt)
    {
        var capByPercent = receipt.TotalKopecks * program.MaxRedeemPercent / 100;
        var roomInLines = receipt.Lines.Sum(line => LineRedeemRoom(program, line));
        return Math.Min(capByPercent, roomInLines);
    }

    /// <summary>The most this card may redeem on this receipt now.</summary>
    public static long MaxRedeem(ProgramSettings program, Receipt receipt, long availableKopecks) =>
        Math.Max(0, Math.Min(RedeemCapacity(program, receipt), availableKopecks));

    /// <summary>
    /// Spreads a discount over the receipt's lines (see the rounding rules above). The amount must
    /// not exceed <see cref="RedeemCapacity"/>; callers check that first and refuse with a sentence.
    /// </summary>
    public static long[] SpreadDiscount(ProgramSettings program, Receipt receipt, long amountKopecks)
    {
        var lines = receipt.Lines;
        var discounts = new long[lines.Count];
        var room = lines.Select(line => LineRedeemRoom(program, line)).ToArray();
        if (amountKopecks > room.Sum())
            throw new InvalidOperationException("SpreadDiscount was asked for more than the lines can take; check RedeemCapacity first.");

        var remaining = amountKopecks;
        // Each pass either fills at least one line to its room or hands out every kopeck left,
        // so there are at most lines + 1 passes.
        while (remaining > 0)
        {
            var pool = remaining;
            var open = Enumerable.Range(0, lines.Count).Where(i => room[i] > 0).ToArray();
            Int128 weightTotal = 0;
            foreach (var i in open) weightTotal += lines[i].AmountKopecks;

            var remainders = new List<(Int128 Remainder, int Line)>(open.Length);
            foreach (var i in open)
            {
                var exact = (Int128)pool * lines[i].AmountKopecks;
                var share = (long)(exact / weightTotal);
                if (share >= room[i])
                    share = room[i];
                else
                    remainders.Add((exact % weightTotal, i));
                discounts[i] += share;
                room[i] -= share;
                remaining -= share;
            }

            foreach (var (_, i) in remainders.OrderByDescending(r => r.Remainder).ThenBy(r => r.Line))
            {
                if (remaining == 0) break;
                if (room[i] == 0) continue;
                discounts[i]++;
                room[i]--;
                remaining--;
            }
        }
        return discounts;
    }

    /// <summary>What each line earns: its rate on the part paid with money, rounded down.</summary>
    public static long[] Accruals(ProgramSettings program, Receipt receipt, IReadOnlyList<long> discounts)
    {
        var accruals = new long[receipt.Lines.Count];
        for (var i = 0; i < receipt.Lines.Count; i++)
        {
            var line = receipt.Lines[i];
            var paidWithMoney = line.AmountKopecks - discounts[i];
            accruals[i] = paidWithMoney * AccrualRateBasisPoints(program, line) / BasisPointsPerUnit;
        }
        return accruals;
    }

    /// <summary>
    /// What returning <paramref name="returnedQuantityMilli"/> of a line takes back from its accrual
    /// and gives back of its discount. The caller has checked the quantity is not more than is left.
    /// </summary>
    public static (long AccrualBack, long DiscountBack) ReturnShare(ReceiptRecordLine line, long returnedQuantityMilli)
    {
        var returnedAfter = line.ReturnedQuantityMilli + returnedQuantityMilli;
        var completes = returnedAfter == line.QuantityMilli;
        var accrualBack = completes
            ? line.AccrualKopecks - line.AccrualReversedKopecks
            : ProportionalTotal(line.AccrualKopecks, returnedAfter, line.QuantityMilli) - line.AccrualReversedKopecks;
        var discountBack = completes
            ? line.DiscountKopecks - line.RedeemRestoredKopecks
            : ProportionalTotal(line.DiscountKopecks, returnedAfter, line.QuantityMilli) - line.RedeemRestoredKopecks;
        return (Math.Max(0, accrualBack), Math.Max(0, discountBack));
    }

    /// <summary>The order in which a return gives bonuses back to the lots a redemption took: nearest expiry first, never-expiring last.</summary>
    public static IEnumerable<int> RestoreOrder(IReadOnlyList<RedeemedLot> lots) =>
        Enumerable.Range(0, lots.Count).OrderBy(i => lots[i].ExpiresAt ?? DateTimeOffset.MaxValue).ThenBy(i => i);

    private static long ProportionalTotal(long total, long part, long whole) =>
        (long)((Int128)total * part / whole);

    /// <summary>
    /// What a catalog file lets a register spend from this card while offline: the card's available
    /// balance now (expired holds released, burnt lots gone: pass a settled state), capped at the
    /// programme's offline limit per card; nothing for a blocked or closed card or one in debt.
    /// </summary>
    public static long OfflineSpendable(ProgramSettings program, CardState settled)
    {
        if (settled.Status != CardStatus.Active || settled.DebtKopecks > 0 || settled.AvailableKopecks <= 0) return 0;
        return program.OfflineLimitPerCardKopecks > 0 ? Math.Min(settled.AvailableKopecks, program.OfflineLimitPerCardKopecks) : settled.AvailableKopecks;
    }

    /// <summary>When bonuses accrued now become spendable.</summary>
    public static DateTimeOffset AvailableAt(ProgramSettings program, DateTimeOffset now) =>
        now.AddDays(program.AccrualDelayDays);

    /// <summary>When bonuses that became spendable at <paramref name="availableAt"/> burn; null = never.</summary>
    public static DateTimeOffset? ExpiresAt(ProgramSettings program, DateTimeOffset availableAt) =>
        program.ExpiryDays == 0 ? null : availableAt.AddDays(program.ExpiryDays);

    public static DateTimeOffset HoldExpiresAt(ProgramSettings program, DateTimeOffset now) =>
        now.AddSeconds(program.HoldTimeoutSeconds);
}
