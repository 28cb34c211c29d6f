using Microsoft.Extensions.Logging;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// Writes time-driven changes on time. Card states settle lazily on every read and write (so no
/// answer ever counts an expired hold), but a card nobody touches would keep them unwritten; this
/// grain, woken by an ADO.NET reminder every sweep period on whichever silo holds it, asks each card
/// whose moment has passed (<c>cards.due_at</c>) to write them (<see cref="ICardGrain.SettleAsync"/>).
/// One reminder for all cards rather than one per card (style.md §1, 9): ticks can be late, missed or
/// repeated, and a pass does the same whenever it runs, because it reads what is due now.
/// </summary>
public interface ICardSweeperGrain : IGrainWithIntegerKey
{
    /// <summary>Registers (or keeps) the reminder; every silo calls it at start, which is idempotent.</summary>
    Task StartAsync(TimeSpan period);

    /// <summary>One pass now: settles up to <see cref="CardSweeperGrain.MaxCardsPerPass"/> due cards; returns how many had rows written.</summary>
    Task<int> SweepAsync();
}

public sealed class CardSweeperGrain(CardGrainServices services, ILogger<CardSweeperGrain> logger) : Grain, ICardSweeperGrain, IRemindable
{
    private const string ReminderName = "sweep";

    /// <summary>Cards settled per pass; more wait for the next pass (earliest due first), so one pass stays short.</summary>
    public const int MaxCardsPerPass = 10_000;

    /// <summary>Card calls in flight at once: enough to fill the writer's batches, well under its queue bound.</summary>
    public const int MaxCardsInParallel = 64;

    public async Task StartAsync(TimeSpan period) => await this.RegisterOrUpdateReminder(ReminderName, period, period);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        try
        {
            await SweepAsync();
        }
        catch (Exception error)
        {
            // The next tick tries again; nothing of a failed pass is half-done (each card's settle is one write).
            logger.LogWarning(error, "A sweep of due time-driven changes failed; the next tick tries again.");
        }
    }

    public async Task<int> SweepAsync()
    {
        var due = await services.Store.CardsDueAsync(services.Time.GetUtcNow(), MaxCardsPerPass);
        var settled = 0;
        foreach (var chunk in due.Chunk(MaxCardsInParallel))
        {
            var results = await Task.WhenAll(chunk.Select(async number =>
            {
                try
                {
                    return await GrainFactory.GetGrain<ICardGrain>(number).SettleAsync();
                }
                catch (Domain.CardException refused) when (refused.Code is not Domain.CardErrorCode.Unavailable)
                {
                    return false;
                }
            }));
            settled += results.Count(written => written);
        }
        if (due.Count > 0)
            logger.LogInformation("Sweep: {Due} cards had time-driven changes due; {Settled} had rows written.", due.Count, settled);
        return settled;
    }
}
