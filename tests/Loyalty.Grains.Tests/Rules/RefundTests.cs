using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Returns take back their share of the accrual and give back their share of the discount.</summary>
public sealed class RefundTests
{
    private static readonly ProgramSettings Program = R.Standard();

    // Three units for 100 roubles; 1001 kopecks paid with bonuses; 8999 × 5 % = 449 accrued.
    private static readonly Receipt ThreeUnits = R.Receipt(1, R.Line("A", "grocery", 10_000, quantityMilli: 3_000));

    private static CardRun CardWithThreeUnitReceipt(ProgramSettings? program = null)
    {
        var card = new CardRun(program ?? Program);
        card.Adjust(5_000);
        var hold = card.Redeem(ThreeUnits, 1_001);
        var commit = card.Commit(ThreeUnits, hold.HoldId);
        Assert.Equal(449, commit.AccruedKopecks);
        return card;
    }

    [Theory]
    [InlineData("3000", "449", "1001")]
    [InlineData("1000,1000,1000", "149,150,150", "333,334,334")]
    [InlineData("2000,1000", "299,150", "667,334")]
    [InlineData("1500,1500", "224,225", "500,501")]
    [InlineData("1,2999", "0,449", "0,1001")]
    [InlineData("1,1,2998", "0,0,449", "0,0,1001")]
    [InlineData("999,1,2000", "149,0,300", "333,0,668")]
    public void Partial_refunds_take_floor_of_the_share_and_the_last_one_takes_the_exact_remainder(string quantities, string accrualBacks, string discountBacks)
    {
        var card = CardWithThreeUnitReceipt();
        var accruals = new List<long>();
        var discounts = new List<long>();

        foreach (var quantity in R.Longs(quantities))
        {
            var result = card.Refund(ThreeUnits.Ref, new ReturnedLine("A", quantity));
            accruals.Add(result.AccrualReversedKopecks);
            discounts.Add(result.RedeemRestoredKopecks);
        }

        Assert.Equal(R.Longs(accrualBacks), accruals);
        Assert.Equal(R.Longs(discountBacks), discounts);
        Assert.Equal(449, accruals.Sum());
        Assert.Equal(1_001, discounts.Sum());
        Assert.Equal(5_000, card.State.BalanceKopecks); // everything the receipt did is undone
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_partial_refund_updates_the_receipt_record()
    {
        var card = CardWithThreeUnitReceipt();

        card.Refund(ThreeUnits.Ref, new ReturnedLine("A", 1_000));

        var line = Assert.Single(card.Receipts[ThreeUnits.Ref].Lines);
        Assert.Equal((1_000L, 149L, 333L), (line.ReturnedQuantityMilli, line.AccrualReversedKopecks, line.RedeemRestoredKopecks));
        Assert.Equal(5_000 - 1_001 + 449 + 333 - 149, card.State.AvailableKopecks);
        Assert.Contains(card.LastEntries, e => e.Kind == LedgerKind.RefundRestore && e.AmountKopecks == 333);
        Assert.Contains(card.LastEntries, e => e.Kind == LedgerKind.RefundReversal && e.AmountKopecks == -149);
    }

    [Fact]
    public void A_second_refund_of_a_fully_refunded_line_is_refused_as_already_resolved()
    {
        var card = CardWithThreeUnitReceipt();
        card.Refund(ThreeUnits.Ref, new ReturnedLine("A", 3_000));
        var before = R.Snapshot(card.State);

        var ex = Assert.Throws<CardException>(() => card.Refund(ThreeUnits.Ref, new ReturnedLine("A", 1)));

        Assert.Equal(CardErrorCode.AlreadyResolved, ex.Code);
        Assert.Contains("already refunded in full", ex.Message);
        Assert.Equal(before, R.Snapshot(card.State));
    }

    [Theory]
    [InlineData("", 3_001, 3_000)]
    [InlineData("1000", 2_001, 2_000)]
    [InlineData("1000,1999", 2, 1)]
    public void Refunding_more_quantity_than_is_left_is_refused(string earlier, long asked, long left)
    {
        var card = CardWithThreeUnitReceipt();
        foreach (var q in R.Longs(earlier)) card.Refund(ThreeUnits.Ref, new ReturnedLine("A", q));
        var before = R.Snapshot(card.State);

        var ex = Assert.Throws<CardException>(() => card.Refund(ThreeUnits.Ref, new ReturnedLine("A", asked)));

        Assert.Equal(CardErrorCode.AlreadyResolved, ex.Code);
        Assert.Contains($"Only {left} thousandths", ex.Message);
        Assert.Equal(before, R.Snapshot(card.State));
    }

    [Fact]
    public void Refund_of_one_line_of_a_receipt_takes_only_that_lines_share()
    {
        var card = new CardRun(Program);
        card.Adjust(5_000);
        var receipt = R.Receipt(1, R.Line("A", "grocery", 6_000, quantityMilli: 2_000), R.Line("B", "dairy", 4_000));
        var hold = card.Redeem(receipt, 3_000);
        Assert.Equal([1_800L, 1_200L], hold.LineDiscounts);
        card.Commit(receipt, hold.HoldId);                     // A: 4200 × 5 % = 210; B: 2800 × 7 % = 196

        var b = card.Refund(receipt.Ref, new ReturnedLine("B", 1_000));
        var halfOfA = card.Refund(receipt.Ref, new ReturnedLine("A", 1_000));

        Assert.Equal((196L, 1_200L), (b.AccrualReversedKopecks, b.RedeemRestoredKopecks));
        Assert.Equal((105L, 900L), (halfOfA.AccrualReversedKopecks, halfOfA.RedeemRestoredKopecks));
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_refund_with_one_bad_line_changes_nothing()
    {
        var card = new CardRun(Program);
        var receipt = R.Receipt(1, R.Line("A", "grocery", 6_000), R.Line("B", "dairy", 4_000));
        card.Commit(receipt);
        var before = R.Snapshot(card.State);
        var recordBefore = card.Receipts[receipt.Ref];

        var ex = Assert.Throws<CardException>(() => card.Refund(receipt.Ref, new ReturnedLine("A", 1_000), new ReturnedLine("Z", 1_000)));

        Assert.Equal(CardErrorCode.InvalidArgument, ex.Code);
        Assert.Contains("no line with SKU Z", ex.Message);
        Assert.Equal(before, R.Snapshot(card.State));
        Assert.Same(recordBefore, card.Receipts[receipt.Ref]);
    }

    [Fact]
    public void Refund_while_the_accrual_is_pending_takes_it_from_pending()
    {
        var card = new CardRun(Program with { AccrualDelayDays = 14 });
        card.Adjust(5_000);
        card.Commit(ThreeUnits);                                // 500 pending
        card.Advance(TimeSpan.FromDays(3));

        var result = card.Refund(ThreeUnits.Ref, new ReturnedLine("A", 1_000));

        Assert.Equal(166, result.AccrualReversedKopecks);
        Assert.Equal(334, card.State.PendingKopecks);
        Assert.Equal(5_000, card.State.AvailableKopecks);     // what the customer may spend is untouched
        Assert.Equal(5_334, card.State.BalanceKopecks);
        var row = Assert.Single(card.LastEntries);
        Assert.Equal((LedgerKind.RefundReversal, -166L, -166L), (row.Kind, row.AmountKopecks, row.PendingDeltaKopecks));

        card.Advance(TimeSpan.FromDays(11));
        card.Touch();
        Assert.Equal(-334, Assert.Single(card.LastEntries, e => e.Kind == LedgerKind.AccrualRelease).PendingDeltaKopecks);
        Assert.Equal(5_334, card.State.AvailableKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void A_full_refund_while_pending_leaves_nothing_to_release()
    {
        var card = new CardRun(Program with { AccrualDelayDays = 14 });
        card.Commit(ThreeUnits);

        card.Refund(ThreeUnits.Ref, new ReturnedLine("A", 3_000));
        card.Advance(TimeSpan.FromDays(14));
        card.Touch();

        Assert.DoesNotContain(card.Entries, e => e.Kind == LedgerKind.AccrualRelease);
        Assert.Equal(0, card.State.BalanceKopecks);
        Assert.Equal(0, card.State.PendingKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Refund_is_refused_when_the_customer_already_spent_the_accrual()
    {
        var card = new CardRun(Program);
        card.Commit(R.Parse("grocery:10000"));                  // 500 available at once
        card.Adjust(-500, "spent elsewhere");
        var before = R.Snapshot(card.State);

        var ex = Assert.Throws<CardException>(() => card.Refund(R.Ref(1), new ReturnedLine("L1", 1_000)));

        Assert.Equal(CardErrorCode.InsufficientBonuses, ex.Code);
        Assert.Contains("has only 0 kopecks available", ex.Message);
        Assert.Equal(before, R.Snapshot(card.State));
    }

    [Fact]
    public void Return_shares_never_exceed_what_was_accrued_or_redeemed_and_add_up_exactly()
    {
        var random = new Random(4242);
        for (var n = 0; n < 2_000; n++)
        {
            var quantity = random.Next(3) == 0 ? random.NextInt64(1, 10) * 1000 : random.NextInt64(1, 100_000);
            var accrual = random.NextInt64(0, random.Next(2) == 0 ? 1_000 : 50_000_000_000);
            var discount = random.NextInt64(0, random.Next(2) == 0 ? 1_000 : 1_000_000_000_000);
            var line = new ReceiptRecordLine("A", "grocery", quantity, discount * 2, discount, accrual, 0, 0, 0);

            while (line.ReturnedQuantityMilli < quantity)
            {
                var left = quantity - line.ReturnedQuantityMilli;
                var part = random.Next(4) == 0 ? left : random.NextInt64(1, left + 1);
                var (accrualBack, discountBack) = ProgramRules.ReturnShare(line, part);
                line = line with
                {
                    ReturnedQuantityMilli = line.ReturnedQuantityMilli + part,
                    AccrualReversedKopecks = line.AccrualReversedKopecks + accrualBack,
                    RedeemRestoredKopecks = line.RedeemRestoredKopecks + discountBack,
                };

                var context = $"case {n}: qty {quantity}, accrual {accrual}, discount {discount}, returned {line.ReturnedQuantityMilli}";
                Assert.True(accrualBack >= 0 && discountBack >= 0, context);
                Assert.True(line.AccrualReversedKopecks <= accrual && line.RedeemRestoredKopecks <= discount, context);
                if (line.ReturnedQuantityMilli < quantity)
                {
                    Assert.Equal((long)((Int128)accrual * line.ReturnedQuantityMilli / quantity), line.AccrualReversedKopecks);
                    Assert.Equal((long)((Int128)discount * line.ReturnedQuantityMilli / quantity), line.RedeemRestoredKopecks);
                }
            }

            Assert.Equal(accrual, line.AccrualReversedKopecks);
            Assert.Equal(discount, line.RedeemRestoredKopecks);
        }
    }
}
