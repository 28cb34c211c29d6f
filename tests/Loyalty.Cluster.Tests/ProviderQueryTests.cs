using Loyalty.Cluster.Tests.Support;
using Npgsql;

namespace Loyalty.Cluster.Tests;

/// <summary>A migrated database for one test class, without silos.</summary>
public sealed class MigratedDatabase : IAsyncLifetime
{
    /// <summary>The class's database.</summary>
    public ClusterDatabase Database { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync() => Database = await ClusterDatabase.CreateMigratedAsync("orleans_queries");

    /// <inheritdoc />
    public async Task DisposeAsync() => await Database.DisposeAsync();
}

/// <summary>
/// The query texts of migration 0006 run directly, with the parameters the providers send, to pin the
/// contract cases a healthy cluster rarely hits: lost compare-and-set races, wrapped hash ranges,
/// two activations inserting the same new state.
/// </summary>
public sealed class ProviderQueryTests(MigratedDatabase fixture) : IClassFixture<MigratedDatabase>
{
    private static readonly DateTime Now = new(2026, 11, 29, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task A_membership_write_with_a_stale_version_changes_nothing_and_of_concurrent_writers_on_one_version_exactly_one_wins()
    {
        var deployment = "cas-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(1, await RunAsync("InsertMembershipVersionKey", new() { ["DeploymentId"] = deployment }));
        Assert.Equal(0, await RunAsync("InsertMembershipVersionKey", new() { ["DeploymentId"] = deployment }));

        Assert.Equal(1, await RunAsync("InsertMembershipKey", Member(deployment, port: 1, version: 0)));
        Assert.Equal(0, await RunAsync("InsertMembershipKey", Member(deployment, port: 2, version: 0))); // stale
        Assert.Equal(0, await RunAsync("InsertMembershipKey", Member(deployment, port: 1, version: 1))); // already there
        Assert.Equal(1, await Version(deployment));
        Assert.Single(await fixture.Database.MembersAsync(deployment));

        Assert.Equal(0, await RunAsync("UpdateMembershipKey", Update(deployment, status: 3, version: 0))); // stale
        Assert.Equal(1, await RunAsync("UpdateMembershipKey", Update(deployment, status: 3, version: 1)));
        Assert.Equal(2, await Version(deployment));

        var racers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => RunAsync("UpdateMembershipKey", Update(deployment, status: 6, version: 2)))));
        Assert.Equal(1, racers.Count(won => won is 1));
        Assert.Equal(3, await Version(deployment));
    }

    [Fact]
    public async Task Reminder_ranges_are_compared_as_unsigned_hashes_so_a_range_across_0x80000000_finds_its_reminders()
    {
        var service = "svc-" + Guid.NewGuid().ToString("N")[..8];
        // The provider sends the uint hash 0x80000005 as the int -2147483643.
        await RunAsync("UpsertReminderRowKey", new()
        {
            ["ServiceId"] = service, ["GrainId"] = "tick/a", ["ReminderName"] = "r", ["StartTime"] = Now,
            ["Period"] = 60_000, ["GrainHash"] = unchecked((int)0x80000005u),
        });

        var inRange = await CountRowsAsync("ReadRangeRows1Key", new()
        {
            ["ServiceId"] = service, ["BeginHash"] = unchecked((int)0x7FFFFFF0u), ["EndHash"] = unchecked((int)0x80000010u),
        });
        var wrapped = await CountRowsAsync("ReadRangeRows2Key", new()
        {
            ["ServiceId"] = service, ["BeginHash"] = unchecked((int)0xF0000000u), ["EndHash"] = unchecked((int)0x80000010u),
        });
        var outside = await CountRowsAsync("ReadRangeRows1Key", new()
        {
            ["ServiceId"] = service, ["BeginHash"] = 0, ["EndHash"] = 0x7FFFFFFF,
        });

        Assert.Equal((1, 1, 0), (inRange, wrapped, outside));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // integer-keyed grain: no key extension, NULL in grain_id_ext (UNIQUE NULLS NOT DISTINCT)
    public async Task Of_two_activations_writing_the_same_new_grain_state_only_the_first_succeeds_and_the_second_reads_as_a_conflict(bool stringKey)
    {
        var n0 = Random.Shared.NextInt64();
        string? key = stringKey ? "race-" + Guid.NewGuid().ToString("N") : null;
        Dictionary<string, object?> Write(int? etag) => new()
        {
            ["GrainIdHash"] = 11, ["GrainIdN0"] = stringKey ? 0L : n0, ["GrainIdN1"] = 0L, ["GrainTypeHash"] = 22, ["GrainTypeString"] = "program",
            ["GrainIdExtensionString"] = key, ["ServiceId"] = "loyalty", ["GrainStateVersion"] = etag,
            ["PayloadBinary"] = new byte[] { 1, 2, 3 },
        };

        Assert.Equal(1, await RunAsync("WriteToStorageKey", Write(null)));
        Assert.Null(await RunAsync("WriteToStorageKey", Write(null)));   // NULL: the provider reads "" = conflict
        Assert.Equal(2, await RunAsync("WriteToStorageKey", Write(1)));
        Assert.Equal(1, await RunAsync("WriteToStorageKey", Write(1)));   // the ETag it sent: conflict
    }

    private static Dictionary<string, object?> Member(string deployment, int port, int version) => new()
    {
        ["DeploymentId"] = deployment, ["Address"] = "127.0.0.1", ["Port"] = port, ["Generation"] = 7, ["SiloName"] = $"s{port}",
        ["HostName"] = "host", ["Status"] = 2, ["ProxyPort"] = 0, ["StartTime"] = Now, ["IAmAliveTime"] = Now, ["Version"] = version,
    };

    private static Dictionary<string, object?> Update(string deployment, int status, int version) => new()
    {
        ["DeploymentId"] = deployment, ["Address"] = "127.0.0.1", ["Port"] = 1, ["Generation"] = 7, ["Status"] = status,
        ["SuspectTimes"] = null, ["IAmAliveTime"] = Now, ["Version"] = version,
    };

    private async Task<int> Version(string deployment) =>
        (int)(await fixture.Database.ScalarAsync("SELECT version FROM orleans_cluster_version WHERE deployment_id = $1", deployment))!;

    /// <summary>Runs a stored query as the providers do: text from OrleansQuery, parameters added by bare name.</summary>
    private async Task<object?> RunAsync(string key, Dictionary<string, object?> parameters)
    {
        await using var command = await CommandAsync(key, parameters);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    private async Task<int> CountRowsAsync(string key, Dictionary<string, object?> parameters)
    {
        await using var command = await CommandAsync(key, parameters);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = 0;
        while (await reader.ReadAsync())
        {
            rows++;
        }

        return rows;
    }

    private async Task<NpgsqlCommand> CommandAsync(string key, Dictionary<string, object?> parameters)
    {
        var text = (string)(await fixture.Database.ScalarAsync("SELECT QueryText FROM OrleansQuery WHERE QueryKey = $1", key))!;
        var command = fixture.Database.DataSource.CreateCommand(text);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
