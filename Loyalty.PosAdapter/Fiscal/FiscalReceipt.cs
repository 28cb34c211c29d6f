namespace Loyalty.PosAdapter.Fiscal;

/// <summary>Which receipt a fiscal task prints; the value is FFD tag 1054 and the QR code's <c>n=</c> (protocols.md §2.1, §2.3).</summary>
public enum FiscalOperation
{
    /// <summary>Приход, ATOL task <c>sell</c>.</summary>
    Sell = 1,
    /// <summary>Возврат прихода, ATOL task <c>sellReturn</c>.</summary>
    SellReturn = 2,
}

/// <summary>VAT rate of a line: ATOL <c>tax.type</c>, FFD tag 1199 (protocols.md §1.3, §2.1).</summary>
public enum VatRate
{
    None, Vat0, Vat5, Vat7, Vat10, Vat20, Vat22, Vat105, Vat107, Vat110, Vat120, Vat122,
}

/// <summary>How a payment was made: ATOL <c>payments[].type</c> → FFD tags 1031/1081/1215/1216/1217 (protocols.md §1.3).</summary>
public enum FiscalPaymentType
{
    /// <summary><c>cash</c>, tag 1031.</summary>
    Cash,
    /// <summary><c>electronically</c> (card, SBP), tag 1081.</summary>
    Electronically,
    /// <summary><c>prepaid</c>, tag 1215: set-off of money received earlier. Never bonuses (protocols.md §2.4 point 4).</summary>
    Prepaid,
    /// <summary><c>credit</c>, tag 1216.</summary>
    Credit,
    /// <summary><c>other</c>, tag 1217 (counter-provision). Loyalty shows bonuses as line discounts, so this is 0 for bonuses.</summary>
    Other,
}

/// <summary>
/// One line of a loyalty receipt as the fiscal printer must show it.
/// <para><see cref="AmountKopecks"/> is the line before the bonus discount (price × quantity as the
/// till rang it); <see cref="BonusDiscountKopecks"/> is the part of it paid with bonuses (the
/// engine's spread, README "Spread"). The printed line is <c>AmountKopecks − BonusDiscountKopecks</c>,
/// which is what the customer pays with money for it (protocols.md §2.4, discount model).</para>
/// </summary>
/// <param name="Name">Item name, tag 1030.</param>
/// <param name="QuantityMilli">Quantity in thousandths (1 piece = 1 000; 47.800 kg = 47 800), tag 1023.</param>
/// <param name="PriceKopecks">Unit price before the discount.</param>
/// <param name="AmountKopecks">Line amount before the discount (≈ price × quantity, ±1 kop for weighed goods).</param>
/// <param name="BonusDiscountKopecks">Bonuses spent on this line, 0 ≤ discount ≤ amount.</param>
/// <param name="Vat">VAT rate, tag 1199.</param>
/// <param name="PaymentMethod">ATOL <c>paymentMethod</c> (tag 1214), e.g. <c>fullPayment</c>.</param>
/// <param name="PaymentObject">ATOL <c>paymentObject</c> (tag 1212), e.g. <c>commodity</c>.</param>
/// <param name="MeasurementUnit">ATOL <c>measurementUnit</c> (FFD 1.2 tag 2108), e.g. <c>piece</c>, <c>kilogram</c>.</param>
public sealed record FiscalLine(
    string Name,
    long QuantityMilli,
    long PriceKopecks,
    long AmountKopecks,
    long BonusDiscountKopecks,
    VatRate Vat,
    string PaymentMethod = "fullPayment",
    string PaymentObject = "commodity",
    string MeasurementUnit = "piece",
    int Department = 1)
{
    /// <summary>What the customer pays with money for this line: the printed line amount (tag 1043).</summary>
    public long AmountAfterDiscountKopecks => AmountKopecks - BonusDiscountKopecks;
}

/// <summary>One payment of money: <paramref name="AmountKopecks"/> &gt; 0 of <paramref name="Type"/>.</summary>
public sealed record FiscalPayment(FiscalPaymentType Type, long AmountKopecks);

/// <summary>The cashier, tags 1021/1203 (ATOL <c>operator{name, vatin}</c>).</summary>
public sealed record FiscalOperator(string Name, string? Vatin = null);

/// <summary>
/// A receipt to fiscalise. <see cref="ReceiptKey"/> identifies it for exactly-once printing (store,
/// register, shift, receipt number, or the loyalty operation id): the driver derives every ATOL job
/// uuid from it, so the same key never prints twice.
/// </summary>
public sealed record FiscalReceipt
{
    /// <summary>Stable identity of the sale, e.g. "MSK-01/R1/7/42"; 1–128 printable characters.</summary>
    public required string ReceiptKey { get; init; }
    public FiscalOperation Operation { get; init; } = FiscalOperation.Sell;
    /// <summary>ATOL <c>taxationType</c> (tag 1055): <c>osn</c>, <c>usnIncome</c>, <c>usnIncomeOutcome</c>, <c>esn</c>, <c>patent</c>.</summary>
    public string TaxationType { get; init; } = "osn";
    public FiscalOperator? Operator { get; init; }
    public required IReadOnlyList<FiscalLine> Lines { get; init; }
    /// <summary>Money only; bonuses are line discounts, never a payment here.</summary>
    public required IReadOnlyList<FiscalPayment> Payments { get; init; }
    /// <summary>The buyer's contacts, name and INN as the CRM has them; the driver picks tag 1008 by <see cref="OfdContactRule"/>.</summary>
    public FiscalCustomer? Customer { get; init; }
    /// <summary>The customer asked for no paper ("mode 3"); honoured only when a valid contact was found.</summary>
    public bool ElectronicOnly { get; init; }
    /// <summary>Print "Скидка (бонусы) N" under the lines when bonuses were spent.</summary>
    public bool PrintBonusText { get; init; } = true;

    /// <summary>Bonuses spent on the whole receipt, kopecks.</summary>
    public long BonusKopecks => Lines.Sum(line => line.BonusDiscountKopecks);
}
