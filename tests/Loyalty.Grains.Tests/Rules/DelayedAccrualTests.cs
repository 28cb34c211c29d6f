using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Accrued bonuses wait for the return window before they may be spent.</summary>
public sealed class DelayedAccrualTests
{
    private static readonly ProgramSettings Program = R.Standard() with { AccrualDelayDays = 14 };
    private static readonly Receipt Receipt = R.Parse("grocery:10000"); // earns 500

    [Fact]
    public void Accrual_is_pending_not_available_during_the_delay()
    {
        var card = new CardRun(Program);

        var result = card.Commit(Receipt);

        Assert.Equal(500, result.AccruedKopecks);
        Assert.Equal(R.T0.AddDays(14), result.AccrualAvailableAt);
        Assert.Equal(500, card.State.BalanceKopecks);
        Assert.Equal(500, card.State.PendingKopecks);
        Assert.Equal(0, card.State.AvailableKopecks);
        var row = Assert.Single(card.LastEntries);
        Assert.Equal((LedgerKind.Accrual, 500L, 500L), (row.Kind, row.AmountKopecks, row.PendingDeltaKopecks));
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Pending_accrual_cannot_be_redeemed()
    {
        var card = new CardRun(Program);
        card.Commit(Receipt);

        var ex = Assert.Throws<CardException>(() => card.Redeem(R.Parse("grocery:10000", number: 2), 100));

        Assert.Equal(CardErrorCode.InsufficientBonuses, ex.Code);
        Assert.Equal(0, ProgramRules.MaxRedeem(Program, R.Parse("grocery:10000", number: 2), card.State.AvailableKopecks));
    }

    [Theory]
    [InlineData(0, 500, 0)]
    [InlineData(13 * 86_400, 500, 0)]
    [InlineData(14 * 86_400 - 1, 500, 0)]
    [InlineData(14 * 86_400, 0, 500)]
    [InlineData(100 * 86_400, 0, 500)]
    public void Accrual_becomes_available_after_the_delay(int secondsLater, long expectedPending, long expectedAvailable)
    {
        var card = new CardRun(Program);
        card.Commit(Receipt);
        card.Advance(TimeSpan.FromSeconds(secondsLater));

        var settled = card.Settled;

        Assert.Equal(expectedPending, settled.PendingKopecks);
        Assert.Equal(expectedAvailable, settled.AvailableKopecks);
        Assert.Equal(500, settled.BalanceKopecks);
    }

    [Fact]
    public void The_next_command_after_the_delay_writes_an_accrual_release_row()
    {
        var card = new CardRun(Program);
        card.Commit(Receipt);
        card.Advance(TimeSpan.FromDays(14));

        card.Adjust(1);

        var release = Assert.Single(card.LastEntries, e => e.Kind == LedgerKind.AccrualRelease);
        Assert.Equal(0, release.AmountKopecks);
        Assert.Equal(-500, release.PendingDeltaKopecks);
        Assert.Equal(500, release.AvailableDeltaKopecks);
        Assert.StartsWith(CardChange.SystemOperationPrefix, release.OperationId);
        Assert.Equal(501, card.State.AvailableKopecks);
        Assert.Equal(0, card.State.PendingKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Released_accrual_can_be_redeemed_by_the_same_command_that_releases_it()
    {
        var card = new CardRun(Program);
        card.Commit(Receipt);
        card.Advance(TimeSpan.FromDays(14));

        var hold = card.Redeem(R.Parse("grocery:10000", number: 2), 500);

        Assert.Equal(500, hold.AmountKopecks);
        Assert.Equal(0, card.State.AvailableKopecks);
        Assert.Contains(card.LastEntries, e => e.Kind == LedgerKind.AccrualRelease);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Accruals_of_different_days_release_on_their_own_days()
    {
        var card = new CardRun(Program);
        card.Commit(Receipt);                                   // 500, available at day 14
        card.Advance(TimeSpan.FromDays(5));
        card.Commit(R.Parse("dairy:10000", number: 2));         // 700, available at day 19
        card.Advance(TimeSpan.FromDays(9));

        card.Touch();

        Assert.Equal(500, card.State.AvailableKopecks);
        Assert.Equal(700, card.State.PendingKopecks);
        card.Advance(TimeSpan.FromDays(5));
        card.Touch();
        Assert.Equal(1_200, card.State.AvailableKopecks);
        Assert.Equal(0, card.State.PendingKopecks);
        Assert.Equal(2, card.Entries.Count(e => e.Kind == LedgerKind.AccrualRelease));
        card.AssertLedgerConsistent();
    }
}
