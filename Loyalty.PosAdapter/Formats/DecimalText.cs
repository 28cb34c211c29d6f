namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Exact decimal text ↔ scaled integers for register files: "36,17" or "36.17" at scale 2 is 3617
/// kopecks, "0,548" at scale 3 is 548 thousandths. Both separators are accepted because Frontol
/// writes a comma and Кассир a dot (field-cases A3); only the one separator inside the field is
/// touched, never the line, so commas in other fields (barcode lists, names) survive. No floating
/// point and no culture is involved anywhere.
/// </summary>
public static class DecimalText
{
    /// <summary>Kopecks: two decimals.</summary>
    public const int KopeckScale = 2;

    /// <summary>Quantities: thousandths (grams of a kilogram).</summary>
    public const int MilliScale = 3;

    /// <summary>Most digits before the separator; 15 keeps value × 10^scale far from overflow.</summary>
    public const int MaxIntegerDigits = 15;

    /// <summary>
    /// Parses an optional '-', digits, and optionally '.' or ',' followed by digits. Digits beyond
    /// <paramref name="scale"/> must be zeros ("44.000" at scale 2 is fine, "1.005" is not: that is
    /// a fraction of a kopeck and is refused rather than rounded). An empty field is refused.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, int scale, out long value)
    {
        value = 0;
        var index = 0;
        var negative = text.Length > 0 && text[0] == '-';
        if (negative) index++;

        long integer = 0;
        var integerDigits = 0;
        for (; index < text.Length && char.IsAsciiDigit(text[index]); index++)
        {
            // Leading zeros do not count against the bound ("0000123" is 123).
            if (integerDigits > 0 || text[index] != '0') integerDigits++;
            if (integerDigits > MaxIntegerDigits) return false;
            integer = integer * 10 + (text[index] - '0');
        }
        var sawIntegerDigit = index > (negative ? 1 : 0);
        if (!sawIntegerDigit) return false;

        long fraction = 0;
        var fractionDigits = 0;
        if (index < text.Length && text[index] is '.' or ',')
        {
            index++;
            var start = index;
            for (; index < text.Length && char.IsAsciiDigit(text[index]); index++)
            {
                if (fractionDigits < scale)
                {
                    fraction = fraction * 10 + (text[index] - '0');
                    fractionDigits++;
                }
                else if (text[index] != '0') return false;
            }
            if (index == start) return false;
        }
        if (index != text.Length) return false;

        for (; fractionDigits < scale; fractionDigits++) fraction *= 10;
        var magnitude = integer * Pow10(scale) + fraction;
        value = negative ? -magnitude : magnitude;
        return true;
    }

    /// <summary>3617 at scale 2 with '.' → "36.17"; -5 → "-0.05". Always all <paramref name="scale"/> decimals.</summary>
    public static string Format(long value, int scale, char separator)
    {
        var divisor = Pow10(scale);
        var magnitude = value < 0 ? (ulong)(-(value + 1)) + 1 : (ulong)value;
        var integer = magnitude / (ulong)divisor;
        var fraction = magnitude % (ulong)divisor;
        var sign = value < 0 ? "-" : "";
        if (scale == 0) return sign + integer.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return sign + integer.ToString(System.Globalization.CultureInfo.InvariantCulture) + separator
               + fraction.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(scale, '0');
    }

    private static long Pow10(int scale)
    {
        long result = 1;
        for (var i = 0; i < scale; i++) result *= 10;
        return result;
    }
}
