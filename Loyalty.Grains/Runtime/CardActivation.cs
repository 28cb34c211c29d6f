using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// A card in memory: its last durable state and its turn. The turn is a one-slot semaphore; async
/// waiters on <see cref="SemaphoreSlim"/> are served first-in first-out, which gives the grain its
/// ordered, non-reentrant mailbox. The queue length is counted so it can be bounded.
/// </summary>
internal sealed class CardActivation(string number, int mailboxCapacity, int recentOperations)
{
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Dictionary<string, (byte[] Hash, string Json)> _recent = new(StringComparer.Ordinal);
    private readonly Queue<string> _recentOrder = new();
    private int _queued;
    private long _lastUsedTicks = Environment.TickCount64;

    public string Number { get; } = number;

    private CardState? _state;
    private long _stateSetTicks;

    /// <summary>The last state known durable, or null when not loaded (or the card does not exist yet).</summary>
    public CardState? State
    {
        get => _state;
        set { _state = value; _stateSetTicks = Environment.TickCount64; }
    }

    /// <summary>How long ago <see cref="State"/> was read from or written to the database.</summary>
    public TimeSpan StateAge => TimeSpan.FromMilliseconds(Environment.TickCount64 - _stateSetTicks);

    /// <summary>Set under the turn when the activation leaves the table; a caller that finds it set activates afresh.</summary>
    public bool Deactivated { get; set; }

    public async Task EnterAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _queued) > mailboxCapacity)
        {
            Interlocked.Decrement(ref _queued);
            throw new CardException(CardErrorCode.Overloaded, $"Card {Number} has {mailboxCapacity} calls waiting, its limit; try again shortly.");
        }
        try
        {
            await _turn.WaitAsync(cancellationToken);
        }
        catch
        {
            Interlocked.Decrement(ref _queued);
            throw;
        }
    }

    /// <summary>Takes the turn only if nobody holds or awaits it: for deactivation.</summary>
    public bool TryEnterIdle()
    {
        if (Volatile.Read(ref _queued) != 0 || !_turn.Wait(0)) return false;
        Interlocked.Increment(ref _queued);
        return true;
    }

    public void Exit()
    {
        Volatile.Write(ref _lastUsedTicks, Environment.TickCount64);
        Interlocked.Decrement(ref _queued);
        _turn.Release();
    }

    public TimeSpan IdleFor => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastUsedTicks));

    public bool TryRecall(string operationId, out (byte[] Hash, string Json) answer) => _recent.TryGetValue(operationId, out answer);

    public void Remember(string operationId, byte[] hash, string json)
    {
        if (recentOperations <= 0 || !_recent.TryAdd(operationId, (hash, json))) return;
        _recentOrder.Enqueue(operationId);
        while (_recentOrder.Count > recentOperations) _recent.Remove(_recentOrder.Dequeue());
    }
}
