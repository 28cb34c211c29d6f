using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>The liability statement's lines from movement sums (Domain/Liability.cs) and the resolution rules (Domain/ShiftResolution.cs), as pure functions.</summary>
public sealed class LiabilityStatementTests
{
    private static readonly DateOnly From = new(2026, 11, 1), To = new(2026, 11, 30);

    private static MovementSum During(string kind, long amount, long pending = 0, long held = 0, string store = "S1") =>
        new("default", store, kind, LiabilityPeriodPart.During, 1, amount, held, pending);

    [Fact]
    public void Each_kind_lands_on_its_line_and_the_statement_rolls_forward_to_the_independently_summed_closing()
    {
        var statement = Liability.Build(From, To,
        [
            new MovementSum("default", "S1", "Accrual", LiabilityPeriodPart.Before, 3, 100_00, 0, 40_00),   // 60.00 spendable, 40.00 pending at the start
            During("Accrual", 10_00, pending: 10_00),       // pending only
            During("Accrual", 5_00),                         // spendable at once
            During("AccrualRelease", 0, pending: -40_00, store: ""),
            During("Hold", 0, held: 7_00), During("HoldPost", -7_00, held: -7_00),
            During("OfflineRedeem", -3_00),
            During("Expiry", -2_00, store: ""),
            During("RefundRestore", 1_00), During("RefundReversal", -4_00, pending: -1_00),
            During("Adjustment", 50_00, store: ""),
            During("TransferOut", -9_00, pending: -2_00, store: ""), During("TransferIn", 9_00, pending: 2_00, store: ""),
            During("SomethingNew", 11),
        ]);
        var t = statement.Total;
        Assert.Equal(60_00, t.OpeningKopecks);
        Assert.Equal(5_00, t.AccruedKopecks);
        Assert.Equal(40_00, t.ReleasedKopecks);
        Assert.Equal(7_00, t.RedeemedOnlineKopecks);
        Assert.Equal(3_00, t.RedeemedOfflineKopecks);
        Assert.Equal(2_00, t.ExpiredKopecks);
        Assert.Equal(1_00 - 3_00, t.ReturnsKopecks);
        Assert.Equal(50_00, t.AdjustmentsKopecks);
        Assert.Equal(0, t.TransfersKopecks);
        Assert.Equal(11, t.OtherKopecks);              // an unknown kind is shown, not dropped
        Assert.Equal(40_00, t.PendingOpeningKopecks);
        Assert.Equal(10_00, t.PendingAccruedKopecks);
        Assert.Equal(40_00, t.PendingReleasedKopecks);
        Assert.Equal(1_00, t.PendingReturnedKopecks);
        Assert.Equal(9_00, t.PendingClosingKopecks);
        Assert.Equal(0, t.HeldClosingKopecks);
        Assert.Equal(60_00 + 5_00 + 40_00 - 7_00 - 3_00 - 2_00 - 2_00 + 50_00 + 11, t.ClosingKopecks);
        Assert.True(statement.RollsForward);
        // Per store: the lines add up to the programme's and the total.
        Assert.Equal(t.ClosingKopecks, statement.Lines.Sum(l => l.ClosingKopecks));
        Assert.Equal(["", "S1"], statement.Lines.Select(l => l.StoreId));
    }

    [Fact]
    public void The_daily_closing_starts_at_the_opening_and_carries_days_without_movements()
    {
        var days = Liability.DailyClosing(new DateOnly(2026, 11, 1), new DateOnly(2026, 11, 4), 100, 5,
            [(new DateOnly(2026, 11, 2), 10, 1), (new DateOnly(2026, 11, 4), -30, 0), (new DateOnly(2026, 11, 2), 5, 0)]);
        Assert.Equal([100L, 115, 115, 85], days.Select(d => d.LiabilityKopecks));
        Assert.Equal([5L, 6, 6, 6], days.Select(d => d.PendingKopecks));
    }

    [Fact]
    public void A_period_that_ends_before_it_starts_or_spans_more_than_ten_years_is_refused()
    {
        Assert.Equal(CardErrorCode.InvalidArgument, Assert.Throws<CardException>(() => Liability.Build(To, From, [])).Code);
        Assert.Equal(CardErrorCode.InvalidArgument, Assert.Throws<CardException>(() => Liability.Build(From, From.AddDays(Liability.MaxPeriodDays), [])).Code);
    }

    private static readonly ReceiptRef Receipt = new("S1", "R1", 7, 2);

    [Fact]
    public void Accepting_the_report_applies_the_report_effect_less_the_online_effect_per_card()
    {
        // Online: 200.00 paid with money, 10.00 accrued. Report: 20.00 of bonuses, 9.00 accrued.
        var same = ShiftResolution.Movements(Receipt, ResolutionKind.AcceptReport, 0, null, new ReceiptEffect("C1", 0, 10_00), new ReceiptEffect("C1", 20_00, 9_00));
        var movement = Assert.Single(same);
        Assert.Equal(("C1", -21_00), (movement.CardNumber, movement.AmountKopecks));
        // The report names another card: the online card gives its effect back, the report's card takes the report's.
        var moved = ShiftResolution.Movements(Receipt, ResolutionKind.AcceptReport, 0, null, new ReceiptEffect("C1", 5_00, 10_00), new ReceiptEffect("C2", 0, 10_00));
        Assert.Equal([("C1", -5_00L), ("C2", 10_00L)], moved.Select(m => (m.CardNumber, m.AmountKopecks)));
        Assert.Equal(2, moved.Select(m => m.OperationId).Distinct().Count());
        // Online only (the report lacks it): the online effect is undone.
        var undone = Assert.Single(ShiftResolution.Movements(Receipt, ResolutionKind.AcceptReport, 0, null, new ReceiptEffect("C1", 3_00, 1_00), null));
        Assert.Equal(2_00, undone.AmountKopecks);
        Assert.Empty(ShiftResolution.Movements(Receipt, ResolutionKind.KeepOnline, 0, null, new ReceiptEffect("C1", 3_00, 1_00), null));
    }

    [Fact]
    public void The_operation_id_is_the_same_for_the_same_resolution_and_differs_otherwise()
    {
        var id = ShiftResolution.OperationIdFor(Receipt, ResolutionKind.Adjustment, 100, "till error");
        Assert.Equal(id, ShiftResolution.OperationIdFor(Receipt, ResolutionKind.Adjustment, 100, "till error"));
        Assert.NotEqual(id, ShiftResolution.OperationIdFor(Receipt, ResolutionKind.Adjustment, 101, "till error"));
        Assert.NotEqual(id, ShiftResolution.OperationIdFor(Receipt with { ReceiptNumber = 3 }, ResolutionKind.Adjustment, 100, "till error"));
        Assert.False(id.StartsWith("sys:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(ReceiptOutcome.Matched, ResolutionKind.KeepOnline, 0, null)]
    [InlineData(ReceiptOutcome.Mismatch, ResolutionKind.Adjustment, 0, "zero")]
    [InlineData(ReceiptOutcome.Mismatch, ResolutionKind.Adjustment, 100, null)]
    [InlineData(ReceiptOutcome.Mismatch, ResolutionKind.KeepOnline, 100, null)]
    [InlineData(ReceiptOutcome.NotApplied, ResolutionKind.AcceptReport, 0, null)]
    public void A_resolution_that_does_not_fit_the_receipt_is_refused(ReceiptOutcome outcome, ResolutionKind kind, long amount, string? reason)
    {
        Assert.Throws<CardException>(() => ShiftResolution.Validate(Receipt, outcome, kind, amount, reason));
    }
}
