namespace Loyalty.PosAdapter;

/// <summary>
/// Bonuses a register already gave, spread over lines where the register did not say per line: in
/// proportion to each line's room, rounded down, the kopecks left going one each to the earliest
/// lines with room. Never more than the lines hold; sums exactly to the amount when it fits. (The
/// programme's own spread, with its caps, is the server's: ProgramRules.SpreadDiscount.)
/// </summary>
public static class BonusSpread
{
    public static long[] Proportional(IReadOnlyList<long> roomKopecks, long amountKopecks)
    {
        var shares = new long[roomKopecks.Count];
        var total = roomKopecks.Sum();
        if (amountKopecks <= 0 || total <= 0) return shares;
        amountKopecks = Math.Min(amountKopecks, total);
        var given = 0L;
        for (var i = 0; i < shares.Length; i++)
        {
            shares[i] = (long)((Int128)amountKopecks * roomKopecks[i] / total);
            given += shares[i];
        }
        for (var i = 0; given < amountKopecks && i < shares.Length; i++)
            if (shares[i] < roomKopecks[i]) { shares[i]++; given++; }
        return shares;
    }
}
