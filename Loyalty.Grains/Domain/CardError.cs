namespace Loyalty.Grains.Domain;

/// <summary>
/// Why a command was refused. These are operating errors (explicit results the caller acts on),
/// not programmer errors; the API layer maps each to one gRPC status code.
/// </summary>
[GenerateSerializer]
public enum CardErrorCode
{
    /// <summary>The request itself is wrong: bad amount, empty receipt, duplicate line. Maps to INVALID_ARGUMENT.</summary>
    InvalidArgument,
    /// <summary>Unknown card, hold or receipt. NOT_FOUND.</summary>
    NotFound,
    /// <summary>The card exists already (issue). ALREADY_EXISTS.</summary>
    CardExists,
    /// <summary>The card is blocked or closed. FAILED_PRECONDITION.</summary>
    CardNotActive,
    /// <summary>Not enough available bonuses. FAILED_PRECONDITION.</summary>
    InsufficientBonuses,
    /// <summary>A programme limit (cap, minimum line amount, excluded category) forbids it. FAILED_PRECONDITION.</summary>
    LimitExceeded,
    /// <summary>The hold was already resolved, or the receipt is not in a stage that allows the command (held, committed, returned; see <see cref="ReceiptLifecycle"/>). FAILED_PRECONDITION.</summary>
    AlreadyResolved,
    /// <summary>The same operation id was used with a different payload. ALREADY_EXISTS.</summary>
    OperationExistsWithDifferentPayload,
    /// <summary>The caller may not act on this (a register of another store). PERMISSION_DENIED.</summary>
    Forbidden,
    /// <summary>A bound of the runtime (mailbox, writer queue, activations) is full. RESOURCE_EXHAUSTED.</summary>
    Overloaded,
    /// <summary>The database could not be reached or the write could not be made durable. UNAVAILABLE.</summary>
    Unavailable,
}

/// <summary>
/// A refused command. The message is a full sentence with the numbers, safe to show to a cashier.
/// Orleans carries it across silos with its generated codec (message, <see cref="Code"/> and
/// <see cref="Details"/>), so a refusal keeps its code whichever server hosts the card.
/// </summary>
[GenerateSerializer]
public sealed class CardException : Exception
{
    /// <summary>For the serializer only.</summary>
    public CardException() { }

    public CardException(CardErrorCode code, string message) : base(message) => Code = code;

    [Id(0)]
    public CardErrorCode Code { get; private set; }

    /// <summary>
    /// What a program needs to recover from the refusal, by name, besides the sentence: for a receipt
    /// in the wrong stage <see cref="ReceiptStageDetail"/>, and <see cref="HoldIdDetail"/> (the open
    /// hold to commit or cancel) or <see cref="OperationIdDetail"/> (the operation that committed it).
    /// The API sends each as trailing metadata <c>loyalty-&lt;name&gt;</c>.
    /// </summary>
    [Id(1)]
    public Dictionary<string, string> Details { get; init; } = [];

    public const string ReceiptStageDetail = "receipt-stage";
    public const string HoldIdDetail = "hold-id";
    public const string OperationIdDetail = "operation-id";

    /// <summary>Given by the runtime and the writer alike once the server has begun to stop.</summary>
    public static CardException ShuttingDown() =>
        new(CardErrorCode.Unavailable, "The server is shutting down; nothing was changed. Try again on another server or later.");
}
