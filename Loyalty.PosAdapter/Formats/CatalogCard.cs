namespace Loyalty.PosAdapter.Formats;

/// <summary>A card's state as the server exports it for offline registers.</summary>
public enum CardStatus
{
    Active,
    /// <summary>Blocked: registers must refuse it; written as blocked in every format.</summary>
    Blocked,
    /// <summary>Closed (replaced or merged): registers must refuse it; the register formats know only "blocked", so it is written as blocked.</summary>
    Closed,
}

/// <summary>
/// One card of a catalog export (issue 11, Exchange.ExportCards): what a register may do with it offline.
/// </summary>
/// <param name="CardNumber">Text, never a number: leading zeros are part of it (field-cases A4). At most <see cref="CatalogLimits.MaxCardNumberLength"/> characters, no separators or control characters.</param>
/// <param name="Status">Active, blocked or closed.</param>
/// <param name="OfflineSpendableKopecks">What the register may let the customer spend offline: the available balance at export, capped by the programme's offline limit, 0 for blocked/closed cards and cards in debt (issue 11 item 2). This is what the register formats carry.</param>
/// <param name="BalanceKopecks">The card's ledger balance (may be negative: a debt); only the CSV carries it.</param>
/// <param name="Watermark">As of when the server computed these figures (UTC); only the CSV carries it.</param>
public sealed record CatalogCard(string CardNumber, CardStatus Status, long OfflineSpendableKopecks, long BalanceKopecks, DateTimeOffset Watermark);

/// <summary>
/// A card as read back from a register catalog file: only what that format carries
/// (Кассир and Frontol carry the number, blocked or not, and the spendable amount).
/// </summary>
public sealed record CatalogFileCard(string CardNumber, bool Blocked, long OfflineSpendableKopecks);

/// <summary>Named bounds of the catalog writers.</summary>
public static class CatalogLimits
{
    /// <summary>Longest card number written. Frontol barcodes go up to 40 characters (§3.1 field 2); card codes are shorter in practice.</summary>
    public const int MaxCardNumberLength = 40;

    /// <summary>Buffer of the writers' file stream: big enough that a million cards are a few thousand writes; memory stays this, whatever the card count.</summary>
    public const int WriteBufferBytes = 1 << 16;
}
