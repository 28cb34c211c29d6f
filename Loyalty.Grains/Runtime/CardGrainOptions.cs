namespace Loyalty.Grains.Runtime;

/// <summary>The card grains' bounds. Each one, when hit, gives the caller a clear "overloaded" error rather than a queue without end.</summary>
public sealed class CardGrainOptions
{
    /// <summary>
    /// Calls waiting for one card's turn (Orleans' per-activation <c>MaxEnqueuedRequestsHardLimit</c>);
    /// beyond it the card is being hammered and callers are refused at once (RESOURCE_EXHAUSTED).
    /// Orleans applies it to every grain of the silo; cards are the only hot ones.
    /// </summary>
    public int MailboxCapacity { get; init; } = 512;

    /// <summary>An activation unused this long is deactivated (Orleans' collection age); its state is in the database.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Reload-and-retry rounds when the card keeps changing outside this activation (a second
    /// activation during a membership change, a transfer). Each round makes progress for someone, so
    /// a handful suffices; past it the caller is told to retry.
    /// </summary>
    public int MaxConflictRetries { get; init; } = 16;

    /// <summary>
    /// Optimistic attempts (decide in memory, write if the version still matches) before a write
    /// decides under the card row's lock instead, which always makes progress.
    /// </summary>
    public int OptimisticAttempts { get; init; } = 3;

    /// <summary>Answers to recent operation ids remembered per card, so a quick retry needs no database read.</summary>
    public int RecentOperationsPerCard { get; init; } = 16;

    /// <summary>Refuses settings that would unbound the grains or stop them from making progress, naming the setting.</summary>
    public void Validate()
    {
        static void Range(string name, long value, long min, long max)
        {
            if (value < min || value > max)
                throw new ArgumentOutOfRangeException(name, value, $"Cards.{name} must be between {min} and {max}.");
        }
        Range(nameof(MailboxCapacity), MailboxCapacity, 1, 100_000);
        Range(nameof(MaxConflictRetries), MaxConflictRetries, 1, 1_000);
        Range(nameof(OptimisticAttempts), OptimisticAttempts, 0, MaxConflictRetries);
        Range(nameof(RecentOperationsPerCard), RecentOperationsPerCard, 0, 1_000);
        if (IdleTimeout < TimeSpan.FromMinutes(1)) throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "Cards.IdleTimeout must be at least a minute (Orleans' minimum collection age).");
    }
}

/// <summary>What every card grain of a silo shares: the ledger writer, the card store, the programmes, the clock and the bounds.</summary>
public sealed class CardGrainServices(Storage.CardStore store, Storage.ILedgerWriter writer, ProgramCatalog programs, TimeProvider time, CardGrainOptions options)
{
    public Storage.CardStore Store { get; } = store;
    public Storage.ILedgerWriter Writer { get; } = writer;
    public ProgramCatalog Programs { get; } = programs;
    public TimeProvider Time { get; } = time;
    public CardGrainOptions Options { get; } = options;
}
