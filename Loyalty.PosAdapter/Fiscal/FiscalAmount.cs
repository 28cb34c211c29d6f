using System.Globalization;
using System.Text.Json.Nodes;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>
/// The one place where kopecks (<c>long</c>, as Loyalty counts money) become the roubles the ATOL
/// task JSON carries, and back. ATOL's <c>price</c>, <c>amount</c>, <c>sum</c>, <c>total</c> and
/// <c>infoDiscountAmount</c> are JSON numbers in roubles with a dot (protocols.md §1.3, field cases
/// B5: a payment of 2 800 kop once went out as 280 000 "roubles"). Every amount in Fiscal/ passes
/// through here; no other code divides or multiplies by 100.
/// </summary>
public static class FiscalAmount
{
    /// <summary>2 800 → the JSON number <c>28.00</c>; 1 → <c>0.01</c>. Always two decimals, a dot, any culture.</summary>
    public static JsonValue ToRoubles(long kopecks) =>
        // Parsed back from the invariant text so the decimal keeps scale 2 and serialises as "28.00".
        JsonValue.Create(decimal.Parse(Money.Format(kopecks), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture));

    /// <summary>
    /// A roubles number from ATOL JSON (e.g. <c>1499.00</c> in <c>fiscalParams.total</c>) to kopecks.
    /// Throws <see cref="FormatException"/> for a value with a fraction of a kopeck or not a number.
    /// </summary>
    public static long FromRoubles(JsonNode? node)
    {
        if (node is not JsonValue value || !value.TryGetValue<decimal>(out var roubles))
            throw new FormatException($"'{node?.ToJsonString()}' is not an amount in roubles.");
        var kopecks = roubles * Money.KopecksPerRouble;
        if (kopecks != decimal.Truncate(kopecks))
            throw new FormatException($"{roubles.ToString(CultureInfo.InvariantCulture)} roubles is not a whole number of kopecks.");
        return (long)kopecks;
    }

    /// <summary>
    /// 3 000 → "30,00": for text a person reads on the paper receipt ("Скидка (бонусы) 30,00",
    /// field cases C3), with the Russian decimal comma written explicitly, never the machine's culture.
    /// </summary>
    public static string ForPrintedText(long kopecks) => Money.Format(kopecks).Replace('.', ',');
}
