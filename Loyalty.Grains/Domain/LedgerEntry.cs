namespace Loyalty.Grains.Domain;

/// <summary>Every kind of balance movement. The ledger holds nothing else.</summary>
public enum LedgerKind
{
    Accrual,
    AccrualRelease,
    Hold,
    HoldPost,
    HoldVoid,
    HoldExpired,
    RefundReversal,
    RefundRestore,
    Expiry,
    Adjustment,
    OfflineRedeem,
    TransferOut,
    TransferIn,
}

/// <summary>
/// One append-only ledger row. <see cref="AmountKopecks"/> moves the balance, <see cref="HeldDeltaKopecks"/>
/// the held total and <see cref="PendingDeltaKopecks"/> the not-yet-spendable total, so each of the card's
/// three figures is the sum of its column. The row carries what it left behind (balance, available,
/// version) so an auditor can replay a card without the card table.
/// </summary>
public sealed record LedgerEntry(
    string CardNumber,
    string OperationId,
    int EntryNumber,
    LedgerKind Kind,
    long AmountKopecks,
    long HeldDeltaKopecks,
    long PendingDeltaKopecks,
    long BalanceAfterKopecks,
    long AvailableAfterKopecks,
    long VersionAfter,
    ReceiptRef? Receipt,
    bool Offline,
    string? Reason,
    string? Actor,
    DateTimeOffset At)
{
    /// <summary>The change this row made to what the customer may spend.</summary>
    public long AvailableDeltaKopecks => AmountKopecks - HeldDeltaKopecks - PendingDeltaKopecks;
}
