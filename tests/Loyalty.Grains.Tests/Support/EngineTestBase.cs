using Loyalty.Grains.Cluster;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Tests.Support;

/// <summary>
/// A fresh database per test class (created in the shared embedded cluster) with one engine on it.
/// Tests may start more engines on the same database to play several server processes.
/// </summary>
public abstract class EngineTestBase : IAsyncLifetime
{
    private readonly List<LoyaltyEngine> _engines = [];
    private static int _ownClusters;

    protected string ConnectionString { get; private set; } = "";
    protected LoyaltyEngine Engine { get; private set; } = null!;
    protected CardDirectory Cards => Engine.Cards;
    protected ManualClock Clock { get; } = ManualClock.StartingAt2026();

    public async Task InitializeAsync()
    {
        ConnectionString = await TestDatabase.CreateAsync(GetType().Name);
        Engine = await StartEngineAsync();
        await Cards.Programs.SetAsync(Program);
    }

    /// <summary>The programme of the test class's cards. Round numbers make expected values readable.</summary>
    protected virtual ProgramSettings Program => new()
    {
        ProgramId = ProgramCatalog.DefaultProgramId,
        AccrualBasisPoints = 500,
        MaxRedeemPercent = 100,
        MinLineAmountKopecks = 0,
        HoldTimeoutSeconds = 600,
    };

    /// <summary>
    /// Starts another engine (an Orleans silo) on the test class's database. Without options it joins
    /// the class's cluster, like another server of the same deployment (one activation per card across
    /// both). With options (other bounds to test) it forms a cluster of its own, so its own bounds are
    /// the ones that apply; a cluster of its own on the same database is also how a test gets two
    /// activations of one card at once, as during a membership change.
    /// </summary>
    protected async Task<LoyaltyEngine> StartEngineAsync(EngineOptions? options = null, TimeProvider? clock = null, bool ownCluster = false)
    {
        if (options is not null || ownCluster)
            options = new EngineOptions
            {
                GroupCommit = options?.GroupCommit ?? new(),
                Cards = options?.Cards ?? new(),
                MaxDatabaseConnections = options?.MaxDatabaseConnections ?? 64,
                DatabaseConnectTimeout = options?.DatabaseConnectTimeout ?? TimeSpan.FromSeconds(5),
                DatabaseCommandTimeout = options?.DatabaseCommandTimeout ?? TimeSpan.FromSeconds(30),
                Silo = SiloEndpoint.Local($"own-{Interlocked.Increment(ref _ownClusters)}"),
            };
        var engine = await LoyaltyEngine.StartAsync(ConnectionString, options, clock ?? Clock);
        _engines.Add(engine);
        return engine;
    }

    protected async Task StopEngineAsync(LoyaltyEngine engine)
    {
        _engines.Remove(engine);
        await engine.DisposeAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var engine in _engines) await engine.DisposeAsync();
    }

    protected async Task<ICardGrain> IssueWithBalanceAsync(string number, long kopecks)
    {
        var card = Cards.Card(number);
        await card.IssueAsync(ProgramCatalog.DefaultProgramId, null, null);
        if (kopecks != 0) await card.AdjustAsync($"seed-{number}", kopecks, "opening balance", "test");
        return card;
    }

    protected static Receipt ReceiptOf(long number, params long[] lineAmounts) => new(
        new ReceiptRef("store1", "reg1", 1, number),
        lineAmounts.Select((amount, i) => new ReceiptLine($"sku{i + 1}", "food", $"item {i + 1}", 1000, amount, amount)).ToArray());

    protected async Task AssertInvariantsHoldAsync()
    {
        var violations = await InvariantChecker.CheckAsync(Engine.DataSource);
        Assert.Empty(violations);
    }

    /// <summary>Every acknowledged operation has its record, and no ledger row appears twice.</summary>
    protected async Task AssertStoredExactlyOnceAsync(IReadOnlyCollection<string> acknowledged)
    {
        Assert.Equal(acknowledged.Count, await CountWhereOperationInAsync("operations", acknowledged));
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM (SELECT operation_id, card_number, entry_number FROM ledger GROUP BY 1, 2, 3 HAVING count(*) > 1) d"));
    }

    /// <summary>Rows of <paramref name="table"/> (operations or ledger) whose operation id is one of <paramref name="operationIds"/>.</summary>
    protected async Task<long> CountWhereOperationInAsync(string table, IEnumerable<string> operationIds)
    {
        await using var command = Engine.DataSource.CreateCommand($"SELECT count(*) FROM {table} WHERE operation_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = operationIds.ToArray() });
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    protected async Task<long> ScalarAsync(string sql)
    {
        await using var command = Engine.DataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    protected async Task ExecuteAsync(string sql)
    {
        await using var command = Engine.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    protected static async Task<CardException> RefusedAsync(CardErrorCode code, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<CardException>(call);
        Assert.Equal(code, error.Code);
        return error;
    }

    protected static NpgsqlDataSource DataSourceFor(string connectionString) => NpgsqlDataSource.Create(connectionString);
}
