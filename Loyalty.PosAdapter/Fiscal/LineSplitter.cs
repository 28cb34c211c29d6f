namespace Loyalty.PosAdapter.Fiscal;

/// <summary>
/// A line as it is printed: unit price after the discount (tag 1079), quantity (1023) and amount
/// after the discount (1043), plus the bonus part for information (ATOL <c>infoDiscountAmount</c>).
/// </summary>
/// <param name="SourceIndex">Index of the receipt line it comes from (a split line gives two printed lines).</param>
public sealed record PrintedLine(int SourceIndex, FiscalLine Source, long QuantityMilli, long PriceKopecks, long AmountKopecks, long DiscountKopecks)
{
    /// <summary>|price × quantity − amount| in thousandths of a kopeck.</summary>
    public long ErrorMilliKopecks => Math.Abs(PriceKopecks * QuantityMilli - AmountKopecks * 1000);
}

/// <summary>
/// Turns a discounted line into printed lines whose figures agree: price × quantity = amount.
/// <para>Why: after bonuses are spread over lines, a line's amount is often no whole-kopeck price ×
/// quantity (3 pieces for 1 000 kop; 47.800 kg for 105 100 kop), and the register refuses it or the
/// lines stop summing to the payment (field cases B4, shtrih-m/fr_drv_ng #243).</para>
/// <para>Pieces (whole quantity n, amount A): one line at A / n when it divides; otherwise two lines,
/// n − r at ⌊A/n⌋ and r at ⌊A/n⌋ + 1 (r = A mod n): exact to the kopeck.</para>
/// <para>Weighed goods (a fraction in the quantity): one line when some whole-kopeck price is within
/// <see cref="ToleranceMilliKopecks"/> of the amount, as registers allow for weighed goods; otherwise
/// two lines q₁ at p and q₂ at p + 1 with p = ⌊1000·A/Q⌋ and q₂ = 1000·A − p·Q thousandths, which
/// sum exactly to A; each printed line is then within half a kopeck.</para>
/// </summary>
public static class LineSplitter
{
    /// <summary>
    /// The register's allowance |price × quantity − amount| ≤ 1 kop, in thousandths of a kopeck: the
    /// rule documented for Штрих-М (field cases B4); to be confirmed on a real ATOL device.
    /// </summary>
    public const long ToleranceMilliKopecks = 1000;

    private const long MilliPerUnit = 1000;

    /// <summary>Printed lines for <paramref name="line"/>: one, or two when no single price gives its discounted amount.</summary>
    public static IReadOnlyList<PrintedLine> Split(int index, FiscalLine line)
    {
        var amount = line.AmountAfterDiscountKopecks;
        var quantity = line.QuantityMilli;
        var discount = line.BonusDiscountKopecks;
        if (quantity <= 0) throw new ArgumentOutOfRangeException(nameof(line), "A line's quantity must be positive.");
        if (amount < 0) throw new ArgumentOutOfRangeException(nameof(line), "A line's amount after the discount cannot be negative.");

        if (quantity % MilliPerUnit == 0)
        {
            var pieces = quantity / MilliPerUnit;
            var basePrice = amount / pieces;
            var rest = amount % pieces;
            if (rest == 0) return [new PrintedLine(index, line, quantity, basePrice, amount, discount)];
            var cheapPieces = pieces - rest;
            return TwoLines(index, line, cheapPieces * MilliPerUnit, basePrice, basePrice * cheapPieces, rest * MilliPerUnit, basePrice + 1, (basePrice + 1) * rest);
        }

        // Weighed: the nearest whole-kopeck price first.
        var scaled = checked(amount * MilliPerUnit);
        var nearest = (scaled + quantity / 2) / quantity;
        if (Math.Abs(nearest * quantity - scaled) <= ToleranceMilliKopecks)
            return [new PrintedLine(index, line, quantity, nearest, amount, discount)];

        var low = scaled / quantity;
        var highQuantity = scaled - low * quantity;          // 0 < q₂ < Q, since low·Q < 1000·A < (low+1)·Q here
        var lowQuantity = quantity - highQuantity;
        var lowAmount = RoundHalfAwayFromZero(low * lowQuantity, MilliPerUnit);
        return TwoLines(index, line, lowQuantity, low, lowAmount, highQuantity, low + 1, amount - lowAmount);
    }

    private static IReadOnlyList<PrintedLine> TwoLines(int index, FiscalLine line, long q1, long p1, long a1, long q2, long p2, long a2)
    {
        // The bonus part follows the quantity; the second line takes the remainder so the parts sum exactly.
        var d1 = (long)((Int128)line.BonusDiscountKopecks * q1 / line.QuantityMilli);
        return
        [
            new PrintedLine(index, line, q1, p1, a1, d1),
            new PrintedLine(index, line, q2, p2, a2, line.BonusDiscountKopecks - d1),
        ];
    }

    internal static long RoundHalfAwayFromZero(long numerator, long denominator) =>
        numerator >= 0 ? (numerator + denominator / 2) / denominator : -((-numerator + denominator / 2) / denominator);
}
