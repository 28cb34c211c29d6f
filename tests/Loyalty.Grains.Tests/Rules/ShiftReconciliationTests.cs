using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>
/// The per-shift reconciliation rules (design.md): matched, applied from the report, online only,
/// mismatch; returns; refusals of reports that cannot be reconciled. Pure decisions, no database.
/// </summary>
public sealed class ShiftReconciliationTests
{
    private static readonly ShiftKey Shift = new("S", "R1", 7);
    private static readonly ProgramSettings Program = ProgramSettings.Default("default");

    private static ReportedLine Line(string sku, long amount, long bonus = 0) => new(sku, "grocery", sku, 1000, amount, amount, bonus);

    private static ReportedReceipt Sale(long number, string? card, params ReportedLine[] lines) => new(number, ReportedReceiptKind.Sale, card, lines);

    private static ShiftReportData Report(params ReportedReceipt[] receipts) =>
        new(Shift, R.T0, ZReportPresent: true, "frontol", "digest-1", receipts);

    /// <summary>A receipt committed online through the card's own command, as the server would hold it.</summary>
    private static ReceiptRecord CommittedOnline(string card, long number, long amount, long redeem = 0)
    {
        var run = new CardRun(Program, R.T0, card);
        run.Adjust(1_000_00);
        var receipt = new Receipt(Shift.Receipt(number), [R.Line("A", "grocery", amount)]);
        string? hold = redeem > 0 ? run.Redeem(receipt, redeem).HoldId : null;
        run.Commit(receipt, hold);
        return run.Committed(receipt.Ref)!;
    }

    [Fact]
    public void A_receipt_seen_online_with_the_same_figures_is_matched_and_nothing_is_applied_again()
    {
        var online = CommittedOnline("C1", 1, 100_00, redeem: 10_00);

        var plan = ShiftReconciliation.Plan(Report(Sale(1, "C1", Line("A", 100_00, 10_00))), [online], _ => null);

        var line = Assert.Single(plan);
        Assert.Equal(ReceiptOutcome.Matched, line.Outcome);
        Assert.Null(line.OperationId);
        Assert.Null(line.ToApply);
    }

    [Fact]
    public void A_receipt_not_seen_online_is_applied_from_the_report_under_an_id_derived_from_its_key()
    {
        var report = Report(Sale(2, "C1", Line("A", 60_00, 5_00), Line("B", 40_00)));

        var first = Assert.Single(ShiftReconciliation.Plan(report, [], _ => null));
        var again = Assert.Single(ShiftReconciliation.Plan(report with { Digest = "re-exported" }, [], _ => null));

        Assert.Equal(ReceiptOutcome.AppliedFromReport, first.Outcome);
        Assert.Equal([5_00L, 0L], first.LineDiscounts);
        Assert.Equal(Shift.Receipt(2), first.ToApply!.Ref);
        // A retry after a crash, or the same receipts in a re-exported file, name the same operation: applied once.
        Assert.Equal(first.OperationId, again.OperationId);
        Assert.StartsWith("sys:", first.OperationId);
        Assert.True(first.OperationId!.Length <= Limits.MaxIdentifierLength);
    }

    [Fact]
    public void Applying_the_planned_receipt_books_the_registers_discount_and_a_debt_beyond_the_balance()
    {
        var card = new CardRun(Program, R.T0, "C9");
        card.Adjust(5_00);
        var planned = Assert.Single(ShiftReconciliation.Plan(Report(Sale(3, "C9", Line("A", 100_00, 20_00))), [], _ => null));

        var applied = card.Apply(s => Card.ApplyOffline(s, Program, planned.OperationId!, planned.ToApply!, planned.LineDiscounts!, null, card.Now));

        Assert.True(applied.DroveBalanceNegative);
        Assert.Equal(20_00 - 5_00 - 4_00, card.State.DebtKopecks); // the shortfall, less the accrual on 80.00 paid (5 %) that repays it
        card.AssertLedgerConsistent();
    }

    [Theory]
    [InlineData("C2", 100_00, 12_00, "bonuses")]
    [InlineData("C2", 90_00, 10_00, "total")]
    [InlineData("C3", 100_00, 10_00, "card C3")]
    public void A_receipt_seen_online_with_other_figures_is_a_mismatch_saying_both_sides(string card, long amount, long bonus, string expected)
    {
        var online = CommittedOnline("C2", 4, 100_00, redeem: 10_00);

        var line = Assert.Single(ShiftReconciliation.Plan(Report(Sale(4, card, Line("A", amount, bonus))), [online], _ => null));

        Assert.Equal(ReceiptOutcome.Mismatch, line.Outcome);
        Assert.Contains(expected, line.Difference);
        Assert.Contains("online:", line.Difference);
        Assert.Null(line.OperationId);
    }

    [Fact]
    public void A_receipt_committed_online_but_absent_from_the_report_or_cancelled_on_the_register_is_online_only()
    {
        var absent = CommittedOnline("C4", 5, 50_00);
        var cancelled = CommittedOnline("C5", 6, 70_00);
        var report = Report(new ReportedReceipt(6, ReportedReceiptKind.Cancelled, "C5", [Line("A", 70_00)]));

        var plan = ShiftReconciliation.Plan(report, [absent, cancelled], _ => null);

        Assert.Equal([ReceiptOutcome.OnlineOnly, ReceiptOutcome.OnlineOnly], plan.Select(p => p.Outcome));
        Assert.Contains("cancelled on the register", plan[0].Difference);
        Assert.Contains("absent from the report", plan[1].Difference);
    }

    [Fact]
    public void Receipts_without_a_card_and_receipts_cancelled_offline_need_nothing()
    {
        var report = Report(Sale(7, null, Line("A", 10_00)), new ReportedReceipt(8, ReportedReceiptKind.Cancelled, null, []));

        Assert.Equal([ReceiptOutcome.WithoutCard, ReceiptOutcome.Cancelled], ShiftReconciliation.Plan(report, [], _ => null).Select(p => p.Outcome));
    }

    [Fact]
    public void A_return_naming_a_known_sale_is_applied_like_a_refund_and_one_naming_none_is_flagged()
    {
        var sale = CommittedOnline("C6", 9, 100_00, redeem: 10_00);
        var named = new ReportedReceipt(10, ReportedReceiptKind.Return, "C6", [Line("A", 100_00)], Original: sale.Ref);
        var anonymous = new ReportedReceipt(11, ReportedReceiptKind.Return, "C6", [Line("A", 100_00)]);
        var otherCard = new ReportedReceipt(12, ReportedReceiptKind.Return, "C7", [Line("A", 100_00)], Original: sale.Ref);

        var plan = ShiftReconciliation.Plan(Report(named, anonymous, otherCard), [], r => r == sale.Ref ? sale : null);

        Assert.Equal(ReceiptOutcome.ReturnApplied, plan[0].Outcome);
        Assert.Equal(sale.Ref, plan[0].ReturnOf);
        Assert.Equal([new ReturnedLine("A", 1000)], plan[0].Returned);
        Assert.NotEqual(ShiftReconciliation.OperationIdFor("sale", Shift.Receipt(10)), plan[0].OperationId);
        Assert.Equal(ReceiptOutcome.ReturnUnmatched, plan[1].Outcome);
        Assert.Contains("names no sale", plan[1].Difference);
        Assert.Equal(ReceiptOutcome.ReturnUnmatched, plan[2].Outcome);
        Assert.Contains("card C6", plan[2].Difference);
    }

    [Fact]
    public void A_report_without_its_Z_record_is_refused_because_the_shift_is_not_closed()
    {
        var error = Assert.Throws<CardException>(() => ShiftReconciliation.Plan(Report(Sale(1, "C1", Line("A", 1_00))) with { ZReportPresent = false }, [], _ => null));

        Assert.Equal(CardErrorCode.AlreadyResolved, error.Code);
        Assert.Contains("not closed", error.Message);
    }

    [Theory]
    [InlineData("duplicate", "appears more than once")]
    [InlineData("discount over the line", "bonus discount of line 1")]
    [InlineData("negative discount", "bonus discount of line 1")]
    [InlineData("negative amount", "of line 1 of receipt S/R1/7/1")]
    [InlineData("bad card", "card number")]
    [InlineData("sale without lines", "has no lines")]
    public void A_report_with_a_bad_receipt_is_refused_naming_it_and_nothing_is_planned(string fault, string expected)
    {
        ReportedReceipt[] receipts = fault switch
        {
            "duplicate" => [Sale(1, "C1", Line("A", 1_00)), Sale(1, "C1", Line("B", 2_00))],
            "discount over the line" => [Sale(1, "C1", Line("A", 1_00, 1_01))],
            "negative discount" => [Sale(1, "C1", Line("A", 1_00, -1))],
            "negative amount" => [Sale(1, "C1", Line("A", -1_00))],
            "bad card" => [Sale(1, "C-1", Line("A", 1_00))],
            _ => [Sale(1, "C1")],
        };

        var error = Assert.Throws<CardException>(() => ShiftReconciliation.Plan(Report(receipts), [], _ => null));

        Assert.Equal(CardErrorCode.InvalidArgument, error.Code);
        Assert.Contains(expected, error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(CardStatus.Active, 0, 80_00, 0, 80_00)]
    [InlineData(CardStatus.Active, 0, 80_00, 50_00, 50_00)]
    [InlineData(CardStatus.Blocked, 0, 80_00, 0, 0)]
    [InlineData(CardStatus.Active, 10_00, 0, 0, 0)]
    public void The_offline_spendable_amount_is_the_available_balance_capped_and_nothing_for_blocked_cards_or_cards_in_debt(
        CardStatus status, long debt, long credit, long limit, long expected)
    {
        var program = Program with { OfflineLimitPerCardKopecks = limit };
        var card = new CardRun(program, R.T0, "C8");
        if (credit > 0) card.Adjust(credit);
        if (debt > 0) card.ApplyOffline(new Receipt(Shift.Receipt(99), [R.Line("A", "grocery", 100_00)]), debt);
        if (status == CardStatus.Blocked) card.Apply(s => Card.SetStatus(s, program, CardStatus.Blocked, "lost", card.Now));

        Assert.Equal(expected, ProgramRules.OfflineSpendable(program, card.Settled));
    }
}
