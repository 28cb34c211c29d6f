using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>
/// The receipt lifecycle through the engine on real PostgreSQL: the committed record is found by the
/// receipt key whatever card committed it, and a return's lots survive a restart.
/// </summary>
public sealed class ReceiptLifecycleEngineTests : EngineTestBase
{
    protected override ProgramSettings Program => base.Program with { ExpiryDays = 30 };

    [Fact]
    public async Task A_committed_receipt_takes_no_new_hold_under_a_new_operation_id_and_the_refusal_names_the_commit()
    {
        var card = await IssueWithBalanceAsync("5000001", 50_00);
        await card.CommitAsync("sale-commit", ReceiptOf(1, 100_00), null);

        var error = await RefusedAsync(CardErrorCode.AlreadyResolved, () => card.RedeemAsync("late-redeem", ReceiptOf(1, 100_00), 1));

        Assert.Contains("sale-commit", error.Message);
        var view = await card.GetAsync();
        Assert.Equal(0, view.HeldKopecks);
        Assert.Equal(0, await CountWhereOperationInAsync("operations", ["late-redeem"]));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_receipt_committed_with_one_card_takes_no_hold_commit_or_offline_application_on_another()
    {
        var first = await IssueWithBalanceAsync("5000002", 50_00);
        var second = await IssueWithBalanceAsync("5000003", 50_00);
        await first.CommitAsync("first-commit", ReceiptOf(2, 100_00), null);

        var hold = await RefusedAsync(CardErrorCode.AlreadyResolved, () => second.RedeemAsync("second-hold", ReceiptOf(2, 100_00), 10_00));
        var commit = await RefusedAsync(CardErrorCode.AlreadyResolved, () => second.CommitAsync("second-commit", ReceiptOf(2, 100_00), null));
        var offline = await RefusedAsync(CardErrorCode.AlreadyResolved, () => second.ApplyOfflineAsync("second-offline", ReceiptOf(2, 100_00), [5_00]));

        Assert.All([hold, commit, offline], e => Assert.Contains("first-commit", e.Message));
        Assert.Equal(50_00, (await second.GetAsync()).AvailableKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_commit_that_loses_the_receipt_to_another_card_at_the_database_is_refused_naming_the_winner_and_keeps_its_hold_cancellable()
    {
        var holder = await IssueWithBalanceAsync("5000004", 50_00);
        var other = await IssueWithBalanceAsync("5000005", 0);
        var held = await holder.RedeemAsync("holder-hold", ReceiptOf(3, 100_00), 10_00);
        // The other card does not see this card's hold: only a committed receipt is global.
        await other.CommitAsync("other-commit", ReceiptOf(3, 100_00), null);

        // The holder skips the lookup (it holds the receipt), so the receipts table's key refuses it.
        var error = await RefusedAsync(CardErrorCode.AlreadyResolved, () => holder.CommitAsync("holder-commit", ReceiptOf(3, 100_00), held.HoldId));

        Assert.Contains("other-commit", error.Message);
        var cancelled = await Cards.CancelHoldAsync("holder-cancel", held.HoldId);
        Assert.Equal(10_00, cancelled.ReleasedKopecks);
        Assert.Equal(50_00, (await holder.GetAsync()).AvailableKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task The_refusal_of_a_second_hold_on_a_receipt_names_the_first_hold()
    {
        var card = await IssueWithBalanceAsync("5000006", 50_00);
        var first = await card.RedeemAsync("hold-1", ReceiptOf(4, 100_00), 10_00);

        var error = await RefusedAsync(CardErrorCode.AlreadyResolved, () => card.RedeemAsync("hold-2", ReceiptOf(4, 100_00), 10_00));

        Assert.Contains(first.HoldId, error.Message);
    }

    [Fact]
    public async Task Quote_on_a_blocked_card_is_refused_like_the_commit_it_predicts()
    {
        var card = await IssueWithBalanceAsync("5000007", 50_00);
        await card.SetStatusAsync("block-7", CardStatus.Blocked, "lost");

        var quote = await RefusedAsync(CardErrorCode.CardNotActive, () => card.QuoteAsync(ReceiptOf(5, 100_00), 0));
        var commit = await RefusedAsync(CardErrorCode.CardNotActive, () => card.CommitAsync("blocked-commit", ReceiptOf(5, 100_00), null));

        Assert.Equal(commit.Message, quote.Message);
    }

    [Fact]
    public async Task A_return_after_a_restart_gives_bonuses_back_to_their_lot_which_burns_on_its_original_date()
    {
        var card = await IssueWithBalanceAsync("5000008", 100_00);   // burns 30 days from now
        var expiry = Clock.GetUtcNow().AddDays(30);
        var receipt = ReceiptOf(6, 100_00);
        var hold = await card.RedeemAsync("lots-hold", receipt, 40_00);
        await card.CommitAsync("lots-commit", receipt, hold.HoldId);
        Clock.Advance(TimeSpan.FromDays(10));

        // A new engine reads the receipt, and the lots its redemption took, from the database.
        await StopEngineAsync(Engine);
        var engine = await StartEngineAsync();
        var again = engine.Cards.Card("5000008");
        var refund = await again.RefundAsync("lots-refund", receipt.Ref, [new ReturnedLine("sku1", 1000)]);
        Assert.Equal(40_00, refund.RedeemRestoredKopecks);

        Assert.Equal(100_00, refund.Card.BalanceKopecks);               // 100.00 − 40.00 + 3.00 accrued, then + 40.00 − 3.00

        Clock.Advance(expiry - Clock.GetUtcNow());
        // Every bonus on the card came from lots burning on the opening balance's date, the
        // returned 40.00 included: with a fresh expiry they would still be there.
        Assert.Equal(0, (await again.GetAsync()).BalanceKopecks);
        Assert.Empty(await engine.CheckInvariantsAsync());
    }
}
