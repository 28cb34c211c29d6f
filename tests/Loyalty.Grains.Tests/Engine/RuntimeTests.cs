using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;
using Orleans.Runtime;

namespace Loyalty.Grains.Tests.Engine;

public sealed class RuntimeTests : EngineTestBase
{
    [Fact]
    public async Task A_failing_operation_in_a_group_commit_rejects_only_itself()
    {
        // A long batch window so that all writes below surely share one transaction.
        var engine = await StartEngineAsync(new EngineOptions { GroupCommit = new GroupCommitOptions { MaxBatchWait = TimeSpan.FromMilliseconds(200) } });
        var numbers = Enumerable.Range(0, 30).Select(i => $"70{i:D5}").ToArray();
        await engine.Cards.IssueRangeAsync(numbers[0], numbers[^1], "default");
        await engine.Cards.Card(numbers[0]).CommitAsync("first", ReceiptOf(999, 10_00), null);
        var batchesBefore = engine.Writer.BatchesCommitted;

        // Every card commits a fresh receipt, except card 7 which re-commits receipt 999.
        var commits = numbers.Select((n, i) => Task.Run(async () =>
        {
            try
            {
                await engine.Cards.Card(n).CommitAsync($"batch-{i}", ReceiptOf(i == 7 ? 999 : 1000 + i, 10_00), null);
                return null;
            }
            catch (CardException e)
            {
                return (CardErrorCode?)e.Code;
            }
        }));
        var outcomes = await Task.WhenAll(commits);

        Assert.Equal(CardErrorCode.AlreadyResolved, outcomes[7]);
        Assert.All(outcomes.Where((_, i) => i != 7), o => Assert.Null(o));
        Assert.Equal(29, await ScalarAsync("SELECT count(*) FROM operations WHERE operation_id LIKE 'batch-%'"));
        Assert.True(engine.Writer.BatchesCommitted - batchesBefore < 30, "the writes were not grouped at all");
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_card_whose_mailbox_is_full_refuses_further_calls_at_once()
    {
        var engine = await StartEngineAsync(new EngineOptions { Cards = new CardGrainOptions { MailboxCapacity = 4 } });
        await engine.Cards.Card("7100001").IssueAsync("default", null, null);

        var calls = Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            try
            {
                await engine.Cards.Card("7100001").AdjustAsync($"mb-{i}", 1_00, "load", "test");
                return true;
            }
            catch (CardException e) when (e.Code == CardErrorCode.Overloaded)
            {
                Assert.Contains("4 calls waiting", e.Message);
                return false;
            }
        }));
        var results = await Task.WhenAll(calls);

        Assert.Contains(false, results);
        var succeeded = results.Count(ok => ok);
        Assert.Equal(succeeded * 1_00, (await engine.Cards.Card("7100001").GetAsync()).BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Idle_activations_are_dropped_and_come_back_from_the_database()
    {
        var card = await IssueWithBalanceAsync("7100002", 25_00);
        var management = Engine.Grains.GetGrain<IManagementGrain>(0);
        Assert.True(await CardActivationsAsync(management) >= 1);

        await Engine.DeactivateIdleCardsAsync();
        Assert.Equal(0, await CardActivationsAsync(management));

        Assert.Equal(25_00, (await card.GetAsync()).BalanceKopecks);
        Assert.Equal(1, await CardActivationsAsync(management));
    }

    [Fact]
    public async Task Calls_to_one_card_take_turns_in_arrival_order()
    {
        var card = await IssueWithBalanceAsync("7100003", 0);

        // Each adjustment's answer shows the balance it left; in turn order these are 1, 2, 3, ...
        var answers = await Task.WhenAll(Enumerable.Range(1, 100).Select(i => card.AdjustAsync($"turn-{i}", 1, "order", "test")));

        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), answers.Select(a => a.BalanceKopecks));
    }

    [Fact]
    public async Task A_full_writer_queue_refuses_at_once_instead_of_piling_up()
    {
        var engine = await StartEngineAsync(new EngineOptions
        {
            GroupCommit = new GroupCommitOptions { MaxQueuedWrites = 2, MaxBatchSize = 1, MaxBatchWait = TimeSpan.Zero },
        });
        var numbers = Enumerable.Range(0, 64).Select(i => $"72{i:D5}").ToArray();
        await Cards.IssueRangeAsync(numbers[0], numbers[^1], "default");

        var calls = numbers.Select(n => Task.Run(async () =>
        {
            try
            {
                await engine.Cards.Card(n).AdjustAsync($"q-{n}", 1_00, "load", "test");
                return true;
            }
            catch (CardException e) when (e.Code == CardErrorCode.Overloaded)
            {
                return false;
            }
        }));
        var results = await Task.WhenAll(calls);

        Assert.Contains(false, results);
        Assert.Equal(results.Count(ok => ok), await ScalarAsync("SELECT count(*) FROM operations WHERE operation_id LIKE 'q-%'"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task With_several_batches_in_flight_no_update_is_lost_and_no_card_overdrawn()
    {
        var engine = await StartEngineAsync(new EngineOptions { GroupCommit = new GroupCommitOptions { MaxConcurrentBatches = 4 } });
        var numbers = Enumerable.Range(0, 8).Select(i => $"73{i:D5}").ToArray();
        foreach (var n in numbers)
        {
            await engine.Cards.Card(n).IssueAsync("default", null, null);
            await engine.Cards.Card(n).AdjustAsync($"fund-{n}", 1_000_00, "opening", "test");
        }

        var holds = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(async () =>
        {
            try
            {
                await engine.Cards.Card(numbers[i % numbers.Length]).RedeemAsync($"pb-{i}", ReceiptOf(i + 1, 500_00), 100_00);
                return true;
            }
            catch (CardException e) when (e.Code == CardErrorCode.InsufficientBonuses)
            {
                return false;
            }
        })));

        Assert.Equal(10 * numbers.Length, holds.Count(ok => ok));
        Assert.Equal(numbers.Length * 1_000_00, await ScalarAsync("SELECT sum(held) FROM cards WHERE number LIKE '73%'"));
        await AssertInvariantsHoldAsync();
    }

    private static async Task<int> CardActivationsAsync(IManagementGrain management) =>
        (await management.GetSimpleGrainStatistics()).Where(s => s.GrainType.Contains(nameof(CardGrain))).Sum(s => s.ActivationCount);
}
