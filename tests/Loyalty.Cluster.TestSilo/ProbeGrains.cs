using Orleans;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime;

namespace Loyalty.Cluster.TestSilo;

/// <summary>Which activation answered a call, and where it lives.</summary>
/// <param name="ActivationId">The activation's id; a different id means a new activation.</param>
/// <param name="Silo">The hosting silo's address (ip:port@generation).</param>
/// <param name="Calls">Calls this activation has answered, this one included.</param>
[GenerateSerializer, Immutable]
public sealed record ProbeAnswer(string ActivationId, string Silo, int Calls);

/// <summary>A string-keyed grain that says which activation answered: proves one activation per key across the cluster.</summary>
public interface IProbeGrain : IGrainWithStringKey
{
    /// <summary>Counts the call and names the answering activation and its silo.</summary>
    Task<ProbeAnswer> Who();
}

/// <summary>
/// Random placement so that a test can find keys hosted on either silo quickly (the default placement
/// prefers the less loaded silo and could put every probe on one).
/// </summary>
[RandomPlacement]
public sealed class ProbeGrain(ILocalSiloDetails silo) : Grain, IProbeGrain
{
    private int _calls;

    /// <inheritdoc />
    public Task<ProbeAnswer> Who() =>
        Task.FromResult(new ProbeAnswer(GrainContext.ActivationId.ToString(), silo.SiloAddress.ToString(), ++_calls));
}

/// <summary>A grain with one ADO.NET reminder, reporting the ticks it received.</summary>
public interface ITickGrain : IGrainWithStringKey
{
    /// <summary>Registers (or replaces) the reminder "tick".</summary>
    Task Start(TimeSpan dueTime, TimeSpan period);

    /// <summary>The due times of the ticks this activation received, oldest first.</summary>
    Task<IReadOnlyList<DateTime>> Ticks();

    /// <summary>Unregisters the reminder.</summary>
    Task Stop();
}

/// <summary>Records each tick's due time (not a bare counter: ticks can be late, missed or repeated, style.md A4).</summary>
public sealed class TickGrain : Grain, ITickGrain, IRemindable
{
    private const string ReminderName = "tick";
    private readonly List<DateTime> _ticks = [];

    /// <inheritdoc />
    public async Task Start(TimeSpan dueTime, TimeSpan period) => await this.RegisterOrUpdateReminder(ReminderName, dueTime, period);

    /// <inheritdoc />
    public Task<IReadOnlyList<DateTime>> Ticks() => Task.FromResult<IReadOnlyList<DateTime>>(_ticks.ToArray());

    /// <inheritdoc />
    public async Task Stop()
    {
        var reminder = await this.GetReminder(ReminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <inheritdoc />
    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        _ticks.Add(status.CurrentTickTime);
        return Task.CompletedTask;
    }
}

/// <summary>Small grain state kept by Persistence.AdoNet in our orleans_grain_state table.</summary>
[GenerateSerializer]
public sealed class CounterState
{
    /// <summary>The counter.</summary>
    [Id(0)]
    public int Value { get; set; }
}

/// <summary>What a persisted grain holds after a call, with the storage ETag it holds.</summary>
[GenerateSerializer, Immutable]
public sealed record CounterView(int Value, string? ETag, bool RecordExists);

/// <summary>A grain whose state goes through Microsoft.Orleans.Persistence.AdoNet (storage "loyalty").</summary>
public interface ICounterGrain : IGrainWithStringKey
{
    /// <summary>Adds to the counter and writes the state; fails with InconsistentStateException if the stored ETag moved.</summary>
    Task<CounterView> Add(int amount);

    /// <summary>The state as this activation holds it.</summary>
    Task<CounterView> Read();

    /// <summary>Deactivates after this call, so the next call reads the state from storage again.</summary>
    Task Deactivate();
}

/// <summary>Writes a copy, then swaps it in, so a failed write never leaves memory ahead of storage (style.md A1).</summary>
public sealed class CounterGrain([PersistentState("counter", TestSiloHost.StorageName)] IPersistentState<CounterState> counter) : Grain, ICounterGrain
{
    /// <inheritdoc />
    public async Task<CounterView> Add(int amount)
    {
        var before = counter.State.Value;
        counter.State.Value = before + amount;
        try
        {
            await counter.WriteStateAsync();
        }
        catch
        {
            counter.State.Value = before;
            throw;
        }

        return View();
    }

    /// <inheritdoc />
    public Task<CounterView> Read() => Task.FromResult(View());

    /// <inheritdoc />
    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private CounterView View() => new(counter.State.Value, counter.Etag, counter.RecordExists);
}
