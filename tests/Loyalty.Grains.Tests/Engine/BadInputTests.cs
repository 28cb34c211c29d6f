using Loyalty.Grains.Domain;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

public sealed class BadInputTests : EngineTestBase
{
    private async Task<(long Ledger, long Operations, long Version)> SnapshotAsync(string number) => (
        await ScalarAsync("SELECT count(*) FROM ledger"),
        await ScalarAsync("SELECT count(*) FROM operations"),
        await ScalarAsync($"SELECT coalesce(max(version), 0) FROM cards WHERE number = '{number}'"));

    public static TheoryData<string, long> BadAmounts => new()
    {
        { "zero", 0 }, { "negative", -1_00 }, { "overflowing", long.MaxValue }, { "beyond the limit", Limits.MaxAmountKopecks + 1 },
    };

    [Theory]
    [MemberData(nameof(BadAmounts))]
    public async Task A_bad_redemption_amount_is_refused_and_changes_nothing(string why, long amount)
    {
        var card = await IssueWithBalanceAsync($"50{Math.Abs(why.GetHashCode()) % 100000:D5}", 100_00);
        var before = await SnapshotAsync(card.GetPrimaryKeyString());

        var error = await RefusedAsync(CardErrorCode.InvalidArgument, () => card.RedeemAsync($"bad-{why}", ReceiptOf(1, 100_00), amount));

        Assert.Contains("redemption amount", error.Message);
        Assert.Equal(before, await SnapshotAsync(card.GetPrimaryKeyString()));
    }

    [Fact]
    public async Task Overflowing_and_zero_adjustments_are_refused_and_change_nothing()
    {
        var card = await IssueWithBalanceAsync("5100001", 100_00);
        var before = await SnapshotAsync(card.GetPrimaryKeyString());

        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.AdjustAsync("ov-1", long.MinValue, "x", "test"));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.AdjustAsync("ov-2", 0, "x", "test"));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.AdjustAsync("ov-3", 5_00, "", "test"));
        await RefusedAsync(CardErrorCode.InsufficientBonuses, () => card.AdjustAsync("ov-4", -100_01, "too much", "test"));

        Assert.Equal(before, await SnapshotAsync(card.GetPrimaryKeyString()));
    }

    [Fact]
    public async Task Unknown_cards_are_not_found_and_blocked_cards_cannot_redeem()
    {
        await RefusedAsync(CardErrorCode.NotFound, () => Cards.Card("5999999").GetAsync());
        await RefusedAsync(CardErrorCode.NotFound, () => Cards.Card("5999999").AdjustAsync("nf-1", 1_00, "x", "test"));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => Cards.Card("not a number!").GetAsync());

        var card = await IssueWithBalanceAsync("5100002", 100_00);
        await card.SetStatusAsync("block-1", CardStatus.Blocked, "reported stolen");
        var before = await SnapshotAsync(card.GetPrimaryKeyString());
        var error = await RefusedAsync(CardErrorCode.CardNotActive, () => card.RedeemAsync("bl-1", ReceiptOf(1, 100_00), 10_00));
        Assert.Contains("blocked", error.Message);
        Assert.Equal(before, await SnapshotAsync(card.GetPrimaryKeyString()));
    }

    [Fact]
    public async Task Receipts_with_no_lines_duplicate_lines_or_absurd_sizes_are_refused_and_change_nothing()
    {
        var card = await IssueWithBalanceAsync("5100003", 100_00);
        var before = await SnapshotAsync(card.GetPrimaryKeyString());
        var reference = new ReceiptRef("s1", "r1", 1, 1);
        var line = new ReceiptLine("a", "food", "A", 1000, 10_00, 10_00);

        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync("in-1", new Receipt(reference, []), null));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync("in-2", new Receipt(reference, [line, line]), null));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync("in-3",
            new Receipt(reference, Enumerable.Range(0, Limits.MaxReceiptLines + 1).Select(i => line with { Sku = $"s{i}" }).ToArray()), null));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync("in-4", new Receipt(reference, [line with { AmountKopecks = -1 }]), null));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync("in-5", new Receipt(reference, [line with { QuantityMilli = 0 }]), null));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync("in-6", new Receipt(reference with { ShiftNumber = -3 }, [line]), null));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync(new string('x', 500), new Receipt(reference, [line]), null));
        await RefusedAsync(CardErrorCode.InvalidArgument, () => card.CommitAsync("sys:forged", new Receipt(reference, [line]), null));

        Assert.Equal(before, await SnapshotAsync(card.GetPrimaryKeyString()));
    }

    [Fact]
    public async Task Redeeming_more_than_the_card_holds_or_the_receipt_allows_is_refused_with_the_numbers()
    {
        var card = await IssueWithBalanceAsync("5100004", 10_00);

        var insufficient = await RefusedAsync(CardErrorCode.InsufficientBonuses, () => card.RedeemAsync("big-1", ReceiptOf(1, 100_00), 20_00));
        Assert.Contains("1000 kopecks available", insufficient.Message);
        var overCap = await RefusedAsync(CardErrorCode.LimitExceeded, () => card.RedeemAsync("big-2", ReceiptOf(2, 5_00), 6_00));
        Assert.Contains("at most 500", overCap.Message);
        await AssertInvariantsHoldAsync();
    }
}
