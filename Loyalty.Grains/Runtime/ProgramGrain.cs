using Loyalty.Grains.Cluster;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// A loyalty programme's settings (key: programme id), the one place they are changed. Its state is
/// small and not money, so it is Orleans grain state in our PostgreSQL (Persistence.AdoNet,
/// orleans_grain_state), with Orleans' optimistic ETag against a second activation. The
/// <c>programs</c> table row is kept as a projection of it: the cards' foreign key needs the id, and
/// reports read the settings with SQL. Card grains read settings through <see cref="ProgramCatalog"/>,
/// which caches them per silo.
/// </summary>
public interface IProgramGrain : IGrainWithStringKey
{
    /// <summary>The programme's settings, or null when no programme has this id.</summary>
    Task<ProgramSettings?> GetAsync();

    /// <summary>Validates and stores the settings (creating the programme); durable before it returns.</summary>
    Task<ProgramSettings> SetAsync(ProgramSettings settings);
}

/// <summary>The stored state: the settings as the ledger's JSON shape, so any serializer round-trips it.</summary>
[GenerateSerializer]
public sealed class ProgramGrainState
{
    [Id(0)]
    public string? SettingsJson { get; set; }
}

public sealed class ProgramGrain(
    [PersistentState("program", SiloSetup.StorageName)] IPersistentState<ProgramGrainState> state,
    NpgsqlDataSource dataSource) : Grain, IProgramGrain
{
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A programme created before it had grain state (or by EnsureDefault at first start) lives only in
        // the table: adopt it, so the grain state becomes the one source from now on.
        if (state.State.SettingsJson is null)
        {
            await using var command = dataSource.CreateCommand("SELECT settings::text FROM programs WHERE program_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = this.GetPrimaryKeyString() });
            if ((string?)await command.ExecuteScalarAsync(cancellationToken) is { } json)
            {
                state.State.SettingsJson = Json.Serialize(Json.Deserialize<ProgramSettings>(json));
                await WriteOrForgetAsync(null);
            }
        }
        await base.OnActivateAsync(cancellationToken);
    }

    public Task<ProgramSettings?> GetAsync() =>
        Task.FromResult(state.State.SettingsJson is { } json ? Json.Deserialize<ProgramSettings>(json) : null);

    public async Task<ProgramSettings> SetAsync(ProgramSettings settings)
    {
        settings.Validate();
        if (settings.ProgramId != this.GetPrimaryKeyString())
            throw Validate.Invalid($"Settings of programme {settings.ProgramId} cannot be stored as programme {this.GetPrimaryKeyString()}.");
        var previous = state.State.SettingsJson;
        state.State.SettingsJson = Json.Serialize(settings);
        await WriteOrForgetAsync(previous);
        // The projection: the cards' foreign key and SQL reports read it.
        await using var command = dataSource.CreateCommand(
            "INSERT INTO programs (program_id, settings) VALUES ($1, $2::jsonb) ON CONFLICT (program_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()");
        command.Parameters.Add(new NpgsqlParameter { Value = settings.ProgramId });
        command.Parameters.Add(new NpgsqlParameter { Value = state.State.SettingsJson });
        await command.ExecuteNonQueryAsync();
        return settings;
    }

    /// <summary>Writes the state; if the write fails, memory goes back to what is stored, never ahead of it (style.md §1 A1, A2).</summary>
    private async Task WriteOrForgetAsync(string? previous)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State.SettingsJson = previous;
            // An ETag conflict means another activation wrote meanwhile: this one is stale, so it goes.
            DeactivateOnIdle();
            throw;
        }
    }
}
