using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>
/// A closed shift's sales report reconciled against real PostgreSQL: what was done offline is
/// applied once, what the server saw online is matched, the rest waits for the accountant; uploads
/// are safe to repeat, also after a crash mid-upload.
/// </summary>
public sealed class ShiftReconcilerTests : EngineTestBase
{
    private ShiftReconciler Reconciler => new(Cards, Clock);

    private static ReportedLine Line(string sku, long amount, long bonus = 0) => new(sku, "food", sku, 1000, amount, amount, bonus);

    private static ShiftReportData Report(ShiftKey shift, string digest, params ReportedReceipt[] receipts) =>
        new(shift, new DateTimeOffset(2026, 11, 1, 22, 0, 0, TimeSpan.Zero), ZReportPresent: true, "frontol", digest, receipts);

    private static ReportedReceipt Sale(long number, string card, params ReportedLine[] lines) => new(number, ReportedReceiptKind.Sale, card, lines);

    [Fact]
    public async Task An_offline_sale_is_applied_once_and_a_sale_seen_online_is_matched_not_applied_again()
    {
        var shift = new ShiftKey("store1", "reg1", 11);
        var card = await IssueWithBalanceAsync("6000001", 100_00);
        // Receipt 1 was sold online while the link was up; receipt 2 offline against the catalog's balance.
        var online = new Receipt(shift.Receipt(1), [new ReceiptLine("A", "food", "A", 1000, 50_00, 50_00)]);
        var hold = await card.RedeemAsync("online-hold", online, 10_00);
        await card.CommitAsync("online-commit", online, hold.HoldId);
        var before = await card.GetAsync();

        var result = await Reconciler.UploadAsync(Report(shift, "d1", Sale(1, "6000001", Line("A", 50_00, 10_00)), Sale(2, "6000001", Line("B", 80_00, 20_00))));

        Assert.Equal([ReceiptOutcome.Matched, ReceiptOutcome.AppliedFromReport], result.Receipts.Select(r => r.Outcome));
        Assert.Equal(ShiftStatus.Settled, result.Status);
        Assert.Equal(20_00, result.Receipts[1].AppliedRedeemedKopecks);
        Assert.Equal(3_00, result.Receipts[1].AppliedAccruedKopecks);     // 5 % of the 60.00 paid with money
        var after = await card.GetAsync();
        Assert.Equal(before.BalanceKopecks - 20_00 + 3_00, after.BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task The_same_report_uploaded_again_changes_nothing_and_answers_the_same_and_a_different_one_is_refused_naming_the_difference()
    {
        var shift = new ShiftKey("store1", "reg1", 12);
        var card = await IssueWithBalanceAsync("6000002", 100_00);
        var report = Report(shift, "d1", Sale(1, "6000002", Line("A", 40_00, 10_00)));
        var first = await Reconciler.UploadAsync(report);
        var balance = (await card.GetAsync()).BalanceKopecks;
        var ledgerRows = await ScalarAsync("SELECT count(*) FROM ledger");

        var again = await Reconciler.UploadAsync(report);
        var reExported = await Reconciler.UploadAsync(report with { Digest = "d1-re-exported" });
        var different = await Assert.ThrowsAsync<CardException>(() => Reconciler.UploadAsync(Report(shift, "d2", Sale(1, "6000002", Line("A", 40_00, 15_00)))));

        Assert.Equivalent(first, again);
        Assert.Equivalent(first, reExported);
        Assert.Equal(CardErrorCode.AlreadyResolved, different.Code);
        Assert.Contains("receipt 1 was a sale with card 6000002, total 4000 kopecks, bonuses 1000 kopecks and is now", different.Message);
        Assert.Equal(balance, (await card.GetAsync()).BalanceKopecks);
        Assert.Equal(ledgerRows, await ScalarAsync("SELECT count(*) FROM ledger"));
    }

    [Fact]
    public async Task An_upload_interrupted_after_some_receipts_were_applied_is_uploaded_again_and_applies_each_receipt_once()
    {
        var shift = new ShiftKey("store1", "reg1", 13);
        var card = await IssueWithBalanceAsync("6000003", 100_00);
        var report = Report(shift, "d1", Sale(1, "6000003", Line("A", 40_00, 10_00)), Sale(2, "6000003", Line("B", 60_00, 5_00)));
        // The first upload got as far as applying receipt 1, then the process died before storing the shift.
        var plan = ShiftReconciliation.Plan(report, [], _ => null);
        await Cards.Card("6000003").ApplyFromShiftAsync(plan[0].OperationId!, plan[0].ToApply!, [.. plan[0].LineDiscounts!]);

        var result = await Reconciler.UploadAsync(report);

        Assert.Equal([ReceiptOutcome.AppliedFromReport, ReceiptOutcome.AppliedFromReport], result.Receipts.Select(r => r.Outcome));
        Assert.Equal(1, await ScalarAsync($"SELECT count(*) FROM ledger WHERE operation_id = '{plan[0].OperationId}' AND kind = 'OfflineRedeem'"));
        // 100.00 − 15.00 redeemed + 5 % of the 85.00 paid with money.
        Assert.Equal(100_00 - 15_00 + 1_50 + 2_75, (await card.GetAsync()).BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task An_offline_redemption_beyond_the_balance_is_booked_as_a_flagged_debt_and_nothing_online_goes_below_zero()
    {
        var shift = new ShiftKey("store1", "reg1", 14);
        var card = await IssueWithBalanceAsync("6000004", 10_00);
        // The catalog said 30.00, but 20.00 were spent online elsewhere after the export.
        var result = await Reconciler.UploadAsync(Report(shift, "d1", Sale(1, "6000004", Line("A", 100_00, 30_00))));

        var line = Assert.Single(result.Receipts);
        Assert.True(line.Debt);
        Assert.Contains("debt", line.Note);
        Assert.Equal(ShiftStatus.NeedsAttention, result.Status);
        Assert.True((await card.GetAsync()).BalanceKopecks < 0);
        await RefusedAsync(CardErrorCode.InsufficientBonuses, () => card.AdjustAsync("take-more", -1, "test", "test"));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_receipt_committed_online_but_cancelled_on_the_register_waits_for_the_accountant_and_a_hold_the_shift_left_open_is_voided()
    {
        var shift = new ShiftKey("store1", "reg1", 15);
        var card = await IssueWithBalanceAsync("6000005", 100_00);
        await card.CommitAsync("online-only", new Receipt(shift.Receipt(1), [new ReceiptLine("A", "food", "A", 1000, 30_00, 30_00)]), null);
        await card.RedeemAsync("stray-hold", new Receipt(shift.Receipt(9), [new ReceiptLine("Z", "food", "Z", 1000, 50_00, 50_00)]), 15_00);

        var result = await Reconciler.UploadAsync(Report(shift, "d1", new ReportedReceipt(1, ReportedReceiptKind.Cancelled, "6000005", [Line("A", 30_00)])));

        Assert.Equal(ReceiptOutcome.OnlineOnly, Assert.Single(result.Receipts).Outcome);
        Assert.Equal(ShiftStatus.NeedsAttention, result.Status);
        Assert.Equal(1, result.HoldsVoided);
        Assert.Equal(0, (await card.GetAsync()).HeldKopecks);
        Assert.Equal(result.HoldsVoided, (await Reconciler.GetAsync(shift))!.HoldsVoided);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task An_online_commit_arriving_after_its_receipt_was_applied_from_the_report_is_not_applied_twice()
    {
        var shift = new ShiftKey("store1", "reg1", 16);
        var card = await IssueWithBalanceAsync("6000006", 100_00);
        await Reconciler.UploadAsync(Report(shift, "d1", Sale(1, "6000006", Line("A", 40_00))));
        var balance = (await card.GetAsync()).BalanceKopecks;

        var late = await RefusedAsync(CardErrorCode.AlreadyResolved,
            () => card.CommitAsync("late-online-commit", new Receipt(shift.Receipt(1), [new ReceiptLine("A", "food", "A", 1000, 40_00, 40_00)]), null));

        Assert.Contains("applied from a shift report", late.Message);
        Assert.Equal(balance, (await card.GetAsync()).BalanceKopecks);
    }

    [Fact]
    public async Task A_return_in_the_report_gives_back_the_sales_bonuses_and_a_sale_for_an_unknown_card_waits_for_the_accountant()
    {
        var shift = new ShiftKey("store1", "reg1", 17);
        var card = await IssueWithBalanceAsync("6000007", 100_00);
        var sale = new Receipt(new ReceiptRef("store1", "reg1", 16, 5), [new ReceiptLine("A", "food", "A", 1000, 40_00, 40_00)]);
        var hold = await card.RedeemAsync("sale-hold", sale, 10_00);
        await card.CommitAsync("sale-commit", sale, hold.HoldId);

        var result = await Reconciler.UploadAsync(Report(shift, "d1",
            new ReportedReceipt(1, ReportedReceiptKind.Return, "6000007", [Line("A", 40_00)], Original: sale.Ref),
            Sale(2, "9999999", Line("B", 10_00, 1_00))));

        Assert.Equal(ReceiptOutcome.ReturnApplied, result.Receipts[0].Outcome);
        Assert.Equal(10_00, result.Receipts[0].ReturnRestoredKopecks);
        Assert.Equal(1_50, result.Receipts[0].ReturnReversedKopecks);
        Assert.Equal(ReceiptOutcome.NotApplied, result.Receipts[1].Outcome);
        Assert.Contains("does not exist", result.Receipts[1].Note);
        Assert.Equal(100_00, (await card.GetAsync()).BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_report_of_a_shift_that_is_not_closed_is_refused_and_nothing_is_applied()
    {
        var shift = new ShiftKey("store1", "reg1", 18);
        await IssueWithBalanceAsync("6000008", 100_00);
        var rows = await ScalarAsync("SELECT count(*) FROM ledger");

        var error = await Assert.ThrowsAsync<CardException>(() =>
            Reconciler.UploadAsync(Report(shift, "d1", Sale(1, "6000008", Line("A", 40_00, 10_00))) with { ZReportPresent = false }));

        Assert.Contains("not closed", error.Message);
        Assert.Equal(rows, await ScalarAsync("SELECT count(*) FROM ledger"));
        Assert.Null(await Reconciler.GetAsync(shift));
    }
}
