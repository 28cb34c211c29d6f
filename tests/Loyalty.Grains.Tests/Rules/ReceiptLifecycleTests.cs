using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>
/// The receipt's lifecycle (open → held → committed → partly / fully returned), with a regression
/// test for each failure found when the server was tried as a new user would (issue 9).
/// </summary>
public sealed class ReceiptLifecycleTests
{
    private static readonly ProgramSettings Program = ProgramSettings.Default("default");

    private static CardRun CardWith(long balanceKopecks)
    {
        var card = new CardRun(Program);
        if (balanceKopecks > 0) card.Adjust(balanceKopecks);
        return card;
    }

    private static Receipt Receipt1 => new(new ReceiptRef("S", "R1", 1, 1), [R.Line("MILK", "dairy", 100_00)]);

    [Fact]
    public void A_receipt_committed_without_a_hold_takes_no_new_hold_and_the_refusal_names_the_commit()
    {
        var card = CardWith(0);
        card.Commit(Receipt1);
        var commitOperation = card.Committed(Receipt1.Ref)!.OperationId;
        var before = R.Snapshot(card.State);

        var error = Assert.Throws<CardException>(() => card.Redeem(Receipt1, 1));

        Assert.Equal(CardErrorCode.AlreadyResolved, error.Code);
        Assert.Contains(commitOperation, error.Message);
        Assert.Contains("takes no new hold", error.Message);
        Assert.Equal(before, R.Snapshot(card.State));
        Assert.Equal(ReceiptStage.Committed, ReceiptLifecycle.StageOf(card.State, Receipt1.Ref, card.Committed(Receipt1.Ref)));
    }

    [Fact]
    public void A_receipt_committed_with_its_hold_takes_no_further_hold()
    {
        var card = CardWith(50_00);
        var hold = card.Redeem(Receipt1, 10_00);
        card.Commit(Receipt1, hold.HoldId);

        var error = Assert.Throws<CardException>(() => card.Redeem(Receipt1, 1));

        Assert.Equal(CardErrorCode.AlreadyResolved, error.Code);
        Assert.Contains(card.Committed(Receipt1.Ref)!.OperationId, error.Message);
        Assert.Empty(card.State.Holds);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_committed_receipt_is_not_committed_again_under_a_new_operation_id_and_the_refusal_names_the_first()
    {
        var card = CardWith(0);
        card.Commit(Receipt1);
        var first = card.Committed(Receipt1.Ref)!.OperationId;

        var error = Assert.Throws<CardException>(() => card.Commit(Receipt1));

        Assert.Equal(CardErrorCode.AlreadyResolved, error.Code);
        Assert.Contains(first, error.Message);
    }

    [Fact]
    public void The_refusal_of_a_second_hold_on_an_open_receipt_contains_the_first_holds_id()
    {
        var card = CardWith(50_00);
        var first = card.Redeem(Receipt1, 10_00);

        var error = Assert.Throws<CardException>(() => card.Redeem(Receipt1, 5_00));

        Assert.Equal(CardErrorCode.AlreadyResolved, error.Code);
        Assert.Contains(first.HoldId, error.Message);
        // With the id from the refusal a till that lost the first reply can cancel the hold and start again.
        card.Cancel(first.HoldId);
        Assert.Equal(ReceiptStage.Open, ReceiptLifecycle.StageOf(card.State, Receipt1.Ref, null));
        card.Redeem(Receipt1, 5_00);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void An_expired_hold_returns_its_receipt_to_open()
    {
        var card = CardWith(50_00);
        card.Redeem(Receipt1, 10_00);
        Assert.Equal(ReceiptStage.Held, ReceiptLifecycle.StageOf(card.State, Receipt1.Ref, null));

        card.Advance(TimeSpan.FromSeconds(Program.HoldTimeoutSeconds));

        Assert.Equal(ReceiptStage.Open, ReceiptLifecycle.StageOf(card.Settled, Receipt1.Ref, null));
        card.Redeem(Receipt1, 10_00);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Quote_on_a_blocked_card_is_refused_as_commit_would_be_instead_of_promising_an_accrual()
    {
        var card = CardWith(10_00);
        card.Apply(s => Card.SetStatus(s, Program, CardStatus.Blocked, "lost", card.Now));

        var quote = Assert.Throws<CardException>(() => card.Quote(Receipt1, 0));
        var commit = Assert.Throws<CardException>(() => card.Commit(Receipt1));

        Assert.Equal(CardErrorCode.CardNotActive, quote.Code);
        Assert.Equal(commit.Message, quote.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Quote_on_a_card_closed_by_a_merge_or_a_replace_is_refused(bool replace)
    {
        var source = CardWith(10_00);
        var target = new CardRun(Program, number: "7000123400002222");
        var (closed, _) = Card.Transfer(source.State, target.State, Program, Program, "move-1", replace ? "card lost" : "two cards", "tester", source.Now);
        source.Apply(_ => closed);

        var quote = Assert.Throws<CardException>(() => source.Quote(Receipt1, 0));

        Assert.Equal(CardErrorCode.CardNotActive, quote.Code);
        Assert.Contains("closed", quote.Message);
    }

    [Fact]
    public void Quote_of_a_receipt_the_card_holds_gives_the_hold_refusal_with_its_id()
    {
        var card = CardWith(50_00);
        var hold = card.Redeem(Receipt1, 10_00);

        var quote = Assert.Throws<CardException>(() => card.Quote(Receipt1, 5_00));

        Assert.Contains(hold.HoldId, quote.Message);
    }

    [Fact]
    public void An_offline_application_of_a_held_receipt_voids_the_online_hold_and_books_the_registers_discount()
    {
        var card = CardWith(50_00);
        card.Redeem(Receipt1, 10_00);

        var applied = card.ApplyOffline(Receipt1, 7_00);

        Assert.Equal(7_00, applied.RedeemedKopecks);
        Assert.Empty(card.State.Holds);
        Assert.Equal(0, card.State.HeldKopecks);
        Assert.Contains(card.LastEntries, e => e.Kind == LedgerKind.HoldVoid);
        Assert.Equal(ReceiptStage.Committed, ReceiptLifecycle.StageOf(card.State, Receipt1.Ref, card.Committed(Receipt1.Ref)));
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void An_offline_application_of_a_receipt_committed_online_is_refused_naming_the_commit()
    {
        var card = CardWith(0);
        card.Commit(Receipt1);

        var error = Assert.Throws<CardException>(() => card.ApplyOffline(Receipt1, 0));

        Assert.Equal(CardErrorCode.AlreadyResolved, error.Code);
        Assert.Contains(card.Committed(Receipt1.Ref)!.OperationId, error.Message);
    }

    [Fact]
    public void A_receipt_moves_from_committed_to_partly_then_fully_returned_and_then_refuses_refunds()
    {
        var card = CardWith(0);
        var receipt = new Receipt(new ReceiptRef("S", "R1", 1, 2), [R.Line("A", "grocery", 100_00, 2000), R.Line("B", "grocery", 50_00)]);
        card.Commit(receipt);
        Assert.Equal(ReceiptStage.Committed, ReceiptLifecycle.StageOf(card.Committed(receipt.Ref)!));

        card.Refund(receipt.Ref, new ReturnedLine("A", 1000));
        Assert.Equal(ReceiptStage.PartlyReturned, ReceiptLifecycle.StageOf(card.Committed(receipt.Ref)!));
        var redeemAfterReturn = Assert.Throws<CardException>(() => card.Redeem(receipt, 1));
        Assert.Contains("partly refunded", redeemAfterReturn.Message);

        card.Refund(receipt.Ref, new ReturnedLine("A", 1000), new ReturnedLine("B", 1000));
        Assert.Equal(ReceiptStage.FullyReturned, ReceiptLifecycle.StageOf(card.Committed(receipt.Ref)!));
        var again = Assert.Throws<CardException>(() => card.Refund(receipt.Ref, new ReturnedLine("B", 1)));
        Assert.Equal(CardErrorCode.AlreadyResolved, again.Code);
        Assert.Contains("refunded in full", again.Message);
        Assert.Equal(0, card.State.BalanceKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_refund_of_a_receipt_never_committed_is_not_found()
    {
        var card = CardWith(50_00);
        card.Redeem(Receipt1, 10_00);

        var error = Assert.Throws<CardException>(() => card.Refund(Receipt1.Ref, new ReturnedLine("MILK", 1000)));

        Assert.Equal(CardErrorCode.NotFound, error.Code);
    }
}
