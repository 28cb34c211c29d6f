using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Tests.Support;
using Orleans.Runtime;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>Card, programme and sweeper grains on a cluster of two silos on one PostgreSQL database.</summary>
public sealed class ClusterCardTests : EngineTestBase
{
    [Fact]
    public async Task A_refusal_keeps_its_code_message_and_details_when_the_card_lives_on_the_other_silo()
    {
        var card = await IssueWithBalanceAsync("9100001", 50_00);
        var held = await card.RedeemAsync("cl-hold", ReceiptOf(1, 100_00), 10_00);
        var other = await StartEngineAsync();

        var insufficient = await RefusedAsync(CardErrorCode.InsufficientBonuses,
            () => other.Cards.Card("9100001").RedeemAsync("cl-too-much", ReceiptOf(2, 1_000_00), 900_00));
        var secondHold = await RefusedAsync(CardErrorCode.AlreadyResolved,
            () => other.Cards.Card("9100001").RedeemAsync("cl-again", ReceiptOf(1, 100_00), 5_00));

        Assert.Contains("available", insufficient.Message);
        Assert.Equal(held.HoldId, secondHold.Details[CardException.HoldIdDetail]);
        await RefusedAsync(CardErrorCode.NotFound, () => other.Cards.Card("9199999").GetAsync());
    }

    [Fact]
    public async Task A_card_called_through_both_silos_has_one_activation_and_each_silo_reads_the_others_write_at_once()
    {
        var other = await StartEngineAsync();
        var card = await IssueWithBalanceAsync("9100002", 10_00);

        for (var i = 0; i < 10; i++)
        {
            var (writer, reader) = i % 2 == 0 ? (Cards, other.Cards) : (other.Cards, Cards);
            var written = await writer.Card("9100002").AdjustAsync($"both-{i}", 1_00, "both silos", "test");
            Assert.Equal(written.BalanceKopecks, (await reader.Card("9100002").GetAsync()).BalanceKopecks);
        }

        var statistics = await Engine.Grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        Assert.Equal(1, statistics.Where(s => s.GrainType.Contains(nameof(CardGrain))).Sum(s => s.ActivationCount));
        Assert.Equal(2, (await Engine.Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Count);
    }

    [Fact]
    public async Task The_sweeper_writes_an_expired_hold_and_a_released_accrual_of_a_card_nobody_touches()
    {
        await Cards.Programs.SetAsync(Program with { AccrualDelayDays = 1 });
        var card = await IssueWithBalanceAsync("9100003", 100_00);
        await card.CommitAsync("sw-sale", ReceiptOf(1, 200_00), null);
        var hold = await card.RedeemAsync("sw-hold", ReceiptOf(2, 100_00), 30_00);
        var sweeper = Engine.Grains.GetGrain<ICardSweeperGrain>(0);
        Assert.Equal(0, await sweeper.SweepAsync());

        Clock.Advance(TimeSpan.FromDays(2));
        Assert.Equal(1, await sweeper.SweepAsync());
        Assert.Equal(0, await sweeper.SweepAsync());

        Assert.Equal(1, await ScalarAsync($"SELECT count(*) FROM ledger WHERE card_number = '9100003' AND kind = 'HoldExpired'"));
        Assert.Equal(1, await ScalarAsync($"SELECT count(*) FROM ledger WHERE card_number = '9100003' AND kind = 'AccrualRelease'"));
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM cards WHERE number = '9100003' AND due_at <= '{Clock.GetUtcNow():O}'"));
        // The card's next command writes nothing of it again: the rows carry their time-driven ids.
        await RefusedAsync(CardErrorCode.AlreadyResolved, () => card.CommitAsync("sw-late", ReceiptOf(2, 100_00), hold.HoldId));
        Assert.Equal(1, await ScalarAsync($"SELECT count(*) FROM ledger WHERE card_number = '9100003' AND kind = 'HoldExpired'"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_programme_set_through_one_silo_is_grain_state_and_is_read_through_the_other()
    {
        var other = await StartEngineAsync();
        await Cards.Programs.SetAsync(Program with { ProgramId = "gold", AccrualBasisPoints = 1_000 });

        Assert.Equal(1_000, (await other.Cards.Programs.GetAsync("gold")).AccrualBasisPoints);
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM orleans_grain_state WHERE grain_id_ext = 'gold' OR grain_id_ext LIKE '%gold%'"));
        Assert.Equal(1_000, await ScalarAsync("SELECT (settings->>'accrualBasisPoints')::int FROM programs WHERE program_id = 'gold'"));
        await RefusedAsync(CardErrorCode.NotFound, () => other.Cards.Programs.GetAsync("no-such-programme"));
    }
}
