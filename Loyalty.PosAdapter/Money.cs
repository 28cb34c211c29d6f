using System.Globalization;

namespace Loyalty.PosAdapter;

/// <summary>
/// Roubles as people write them ("150.50") to kopecks as the wire carries them (15050), and back.
/// Exact: digits are read one by one, never through floating point.
/// </summary>
public static class Money
{
    /// <summary>The server's bound on a single amount (ten billion roubles); larger input is refused here already.</summary>
    public const long MaxAmountKopecks = 1_000_000_000_000;

    public const int KopecksPerRouble = 100;

    /// <summary>Kopecks are two decimals; a third decimal would be a fraction of a kopeck.</summary>
    public const int MaxFractionDigits = 2;

    /// <summary>
    /// Parses "150", "150.5", "150.50" or "-10.25" (a comma works as the decimal separator too, as
    /// Russian keyboards type it). Refuses anything else with a sentence saying why.
    /// </summary>
    public static long ParseRoubles(string text)
    {
        if (!TryParseRoubles(text, out var kopecks, out var error)) throw new FormatException(error);
        return kopecks;
    }

    public static bool TryParseRoubles(string? text, out long kopecks, out string error)
    {
        kopecks = 0;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "An amount is required, e.g. 150.50.";
            return false;
        }

        var index = 0;
        var negative = text[0] == '-';
        if (negative) index++;

        long roubles = 0;
        var integerDigits = 0;
        for (; index < text.Length && char.IsAsciiDigit(text[index]); index++, integerDigits++)
        {
            roubles = roubles * 10 + (text[index] - '0');
            if (roubles > MaxAmountKopecks / KopecksPerRouble)
            {
                error = $"The amount '{text}' is larger than the limit of {Format(MaxAmountKopecks)} roubles.";
                return false;
            }
        }
        if (integerDigits == 0)
        {
            error = $"'{text}' is not an amount in roubles; write it like 150 or 150.50.";
            return false;
        }

        long fraction = 0;
        if (index < text.Length && text[index] is '.' or ',')
        {
            index++;
            var fractionDigits = 0;
            for (; index < text.Length && char.IsAsciiDigit(text[index]); index++, fractionDigits++)
            {
                if (fractionDigits == MaxFractionDigits)
                {
                    error = $"The amount '{text}' has more than {MaxFractionDigits} decimals; the smallest unit is one kopeck (0.01).";
                    return false;
                }
                fraction = fraction * 10 + (text[index] - '0');
            }
            if (fractionDigits == 0)
            {
                error = $"'{text}' is not an amount in roubles; write it like 150 or 150.50.";
                return false;
            }
            if (fractionDigits == 1) fraction *= 10;
        }
        if (index != text.Length)
        {
            error = $"'{text}' is not an amount in roubles; write it like 150 or 150.50.";
            return false;
        }

        var magnitude = roubles * KopecksPerRouble + fraction;
        if (magnitude > MaxAmountKopecks)
        {
            error = $"The amount '{text}' is larger than the limit of {Format(MaxAmountKopecks)} roubles.";
            return false;
        }
        kopecks = negative ? -magnitude : magnitude;
        return true;
    }

    /// <summary>15050 → "150.50", -5 → "-0.05". Invariant: a dot, no thousands separators.</summary>
    public static string Format(long kopecks)
    {
        // Through ulong so that even long.MinValue has a magnitude.
        var magnitude = kopecks < 0 ? (ulong)(-(kopecks + 1)) + 1 : (ulong)kopecks;
        var roubles = magnitude / KopecksPerRouble;
        var rest = magnitude % KopecksPerRouble;
        var sign = kopecks < 0 ? "-" : "";
        return string.Create(CultureInfo.InvariantCulture, $"{sign}{roubles}.{rest:D2}");
    }
}
