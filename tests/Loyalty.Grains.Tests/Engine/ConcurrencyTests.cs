using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

public sealed class ConcurrencyTests : EngineTestBase
{
    [Fact]
    public async Task Two_hundred_concurrent_holds_of_100_on_a_card_holding_1000_let_exactly_10_succeed()
    {
        var card = await IssueWithBalanceAsync("1000001", 1_000_00);

        var attempts = Enumerable.Range(1, 200).Select(i => Task.Run(async () =>
        {
            try
            {
                await card.RedeemAsync($"hold-{i}", ReceiptOf(i, 500_00), 100_00);
                return true;
            }
            catch (CardException e) when (e.Code == CardErrorCode.InsufficientBonuses)
            {
                return false;
            }
        }));
        var results = await Task.WhenAll(attempts);

        Assert.Equal(10, results.Count(ok => ok));
        var view = await card.GetAsync();
        Assert.Equal(1_000_00, view.HeldKopecks);
        Assert.Equal(0, view.AvailableKopecks);
        Assert.Equal(10, await ScalarAsync("SELECT count(*) FROM ledger WHERE kind = 'Hold'"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Retries_with_the_same_operation_id_never_change_a_balance_twice()
    {
        var card = await IssueWithBalanceAsync("1000002", 500_00);

        // The same adjustment and the same hold, retried concurrently, after the activation was
        // dropped from memory, and through a second server process on the same database.
        var adjustments = Enumerable.Range(0, 50).Select(_ => Task.Run(() => card.AdjustAsync("bonus-once", 10_00, "goodwill", "test")));
        var answers = await Task.WhenAll(adjustments);
        Assert.All(answers, a => Assert.Equal(510_00, a.BalanceKopecks));

        var hold = await card.RedeemAsync("redeem-once", ReceiptOf(1, 300_00), 100_00);
        await Engine.DeactivateIdleCardsAsync();
        var again = await card.RedeemAsync("redeem-once", ReceiptOf(1, 300_00), 100_00);
        Assert.Equal(hold.HoldId, again.HoldId);

        var other = await StartEngineAsync();
        var fromOther = await other.Cards.Card("1000002").RedeemAsync("redeem-once", ReceiptOf(1, 300_00), 100_00);
        Assert.Equal(hold.HoldId, fromOther.HoldId);
        var commit = await other.Cards.Card("1000002").CommitAsync("commit-once", ReceiptOf(1, 300_00), hold.HoldId);
        var commitAgain = await card.CommitAsync("commit-once", ReceiptOf(1, 300_00), hold.HoldId);
        Assert.Equal(commit, commitAgain with { Card = commit.Card });
        Assert.Equal(commit.Card, commitAgain.Card);

        var view = await other.Cards.Card("1000002").GetAsync();
        Assert.Equal(510_00 - 100_00 + 10_00, view.BalanceKopecks); // 5 % of the 200.00 paid with money
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM ledger WHERE operation_id = 'bonus-once'"));
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM ledger WHERE operation_id = 'redeem-once'"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task The_same_operation_id_with_a_different_payload_is_refused_and_changes_nothing()
    {
        var card = await IssueWithBalanceAsync("1000003", 100_00);
        await card.AdjustAsync("adj-1", 5_00, "goodwill", "test");

        var error = await RefusedAsync(CardErrorCode.OperationExistsWithDifferentPayload, () => card.AdjustAsync("adj-1", 6_00, "goodwill", "test"));
        Assert.Contains("adj-1", error.Message);
        await Engine.DeactivateIdleCardsAsync();
        await RefusedAsync(CardErrorCode.OperationExistsWithDifferentPayload, () => card.RedeemAsync("adj-1", ReceiptOf(7, 100_00), 1_00));

        Assert.Equal(105_00, (await card.GetAsync()).BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Two_activations_of_the_same_cards_at_once_as_during_a_membership_change_lose_no_update_because_writes_are_version_checked()
    {
        string[] numbers = ["2000001", "2000002", "2000003", "2000004"];
        foreach (var n in numbers) await IssueWithBalanceAsync(n, 0);
        var second = await StartEngineAsync(ownCluster: true);
        CardDirectory[] runtimes = [Cards, second.Cards];
        const int perRuntimePerCard = 60;

        var work = runtimes.SelectMany((runtime, r) => numbers.SelectMany(n => Enumerable.Range(0, perRuntimePerCard).Select(i =>
            Task.Run(() => runtime.Card(n).AdjustAsync($"r{r}-{n}-{i}", 1_00, "load", "test")))));
        await Task.WhenAll(work);

        foreach (var n in numbers)
        {
            Assert.Equal(2 * perRuntimePerCard * 1_00, await ScalarAsync($"SELECT balance FROM cards WHERE number = '{n}'"));
            Assert.Equal(2 * perRuntimePerCard + 1, await ScalarAsync($"SELECT version FROM cards WHERE number = '{n}'"));
        }
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Two_activations_of_one_card_racing_holds_never_overdraw_it()
    {
        await IssueWithBalanceAsync("2000010", 1_000_00);
        var second = await StartEngineAsync(ownCluster: true);
        CardDirectory[] runtimes = [Cards, second.Cards];

        var attempts = Enumerable.Range(0, 100).Select(i => Task.Run(async () =>
        {
            try
            {
                await runtimes[i % 2].Card("2000010").RedeemAsync($"race-{i}", ReceiptOf(100 + i, 500_00), 100_00);
                return true;
            }
            catch (CardException e) when (e.Code == CardErrorCode.InsufficientBonuses)
            {
                return false;
            }
        }));

        Assert.Equal(10, (await Task.WhenAll(attempts)).Count(ok => ok));
        Assert.Equal(1_000_00, await ScalarAsync("SELECT held FROM cards WHERE number = '2000010'"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Two_activations_fighting_over_one_card_always_finish_because_losers_decide_under_the_row_lock()
    {
        // Regression: with optimistic retries only, two processes hammering one card kept
        // invalidating each other until one gave up with "changed by other servers too often".
        await IssueWithBalanceAsync("2000020", 0);
        var second = await StartEngineAsync(ownCluster: true);
        CardDirectory[] runtimes = [Cards, second.Cards];

        var work = Enumerable.Range(0, 400).Select(i => Task.Run(() => runtimes[i % 2].Card("2000020").AdjustAsync($"fight-{i}", 1, "load", "test")));
        await Task.WhenAll(work);

        Assert.Equal(400, await ScalarAsync("SELECT balance FROM cards WHERE number = '2000020'"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Writes_decided_under_the_row_lock_keep_every_guarantee()
    {
        var locked = await StartEngineAsync(new EngineOptions { Cards = new CardGrainOptions { OptimisticAttempts = 0 } });
        await IssueWithBalanceAsync("2000030", 1_000_00);
        var card = locked.Cards.Card("2000030");

        var holds = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(async () =>
        {
            try { return await card.RedeemAsync($"lk-{i}", ReceiptOf(300 + i, 500_00), 100_00); }
            catch (CardException e) when (e.Code == CardErrorCode.InsufficientBonuses) { return null; }
        })));
        var n = Array.FindIndex(holds, h => h is not null);
        var retried = await card.RedeemAsync($"lk-{n}", ReceiptOf(300 + n, 500_00), 100_00);

        Assert.Equal(10, holds.Count(h => h is not null));
        Assert.Equal(holds[n]!.HoldId, retried.HoldId);
        await RefusedAsync(CardErrorCode.OperationExistsWithDifferentPayload, () => card.AdjustAsync($"lk-{n}", 1_00, "x", "test"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_balance_read_through_one_silo_shows_a_write_made_through_another_at_once()
    {
        var reader = await StartEngineAsync();
        await IssueWithBalanceAsync("2000040", 10_00);
        Assert.Equal(10_00, (await reader.Cards.Card("2000040").GetAsync()).BalanceKopecks);

        await Cards.Card("2000040").AdjustAsync("elsewhere", 5_00, "written through the other silo", "test");

        Assert.Equal(15_00, (await reader.Cards.Card("2000040").GetAsync()).BalanceKopecks);
    }

    [Fact]
    public async Task A_hold_made_through_one_process_can_be_cancelled_and_committed_through_another_that_read_the_card_earlier()
    {
        // Regression: the second process refused with "hold not known" from its stale activation
        // instead of reading the card again before refusing.
        await IssueWithBalanceAsync("2000050", 100_00);
        var other = await StartEngineAsync();
        Assert.Equal(100_00, (await other.Cards.Card("2000050").GetAsync()).AvailableKopecks);

        var first = await Cards.Card("2000050").RedeemAsync("x-hold-1", ReceiptOf(1, 100_00), 10_00);
        var second = await Cards.Card("2000050").RedeemAsync("x-hold-2", ReceiptOf(2, 100_00), 20_00);

        Assert.Equal(10_00, (await other.Cards.CancelHoldAsync("x-cancel", first.HoldId)).ReleasedKopecks);
        Assert.Equal(20_00, (await other.Cards.Card("2000050").CommitAsync("x-commit", ReceiptOf(2, 100_00), second.HoldId)).RedeemedKopecks);
        await AssertInvariantsHoldAsync();
    }
}
