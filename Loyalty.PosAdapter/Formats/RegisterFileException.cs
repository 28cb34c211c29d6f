namespace Loyalty.PosAdapter.Formats;

/// <summary>What was wrong with a register file, so the adapter can tell "broken, move it aside"
/// from "not finished yet, try again later".</summary>
public enum RegisterFileError
{
    /// <summary>The bytes are not the format: a field that is not a number, a date that is not a date, an unknown header.</summary>
    Malformed,
    /// <summary>A line has fewer fields than its record type needs, or more than <see cref="ReportLimits.MaxFieldsPerLine"/>.</summary>
    WrongFieldCount,
    /// <summary>The file ends in the middle of a line (no line end after the last one).</summary>
    Truncated,
    /// <summary>The bytes are not in the encoding configured for the register (e.g. UTF-8 where Windows-1251 is expected).</summary>
    WrongEncoding,
    /// <summary>An amount or quantity is negative or beyond a named bound.</summary>
    AbsurdAmount,
    /// <summary>A receipt has lines or payments but no close (55) or cancel (56) record.</summary>
    ReceiptNotClosed,
    /// <summary>Two receipts of one shift carry the same number.</summary>
    DuplicateReceipt,
    /// <summary>A storno names a line the receipt does not have.</summary>
    StornoWithoutLine,
    /// <summary>The file is for another store or register than the exchange folder it came from.</summary>
    WrongStoreOrRegister,
    /// <summary>The file holds more than one shift.</summary>
    SeveralShifts,
    /// <summary>No Z record: the shift is not closed yet (protocols.md §3.2, 1C seed: reports only for a closed shift). Not broken; wait for the next report.</summary>
    ShiftNotClosed,
    /// <summary>A named bound was exceeded: file size, line length, receipts, lines per receipt.</summary>
    TooLarge,
    /// <summary>A card given to a catalog writer cannot be written (empty number, a separator in it, a negative amount).</summary>
    InvalidCard,
}

/// <summary>
/// The one exception every register-file reader and writer throws for bad input. It names the file,
/// the 1-based line (0 when the fault is the whole file, e.g. its size) and the field
/// (e.g. "field 12 (sum)"), and <see cref="Error"/> says what kind of fault it is. A reader that
/// throws has returned nothing: no part of the file is to be applied.
/// </summary>
public sealed class RegisterFileException : Exception
{
    public RegisterFileException(RegisterFileError error, string filePath, long lineNumber, string? field, string reason)
        : base(Describe(filePath, lineNumber, field, reason))
    {
        Error = error;
        FilePath = filePath;
        LineNumber = lineNumber;
        Field = field;
        Reason = reason;
    }

    public RegisterFileError Error { get; }

    public string FilePath { get; }

    /// <summary>1-based line of the file; 0 when the fault concerns the whole file.</summary>
    public long LineNumber { get; }

    /// <summary>"field N (meaning)" as numbered in protocols.md, or null when no single field is at fault.</summary>
    public string? Field { get; }

    /// <summary>The sentence saying what is wrong, without the location.</summary>
    public string Reason { get; }

    private static string Describe(string filePath, long lineNumber, string? field, string reason)
    {
        var where = lineNumber > 0 ? $"{filePath}, line {lineNumber}" : filePath;
        if (field is not null) where += $", {field}";
        return $"{where}: {reason}";
    }
}
