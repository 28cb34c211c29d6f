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

    protected string ConnectionString { get; private set; } = "";
    protected LoyaltyEngine Engine { get; private set; } = null!;
    protected GrainRuntime Runtime => Engine.Runtime;
    protected ManualClock Clock { get; } = ManualClock.StartingAt2026();

    public async Task InitializeAsync()
    {
        ConnectionString = await TestDatabase.CreateAsync(GetType().Name);
        Engine = await StartEngineAsync();
        await Runtime.Programs.SetAsync(Program);
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

    protected async Task<LoyaltyEngine> StartEngineAsync(EngineOptions? options = null, TimeProvider? clock = null)
    {
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
        var card = Runtime.Card(number);
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
