using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Storage;

/// <summary>A card row to write, valid only if the row still has <see cref="ExpectedVersion"/> (0: the card must not exist yet).</summary>
public sealed record CardWrite(CardState State, long ExpectedVersion)
{
    /// <summary>Serialised when the write is made, on the caller's thread, so the single writer loop does not.</summary>
    public string StateJson { get; } = Json.Serialize(State);
}

/// <summary>The idempotency record of an accepted operation.</summary>
public sealed record OperationRecord(string OperationId, string CardNumber, string Kind, byte[] PayloadHash, string ResultJson);

/// <summary>Everything one accepted command makes durable, in one transaction.</summary>
public sealed record LedgerWrite(
    IReadOnlyList<CardWrite> Cards,
    IReadOnlyList<LedgerEntry> Entries,
    OperationRecord Operation,
    ReceiptRecord? ReceiptCreated,
    ReceiptRecord? ReceiptUpdated,
    DateTimeOffset At)
{
    /// <summary>The lines of the receipt this write creates or updates (never both), serialised on the caller's thread.</summary>
    public string? ReceiptLinesJson { get; } = (ReceiptCreated ?? ReceiptUpdated) is { } receipt ? Json.Serialize(receipt.Lines) : null;

    /// <summary>A receipt that must not be committed when this write is stored (see <see cref="Decision{TReply}.RequiresOpenReceipt"/>).</summary>
    public ReceiptRef? ReceiptMustBeOpen { get; init; }

    /// <summary>The lots the receipt's redemption took, serialised on the caller's thread.</summary>
    public string? ReceiptLotsJson { get; } = (ReceiptCreated ?? ReceiptUpdated) is { } receipt ? Json.Serialize(receipt.RedeemedFrom) : null;
}

/// <summary>An operation as stored, for answering retries.</summary>
public sealed record StoredOperation(string OperationId, string CardNumber, string Kind, byte[] PayloadHash, string ResultJson);

/// <summary>What became of a write. Only <see cref="Committed"/> changed anything.</summary>
public abstract record WriteOutcome
{
    public sealed record Committed : WriteOutcome;
    /// <summary>Another process changed the card since this activation read it: reload and decide again.</summary>
    public sealed record Conflict(string CardNumber) : WriteOutcome;
    /// <summary>The operation id is already stored; answer with what is stored.</summary>
    public sealed record Duplicate(StoredOperation Stored) : WriteOutcome;
    public sealed record Failed(CardException Error) : WriteOutcome;
    /// <summary>The receipt this write commits is committed already (its key is taken): nothing was written.</summary>
    public sealed record ReceiptExists(ReceiptRef Receipt) : WriteOutcome;

    public static readonly Committed Done = new();
}

public interface ILedgerWriter
{
    /// <summary>Completes once the write is durable (or refused). Never cancelled half-way: the outcome is always known.</summary>
    Task<WriteOutcome> WriteAsync(LedgerWrite write);

    /// <summary>
    /// The way out of a livelock when other processes keep winning a card: lock the cards' rows,
    /// read their current state, let <paramref name="decide"/> build the write from it, and commit,
    /// all in one transaction, so the version cannot move in between. Slower (the rows stay locked
    /// while deciding, and there is no batching), so used only after optimistic attempts failed.
    /// </summary>
    Task<WriteOutcome> WriteLockedAsync(IReadOnlyList<string> cardNumbers, Func<IReadOnlyDictionary<string, CardState?>, Task<LedgerWrite>> decide);
}
