using Loyalty.Grains.Domain;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

public sealed class CardLifecycleTests : EngineTestBase
{
    [Fact]
    public async Task A_refund_through_the_engine_restores_and_reverses_proportionally_and_refuses_a_second_time()
    {
        var card = await IssueWithBalanceAsync("4000001", 100_00);
        var receipt = new Receipt(new ReceiptRef("s1", "r1", 3, 17),
        [
            new ReceiptLine("milk", "food", "Milk", 2000, 100_00, 200_00),
            new ReceiptLine("bread", "food", "Bread", 1000, 100_00, 100_00),
        ]);
        var hold = await card.RedeemAsync("rf-hold", receipt, 30_00);
        await card.CommitAsync("rf-commit", receipt, hold.HoldId);

        var half = await card.RefundAsync("rf-1", receipt.Ref, [new ReturnedLine("milk", 1000)]);
        Assert.Equal(hold.LineDiscounts[0] / 2, half.RedeemRestoredKopecks);
        var rest = await card.RefundAsync("rf-2", receipt.Ref, [new ReturnedLine("milk", 1000), new ReturnedLine("bread", 1000)]);
        Assert.Equal(30_00, half.RedeemRestoredKopecks + rest.RedeemRestoredKopecks);
        Assert.Equal(13_50, half.AccrualReversedKopecks + rest.AccrualReversedKopecks); // 5 % of 270.00 paid with money

        await RefusedAsync(CardErrorCode.AlreadyResolved, () => card.RefundAsync("rf-3", receipt.Ref, [new ReturnedLine("bread", 1000)]));
        Assert.Equal(100_00, (await card.GetAsync()).BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_receipt_is_committed_only_once_even_under_two_operation_ids()
    {
        var card = await IssueWithBalanceAsync("4000002", 0);
        await card.CommitAsync("once-a", ReceiptOf(55, 100_00), null);

        var error = await RefusedAsync(CardErrorCode.AlreadyResolved, () => card.CommitAsync("once-b", ReceiptOf(55, 100_00), null));

        Assert.Contains("already committed", error.Message);
        Assert.Equal(5_00, (await card.GetAsync()).BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Cancelling_a_hold_by_its_id_alone_releases_it()
    {
        var card = await IssueWithBalanceAsync("4000003", 50_00);
        var hold = await card.RedeemAsync("c-hold", ReceiptOf(1, 100_00), 20_00);

        var cancelled = await Cards.CancelHoldAsync("c-cancel", hold.HoldId);

        Assert.Equal(20_00, cancelled.ReleasedKopecks);
        Assert.Equal(50_00, cancelled.Card.AvailableKopecks);
        await RefusedAsync(CardErrorCode.NotFound, () => Cards.CancelHoldAsync("c-cancel-2", "nonsense"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task An_expired_hold_is_never_counted_and_its_release_is_recorded_by_the_next_write()
    {
        var card = await IssueWithBalanceAsync("4000004", 50_00);
        var hold = await card.RedeemAsync("e-hold", ReceiptOf(1, 100_00), 20_00);
        Clock.Advance(TimeSpan.FromSeconds(Program.HoldTimeoutSeconds + 1));

        Assert.Equal(50_00, (await card.GetAsync()).AvailableKopecks);
        await RefusedAsync(CardErrorCode.AlreadyResolved, () => card.CommitAsync("e-commit", ReceiptOf(1, 100_00), hold.HoldId));
        await card.AdjustAsync("e-adjust", 1_00, "touch", "test");

        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM ledger WHERE kind = 'HoldExpired' AND card_number = '4000004'"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Replacing_a_card_moves_balance_and_history_and_closes_the_old_number()
    {
        var old = await IssueWithBalanceAsync("4000005", 80_00);
        await old.CommitAsync("rp-commit", ReceiptOf(9, 100_00), null);

        var (source, target) = await Cards.TransferAsync("rp-1", "4000005", "4000006", issueTarget: true, "card lost", "test");

        Assert.Equal(CardStatus.Closed, source.Status);
        Assert.Equal(0, source.BalanceKopecks);
        Assert.Equal(85_00, target.BalanceKopecks);
        var statement = await Cards.Card("4000006").GetStatementAsync(50, null);
        Assert.Contains(statement.Entries, e => e.CardNumber == "4000005" && e.Kind == LedgerKind.Accrual);
        await RefusedAsync(CardErrorCode.CardNotActive, () => old.RedeemAsync("rp-late", ReceiptOf(10, 100_00), 1_00));
        var refund = await Cards.Card("4000006").RefundAsync("rp-refund", ReceiptOf(9, 100_00).Ref, [new ReturnedLine("sku1", 1000)]);
        Assert.Equal(5_00, refund.AccrualReversedKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Merging_adds_the_source_balance_to_the_target()
    {
        await IssueWithBalanceAsync("4000007", 30_00);
        await IssueWithBalanceAsync("4000008", 12_00);

        var (source, target) = await Cards.TransferAsync("mg-1", "4000008", "4000007", issueTarget: false, "customer had two cards", "test");

        Assert.Equal(42_00, target.BalanceKopecks);
        Assert.Equal(CardStatus.Closed, source.Status);
        await Engine.DeactivateIdleCardsAsync();
        Assert.Equal((source, target), await Cards.TransferAsync("mg-1", "4000008", "4000007", issueTarget: false, "customer had two cards", "test"));
        await RefusedAsync(CardErrorCode.CardExists, () => Cards.TransferAsync("mg-2", "4000007", "4000008", issueTarget: true, "again", "test"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_range_of_cards_is_issued_all_or_none()
    {
        Assert.Equal(100, await Cards.IssueRangeAsync("0005000", "0005099", "default"));
        Assert.Equal(0, (await Cards.Card("0005042").GetAsync()).BalanceKopecks);

        await RefusedAsync(CardErrorCode.CardExists, () => Cards.IssueRangeAsync("0005090", "0005199", "default"));
        Assert.Equal(100, await ScalarAsync("SELECT count(*) FROM cards WHERE number LIKE '0005%'"));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => Cards.IssueRangeAsync("0000000", "9999999", "default"));
    }

    [Fact]
    public async Task A_statement_pages_newest_first_without_gaps_or_repeats()
    {
        var card = await IssueWithBalanceAsync("4000009", 0);
        for (var i = 1; i <= 7; i++) await card.AdjustAsync($"st-{i}", i, "step", "test");

        var first = await card.GetStatementAsync(3, null);
        var second = await card.GetStatementAsync(3, first.NextPageToken);
        var third = await card.GetStatementAsync(3, second.NextPageToken);

        var amounts = first.Entries.Concat(second.Entries).Concat(third.Entries).Select(e => e.AmountKopecks).ToArray();
        Assert.Equal([7, 6, 5, 4, 3, 2, 1], amounts);
        Assert.Null(third.NextPageToken);
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.GetStatementAsync(3, "garbage"));
    }

    [Fact]
    public async Task An_offline_receipt_may_drive_the_card_below_zero_and_is_flagged()
    {
        var card = await IssueWithBalanceAsync("4000010", 10_00);

        var result = await card.ApplyOfflineAsync("off-1", ReceiptOf(77, 100_00), [25_00]);

        Assert.True(result.DroveBalanceNegative);
        Assert.Equal(10_00 - 25_00 + 3_75, result.Card.BalanceKopecks);
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM ledger WHERE operation_id = 'off-1' AND offline AND kind = 'OfflineRedeem'"));
        await AssertInvariantsHoldAsync();
    }
}
