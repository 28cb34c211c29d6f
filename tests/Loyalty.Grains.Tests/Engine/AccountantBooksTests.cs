using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>
/// The accountant's books against real PostgreSQL: the daily summary kept by the ledger trigger
/// equals the ledger under concurrent group commits, statements over several days chain (one
/// period's closing is the next one's opening) and tie to the cards, and a resolution applies once.
/// </summary>
public sealed class AccountantBooksTests : EngineTestBase
{
    private AccountantBooks Books => new(Cards, Clock);

    protected override ProgramSettings Program => base.Program with { AccrualDelayDays = 2, ExpiryDays = 3 };

    private static DateOnly BookDay(DateTimeOffset at) => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(at, AccountantBooks.BookZone).DateTime);

    [Fact]
    public async Task The_daily_summary_equals_the_ledger_after_concurrent_writes_on_many_cards()
    {
        var cards = new List<ICardGrain>();
        for (var i = 0; i < 40; i++) cards.Add(await IssueWithBalanceAsync($"71{i:D5}", 500_00));
        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            var card = cards[i % cards.Count];
            var receipt = ReceiptOf(1000 + i, 30_00, 20_00);
            var hold = await card.RedeemAsync($"sum-hold-{i}", receipt, 5_00);
            await card.CommitAsync($"sum-commit-{i}", receipt, hold.HoldId);
        });
        Assert.Empty(await Books.VerifySummaryAsync());
        var today = BookDay(Clock.GetUtcNow());
        var report = await Books.LiabilityAsync(today, today);
        Assert.True(report.Statement.RollsForward);
        Assert.True(report.TiesToCards);
        Assert.Equal(400 * 5_00, report.Statement.Total.RedeemedOnlineKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Statements_of_consecutive_periods_chain_and_pending_releases_and_expiry_land_on_their_days()
    {
        var card = await IssueWithBalanceAsync("7200001", 100_00);
        var receipt = ReceiptOf(1, 200_00);
        await card.CommitAsync("chain-commit", receipt, null);          // 10.00 accrued, pending for 2 days
        var day1 = BookDay(Clock.GetUtcNow());
        Clock.Advance(TimeSpan.FromDays(5));                             // released on day 3; the adjustment's 100.00 burns on day 4, the released 10.00 on day 6 (now)
        await card.GetAsync();
        await card.AdjustAsync("chain-touch", 1_00, "touch", "test");    // the card's next write records what time did
        var day6 = BookDay(Clock.GetUtcNow());

        var first = await Books.LiabilityAsync(day1, day1.AddDays(2));
        var second = await Books.LiabilityAsync(day1.AddDays(3), day6);
        Assert.Equal(first.Statement.Total.ClosingKopecks, second.Statement.Total.OpeningKopecks);
        Assert.Equal(first.Statement.Total.PendingClosingKopecks, second.Statement.Total.PendingOpeningKopecks);
        Assert.Equal(10_00, first.Statement.Total.PendingAccruedKopecks);
        Assert.Equal(10_00, first.Statement.Total.ReleasedKopecks);
        Assert.Equal(110_00, second.Statement.Total.ExpiredKopecks);
        Assert.True(first.Statement.RollsForward && second.Statement.RollsForward);
        Assert.Null(first.Cards);                                        // a past period is not tied to today's cards
        Assert.True(second.TiesToCards);
        Assert.Equal(second.Statement.Total.ClosingKopecks, second.Daily[^1].LiabilityKopecks);
        Assert.Empty(await Books.VerifySummaryAsync());
    }

    [Fact]
    public async Task A_resolution_applies_once_another_is_refused_and_a_refused_movement_leaves_the_receipt_unresolved()
    {
        var shift = new ShiftKey("store1", "reg1", 21);
        var card = await IssueWithBalanceAsync("7300001", 100_00);
        var poor = await IssueWithBalanceAsync("7300002", 0);
        await card.CommitAsync("res-online-1", new Receipt(shift.Receipt(1), [new ReceiptLine("A", "food", "A", 1000, 100_00, 100_00)]), null);
        await poor.CommitAsync("res-online-2", new Receipt(shift.Receipt(2), [new ReceiptLine("A", "food", "A", 1000, 100_00, 100_00)]), null);
        await new ShiftReconciler(Cards, Clock).UploadAsync(new ShiftReportData(shift, Clock.GetUtcNow(), true, "csv", "d",
        [
            new ReportedReceipt(1, ReportedReceiptKind.Sale, "7300001", [new ReportedLine("A", "food", "A", 1000, 100_00, 100_00, 30_00)]),
            new ReportedReceipt(2, ReportedReceiptKind.Sale, "7300002", [new ReportedLine("A", "food", "A", 1000, 100_00, 100_00, 30_00)]),
        ]));
        var before = (await card.GetAsync()).BalanceKopecks;

        var first = await Books.ResolveAsync(shift, 1, ResolutionKind.AcceptReport, 0, null, "Мария");
        var again = await Books.ResolveAsync(shift, 1, ResolutionKind.AcceptReport, 0, null, "Мария");
        Assert.False(first.Repeated);
        Assert.True(again.Repeated);
        // Online: 5.00 accrued on 100.00. Report: 30.00 of bonuses, 3.50 accrued on the 70.00 paid with money.
        Assert.Equal(before - 30_00 + 3_50 - 5_00, (await card.GetAsync()).BalanceKopecks);
        var other = await RefusedAsync(CardErrorCode.AlreadyResolved, () => Books.ResolveAsync(shift, 1, ResolutionKind.KeepOnline, 0, null, "Пётр"));
        Assert.Contains("Мария", other.Message);

        // Card 7300002 has only its pending 5.00: taking 31.50 back is refused, and the receipt stays open for another resolution.
        await RefusedAsync(CardErrorCode.InsufficientBonuses, () => Books.ResolveAsync(shift, 2, ResolutionKind.AcceptReport, 0, null, "Мария"));
        await Books.ResolveAsync(shift, 2, ResolutionKind.KeepOnline, 0, null, "Мария");
        var detail = await Books.GetShiftAsync(shift);
        Assert.Equal(ShiftState.Settled, detail!.Summary.State);
        Assert.Equal(2, detail.Resolutions.Count);
        Assert.Single(detail.Movements);
        Assert.Equal("Мария", detail.Movements[0].Actor);
        await AssertInvariantsHoldAsync();
    }
}
