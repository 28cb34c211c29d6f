using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>
/// The office register's queue on the real cluster and database, with the test's clock: what the
/// queue books on a card once a receipt with a bonus discount is printed, whatever became of the hold
/// while the job waited.
/// </summary>
public sealed class OfficePrintQueueTests : EngineTestBase
{
    private const string Office = "OFFICE-1";
    private static readonly PrintFiscalData Printed = new(4411, "1234567890", "9999078900001234", 15, 1, "2026-11-01T12:00:00+03:00", 70_00,
        "t=20261101T1200&s=70.00&fn=9999078900001234&i=4411&fp=1234567890&n=1", "0001234567012345");

    private PrintQueues Queues => new(new PrintJobStore(Engine.DataSource), Cards);

    /// <summary>A card with 100.00, a hold of 30.00 on a 100.00 receipt, and the sale as the driver submits it (70.00 after the discount).</summary>
    private async Task<(ICardGrain Card, HoldResult Hold, PrintJobRequest Sale)> HeldSaleAsync(string number)
    {
        var card = await IssueWithBalanceAsync(number, 100_00);
        var receipt = ReceiptOf(1, 100_00);
        var hold = await card.RedeemAsync($"hold-{number}", receipt, 30_00);
        var printed = receipt with { Lines = [receipt.Lines[0] with { AmountKopecks = 100_00 - hold.LineDiscounts[0] }] };
        var sale = new PrintJobRequest($"sale-{number}", Office, printed, hold.HoldId, null, [new PrintLineDetail("sku1", 0, PrintVat.Vat20)],
            [new PrintPayment(PrintPaymentKind.Card, 70_00)], null, ReceiptDeliveryKind.Paper, false, "driver");
        return (card, hold, sale);
    }

    /// <summary>What the office adapter does: take the job from the register's feed, then report it printed.</summary>
    private async Task<PrintJob> PrintAsync(PrintQueues queues, PrintJob job)
    {
        using var stop = new CancellationTokenSource();
        await foreach (var batch in queues.FeedAsync("store1", Office, stop.Token))
        {
            Assert.Equal(job.JobId, Assert.Single(batch).JobId);
            break;
        }
        return await queues.ReportAsync(new PrintReport(job.JobId, PrintOutcomeKind.Done, "", null, Printed), CancellationToken.None);
    }

    [Fact]
    public async Task A_hold_that_timed_out_while_the_printer_waited_is_held_again_and_committed_so_the_printed_discount_is_booked_once()
    {
        var (card, _, sale) = await HeldSaleAsync("5100001");
        var queues = Queues;
        var job = await queues.SubmitAsync(sale, CancellationToken.None);
        Clock.Advance(TimeSpan.FromSeconds(Program.HoldTimeoutSeconds + 60));

        var done = await PrintAsync(queues, job);
        var again = await queues.ReportAsync(new PrintReport(job.JobId, PrintOutcomeKind.Done, "", null, Printed), CancellationToken.None);

        Assert.Equal(BonusSettlement.Committed, done.Bonuses);
        Assert.StartsWith("3000 kopecks of bonuses booked", done.BonusMessage);
        Assert.Equal(BonusSettlement.Committed, again.Bonuses);
        var view = await card.GetAsync();
        Assert.Equal((100_00 - 30_00 + 3_50, 0L), (view.BalanceKopecks, view.HeldKopecks));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Once_its_job_is_stored_the_hold_is_the_jobs_and_the_card_refuses_to_settle_it_by_hand()
    {
        var (card, hold, sale) = await HeldSaleAsync("5100004");
        var queues = Queues;
        var job = await queues.SubmitAsync(sale, CancellationToken.None);

        var cancel = await RefusedAsync(CardErrorCode.AlreadyResolved, () => Cards.CancelHoldAsync("hand-cancel", hold.HoldId));
        var commit = await RefusedAsync(CardErrorCode.AlreadyResolved, () => card.CommitAsync("hand-commit", ReceiptOf(1, 100_00), hold.HoldId));
        var done = await PrintAsync(queues, job);

        Assert.Contains($"belongs to print job {job.JobId}", cancel.Message);
        Assert.Contains("cannot be committed by hand", commit.Message);
        Assert.Equal(BonusSettlement.Committed, done.Bonuses);
        Assert.Equal((100_00 - 30_00 + 3_50, 0L), ((await card.GetAsync()).BalanceKopecks, (await card.GetAsync()).HeldKopecks));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_hold_cancelled_by_hand_before_its_job_took_it_is_held_again_and_committed_once_the_receipt_is_printed()
    {
        var (card, hold, sale) = await HeldSaleAsync("5100002");
        var queues = Queues;
        // The moment between the submit's hold check (done here) and the job taking the hold: a cancel gets in.
        var checkedSale = PrintQueue.BindHold(sale, await card.GetOpenHoldAsync(hold.HoldId));
        await Cards.CancelHoldAsync("hand-cancel", hold.HoldId);
        var outcome = Assert.Single(await Cards.Grains.GetGrain<IPrintQueueGrain>(IPrintQueueGrain.KeyOf("store1", Office)).SubmitManyAsync([checkedSale]));
        var job = outcome.Job!;

        var done = await PrintAsync(queues, job);

        Assert.Equal(BonusSettlement.Committed, done.Bonuses);
        var view = await card.GetAsync();
        Assert.Equal((100_00 - 30_00 + 3_50, 0L), (view.BalanceKopecks, view.HeldKopecks));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_second_job_for_the_same_sale_under_another_operation_id_is_refused_naming_the_first()
    {
        var (_, _, sale) = await HeldSaleAsync("5100003");
        var queues = Queues;
        var first = await queues.SubmitAsync(sale, CancellationToken.None);

        var second = await RefusedAsync(CardErrorCode.OperationExistsWithDifferentPayload,
            () => queues.SubmitAsync(sale with { OperationId = "sale-5100003-again" }, CancellationToken.None));

        Assert.Contains($"already print job {first.JobId}", second.Message);
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM print_jobs"));
    }
}
