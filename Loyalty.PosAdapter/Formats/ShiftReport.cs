namespace Loyalty.PosAdapter.Formats;

/// <summary>The register file formats this adapter reads or writes.</summary>
public enum RegisterFormat
{
    /// <summary>ATOL Frontol: load file protocols.md §3.1, transactions file §3.2.</summary>
    Frontol,
    /// <summary>Штрих-М "Кассир 5": protocols.md §3.3.</summary>
    Kassir5,
    /// <summary>This project's own CSV catalog for scripted tills (<see cref="CsvCatalogFile"/>).</summary>
    Csv,
}

/// <summary>What a receipt of a shift report was.</summary>
public enum ReceiptKind
{
    Sale,
    Return,
    /// <summary>Cancelled on the register (record 56): nothing was sold; kept so reconciliation can tell "cancelled" from "missing".</summary>
    Cancelled,
}

/// <summary>
/// One closed (or, when asked for, still open) shift of one register, normalised from a Frontol or
/// Кассир 5 sales report. Everything the server needs to reconcile the shift, nothing format-specific.
/// Amounts are kopecks, quantities thousandths of a unit; times are the register's local clock as
/// written in the file (the files carry no zone).
/// </summary>
/// <param name="StoreId">Our store id, from the exchange folder's configuration (the files carry none we can trust).</param>
/// <param name="RegisterId">Our register id, from the configuration; <paramref name="RegisterNumber"/> is what the file says (field 5).</param>
/// <param name="RegisterNumber">The POS (ККМ) number written in field 5 of every transaction.</param>
/// <param name="ShiftNumber">From the Z record (Frontol field 9, Кассир field 8) or the receipt lines (Frontol field 14).</param>
/// <param name="OpenedAtLocal">Time of the shift's first transaction.</param>
/// <param name="ClosedAtLocal">Time of the Z record; the last transaction's when there is none.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the file's bytes, exactly as read: the upload's idempotency key with store/register/shift.</param>
/// <param name="HasZRecord">False only when the reader was told not to require one (<see cref="ReportReadOptions.RequireZRecord"/>).</param>
/// <param name="ZTotalKopecks">The total the Z record states, when it states one (field 12, a guess for Frontol); it may differ from the receipts (field-cases A5), which is a finding, not a read error.</param>
/// <param name="ReportNumber">Frontol header line 3 (the report number, field-cases A1); null for Кассир.</param>
/// <param name="SourceDatabaseId">Frontol header line 2 (the Frontol database id, field-cases A1); null for Кассир.</param>
public sealed record ShiftReport(
    string StoreId,
    string RegisterId,
    long RegisterNumber,
    long ShiftNumber,
    DateTime OpenedAtLocal,
    DateTime ClosedAtLocal,
    RegisterFormat SourceFormat,
    string Sha256,
    bool HasZRecord,
    long? ZTotalKopecks,
    string? ReportNumber,
    string? SourceDatabaseId,
    IReadOnlyList<ReportReceipt> Receipts)
{
    /// <summary>What the receipts add up to (sales minus returns, after line discounts; cancelled receipts count nothing), to set beside <see cref="ZTotalKopecks"/>.</summary>
    public long ReceiptsTotalKopecks => Receipts.Sum(receipt => receipt.Kind switch
    {
        ReceiptKind.Sale => receipt.TotalKopecks,
        ReceiptKind.Return => -receipt.TotalKopecks,
        _ => 0,
    });

    /// <summary>Z total minus <see cref="ReceiptsTotalKopecks"/>, or null without a Z total. Non-zero is the "Z differs from receipts" finding of field-cases A5.</summary>
    public long? ZDifferenceKopecks => ZTotalKopecks is { } z ? z - ReceiptsTotalKopecks : null;
}

/// <summary>Where a return's original sale is, when the file says (Frontol field 26, a guess; Кассир gives none).</summary>
public sealed record ReceiptReference(long RegisterNumber, long ShiftNumber, long ReceiptNumber);

/// <summary>
/// One receipt of a shift. Bonuses reach us in two shapes (field-cases C3): as line discounts
/// (<see cref="ReportLine.BonusDiscountKopecks"/>) or as payments of a bonus payment type
/// (<see cref="ReportPayment.IsBonus"/>). Both normalise to <see cref="GoodsKopecks"/>,
/// <see cref="BonusKopecks"/> and <see cref="MoneyKopecks"/>, so either shape matches the online record.
/// </summary>
/// <param name="Number">Receipt (document) number, field 6.</param>
/// <param name="CardNumber">The loyalty card as written (leading zeros kept; field-cases A4), or null.</param>
/// <param name="ReturnOf">The original sale of a return, when the file names it; null otherwise (field-cases A6: then reconciliation flags it).</param>
/// <param name="CloseLineNumber">Line of the file that closed (or cancelled) the receipt, for messages.</param>
public sealed record ReportReceipt(
    long Number,
    ReceiptKind Kind,
    string? CardNumber,
    DateTime ClosedAtLocal,
    IReadOnlyList<ReportLine> Lines,
    IReadOnlyList<ReportPayment> Payments,
    ReceiptReference? ReturnOf,
    long CloseLineNumber)
{
    /// <summary>Σ line amounts before discounts: the goods' value.</summary>
    public long GoodsKopecks => Lines.Sum(line => line.AmountKopecks);

    /// <summary>Σ line amounts after the bonus discounts: what the receipt asked for.</summary>
    public long TotalKopecks => Lines.Sum(line => line.AmountKopecks - line.BonusDiscountKopecks);

    /// <summary>Bonuses spent, in either shape: line discounts plus bonus-type payments.</summary>
    public long BonusKopecks => Lines.Sum(line => line.BonusDiscountKopecks) + Payments.Where(p => p.IsBonus).Sum(p => p.AmountKopecks);

    /// <summary>Payments that were not bonuses (cash, bank card, …).</summary>
    public long MoneyKopecks => Payments.Where(p => !p.IsBonus).Sum(p => p.AmountKopecks);
}

/// <summary>
/// One receipt line after storno lines have removed what they void.
/// </summary>
/// <param name="Sku">Goods code as written (field 8; text, so leading zeros survive).</param>
/// <param name="Name">Empty: neither report format carries goods names (§3.2, §3.3 list codes only).</param>
/// <param name="QuantityMilli">Thousandths of a unit (1 kg = 1000; 1 piece = 1000).</param>
/// <param name="PriceKopecks">Price per unit (field 10).</param>
/// <param name="AmountKopecks">Line sum before discounts (field 12).</param>
/// <param name="BonusDiscountKopecks">Discount on the line that bonuses paid (see each reader for where it comes from).</param>
public sealed record ReportLine(string Sku, string Name, long QuantityMilli, long PriceKopecks, long AmountKopecks, long BonusDiscountKopecks);

/// <summary>One payment of a receipt.</summary>
/// <param name="TypeCode">The register's payment type code as written (Frontol field 9, Кассир field 11).</param>
/// <param name="IsBonus">The code is one of <see cref="ReportReadOptions.BonusPaymentTypeCodes"/>.</param>
public sealed record ReportPayment(string TypeCode, long AmountKopecks, bool IsBonus);
