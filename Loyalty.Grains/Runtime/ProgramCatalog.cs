using System.Collections.Concurrent;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// Programme settings as this silo's card grains read them: from the programme's grain
/// (<see cref="IProgramGrain"/>, once the silo runs), kept in memory for <see cref="CacheTime"/>, so a
/// card decision asks no other grain. A change made through another server is seen here within that
/// time; a change made here is seen at once.
/// </summary>
public sealed class ProgramCatalog(NpgsqlDataSource dataSource, TimeProvider time)
{
    private IGrainFactory? _grains;

    /// <summary>From now on, settings are read and written through the programme grains (the silo has started).</summary>
    public void UseGrains(IGrainFactory grains) => _grains = grains;

    public static readonly TimeSpan CacheTime = TimeSpan.FromSeconds(5);
    public const string DefaultProgramId = "default";

    private readonly ConcurrentDictionary<string, (ProgramSettings Settings, DateTimeOffset ReadAt)> _cache = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, bool> _refreshing = new(StringComparer.Ordinal);

    public async Task<ProgramSettings> GetAsync(string programId)
    {
        if (!_cache.TryGetValue(programId, out var cached))
            return await LoadAsync(programId);
        // One refresh at a time; callers meanwhile use the settings they have, rather than all
        // querying the database at the same moment every few seconds.
        if (time.GetUtcNow() - cached.ReadAt >= CacheTime && _refreshing.TryAdd(programId, true))
            _ = Task.Run(async () =>
            {
                try { await LoadAsync(programId); }
                catch (Exception) { /* the next caller after CacheTime tries again */ }
                finally { _refreshing.TryRemove(programId, out _); }
            });
        return cached.Settings;
    }

    private async Task<ProgramSettings> LoadAsync(string programId)
    {
        if (_grains is { } grains)
        {
            var fromGrain = await grains.GetGrain<IProgramGrain>(programId).GetAsync()
                ?? throw new CardException(CardErrorCode.NotFound, $"Programme {programId} does not exist.");
            _cache[programId] = (fromGrain, time.GetUtcNow());
            return fromGrain;
        }
        await using var command = dataSource.CreateCommand("SELECT settings::text FROM programs WHERE program_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = programId });
        var json = (string?)await command.ExecuteScalarAsync()
            ?? throw new CardException(CardErrorCode.NotFound, $"Programme {programId} does not exist.");
        var settings = Json.Deserialize<ProgramSettings>(json);
        _cache[programId] = (settings, time.GetUtcNow());
        return settings;
    }

    /// <summary>Creates or replaces a programme after validating it.</summary>
    public async Task<ProgramSettings> SetAsync(ProgramSettings settings)
    {
        settings.Validate();
        if (_grains is { } grains)
        {
            var stored = await grains.GetGrain<IProgramGrain>(settings.ProgramId).SetAsync(settings);
            _cache[settings.ProgramId] = (stored, time.GetUtcNow());
            return stored;
        }
        await using var command = dataSource.CreateCommand(
            "INSERT INTO programs (program_id, settings) VALUES ($1, $2::jsonb) ON CONFLICT (program_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()");
        command.Parameters.Add(new NpgsqlParameter { Value = settings.ProgramId });
        command.Parameters.Add(new NpgsqlParameter { Value = Json.Serialize(settings) });
        await command.ExecuteNonQueryAsync();
        _cache[settings.ProgramId] = (settings, time.GetUtcNow());
        return settings;
    }

    /// <summary>Makes sure the default programme exists, without overwriting one an admin has set.</summary>
    public async Task EnsureDefaultAsync()
    {
        await using var command = dataSource.CreateCommand("INSERT INTO programs (program_id, settings) VALUES ($1, $2::jsonb) ON CONFLICT DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter { Value = DefaultProgramId });
        command.Parameters.Add(new NpgsqlParameter { Value = Json.Serialize(ProgramSettings.Default(DefaultProgramId)) });
        await command.ExecuteNonQueryAsync();
    }
}
