using System.Globalization;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>The fields of the FNS receipt check string (protocols.md §2.3).</summary>
/// <param name="LocalDateTime">The register's local date-time of the document, to the minute (seconds when the string had them).</param>
/// <param name="TotalKopecks"><c>s=</c>, written in roubles with two decimals.</param>
/// <param name="FnNumber"><c>fn=</c>, tag 1041.</param>
/// <param name="FiscalDocumentNumber"><c>i=</c>, tag 1040.</param>
/// <param name="FiscalSign"><c>fp=</c>, tag 1077, decimal.</param>
/// <param name="Operation"><c>n=</c>, tag 1054.</param>
public sealed record FnsQrFields(DateTime LocalDateTime, long TotalKopecks, string FnNumber, long FiscalDocumentNumber, string FiscalSign, FiscalOperation Operation);

/// <summary>
/// Writer and reader of <c>t=yyyyMMddTHHmm&amp;s=1056.00&amp;fn=…&amp;i=…&amp;fp=…&amp;n=1</c> (protocols.md
/// §2.3). The time is the fiscal document's own wall-clock time as the register reported it
/// (<see cref="FiscalData.DocumentDateTime"/>), never this machine's clock and never converted to
/// another zone, on a 24-hour clock; the sum has a dot whatever the culture (field cases C2).
/// </summary>
public static class FnsQrCode
{
    /// <summary>Builds the string from a fiscalised receipt's data and its operation (sell → n=1, sellReturn → n=2).</summary>
    public static string Build(FiscalData data, FiscalOperation operation) => Build(new FnsQrFields(
        data.DocumentDateTime.DateTime, data.TotalKopecks, data.FnNumber, data.FiscalDocumentNumber, data.FiscalSign, operation));

    public static string Build(FnsQrFields fields) => string.Create(CultureInfo.InvariantCulture,
        $"t={fields.LocalDateTime.ToString("yyyyMMdd'T'HHmm", CultureInfo.InvariantCulture)}&s={Money.Format(fields.TotalKopecks)}" +
        $"&fn={fields.FnNumber}&i={fields.FiscalDocumentNumber}&fp={fields.FiscalSign}&n={(int)fields.Operation}");

    /// <summary>
    /// Reads a check string; keys in any order, <c>t</c> with or without seconds. Throws
    /// <see cref="FormatException"/> naming the first bad or missing key (a comma in <c>s</c>, a
    /// missing key, an unknown <c>n</c>…).
    /// </summary>
    public static FnsQrFields Parse(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split('&'))
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) throw new FormatException($"'{pair}' is not a key=value pair.");
            if (!values.TryAdd(pair[..eq], pair[(eq + 1)..])) throw new FormatException($"Key '{pair[..eq]}' appears twice.");
        }
        string Get(string key) => values.TryGetValue(key, out var v) && v.Length > 0 ? v : throw new FormatException($"Key '{key}' is missing.");

        var t = Get("t");
        if (!DateTime.TryParseExact(t, ["yyyyMMdd'T'HHmm", "yyyyMMdd'T'HHmmss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var when))
            throw new FormatException($"t='{t}' is not yyyyMMddTHHmm[ss].");
        var s = Get("s");
        var dot = s.IndexOf('.');
        if (dot < 1 || s.Length - dot - 1 != 2 || !Money.TryParseRoubles(s, out var kopecks, out _) || kopecks < 0)
            throw new FormatException($"s='{s}' is not roubles with a dot and two decimals.");
        var fn = Get("fn");
        if (!fn.All(char.IsAsciiDigit)) throw new FormatException($"fn='{fn}' is not digits.");
        if (!long.TryParse(Get("i"), NumberStyles.None, CultureInfo.InvariantCulture, out var fd)) throw new FormatException($"i='{values["i"]}' is not a number.");
        var fp = Get("fp");
        if (!fp.All(char.IsAsciiDigit)) throw new FormatException($"fp='{fp}' is not decimal digits.");
        var n = Get("n") switch
        {
            "1" => FiscalOperation.Sell,
            "2" => FiscalOperation.SellReturn,
            var other => throw new FormatException($"n='{other}' is not a receipt type this adapter prints (1 or 2)."),
        };
        return new FnsQrFields(when, kopecks, fn, fd, fp, n);
    }
}
