namespace Loyalty.PosAdapter.Formats;

/// <summary>Named bounds of the sales-report readers. Past any of them the file is refused as a whole (<see cref="RegisterFileError.TooLarge"/>).</summary>
public static class ReportLimits
{
    /// <summary>
    /// Largest report file read: 100 MiB. Refused from the file's length before a byte is read.
    /// A shift of 10,000 receipts of 10 lines is about 2 MB in either format; 100 MiB leaves room for
    /// files a register appends several shifts to, and keeps a runaway or hostile file from filling memory.
    /// </summary>
    public const long MaxFileBytes = 100L * 1024 * 1024;

    /// <summary>Longest line, in bytes. Real transaction lines are under 300 bytes; a longer one is not a transaction.</summary>
    public const int MaxLineBytes = 4096;

    /// <summary>Most ';'-separated fields a line may have; Frontol lines have about 30.</summary>
    public const int MaxFieldsPerLine = 256;

    /// <summary>Most receipts in one report: ten times the 10,000-receipt shift the benchmark reconciles.</summary>
    public const int MaxReceipts = 100_000;

    /// <summary>Most lines in one receipt, storno lines included; the server refuses receipts over 1,000 lines anyway.</summary>
    public const int MaxLinesPerReceipt = 1_000;

    /// <summary>Most payments in one receipt.</summary>
    public const int MaxPaymentsPerReceipt = 100;

    /// <summary>Largest amount on any line: the server's bound on a single amount (<see cref="Money.MaxAmountKopecks"/>).</summary>
    public const long MaxAmountKopecks = Money.MaxAmountKopecks;

    /// <summary>Largest quantity on a line: 1,000,000 units (tonnes of weighed goods would be 1,000 units).</summary>
    public const long MaxQuantityMilli = 1_000_000_000;
}

/// <summary>
/// What the adapter knows about the register a report comes from, and how to read it.
/// </summary>
public sealed record ReportReadOptions
{
    /// <summary>Our store id; copied into the report.</summary>
    public required string StoreId { get; init; }

    /// <summary>Our register id; copied into the report.</summary>
    public required string RegisterId { get; init; }

    /// <summary>
    /// The POS (ККМ) number the register writes in field 5. When set, a transaction with another
    /// number is refused (<see cref="RegisterFileError.WrongStoreOrRegister"/>): the file was put in
    /// the wrong exchange folder. When null, every transaction must carry the same number.
    /// </summary>
    public long? RegisterNumber { get; init; }

    /// <summary>
    /// Frontol only: the enterprise code the register writes in field 27 (field-cases, FrontolRazborFile
    /// layout; not in §3.2, so a guess). When set, a transaction whose field 27 holds another code is
    /// a report for another store and is refused. Lines without field 27 are not checked.
    /// </summary>
    public string? EnterpriseCode { get; init; }

    /// <summary>
    /// Payment type codes (Frontol field 9, Кассир field 11) that mean "paid with bonuses"
    /// (field-cases C3). Default: none. No public source names a standard code: both registers let
    /// the installer number payment types, and only 1 = cash is fixed (§3.2, Papyrus
    /// <c>PAYMENT_CASH</c>). Guessing a code would silently turn bank-card money into bonuses, so
    /// each store lists its own (CLI: <c>--bonus-payment-types</c>).
    /// </summary>
    public IReadOnlySet<string> BonusPaymentTypeCodes { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Frontol only: whether a line's discount (field 12 − field 16) is the bonuses the register took.
    /// Frontol reports a line's whole discount, not which part bonuses paid (§3.2). Where the store
    /// loads our cards with a 0 % discount and runs no promotions on the register, the only discount
    /// on a loyalty receipt is the bonus write-off, and this may be set (CLI:
    /// <c>--line-discounts-are-bonuses</c>). Default false: a discount lowers the line's amount (the
    /// customer paid less money, which is what accrues) and books no bonuses, so a register
    /// promotion never empties a customer's balance (found by a new user's try).
    /// </summary>
    public bool LineDiscountsAreBonuses { get; init; }

    /// <summary>Default <see cref="TextEncodingChoice.Windows1251"/>: both formats are Windows-1251 (§3.1; field-cases A3).</summary>
    public TextEncodingChoice Encoding { get; init; } = TextEncodingChoice.Windows1251;

    /// <summary>
    /// True (default): a file without a Z record is refused with <see cref="RegisterFileError.ShiftNotClosed"/>,
    /// since a shift is reconciled only once closed (issue 11; 1C seed: "only for a closed shift").
    /// False reads it anyway with <see cref="ShiftReport.HasZRecord"/> false, e.g. to show an open shift.
    /// </summary>
    public bool RequireZRecord { get; init; } = true;
}
