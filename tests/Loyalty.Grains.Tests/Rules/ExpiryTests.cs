using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Bonuses burn in lots, a fixed number of days after they became spendable; spending takes the nearest-expiry lot first.</summary>
public sealed class ExpiryTests
{
    // Accrues nothing, so only the adjustments make lots; bonuses may pay the whole receipt.
    private static readonly ProgramSettings Program = R.PayAll() with { ExpiryDays = 30 };

    [Fact]
    public void A_lot_burns_when_its_expiry_comes()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);
        card.Advance(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(1));
        Assert.Equal(1_000, card.Settled.AvailableKopecks);
        card.Advance(TimeSpan.FromSeconds(1));

        card.Touch();

        var burn = Assert.Single(card.LastEntries);
        Assert.Equal(LedgerKind.Expiry, burn.Kind);
        Assert.Equal(-1_000, burn.AmountKopecks);
        Assert.Equal(0, card.State.BalanceKopecks);
        Assert.Equal(0, card.State.AvailableKopecks);
        Assert.Empty(card.State.Lots);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Settled_shows_burnt_lots_gone()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);
        card.Advance(TimeSpan.FromDays(31));

        Assert.Equal(0, card.Settled.BalanceKopecks);
    }

    [Fact]
    public void Without_an_expiry_setting_bonuses_never_burn()
    {
        var card = new CardRun(Program with { ExpiryDays = 0 });
        card.Adjust(1_000);
        card.Advance(TimeSpan.FromDays(36_500));

        card.Touch();

        Assert.Empty(card.LastEntries);
        Assert.Equal(1_000, card.State.AvailableKopecks);
    }

    // Lot A: 1000 at day 0 (burns day 30); lot B: 2000 at day 10 (burns day 40); a receipt at day 20 spends some.
    [Theory]
    [InlineData(0, 1000, 2000)]
    [InlineData(500, 500, 2000)]
    [InlineData(1000, 0, 2000)]
    [InlineData(1500, 0, 1500)]
    [InlineData(3000, 0, 0)]
    public void Redemption_consumes_the_nearest_expiry_lot_first(long spent, long burnsOnDay30, long burnsOnDay40)
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);
        card.Advance(TimeSpan.FromDays(10));
        card.Adjust(2_000);
        card.Advance(TimeSpan.FromDays(10));
        if (spent > 0)
        {
            var receipt = R.Parse("grocery:100000");
            var hold = card.Redeem(receipt, spent);
            card.Commit(receipt, hold.HoldId);
        }

        card.Advance(TimeSpan.FromDays(10));
        card.Touch();
        var day30 = -card.LastEntries.Where(e => e.Kind == LedgerKind.Expiry).Sum(e => e.AmountKopecks);
        var afterDay30 = card.State.BalanceKopecks;
        card.Advance(TimeSpan.FromDays(10));
        card.Touch();
        var day40 = -card.LastEntries.Where(e => e.Kind == LedgerKind.Expiry).Sum(e => e.AmountKopecks);

        Assert.Equal(burnsOnDay30, day30);
        Assert.Equal(3_000 - spent - burnsOnDay30, afterDay30);
        Assert.Equal(burnsOnDay40, day40);
        Assert.Equal(0, card.State.BalanceKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_negative_adjustment_also_takes_the_nearest_expiry_lot_first()
    {
        var card = new CardRun(Program);
        card.Adjust(2_000);                         // burns day 30
        card.Advance(TimeSpan.FromDays(10));
        card.Adjust(1_000);                         // burns day 40
        card.Adjust(-1_500, "correction");        // all from the day-30 lot, 500 left in it

        card.Advance(TimeSpan.FromDays(20));
        card.Touch();

        Assert.Equal(-500, card.LastEntries.Where(e => e.Kind == LedgerKind.Expiry).Sum(e => e.AmountKopecks));
        Assert.Equal(1_000, card.State.BalanceKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Bonuses_of_an_expired_hold_burn_if_their_lot_expired_meanwhile()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);                                         // burns day 30
        card.Advance(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(60));
        card.Redeem(R.Parse("grocery:100000"), 400);                // hold times out 840 s after day 30
        card.Advance(TimeSpan.FromSeconds(60 + 900));

        card.Touch();

        Assert.Equal(0, card.State.BalanceKopecks);
        Assert.Equal(0, card.State.HeldKopecks);
        Assert.Equal(-1_000, card.Entries.Where(e => e.Kind == LedgerKind.Expiry).Sum(e => e.AmountKopecks));
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Cancel_of_a_hold_whose_lot_expired_meanwhile_burns_the_released_bonuses_at_once()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);                                         // burns day 30
        card.Advance(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(60));
        var hold = card.Redeem(R.Parse("grocery:100000"), 400);     // still open at day 30 + 10 s
        card.Advance(TimeSpan.FromSeconds(70));

        var result = card.Cancel(hold.HoldId);

        // The 600 left in the lot burnt at day 30; the 400 the hold gives back come from the same lot and must not be spendable.
        Assert.Equal(400, result.ReleasedKopecks);
        Assert.Equal(0, result.Card.AvailableKopecks);
        Assert.Equal(0, card.State.BalanceKopecks);
        Assert.Equal(-1_000, card.Entries.Where(e => e.Kind == LedgerKind.Expiry).Sum(e => e.AmountKopecks));
    }

    [Fact]
    public void Bonuses_of_a_hold_that_outlived_their_lot_do_not_repay_an_offline_debt()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);                                         // burns day 30
        card.Advance(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(60));
        card.Redeem(R.Parse("grocery:100000"), 1_000);              // all of it held; the hold times out 840 s after day 30
        card.ApplyOffline(R.Parse("grocery:1000", number: 2), 500); // nothing available: a debt of 500
        card.Advance(TimeSpan.FromHours(1));

        card.Touch();

        // The held 1000 come back after their lot burnt at day 30: they burn too, and the debt stays.
        Assert.Equal(500, card.State.DebtKopecks);
        Assert.Equal(-500, card.State.BalanceKopecks);
        Assert.Equal(-1_000, card.LastEntries.Where(e => e.Kind == LedgerKind.Expiry).Sum(e => e.AmountKopecks));
    }

    [Fact]
    public void Commit_of_a_hold_whose_lot_expired_meanwhile_still_spends_what_was_held()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);
        card.Advance(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(60));
        var receipt = R.Parse("grocery:100000");
        var hold = card.Redeem(receipt, 400);
        card.Advance(TimeSpan.FromSeconds(70));

        var result = card.Commit(receipt, hold.HoldId);

        Assert.Equal(400, result.RedeemedKopecks);
        Assert.Equal(0, card.State.BalanceKopecks);
        card.AssertLedgerConsistent();
    }
}
