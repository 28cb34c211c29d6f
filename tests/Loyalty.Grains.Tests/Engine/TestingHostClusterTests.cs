using Loyalty.Grains.Cluster;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Hosting;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>
/// Card grains on Orleans' own test cluster (Microsoft.Orleans.TestingHost, two in-process silos, its
/// own membership; real server processes on ADO.NET clustering are in ClusterProcessTests) with
/// reminders, grain state and the ledger on real PostgreSQL: each silo has its own group-commit
/// writer, as each server does, and a silo is killed the hard way.
/// </summary>
public sealed class TestingHostClusterTests : IAsyncLifetime
{
    private InProcessTestCluster _cluster = null!;
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        var connectionString = await TestDatabase.CreateAsync(nameof(TestingHostClusterTests));
        _dataSource = NpgsqlDataSource.Create(connectionString);
        await Migrator.ApplyAsync(_dataSource);
        await new ProgramCatalog(_dataSource, TimeProvider.System).EnsureDefaultAsync();
        var options = new EngineOptions();
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) =>
        {
            SiloSetup.ConfigureGrains(silo, _dataSource, options);
            // One writer per silo, made when the silo first needs it; its loop runs on the thread pool.
            silo.Services.AddSingleton<ILedgerWriter>(_ => new GroupCommitWriter(_dataSource));
            silo.Services.AddSingleton(_ => new ProgramCatalog(_dataSource, TimeProvider.System));
            silo.Services.AddSingleton(sp => new CardGrainServices(new CardStore(_dataSource), sp.GetRequiredService<ILedgerWriter>(),
                sp.GetRequiredService<ProgramCatalog>(), TimeProvider.System, options.Cards));
            silo.Services.AddSingleton(_dataSource);
        });
        // The test cluster's client is an Orleans client of its own: it carries domain records as the silos do.
        builder.ConfigureClient(client => client.Services.AddSerializer(serializer => serializer.AddJsonSerializer(SiloSetup.IsCarriedAsJson, Json.Options)));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        try
        {
            await _cluster.StopAllSilosAsync();
        }
        finally
        {
            await _cluster.DisposeAsync();
            await _dataSource.DisposeAsync();
        }
    }

    [Fact]
    public async Task Concurrent_writes_through_both_silos_and_a_killed_silo_lose_no_acknowledged_write_and_keep_the_books_balanced()
    {
        var card = _cluster.Client.GetGrain<ICardGrain>("9200001");
        await card.IssueAsync(ProgramCatalog.DefaultProgramId, null, null);
        var acknowledged = new List<string>();
        var writes = Enumerable.Range(0, 100).Select(async i =>
        {
            var factory = _cluster.Silos[i % 2].ServiceProvider.GetRequiredService<IGrainFactory>();
            await factory.GetGrain<ICardGrain>("9200001").AdjustAsync($"th-{i}", 1_00, "both silos", "test");
            lock (acknowledged) acknowledged.Add($"th-{i}");
        });
        await Task.WhenAll(writes);

        await _cluster.KillSiloAsync(_cluster.Silos[0]);
        // Retried with the same operation ids, as a client does after UNAVAILABLE: each applies once.
        var survivor = _cluster.Silos[^1].ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<ICardGrain>("9200001");
        CardView? view = null;
        for (var attempt = 0; view is null && attempt < 100; attempt++)
        {
            try { view = await survivor.AdjustAsync("th-0", 1_00, "both silos", "test"); }
            catch (CardException e) when (e.Code == CardErrorCode.Unavailable) { await Task.Delay(100); }
        }

        Assert.NotNull(view);
        Assert.Equal(100_00, (await survivor.GetAsync()).BalanceKopecks);
        Assert.Empty(await InvariantChecker.CheckAsync(_dataSource));
        await using var command = _dataSource.CreateCommand("SELECT count(*) FROM operations WHERE operation_id LIKE 'th-%'");
        Assert.Equal(100L, Convert.ToInt64(await command.ExecuteScalarAsync()));
    }
}
