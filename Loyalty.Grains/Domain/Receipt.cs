namespace Loyalty.Grains.Domain;

/// <summary>
/// The key of a receipt across the whole system: the same four values a register prints and a
/// shift's sales report carries, so offline reports can be matched with what was seen online.
/// </summary>
public sealed record ReceiptRef(string StoreId, string RegisterId, long ShiftNumber, long ReceiptNumber)
{
    public override string ToString() => $"{StoreId}/{RegisterId}/{ShiftNumber}/{ReceiptNumber}";
}

/// <summary>
/// One receipt line. <see cref="AmountKopecks"/> is what the line costs before bonuses (after the
/// shop's own discounts); bonuses are then spread over lines as further discounts.
/// </summary>
public sealed record ReceiptLine(string Sku, string Category, string Name, long QuantityMilli, long PriceKopecks, long AmountKopecks);

public sealed record Receipt(ReceiptRef Ref, IReadOnlyList<ReceiptLine> Lines)
{
    public long TotalKopecks => Lines.Sum(l => l.AmountKopecks);

    /// <summary>Structural equality over the lines, for comparing a commit with the receipt its hold was made for.</summary>
    public bool SameAs(Receipt other) => Ref == other.Ref && Lines.SequenceEqual(other.Lines);
}

/// <summary>A returned line of an earlier receipt: which SKU, how much of it.</summary>
public sealed record ReturnedLine(string Sku, long QuantityMilli);

/// <summary>
/// A committed receipt as the card remembers it for later refunds: per line what was paid, what
/// discount bonuses gave, what was accrued, and how much of it has been returned since.
/// </summary>
public sealed record ReceiptRecord(ReceiptRef Ref, string CardNumber, IReadOnlyList<ReceiptRecordLine> Lines, bool Offline)
{
    public long Redeemed => Lines.Sum(l => l.DiscountKopecks);
    public long Accrued => Lines.Sum(l => l.AccrualKopecks);
}

public sealed record ReceiptRecordLine(
    string Sku, string Category, long QuantityMilli, long AmountKopecks, long DiscountKopecks, long AccrualKopecks,
    long ReturnedQuantityMilli, long AccrualReversedKopecks, long RedeemRestoredKopecks);
