namespace Loyalty.Grains.Runtime;

/// <summary>The runtime's bounds. Each one, when hit, gives the caller a clear "overloaded" error rather than a queue without end.</summary>
public sealed class GrainRuntimeOptions
{
    /// <summary>Card activations kept in memory by one process.</summary>
    public int MaxActivations { get; init; } = 200_000;

    /// <summary>Calls waiting for one card's turn; beyond it the card is being hammered and callers are refused at once.</summary>
    public int MailboxCapacity { get; init; } = 512;

    /// <summary>An activation unused this long is dropped from memory; its state is in the database.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often idle activations are looked for.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Reload-and-retry rounds when another process keeps changing the same card. Each round makes
    /// progress for someone, so a handful suffices; past it the caller is told to retry.
    /// </summary>
    public int MaxConflictRetries { get; init; } = 16;

    /// <summary>
    /// Optimistic attempts (decide in memory, write if the version still matches) before a write
    /// decides under the card rows' lock instead, which always makes progress. Two processes
    /// hammering one card otherwise can keep invalidating each other's attempts.
    /// </summary>
    public int OptimisticAttempts { get; init; } = 3;

    /// <summary>
    /// Reads (balance, quote, statement) answered from memory are at most this old. Writes never
    /// need it (they are version-checked), but with several server processes a card written
    /// elsewhere would otherwise show its old balance here until this process next writes it.
    /// </summary>
    public TimeSpan MaxReadStaleness { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Answers to recent operation ids remembered per card, so a quick retry needs no database read.</summary>
    public int RecentOperationsPerCard { get; init; } = 16;

    /// <summary>Refuses settings that would unbound the runtime or stop it from making progress, naming the setting.</summary>
    public void Validate()
    {
        static void Range(string name, long value, long min, long max)
        {
            if (value < min || value > max)
                throw new ArgumentOutOfRangeException(name, value, $"Runtime.{name} must be between {min} and {max}.");
        }
        Range(nameof(MaxActivations), MaxActivations, 1, 10_000_000);
        Range(nameof(MailboxCapacity), MailboxCapacity, 1, 100_000);
        Range(nameof(MaxConflictRetries), MaxConflictRetries, 1, 1_000);
        Range(nameof(OptimisticAttempts), OptimisticAttempts, 0, MaxConflictRetries);
        Range(nameof(RecentOperationsPerCard), RecentOperationsPerCard, 0, 1_000);
        if (IdleTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "Runtime.IdleTimeout must be positive.");
        if (MaxReadStaleness < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxReadStaleness), MaxReadStaleness, "Runtime.MaxReadStaleness must not be negative.");
        if (SweepInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(SweepInterval), SweepInterval, "Runtime.SweepInterval must be positive.");
    }
}
