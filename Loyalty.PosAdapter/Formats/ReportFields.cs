namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// One ';'-separated transaction line, with parsers that name the file, line and field in every
/// error. Field numbers are 1-based, as protocols.md numbers them.
/// </summary>
internal sealed class ReportFields
{
    private readonly string[] _fields;

    private ReportFields(string path, long lineNumber, string[] fields)
    {
        Path = path;
        LineNumber = lineNumber;
        _fields = fields;
    }

    public string Path { get; }
    public long LineNumber { get; }
    public int Count => _fields.Length;

    public static ReportFields Split(string path, long lineNumber, string line)
    {
        var separators = line.AsSpan().Count(';');
        if (separators + 1 > ReportLimits.MaxFieldsPerLine)
            throw new RegisterFileException(RegisterFileError.WrongFieldCount, path, lineNumber, null,
                $"The line has {separators + 1} fields, more than the {ReportLimits.MaxFieldsPerLine} any transaction has.");
        return new ReportFields(path, lineNumber, line.Split(';'));
    }

    /// <summary>Refuses the line unless it has at least <paramref name="count"/> fields (the last one its record type uses).</summary>
    public void RequireAtLeast(int count, string recordName)
    {
        if (Count < count)
            throw new RegisterFileException(RegisterFileError.WrongFieldCount, Path, LineNumber, $"field {Count + 1}",
                $"A {recordName} record needs at least {count} fields; this line has {Count}.");
    }

    /// <summary>The field's text, trimmed of spaces; "" when the line is shorter.</summary>
    public string Text(int field) => field <= Count ? _fields[field - 1].Trim(' ') : "";

    public RegisterFileException Error(RegisterFileError error, int field, string meaning, string reason) =>
        new(error, Path, LineNumber, $"field {field} ({meaning})", reason);

    /// <summary>A whole number, e.g. a type, register, receipt or shift number; non-negative.</summary>
    public long Integer(int field, string meaning)
    {
        var text = Text(field);
        if (text.Length == 0) throw Error(RegisterFileError.Malformed, field, meaning, "The field is empty; a number is required.");
        if (text.Length > 18 || !text.All(char.IsAsciiDigit))
            throw Error(RegisterFileError.Malformed, field, meaning, $"'{Shorten(text)}' is not a whole number.");
        return long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Roubles with '.' or ',' as written (e.g. "36,17") to kopecks; refuses negatives and amounts over <see cref="ReportLimits.MaxAmountKopecks"/>.</summary>
    public long Kopecks(int field, string meaning) => Scaled(field, meaning, DecimalText.KopeckScale, ReportLimits.MaxAmountKopecks, "kopecks");

    /// <summary>Kopecks, or null when the field is empty or absent.</summary>
    public long? OptionalKopecks(int field, string meaning) => Text(field).Length == 0 ? null : Kopecks(field, meaning);

    /// <summary>A quantity ("0,548", "44.000") to thousandths; refuses negatives and more than <see cref="ReportLimits.MaxQuantityMilli"/>.</summary>
    public long QuantityMilli(int field, string meaning) => Scaled(field, meaning, DecimalText.MilliScale, ReportLimits.MaxQuantityMilli, "thousandths");

    private long Scaled(int field, string meaning, int scale, long max, string unit)
    {
        var text = Text(field);
        if (text.Length == 0) throw Error(RegisterFileError.Malformed, field, meaning, "The field is empty; an amount is required.");
        if (!DecimalText.TryParse(text, scale, out var value))
            throw Error(RegisterFileError.Malformed, field, meaning,
                $"'{Shorten(text)}' is not a decimal number with at most {scale} decimals (a '.' or ',' separator, no spaces or thousands separators).");
        if (value < 0)
            throw Error(RegisterFileError.AbsurdAmount, field, meaning, $"'{text}' is negative; the formats write returns with a receipt type, not negative amounts.");
        if (value > max)
            throw Error(RegisterFileError.AbsurdAmount, field, meaning, $"'{text}' is more than the bound of {max:N0} {unit}.");
        return value;
    }

    /// <summary>
    /// Date (field <paramref name="dateField"/>: DD.MM.YYYY as Frontol writes it, §3.1; or DD.MM.YY as
    /// Кассир does, field-cases A3, read as 20YY) and time (HH:MM:SS or H:MM:SS) as the register's
    /// local time. Parsed digit by digit: no culture.
    /// </summary>
    public DateTime DateTime(int dateField, int timeField)
    {
        var date = Text(dateField);
        var parts = date.Split('.');
        if (parts.Length != 3 || parts[0].Length is < 1 or > 2 || parts[1].Length is < 1 or > 2 || parts[2].Length is not (2 or 4)
            || !parts.All(part => part.All(char.IsAsciiDigit)))
            throw Error(RegisterFileError.Malformed, dateField, "date", $"'{Shorten(date)}' is not a date written DD.MM.YYYY or DD.MM.YY.");
        var day = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        var month = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var year = int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
        if (parts[2].Length == 2) year += 2000;
        if (month is < 1 or > 12 || day < 1 || day > System.DateTime.DaysInMonth(year, month))
            throw Error(RegisterFileError.Malformed, dateField, "date", $"'{date}' is not a date of the calendar.");

        var time = Text(timeField);
        var clock = time.Split(':');
        if (clock.Length != 3 || clock[0].Length is < 1 or > 2 || clock[1].Length != 2 || clock[2].Length != 2
            || !clock.All(part => part.All(char.IsAsciiDigit)))
            throw Error(RegisterFileError.Malformed, timeField, "time", $"'{Shorten(time)}' is not a time written HH:MM:SS.");
        var hour = int.Parse(clock[0], System.Globalization.CultureInfo.InvariantCulture);
        var minute = int.Parse(clock[1], System.Globalization.CultureInfo.InvariantCulture);
        var second = int.Parse(clock[2], System.Globalization.CultureInfo.InvariantCulture);
        if (hour > 23 || minute > 59 || second > 59)
            throw Error(RegisterFileError.Malformed, timeField, "time", $"'{time}' is not a time of day.");
        return new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified);
    }

    /// <summary>A card number as written, or null when empty. Text: "0000123456789" stays 13 characters (field-cases A4).</summary>
    public string? CardNumber(int field, string meaning)
    {
        var text = Text(field);
        if (text.Length == 0) return null;
        if (text.Length > CatalogLimits.MaxCardNumberLength || text.Any(char.IsControl))
            throw Error(RegisterFileError.Malformed, field, meaning,
                $"'{Shorten(text)}' is not a card number (at most {CatalogLimits.MaxCardNumberLength} characters, no control characters).");
        return text;
    }

    /// <summary>A code field (goods, payment type) as text; refuses empty ones.</summary>
    public string Code(int field, string meaning)
    {
        var text = Text(field);
        if (text.Length == 0) throw Error(RegisterFileError.Malformed, field, meaning, "The field is empty; a code is required.");
        if (text.Length > 64 || text.Any(char.IsControl)) throw Error(RegisterFileError.Malformed, field, meaning, $"'{Shorten(text)}' is not a code.");
        return text;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
