using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>The office register's print queue rules (Domain/PrintQueue.cs), without a database.</summary>
public class PrintQueueRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static PrintJobRequest Request(string operationId = "op-1", long amount = 1000_00, long discount = 0, string? hold = null, long? paid = null) => new(
        operationId, "OFFICE-1",
        new Receipt(new ReceiptRef("W1", "DRIVER-1", 1, 1), [new ReceiptLine("WATER19", "water", "Вода", 1000, amount, amount)]),
        hold, null, [new PrintLineDetail("WATER19", discount, PrintVat.Vat20)], [new PrintPayment(PrintPaymentKind.Cash, paid ?? amount - discount)],
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
    [InlineData(1000_00, 2000_00, "h", null, "between 0 and the line amount")]
    public void A_request_that_cannot_be_printed_or_booked_is_refused_naming_the_field(long amount, long discount, string? hold, long? paid, string expected)
    {
        var error = Assert.Throws<CardException>(() => PrintQueue.Validate(Request(amount: amount, discount: discount, hold: hold, paid: paid)));

        Assert.Equal(CardErrorCode.InvalidArgument, error.Code);
        Assert.Contains(expected, error.Message);
    }

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
