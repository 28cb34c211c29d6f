using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>The office register's print queue rules (Domain/PrintQueue.cs), without a database.</summary>
public class PrintQueueRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static PrintJobRequest Request(string operationId = "op-1", long amount = 1000_00, long discount = 0, string? hold = null, long? paid = null) => new(
        operationId, "OFFICE-1",
        new Receipt(new ReceiptRef("W1", "DRIVER-1", 1, 1), [new ReceiptLine("WATER19", "water", "Вода", 1000, amount, amount)]),
        hold, null, [new PrintLineDetail("WATER19", discount, PrintVat.Vat20)], [new PrintPayment(PrintPaymentKind.Cash, paid ?? amount)],
        null, ReceiptDeliveryKind.Paper, false, "key-1");

    private static PrintJob Job(long sequence, PrintJobState state = PrintJobState.Queued) =>
        PrintQueue.Submit(Request($"op-{sequence}"), $"pj_{sequence}", sequence, "token", Now) with { State = state };

    private static readonly PrintFiscalData Fiscal = new(4411, "1234567890", "9999078900001234", 15, 1, "2026-03-02T12:00:00+03:00", 1000_00, "t=20260302T1200&s=1000.00&fn=9999078900001234&i=4411&fp=1234567890&n=1", "0001234567012345");

    [Fact]
    public void A_submitted_job_is_queued_with_its_sequence_and_nothing_held_when_no_card_is_named()
    {
        var job = PrintQueue.Submit(Request(), "pj_1", 7, "token", Now);

        Assert.Equal((PrintJobState.Queued, 7L, BonusSettlement.None), (job.State, job.Sequence, job.Bonuses));
    }

    [Theory]
    [InlineData(1000_00, 0, null, 900_00L, "payments add up to 90000 kopecks")]
    [InlineData(1000_00, 100_00, null, null, "no hold_id")]
    [InlineData(1000_00, -1, "h", null, "between 0 and")]
    public void A_request_that_cannot_be_printed_or_booked_is_refused_naming_the_field(long amount, long discount, string? hold, long? paid, string expected)
    {
        var error = Assert.Throws<CardException>(() => PrintQueue.Validate(Request(amount: amount, discount: discount, hold: hold, paid: paid)));

        Assert.Equal(CardErrorCode.InvalidArgument, error.Code);
        Assert.Contains(expected, error.Message);
    }

    /// <summary>A hold of 150.00 on a two-line receipt: 100.00 on the water, 50.00 on the pump.</summary>
    private static readonly OpenHoldView Hold = new(Card.HoldIdFor("2000001", "hold-op"), 150_00,
        new Receipt(new ReceiptRef("W1", "DRIVER-1", 1, 1),
            [new ReceiptLine("WATER19", "water", "Вода", 3000, 350_00, 1050_00), new ReceiptLine("PUMP", "goods", "Помпа", 1000, 333_33, 333_33)]),
        [100_00, 50_00], Now.AddMinutes(15));

    /// <summary>The sale as the driver sends it for <see cref="Hold"/>: amounts after its discounts, VAT on the water only.</summary>
    private static PrintJobRequest HeldSale(long waterAmount = 950_00, long pumpAmount = 283_33, long waterDiscount = 0) => new(
        "op-held", "OFFICE-1",
        new Receipt(new ReceiptRef("W1", "DRIVER-1", 1, 1),
            [new ReceiptLine("WATER19", "water", "Вода", 3000, 350_00, waterAmount), new ReceiptLine("PUMP", "goods", "Помпа", 1000, 333_33, pumpAmount)]),
        Hold.HoldId, null, [new PrintLineDetail("WATER19", waterDiscount, PrintVat.Vat20)], [new PrintPayment(PrintPaymentKind.Card, waterAmount + pumpAmount)],
        null, ReceiptDeliveryKind.Paper, false, "key-1");

    [Fact]
    public void A_sale_bound_to_its_hold_carries_the_discount_of_the_hold_on_each_line_and_books_exactly_the_held_receipt()
    {
        var bound = PrintQueue.BindHold(HeldSale(), Hold);

        Assert.Equal([("WATER19", 100_00L, PrintVat.Vat20), ("PUMP", 50_00L, PrintVat.None)], bound.Lines.Select(l => (l.Sku, l.BonusDiscountKopecks, l.Vat)));
        Assert.Equal(150_00, bound.BonusKopecks);
        Assert.True(bound.LoyaltyReceipt().SameAs(Hold.Receipt));
        Assert.Equal(1233_33, bound.Receipt.TotalKopecks);
        PrintQueue.Validate(bound);
    }

    [Theory]
    [InlineData(1050_00, 333_33, 0, "line 1 of receipt W1/DRIVER-1/1/1 ('WATER19') has amount 105000 kopecks; after the hold's bonus discount it is 95000 (105000 − 10000)")]
    [InlineData(950_00, 283_34, 0, "line 2 of receipt W1/DRIVER-1/1/1 ('PUMP') has amount 28334 kopecks; after the hold's bonus discount it is 28333")]
    [InlineData(950_00, 283_33, 99_99, "the bonus discount of 'WATER19' is 9999 kopecks, but hold ")]
    public void A_sale_that_does_not_print_what_its_hold_booked_is_refused_naming_the_line(long water, long pump, long waterDiscount, string expected)
    {
        var error = Assert.Throws<CardException>(() => PrintQueue.BindHold(HeldSale(water, pump, waterDiscount), Hold));

        Assert.Equal(CardErrorCode.InvalidArgument, error.Code);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_sale_for_another_receipt_or_with_its_lines_in_another_order_is_refused()
    {
        var other = HeldSale() with { Receipt = HeldSale().Receipt with { Ref = new ReceiptRef("W1", "DRIVER-1", 1, 2) } };
        var swapped = HeldSale() with { Receipt = HeldSale().Receipt with { Lines = [.. HeldSale().Receipt.Lines.Reverse()] } };

        Assert.Contains("which hold " + Hold.HoldId + " was made for", Assert.Throws<CardException>(() => PrintQueue.BindHold(other, Hold)).Message);
        Assert.Contains("send the held receipt's lines, in its order", Assert.Throws<CardException>(() => PrintQueue.BindHold(swapped, Hold)).Message);
    }

    [Fact]
    public void A_retry_that_repeats_the_discounts_of_the_hold_is_the_same_request_as_one_that_left_them_to_the_server()
    {
        var stored = PrintQueue.BindHold(HeldSale(), Hold);

        Assert.Equal(Json(stored), Json(HeldSale(waterDiscount: 100_00)));
        Assert.Equal(Json(stored), Json(HeldSale()));
        Assert.NotEqual(Json(stored), Json(HeldSale() with { Delivery = ReceiptDeliveryKind.Sms }));
    }

    [Fact]
    public void A_done_report_for_a_job_never_handed_out_or_giving_another_total_is_refused()
    {
        var neverHandedOut = Assert.Throws<CardException>(() => PrintQueue.Report(Job(1), new PrintReport("pj_1", PrintOutcomeKind.Done, "", null, Fiscal), Now));
        var otherTotal = Assert.Throws<CardException>(() => PrintQueue.Report(Job(2, PrintJobState.Printing), new PrintReport("pj_2", PrintOutcomeKind.Done, "", null, Fiscal with { TotalKopecks = 1 }), Now));

        Assert.Contains("never handed to the office register", neverHandedOut.Message);
        Assert.Contains("gives a total of 1 kopecks, but its receipt comes to 100000", otherTotal.Message);
    }

    [Theory]
    [InlineData(3000, 350_00, 1050_00, true)]      // 3 × 350.00
    [InlineData(1234, 100_00, 123_40, true)]       // weighed: 1.234 kg × 100.00 = 123.40
    [InlineData(1235, 100_00, 123_50, true)]       // 123.50 exactly
    [InlineData(1235, 99_99, 123_49, true)]        // 123.48765: within a kopeck
    [InlineData(3000, 350_00, 1049_98, false)]     // two kopecks short
    [InlineData(1000, 89_90, 0, false)]            // an amount of nothing
    public void A_lines_amount_before_bonuses_must_be_its_price_times_its_quantity_within_a_kopeck(long quantityMilli, long price, long amount, bool accepted)
    {
        var request = Request() with
        {
            Receipt = new Receipt(new ReceiptRef("W1", "DRIVER-1", 1, 1), [new ReceiptLine("WATER19", "water", "Вода", quantityMilli, price, amount)]),
            Payments = amount > 0 ? [new PrintPayment(PrintPaymentKind.Cash, amount)] : [],
        };

        var error = Record.Exception(() => { PrintQueue.Validate(request); PrintQueue.RequirePrintable(request); });

        Assert.Equal(accepted, error is null);
        if (!accepted) Assert.Contains("is not its amount before bonuses", error!.Message);
    }

    [Fact]
    public void A_sale_is_keyed_by_its_receipt_and_a_copy_is_no_new_sale()
    {
        var sale = Request();

        Assert.Equal("DRIVER-1/1/1", PrintQueue.SaleKey(sale));
        Assert.Null(PrintQueue.SaleKey(sale with { ReprintOf = "pj_1" }));
    }

    private static string Json(PrintJobRequest request) => Loyalty.Grains.Storage.PrintJobStore.SubmitKey(request);

    [Fact]
    public void A_resubmit_answers_the_same_job_when_the_request_is_the_same_and_is_refused_otherwise()
    {
        var job = Job(1);

        Assert.Same(job, PrintQueue.Resubmit(job, sameRequest: true));
        Assert.Equal(CardErrorCode.OperationExistsWithDifferentPayload, Assert.Throws<CardException>(() => PrintQueue.Resubmit(job, sameRequest: false)).Code);
    }

    [Fact]
    public void The_feed_hands_out_open_jobs_in_queue_order_after_what_it_sent_and_within_its_window()
    {
        var jobs = new[] { Job(3), Job(1, PrintJobState.Done), Job(2, PrintJobState.Printing), Job(4, PrintJobState.NeedsAttention), Job(5) };

        Assert.Equal([2L, 3L, 4L], PrintQueue.NextForFeed(jobs, 0, 3).Select(j => j.Sequence));
        Assert.Equal([4L, 5L], PrintQueue.NextForFeed(jobs, 3, 10).Select(j => j.Sequence));
        Assert.Empty(PrintQueue.NextForFeed(jobs, 5, 10));
    }

    [Fact]
    public void Handing_out_a_queued_job_makes_it_printing_and_handing_it_out_again_keeps_its_state()
    {
        var once = PrintQueue.Deliver(Job(1), Now);
        var twice = PrintQueue.Deliver(once, Now);
        var attention = PrintQueue.Deliver(Job(2, PrintJobState.NeedsAttention), Now);

        Assert.Equal((PrintJobState.Printing, 2), (twice.State, twice.Deliveries));
        Assert.Equal(PrintJobState.NeedsAttention, attention.State);
    }

    [Fact]
    public void A_done_report_is_final_the_same_report_again_changes_nothing_and_a_different_document_is_refused()
    {
        var printing = Job(1, PrintJobState.Printing) with { Bonuses = BonusSettlement.Held };
        var (done, changed) = PrintQueue.Report(printing, new PrintReport("pj_1", PrintOutcomeKind.Done, "", "+79161234567", Fiscal), Now);
        var (again, changedAgain) = PrintQueue.Report(done, new PrintReport("pj_1", PrintOutcomeKind.Done, "", "+79161234567", Fiscal), Now);
        var contradiction = Assert.Throws<CardException>(() => PrintQueue.Report(done, new PrintReport("pj_1", PrintOutcomeKind.Done, "", null, Fiscal with { FiscalDocumentNumber = 4412 }), Now));
        var (stale, staleChanged) = PrintQueue.Report(done, new PrintReport("pj_1", PrintOutcomeKind.NeedsAttention, "paper", null, null), Now);

        Assert.True(changed);
        Assert.Equal((PrintJobState.Done, Fiscal, BonusStep.Commit), (done.State, done.Fiscal, done.OwedBonusStep));
        Assert.False(changedAgain);
        Assert.Same(done, again);
        Assert.Equal(CardErrorCode.AlreadyResolved, contradiction.Code);
        Assert.False(staleChanged);
        Assert.Same(done, stale);
        Assert.Throws<CardException>(() => PrintQueue.Report(done, new PrintReport("pj_1", PrintOutcomeKind.Failed, "", null, null), Now));
    }

    [Fact]
    public void A_failed_report_owes_the_hold_cancel_and_a_failed_job_cannot_be_done_later()
    {
        var (failed, _) = PrintQueue.Report(Job(1, PrintJobState.Printing) with { Bonuses = BonusSettlement.Held }, new PrintReport("pj_1", PrintOutcomeKind.Failed, "Неверная цена", null, null), Now);

        Assert.Equal((PrintJobState.Failed, BonusStep.Cancel), (failed.State, failed.OwedBonusStep));
        Assert.Throws<CardException>(() => PrintQueue.Report(failed, new PrintReport("pj_1", PrintOutcomeKind.Done, "", null, Fiscal), Now));
        Assert.Equal(BonusStep.None, PrintQueue.Settled(failed, BonusSettlement.Cancelled, null, Now).OwedBonusStep);
    }

    [Fact]
    public void A_done_report_without_fiscal_data_is_refused()
    {
        Assert.Equal(CardErrorCode.InvalidArgument,
            Assert.Throws<CardException>(() => PrintQueue.Report(Job(1, PrintJobState.Printing), new PrintReport("pj_1", PrintOutcomeKind.Done, "", null, null), Now)).Code);
    }

    [Fact]
    public void Receipt_tokens_carry_192_random_bits_and_bonus_operation_ids_are_derived_from_the_job()
    {
        var tokens = Enumerable.Range(0, 100).Select(_ => PrintQueue.NewReceiptToken()).ToHashSet();
        var job = Job(1);

        Assert.Equal(100, tokens.Count);
        Assert.All(tokens, t => Assert.Equal(24, Convert.FromBase64String(t.Replace('-', '+').Replace('_', '/')).Length));
        Assert.Equal(PrintQueue.BonusOperationId(job, "commit"), PrintQueue.BonusOperationId(job with { State = PrintJobState.Done }, "commit"));
    }
}
