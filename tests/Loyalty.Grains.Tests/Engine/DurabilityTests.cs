using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

public sealed class DurabilityTests : EngineTestBase
{
    [Fact]
    public async Task After_a_restart_balances_holds_and_operation_answers_are_all_still_there()
    {
        var card = await IssueWithBalanceAsync("3000001", 200_00);
        var hold = await card.RedeemAsync("r-1", ReceiptOf(1, 100_00), 40_00);
        var adjusted = await card.AdjustAsync("a-1", 7_00, "goodwill", "test");
        await StopEngineAsync(Engine);

        var restarted = await StartEngineAsync();
        var again = restarted.Cards.Card("3000001");
        var view = await again.GetAsync();
        Assert.Equal(207_00, view.BalanceKopecks);
        Assert.Equal(40_00, view.HeldKopecks);
        Assert.Equal(167_00, view.AvailableKopecks);
        var retried = await again.RedeemAsync("r-1", ReceiptOf(1, 100_00), 40_00);
        Assert.Equal((hold.HoldId, hold.AmountKopecks, hold.ExpiresAt, hold.Card), (retried.HoldId, retried.AmountKopecks, retried.ExpiresAt, retried.Card));
        Assert.Equal(hold.LineDiscounts, retried.LineDiscounts);
        Assert.Equal(adjusted, await again.AdjustAsync("a-1", 7_00, "goodwill", "test"));

        var commit = await again.CommitAsync("c-1", ReceiptOf(1, 100_00), hold.HoldId);
        Assert.Equal(40_00, commit.RedeemedKopecks);
        Assert.Equal(3_00, commit.AccruedKopecks);
        Assert.Equal(170_00, commit.Card.BalanceKopecks);
        Assert.Empty(await restarted.CheckInvariantsAsync());
    }

    [Fact]
    public async Task Stopping_the_engine_finishes_every_queued_write_before_it_returns()
    {
        var engine = await StartEngineAsync();
        var numbers = Enumerable.Range(0, 40).Select(i => $"31{i:D5}").ToArray();
        foreach (var n in numbers) await engine.Cards.Card(n).IssueAsync("default", null, null);

        var writes = numbers.Select(n => engine.Cards.Card(n).AdjustAsync($"stop-{n}", 1_00, "load", "test")).ToList();
        await StopEngineAsync(engine);
        var answers = await Task.WhenAll(writes);

        Assert.All(answers, a => Assert.Equal(1_00, a.BalanceKopecks));
        Assert.Equal(40, await ScalarAsync("SELECT count(*) FROM ledger WHERE operation_id LIKE 'stop-%'"));
    }

    [Fact]
    public async Task A_write_after_the_engine_stopped_is_refused_as_unavailable_not_as_overload()
    {
        var engine = await StartEngineAsync();
        await engine.Cards.Card("3100100").IssueAsync("default", null, null);
        var card = engine.Cards.Card("3100100");
        await StopEngineAsync(engine);

        var error = await RefusedAsync(CardErrorCode.Unavailable, () => card.AdjustAsync("late", 1_00, "after stop", "test"));
        Assert.Contains("shutting down", error.Message);
    }

    [Fact]
    public async Task Applying_the_migrations_twice_changes_nothing()
    {
        var applied = await Migrator.ApplyAsync(Engine.DataSource);
        Assert.Empty(applied);
        Assert.Equal(Migrator.Scripts().Count(), await ScalarAsync("SELECT count(*) FROM schema_version"));
    }

    [Fact]
    public async Task The_ledger_refuses_updates_and_deletes()
    {
        await IssueWithBalanceAsync("3000002", 10_00);
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => ExecuteAsync("UPDATE ledger SET amount = amount + 1"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => ExecuteAsync("DELETE FROM ledger"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => ExecuteAsync("TRUNCATE ledger"));
        Assert.Equal(10_00, await ScalarAsync("SELECT sum(amount) FROM ledger WHERE card_number = '3000002'"));
    }

    [Fact]
    public async Task The_invariant_checker_reports_a_balance_that_does_not_match_the_ledger()
    {
        await IssueWithBalanceAsync("3000003", 10_00);
        await ExecuteAsync("UPDATE cards SET balance = balance + 1 WHERE number = '3000003'");

        var violations = await InvariantChecker.CheckAsync(Engine.DataSource);

        Assert.Contains(violations, v => v.Contains("3000003") && v.Contains("1001"));
        await ExecuteAsync("UPDATE cards SET balance = balance - 1 WHERE number = '3000003'");
    }

    [Fact]
    public async Task While_the_database_refuses_connections_writes_fail_as_unavailable_and_a_retry_later_applies_once()
    {
        var card = await IssueWithBalanceAsync("3000004", 10_00);
        var database = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString).Database!;
        await using var admin = DataSourceFor(new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString);
        async Task Admin(string sql)
        {
            await using var command = admin.CreateCommand(sql);
            await command.ExecuteNonQueryAsync();
        }

        await Admin($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false");
        await Admin($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
        try
        {
            await RefusedAsync(CardErrorCode.Unavailable, () => card.AdjustAsync("down-1", 5_00, "during outage", "test"));
        }
        finally
        {
            await Admin($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true");
        }

        Assert.Equal(15_00, (await card.AdjustAsync("down-1", 5_00, "during outage", "test")).BalanceKopecks);
        Assert.Equal(15_00, (await card.AdjustAsync("down-1", 5_00, "during outage", "test")).BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }
}
