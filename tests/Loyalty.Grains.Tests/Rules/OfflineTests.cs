using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Receipts closed offline are applied as they were; a shortfall becomes a flagged debt that later credits repay.</summary>
public sealed class OfflineTests
{
    private static readonly ProgramSettings Program = R.Standard();
    private static readonly Receipt Receipt = R.Parse("grocery:1000"); // 700 paid with money earns 35

    [Fact]
    public void Offline_redemption_beyond_the_balance_drives_it_negative_and_is_flagged()
    {
        var card = new CardRun(Program);
        card.Adjust(100);

        var result = card.ApplyOffline(Receipt, 300);

        Assert.True(result.DroveBalanceNegative);
        Assert.Equal(300, result.RedeemedKopecks);
        Assert.Equal(35, result.AccruedKopecks);
        Assert.Equal(100 - 300 + 35, card.State.BalanceKopecks);
        Assert.Equal(-165, card.State.AvailableKopecks);
        Assert.Equal(165, card.State.DebtKopecks);
        var redeem = Assert.Single(card.LastEntries, e => e.Kind == LedgerKind.OfflineRedeem);
        Assert.True(redeem.Offline);
        Assert.Equal(-300, redeem.AmountKopecks);
        Assert.Contains("exceeded the available balance", redeem.Reason);
        Assert.All(card.LastEntries, e => Assert.True(e.Offline));
        Assert.True(card.Receipts[Receipt.Ref].Offline);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Offline_redemption_within_the_balance_is_not_flagged()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);

        var result = card.ApplyOffline(Receipt, 300);

        Assert.False(result.DroveBalanceNegative);
        Assert.Null(Assert.Single(card.LastEntries, e => e.Kind == LedgerKind.OfflineRedeem).Reason);
        Assert.Equal(1_000 - 300 + 35, card.State.AvailableKopecks);
        Assert.Equal(0, card.State.DebtKopecks);
    }

    [Fact]
    public void A_later_credit_repays_the_debt_first()
    {
        var card = new CardRun(Program);
        card.Adjust(100);
        card.ApplyOffline(Receipt, 300);

        card.Adjust(500);

        Assert.Equal(0, card.State.DebtKopecks);
        Assert.Equal(335, card.State.BalanceKopecks);
        Assert.Equal(335, card.State.AvailableKopecks);
        Assert.Equal(335, card.State.Lots.Sum(l => l.RemainingKopecks));
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_credit_smaller_than_the_debt_only_reduces_it()
    {
        var card = new CardRun(Program);
        card.ApplyOffline(Receipt, 300);                         // debt 300 − 35 = 265

        card.Adjust(200);

        Assert.Equal(65, card.State.DebtKopecks);
        Assert.Equal(-65, card.State.AvailableKopecks);
        Assert.Empty(card.State.Lots);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_released_delayed_accrual_repays_the_debt()
    {
        var card = new CardRun(Program with { AccrualDelayDays = 14 });
        card.Adjust(100);
        card.ApplyOffline(Receipt, 300);
        Assert.Equal(-200, card.State.AvailableKopecks);        // the 35 earned is still pending
        card.Advance(TimeSpan.FromDays(14));

        card.Touch();

        Assert.Equal(165, card.State.DebtKopecks);
        Assert.Equal(-165, card.State.AvailableKopecks);
        Assert.Equal(0, card.State.PendingKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_card_in_debt_cannot_redeem_online()
    {
        var card = new CardRun(Program);
        card.ApplyOffline(Receipt, 300);

        var ex = Assert.Throws<CardException>(() => card.Redeem(R.Parse("grocery:10000", number: 2), 1));

        Assert.Equal(CardErrorCode.InsufficientBonuses, ex.Code);
        Assert.Contains("0 kopecks available", ex.Message);
    }

    [Fact]
    public void A_hold_voided_while_the_card_is_in_debt_repays_the_debt()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);
        var hold = card.Redeem(R.Parse("grocery:10000", number: 2), 1_000);
        card.ApplyOffline(Receipt, 300);                         // nothing available: debt 300 − 35

        card.Cancel(hold.HoldId);

        Assert.Equal(0, card.State.DebtKopecks);
        Assert.Equal(1_000 - 300 + 35, card.State.AvailableKopecks);
        card.AssertLedgerConsistent();
    }
}
