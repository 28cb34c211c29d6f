namespace Loyalty.Grains.Domain;

/// <summary>
/// Every bound of the domain in one place. Inputs beyond these are refused with a clear error before
/// any state changes, so no receipt or amount can overflow a <c>long</c> anywhere downstream.
/// </summary>
public static class Limits
{
    /// <summary>A single amount (a line, an adjustment, a hold) may not exceed ten billion roubles.</summary>
    public const long MaxAmountKopecks = 1_000_000_000_000;

    /// <summary>Lines per receipt; real receipts have tens, a thousand is already absurd.</summary>
    public const int MaxReceiptLines = 1_000;

    /// <summary>A line's quantity in thousandths (one million units).</summary>
    public const long MaxQuantityMilli = 1_000_000_000;

    /// <summary>Identifiers: card numbers, SKUs, store/register ids, operation ids, reasons.</summary>
    public const int MaxIdentifierLength = 64;

    public const int MaxTextLength = 256;

    /// <summary>Active holds per card; a card with this many open holds is being abused.</summary>
    public const int MaxActiveHoldsPerCard = 32;

    /// <summary>Resolved holds remembered per card, so a late cancel or commit gets a precise answer.</summary>
    public const int ResolvedHoldsRemembered = 8;

    /// <summary>Bonus lots per card before the oldest released lots are consolidated.</summary>
    public const int MaxLotsPerCard = 512;

    /// <summary>Cards issued by one range command.</summary>
    public const int MaxCardsPerRange = 100_000;

    public const int MaxStatementPageSize = 500;
}
