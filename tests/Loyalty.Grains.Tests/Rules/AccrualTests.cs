using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>What a receipt earns: category rates, exclusions, the part paid with money, rounding per line.</summary>
public sealed class AccrualTests
{
    private static readonly ProgramSettings Program = R.Standard();

    // Standard(): 5 % base, dairy 7 %, books 12.34 %, promo 0 %, tobacco and alcohol excluded.
    [Theory]
    [InlineData("grocery:10000", "500")]
    [InlineData("grocery:1999", "99")]                       // 99.95 → 99
    [InlineData("grocery:19,grocery:19", "0,0")]             // 0.95 each; a receipt-level rate would give 1
    [InlineData("grocery:39,grocery:39,grocery:39", "1,1,1")] // 1.95 each → 1 each, not floor(5.85) = 5
    [InlineData("dairy:1000", "70")]
    [InlineData("dairy:1001", "70")]                         // 70.07 → 70
    [InlineData("books:333", "41")]                          // 41.0922 → 41
    [InlineData("books:81", "9")]                            // 9.9954 → 9
    [InlineData("promo:100000", "0")]                        // a category rate of 0 earns nothing
    [InlineData("tobacco:50000", "0")]
    [InlineData("alcohol:12345,grocery:12345", "0,617")]     // 617.25 → 617
    [InlineData("grocery:1,dairy:14,books:8,tobacco:99999", "0,0,0,0")]
    [InlineData("grocery:0", "0")]
    [InlineData("grocery:1000000000000", "50000000000")]      // the largest line amount does not overflow
    public void Accrual_is_rounded_down_per_line(string receipt, string expectedPerLine)
    {
        var r = R.Parse(receipt);

        var accruals = ProgramRules.Accruals(Program, r, new long[r.Lines.Count]);

        Assert.Equal(R.Longs(expectedPerLine), accruals);
    }

    [Theory]
    [InlineData("grocery:19,grocery:19", 0)]
    [InlineData("grocery:1999,dairy:1001,books:333,tobacco:700", 99 + 70 + 41)]
    [InlineData("alcohol:12345,grocery:12345", 617)]
    public void A_committed_receipt_accrues_the_sum_of_its_rounded_lines(string receipt, long expected)
    {
        var card = new CardRun(Program);

        var result = card.Commit(R.Parse(receipt));

        Assert.Equal(expected, result.AccruedKopecks);
        Assert.Equal(expected, card.State.AvailableKopecks);
        Assert.Equal(expected, card.Receipts[R.Ref(1)].Accrued);
    }

    [Theory]
    [InlineData("grocery:10000", 500)]
    [InlineData("dairy:10000", 700)]
    [InlineData("books:10000", 1234)]
    [InlineData("promo:10000", 0)]
    [InlineData("tobacco:10000", 0)]
    public void A_category_rate_replaces_the_programme_rate(string receipt, int expectedRate)
    {
        var line = R.Parse(receipt).Lines[0];

        Assert.Equal(expectedRate, ProgramRules.AccrualRateBasisPoints(Program, line));
    }

    [Fact]
    public void An_excluded_category_earns_nothing_even_when_it_has_a_category_rate()
    {
        var program = Program with { CategoryRates = new Dictionary<string, int> { ["tobacco"] = 1000 } };

        var accruals = ProgramRules.Accruals(program, R.Parse("tobacco:10000,grocery:10000"), [0, 0]);

        Assert.Equal([0L, 500L], accruals);
    }

    // Discounts are what bonuses paid of each line; only the rest earns.
    [Theory]
    [InlineData("grocery:10000", "3000", "350")]
    [InlineData("grocery:10000", "9900", "5")]
    [InlineData("grocery:10000,dairy:5000", "2000,1001", "400,279")]   // 3999 × 7 % = 279.93 → 279
    [InlineData("grocery:1999,grocery:1999", "1,0", "99,99")]           // 1998 × 5 % = 99.9 → 99
    [InlineData("grocery:2000,grocery:2000", "1,0", "99,100")]          // 1999 × 5 % = 99.95 → 99
    [InlineData("grocery:500", "500", "0")]
    public void No_accrual_on_the_part_paid_with_bonuses(string receipt, string discounts, string expectedPerLine)
    {
        var accruals = ProgramRules.Accruals(Program, R.Parse(receipt), R.Longs(discounts));

        Assert.Equal(R.Longs(expectedPerLine), accruals);
    }

    [Fact]
    public void A_receipt_paid_partly_with_bonuses_earns_only_on_the_money_part()
    {
        var card = new CardRun(Program);
        card.Adjust(10_000);
        var receipt = R.Parse("grocery:10000");

        var hold = card.Redeem(receipt, 3_000);
        var result = card.Commit(receipt, hold.HoldId);

        Assert.Equal(3_000, result.RedeemedKopecks);
        Assert.Equal(350, result.AccruedKopecks);                   // 7000 × 5 %
        Assert.Equal(10_000 - 3_000 + 350, card.State.BalanceKopecks);
        Assert.Equal(10_000 - 3_000 + 350, card.State.AvailableKopecks);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Quote_predicts_the_same_spread_and_accrual_as_redeem_and_commit()
    {
        var card = new CardRun(Program);
        card.Adjust(10_000);
        var receipt = R.Parse("grocery:7001,dairy:3333,tobacco:5000,books:999");

        var quote = card.Quote(receipt, 2_500);
        var hold = card.Redeem(receipt, quote.RedeemKopecks);
        var commit = card.Commit(receipt, hold.HoldId);

        Assert.Equal(2_500, quote.RedeemKopecks);
        Assert.Equal(quote.LineDiscounts, hold.LineDiscounts);
        Assert.Equal(quote.AccrualKopecks, commit.AccruedKopecks);
        Assert.Equal(quote.LineAccruals, card.Receipts[receipt.Ref].Lines.Select(l => l.AccrualKopecks));
    }
}
