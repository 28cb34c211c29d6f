using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Two-phase redemption: a hold sets bonuses aside; commit posts it, cancel voids it, the timeout releases it.</summary>
public sealed class HoldTests
{
    private static readonly ProgramSettings Program = R.Standard(); // hold timeout 900 s
    private static readonly Receipt Receipt = R.Parse("grocery:10000");

    private static (CardRun Card, HoldResult Hold) CardWithHold(long balance = 10_000, long held = 3_000)
    {
        var card = new CardRun(Program);
        card.Adjust(balance);
        var hold = card.Redeem(Receipt, held);
        return (card, hold);
    }

    [Fact]
    public void Redeem_sets_the_amount_aside_without_moving_the_balance()
    {
        var (card, hold) = CardWithHold();

        Assert.Equal(3_000, hold.AmountKopecks);
        Assert.Equal(10_000, card.State.BalanceKopecks);
        Assert.Equal(3_000, card.State.HeldKopecks);
        Assert.Equal(7_000, card.State.AvailableKopecks);
        Assert.Equal(card.Now.AddSeconds(900), hold.ExpiresAt);
        var row = Assert.Single(card.LastEntries);
        Assert.Equal((LedgerKind.Hold, 0L, 3_000L), (row.Kind, row.AmountKopecks, row.HeldDeltaKopecks));
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Commit_posts_the_hold_and_accrues_on_the_rest()
    {
        var (card, hold) = CardWithHold();

        var result = card.Commit(Receipt, hold.HoldId);

        Assert.Equal(3_000, result.RedeemedKopecks);
        Assert.Equal(350, result.AccruedKopecks);
        Assert.Equal(0, card.State.HeldKopecks);
        Assert.Equal(10_000 - 3_000 + 350, card.State.BalanceKopecks);
        Assert.Equal(10_000 - 3_000 + 350, card.State.AvailableKopecks);
        Assert.Contains(card.LastEntries, e => e.Kind == LedgerKind.HoldPost && e.AmountKopecks == -3_000 && e.HeldDeltaKopecks == -3_000);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Cancel_releases_the_hold()
    {
        var (card, hold) = CardWithHold();

        var result = card.Cancel(hold.HoldId);

        Assert.Equal(3_000, result.ReleasedKopecks);
        Assert.Equal(HoldResolution.Cancelled, result.Resolution);
        Assert.Equal(10_000, card.State.BalanceKopecks);
        Assert.Equal(0, card.State.HeldKopecks);
        Assert.Equal(10_000, card.State.AvailableKopecks);
        Assert.Empty(card.State.Holds);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_hold_is_still_held_one_second_before_its_timeout()
    {
        var (card, _) = CardWithHold();
        card.Advance(TimeSpan.FromSeconds(899));

        var settled = card.Settled;

        Assert.Equal(3_000, settled.HeldKopecks);
        Assert.Equal(7_000, settled.AvailableKopecks);
    }

    [Fact]
    public void A_hold_past_its_timeout_is_gone_and_its_bonuses_are_available_again()
    {
        var (card, _) = CardWithHold();
        card.Advance(TimeSpan.FromSeconds(Program.HoldTimeoutSeconds));

        var settled = card.Settled;

        Assert.Empty(settled.Holds);
        Assert.Equal(0, settled.HeldKopecks);
        Assert.Equal(10_000, settled.BalanceKopecks);
        Assert.Equal(10_000, settled.AvailableKopecks);
    }

    [Fact]
    public void Settled_reads_do_not_change_the_stored_state()
    {
        var (card, _) = CardWithHold();
        var before = R.Snapshot(card.State);
        card.Advance(TimeSpan.FromHours(1));

        _ = card.Settled;

        Assert.Equal(before, R.Snapshot(card.State));
    }

    [Fact]
    public void The_next_write_after_a_timeout_records_the_expiry_on_the_ledger()
    {
        var (card, hold) = CardWithHold();
        card.Advance(TimeSpan.FromSeconds(901));

        card.Touch();

        var row = Assert.Single(card.LastEntries);
        Assert.Equal(LedgerKind.HoldExpired, row.Kind);
        Assert.Equal(-3_000, row.HeldDeltaKopecks);
        Assert.Equal(0, row.AmountKopecks);
        Assert.StartsWith(CardChange.SystemOperationPrefix, row.OperationId);
        Assert.Equal(HoldResolution.Expired, Assert.Single(card.State.ResolvedHolds, h => h.Id == hold.HoldId).Resolution);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Commit_of_an_expired_hold_is_refused_as_already_resolved()
    {
        var (card, hold) = CardWithHold();
        card.Advance(TimeSpan.FromSeconds(900));
        var before = R.Snapshot(card.State);

        var ex = Assert.Throws<CardException>(() => card.Commit(Receipt, hold.HoldId));

        Assert.Equal(CardErrorCode.AlreadyResolved, ex.Code);
        Assert.Contains("expired", ex.Message);
        Assert.Equal(before, R.Snapshot(card.State));
    }

    [Fact]
    public void Commit_of_an_expired_hold_says_when_the_hold_expired()
    {
        var (card, hold) = CardWithHold();
        card.Advance(TimeSpan.FromHours(3));

        var ex = Assert.Throws<CardException>(() => card.Commit(Receipt, hold.HoldId));

        // The hold timed out 900 s after it was made, not three hours later when the commit arrived.
        Assert.Contains($"expired at {hold.ExpiresAt:u}", ex.Message);
    }

    [Fact]
    public void Cancel_of_an_expired_hold_releases_nothing()
    {
        var (card, hold) = CardWithHold();
        card.Advance(TimeSpan.FromSeconds(1_000));

        var result = card.Cancel(hold.HoldId);

        Assert.Equal(0, result.ReleasedKopecks);
        Assert.Equal(HoldResolution.Expired, result.Resolution);
        Assert.Equal(10_000, card.State.AvailableKopecks);
        Assert.Equal(LedgerKind.HoldExpired, Assert.Single(card.LastEntries).Kind); // the timeout, written by this write; no void of its own
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_hold_resolves_only_once()
    {
        var (card, hold) = CardWithHold();
        card.Commit(Receipt, hold.HoldId);

        var commitAgain = Assert.Throws<CardException>(() => card.Commit(Receipt, hold.HoldId));
        var cancelAfterCommit = Assert.Throws<CardException>(() => card.Cancel(hold.HoldId));

        Assert.Equal(CardErrorCode.AlreadyResolved, commitAgain.Code);
        Assert.Contains("already committed", commitAgain.Message);
        Assert.Equal(CardErrorCode.AlreadyResolved, cancelAfterCommit.Code);
        Assert.Contains("refund the receipt instead", cancelAfterCommit.Message);
    }

    [Fact]
    public void Commit_of_a_cancelled_hold_is_refused_and_a_second_cancel_releases_nothing()
    {
        var (card, hold) = CardWithHold();
        card.Cancel(hold.HoldId);

        var commit = Assert.Throws<CardException>(() => card.Commit(Receipt, hold.HoldId));
        var secondCancel = card.Cancel(hold.HoldId);

        Assert.Equal(CardErrorCode.AlreadyResolved, commit.Code);
        Assert.Equal(0, secondCancel.ReleasedKopecks);
        Assert.Equal(HoldResolution.Cancelled, secondCancel.Resolution);
        Assert.Equal(10_000, card.State.AvailableKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Commit_of_an_unknown_hold_is_refused_as_not_found()
    {
        var card = new CardRun(Program);

        var ex = Assert.Throws<CardException>(() => card.Commit(Receipt, Card.HoldIdFor(R.CardNumber, "never")));

        Assert.Equal(CardErrorCode.NotFound, ex.Code);
    }

    [Fact]
    public void Commit_with_a_different_receipt_than_the_hold_is_refused()
    {
        var (card, hold) = CardWithHold();

        var ex = Assert.Throws<CardException>(() => card.Commit(R.Parse("grocery:10001"), hold.HoldId));

        Assert.Equal(CardErrorCode.InvalidArgument, ex.Code);
        Assert.Contains("differs", ex.Message);
        Assert.Equal(3_000, card.State.HeldKopecks);
    }

    [Fact]
    public void A_second_hold_on_the_same_receipt_is_refused_while_the_first_is_open()
    {
        var (card, _) = CardWithHold();

        var ex = Assert.Throws<CardException>(() => card.Redeem(Receipt, 100));

        Assert.Equal(CardErrorCode.AlreadyResolved, ex.Code);
    }

    [Fact]
    public void Held_bonuses_cannot_be_redeemed_twice()
    {
        var (card, _) = CardWithHold(balance: 4_000, held: 3_000);

        var ex = Assert.Throws<CardException>(() => card.Redeem(R.Parse("grocery:10000", number: 2), 1_001));

        Assert.Equal(CardErrorCode.InsufficientBonuses, ex.Code);
        Assert.Contains("1000 kopecks available", ex.Message);
    }
}
