using System.Collections.Concurrent;
using Loyalty.PosAdapter.Client;

namespace Loyalty.Chaos;

/// <summary>
/// What an operation was. <see cref="CommitOfReportedReceipt"/>: an online commit of a receipt an
/// offline register's report had already applied (the server must refuse it).
/// </summary>
public enum OpKind { Issue, OpeningCredit, Redeem, Commit, Cancel, Refund, Adjust, CommitOfReportedReceipt }

/// <summary>What a client finally knows about an operation.</summary>
public enum Outcome
{
    /// <summary>Still being tried.</summary>
    InFlight,
    /// <summary>The server answered OK (to some attempt): it must be in the ledger exactly once.</summary>
    Acknowledged,
    /// <summary>The server answered with a definite refusal: it must not be in the ledger.</summary>
    Refused,
    /// <summary>Every attempt ended without a definite answer (server down, deadline, reset): either is allowed.</summary>
    Unknown,
}

/// <summary>
/// The effect an acknowledged operation had on its card, as the server's reply stated it. The harness's
/// model of every card is the sum of these; the database must agree.
/// </summary>
public readonly record struct Effect(long Balance, long Held)
{
    public static Effect None => default;
}

/// <summary>One operation id and everything the client saw of it.</summary>
public sealed class OpRecord(string operationId, OpKind kind, string card, int terminal, Func<LoyaltyClient, CancellationToken, Task<(Effect Effect, long Version)>> send)
{
    public string OperationId { get; } = operationId;
    public OpKind Kind { get; } = kind;
    public string Card { get; } = card;
    public int Terminal { get; } = terminal;
    /// <summary>Sends the operation (the same request, same id, every time); returns its effect and the card version after it.</summary>
    public Func<LoyaltyClient, CancellationToken, Task<(Effect Effect, long Version)>> Send { get; } = send;
    /// <summary>Order of this operation among its terminal's operations (a terminal works one at a time).</summary>
    public long Sequence { get; init; }

    public Outcome Outcome { get; set; }
    public StatusCode? RefusedWith { get; set; }
    public string? RefusalMessage { get; set; }
    public Effect Effect { get; set; }
    public long VersionAfter { get; set; }
    public int Attempts { get; set; }
    /// <summary>Resolved only after the run, by retrying with the same id once every server was up.</summary>
    public bool ResolvedAfterRun { get; set; }
}

/// <summary>All operations of a run and the per-attempt statistics. Thread-safe for the terminals.</summary>
public sealed class History
{
    private readonly ConcurrentQueue<OpRecord> _ops = new();
    private readonly ConcurrentDictionary<string, long> _attemptsByStatus = new();
    private long _attempts, _abandoned, _retries;

    public IEnumerable<OpRecord> Operations => _ops;
    public long Attempts => Interlocked.Read(ref _attempts);
    public long Retries => Interlocked.Read(ref _retries);
    public long AbandonedCalls => Interlocked.Read(ref _abandoned);
    public IReadOnlyDictionary<string, long> AttemptsByStatus => _attemptsByStatus;

    public void Add(OpRecord op) => _ops.Enqueue(op);

    public void CountAttempt(string status, bool retry)
    {
        Interlocked.Increment(ref _attempts);
        if (retry) Interlocked.Increment(ref _retries);
        _attemptsByStatus.AddOrUpdate(status, 1, (_, n) => n + 1);
    }

    public void CountAbandoned() => Interlocked.Increment(ref _abandoned);
}
