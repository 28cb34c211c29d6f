namespace Loyalty.Grains.Domain;

/// <summary>
/// The key of a receipt across the whole system: the same four values a register prints and a
/// shift's sales report carries, so offline reports can be matched with what was seen online.
/// </summary>
[Orleans.Immutable]
public sealed record ReceiptRef(string StoreId, string RegisterId, long ShiftNumber, long ReceiptNumber)
{
    public override string ToString() => $"{StoreId}/{RegisterId}/{ShiftNumber}/{ReceiptNumber}";
}

/// <summary>
/// One receipt line. <see cref="AmountKopecks"/> is what the line costs before bonuses (after the
/// shop's own discounts); bonuses are then spread over lines as further discounts.
/// </summary>
[Orleans.Immutable]
public sealed record ReceiptLine(string Sku, string Category, string Name, long QuantityMilli, long PriceKopecks, long AmountKopecks);

[Orleans.Immutable]
public sealed record Receipt(ReceiptRef Ref, IReadOnlyList<ReceiptLine> Lines)
{
    public long TotalKopecks => Lines.Sum(l => l.AmountKopecks);

    /// <summary>Structural equality over the lines, for comparing a commit with the receipt its hold was made for.</summary>
    public bool SameAs(Receipt other) => Ref == other.Ref && Lines.SequenceEqual(other.Lines);
}

/// <summary>A returned line of an earlier receipt: which SKU, how much of it.</summary>
[Orleans.Immutable]
public sealed record ReturnedLine(string Sku, long QuantityMilli);

/// <summary>
/// A committed receipt as the system remembers it for later refunds and for its lifecycle: per line
/// what was paid, what discount bonuses gave, what was accrued, and how much has been returned since;
/// which lots the redemption took (so a return gives bonuses back with their original dates); and
/// which operation committed it, when, so a refusal can name it.
/// </summary>
public sealed record ReceiptRecord(ReceiptRef Ref, string CardNumber, IReadOnlyList<ReceiptRecordLine> Lines, bool Offline)
{
    /// <summary>The operation that committed the receipt (online Commit or offline application).</summary>
    public string OperationId { get; init; } = "";

    /// <summary>When it was committed.</summary>
    public DateTimeOffset CommittedAt { get; init; }

    /// <summary>
    /// The lots the redemption took, nearest expiry first, with what returns have given back to each.
    /// Empty when nothing was redeemed, and for receipts committed before lots were recorded (their
    /// returns credit a new lot, as they did then). The part of an offline redemption that went
    /// beyond the card's lots (a debt) has no lot.
    /// </summary>
    public IReadOnlyList<RedeemedLot> RedeemedFrom { get; init; } = [];

    public long Redeemed => Lines.Sum(l => l.DiscountKopecks);
    public long Accrued => Lines.Sum(l => l.AccrualKopecks);

    /// <summary>Every line returned in full.</summary>
    public bool FullyReturned => Lines.All(l => l.ReturnedQuantityMilli >= l.QuantityMilli);

    /// <summary>Some quantity of some line returned.</summary>
    public bool AnyReturned => Lines.Any(l => l.ReturnedQuantityMilli > 0);
}

public sealed record ReceiptRecordLine(
    string Sku, string Category, long QuantityMilli, long AmountKopecks, long DiscountKopecks, long AccrualKopecks,
    long ReturnedQuantityMilli, long AccrualReversedKopecks, long RedeemRestoredKopecks);

/// <summary>
/// The part of one lot a committed redemption took: its amount, the lot's dates, and how much of it
/// returns have given back so far (never more than the amount).
/// </summary>
public sealed record RedeemedLot(long AmountKopecks, DateTimeOffset AvailableAt, DateTimeOffset? ExpiresAt, long RestoredKopecks = 0)
{
    public long LeftToRestoreKopecks => AmountKopecks - RestoredKopecks;
}
