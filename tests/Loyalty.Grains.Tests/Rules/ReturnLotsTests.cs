using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>
/// A return gives redeemed bonuses back to the lots they were taken from, with their original
/// expiry, instead of as new bonuses with a fresh one (issue 9; a known limit before).
/// </summary>
public sealed class ReturnLotsTests
{
    /// <summary>No accrual (so returns move only redeemed bonuses), everything payable, bonuses burn 30 days after they arrive.</summary>
    private static readonly ProgramSettings Program = R.PayAll() with { ExpiryDays = 30 };

    private static readonly Receipt Sale = new(new ReceiptRef("S", "R1", 1, 1),
        [R.Line("A", "grocery", 60_00, 2000), R.Line("B", "grocery", 40_00)]);

    private static long Expired(IEnumerable<LedgerEntry> entries) => -entries.Where(e => e.Kind == LedgerKind.Expiry).Sum(e => e.AmountKopecks);

    [Fact]
    public void A_return_gives_bonuses_back_to_their_lot_which_then_burns_on_its_original_date()
    {
        var card = new CardRun(Program);
        card.Adjust(100_00);                        // lot 1: burns at T0 + 30 d
        card.Advance(TimeSpan.FromDays(10));
        card.Adjust(100_00);                        // lot 2: burns at T0 + 40 d
        var hold = card.Redeem(Sale, 30_00);        // nearest expiry first: all from lot 1
        card.Commit(Sale, hold.HoldId);
        card.Advance(TimeSpan.FromDays(5));

        var refund = card.Refund(Sale.Ref, new ReturnedLine("A", 2000), new ReturnedLine("B", 1000));
        Assert.Equal(30_00, refund.RedeemRestoredKopecks);
        Assert.Equal(200_00, card.State.BalanceKopecks);

        card.Advance(TimeSpan.FromDays(15));        // T0 + 30 d: lot 1 burns whole, the returned 30.00 with it
        card.Touch();
        Assert.Equal(100_00, Expired(card.LastEntries));
        Assert.Equal(T0Plus(30), card.LastEntries.Single(e => e.Kind == LedgerKind.Expiry).At);
        Assert.Equal(100_00, card.State.BalanceKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Bonuses_returned_after_their_lot_expired_burn_at_once_as_an_expiry_row_of_the_return()
    {
        var card = new CardRun(Program);
        card.Adjust(100_00);
        var hold = card.Redeem(Sale, 30_00);
        card.Commit(Sale, hold.HoldId);
        card.Advance(TimeSpan.FromDays(31));        // the lot the 30.00 came from has burnt meanwhile
        card.Touch();
        Assert.Equal(70_00, Expired(card.LastEntries));

        var refund = card.Refund(Sale.Ref, new ReturnedLine("B", 1000));

        Assert.Equal(12_00, refund.RedeemRestoredKopecks); // line B's share: 40 % of 30.00
        var restore = card.LastEntries.Single(e => e.Kind == LedgerKind.RefundRestore);
        var burn = card.LastEntries.Single(e => e.Kind == LedgerKind.Expiry);
        Assert.Equal(12_00, restore.AmountKopecks);
        Assert.Equal(-12_00, burn.AmountKopecks);
        Assert.Equal(card.Now, burn.At);            // burnt when it came back, not before it was on the card
        Assert.Equal(0, card.State.BalanceKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Partial_returns_restore_the_soonest_burning_lot_first_and_the_whole_return_restores_every_lot_exactly()
    {
        var card = new CardRun(Program);
        card.Adjust(20_00);                         // lot 1: T0 + 30 d
        card.Advance(TimeSpan.FromDays(10));
        card.Adjust(100_00);                        // lot 2: T0 + 40 d
        var hold = card.Redeem(Sale, 50_00);        // 20.00 from lot 1, 30.00 from lot 2
        card.Commit(Sale, hold.HoldId);
        var lots = card.Committed(Sale.Ref)!.RedeemedFrom;
        Assert.Equal([20_00L, 30_00L], lots.Select(l => l.AmountKopecks));

        card.Refund(Sale.Ref, new ReturnedLine("A", 1000)); // half of line A: 15.00 of its 30.00 discount
        Assert.Equal([15_00L, 0L], card.Committed(Sale.Ref)!.RedeemedFrom.Select(l => l.RestoredKopecks));

        card.Refund(Sale.Ref, new ReturnedLine("A", 1000), new ReturnedLine("B", 1000));
        Assert.Equal([20_00L, 30_00L], card.Committed(Sale.Ref)!.RedeemedFrom.Select(l => l.RestoredKopecks));

        card.Advance(TimeSpan.FromDays(20));        // T0 + 30 d: exactly lot 1's 20.00 burns
        card.Touch();
        Assert.Equal(20_00, Expired(card.LastEntries));
        card.Advance(TimeSpan.FromDays(10));        // T0 + 40 d: lot 2's 100.00, returned part included
        card.Touch();
        Assert.Equal(100_00, Expired(card.LastEntries));
        Assert.Equal(0, card.State.BalanceKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void The_debt_part_of_an_offline_redemption_comes_back_as_a_repayment_of_the_debt()
    {
        var card = new CardRun(Program);
        card.Adjust(10_00);
        card.ApplyOffline(Sale, 18_00, 12_00);      // 30.00 redeemed offline against 10.00: 20.00 of debt
        Assert.Equal(20_00, card.State.DebtKopecks);
        Assert.Equal([10_00L], card.Committed(Sale.Ref)!.RedeemedFrom.Select(l => l.AmountKopecks));

        card.Refund(Sale.Ref, new ReturnedLine("A", 2000), new ReturnedLine("B", 1000));

        Assert.Equal(0, card.State.DebtKopecks);
        Assert.Equal(10_00, card.State.BalanceKopecks);
        Assert.Equal(10_00, card.State.AvailableKopecks);
        card.AssertLedgerConsistent();
    }

    private static DateTimeOffset T0Plus(int days) => R.T0.AddDays(days);
}
