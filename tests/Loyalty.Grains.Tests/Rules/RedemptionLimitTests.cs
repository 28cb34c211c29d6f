using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>How much a receipt may be paid with bonuses: the percent cap, the line minimum, exclusions, the balance.</summary>
public sealed class RedemptionLimitTests
{
    private static readonly ProgramSettings Program = R.Standard(); // 30 % cap, 100 kopecks stay on each line

    [Theory]
    [InlineData("grocery:10000", 3000)]                    // the percent cap binds
    [InlineData("grocery:10001", 3000)]                    // 3000.3 → 3000, rounded down
    [InlineData("grocery:10003", 3000)]                    // 3000.9 → 3000
    [InlineData("grocery:150,grocery:150", 90)]            // cap 90 < room 50 + 50 = 100
    [InlineData("grocery:120,dairy:130", 50)]              // room 20 + 30 = 50 < cap 75
    [InlineData("grocery:100", 0)]                         // a line at the minimum has no room
    [InlineData("grocery:99", 0)]                          // a line below the minimum has no room, not negative room
    [InlineData("grocery:99,grocery:1000", 329)]           // cap 329.7 → 329 < room 0 + 900
    [InlineData("tobacco:10000", 0)]                       // excluded categories cannot be paid with bonuses
    [InlineData("tobacco:10000,grocery:1000", 900)]        // the cap counts the whole receipt, the room only eligible lines
    [InlineData("alcohol:5000,tobacco:5000,dairy:600", 500)] // cap 3180 > room 500 of the one eligible line
    public void Redeem_capacity_is_the_lesser_of_the_percent_cap_and_the_room_in_eligible_lines(string receipt, long expected)
    {
        Assert.Equal(expected, ProgramRules.RedeemCapacity(Program, R.Parse(receipt)));
    }

    [Theory]
    [InlineData(0, 100, 0)]
    [InlineData(30, 0, 3000)]
    [InlineData(100, 0, 10000)]
    [InlineData(100, 100, 9900)]
    [InlineData(50, 100, 5000)]
    [InlineData(0, 0, 0)]
    public void Redeem_capacity_follows_the_programme_settings(int maxRedeemPercent, long minLine, long expected)
    {
        var program = Program with { MaxRedeemPercent = maxRedeemPercent, MinLineAmountKopecks = minLine };

        Assert.Equal(expected, ProgramRules.RedeemCapacity(program, R.Parse("grocery:10000")));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(-50, 0)]
    [InlineData(1, 1)]
    [InlineData(500, 500)]
    [InlineData(2999, 2999)]
    [InlineData(3000, 3000)]
    [InlineData(3001, 3000)]
    [InlineData(1_000_000, 3000)]
    public void MaxRedeem_is_bounded_by_the_available_balance(long available, long expected)
    {
        Assert.Equal(expected, ProgramRules.MaxRedeem(Program, R.Parse("grocery:10000"), available));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(500, 500)]
    [InlineData(10_000, 3000)]
    public void Quote_offers_at_most_what_the_card_holds(long balance, long expectedMax)
    {
        var card = new CardRun(Program);
        if (balance > 0) card.Adjust(balance);

        var quote = card.Quote(R.Parse("grocery:10000"), 10_000);

        Assert.Equal(expectedMax, quote.MaxRedeemKopecks);
        Assert.Equal(expectedMax, quote.RedeemKopecks);
        Assert.Equal(expectedMax, quote.LineDiscounts.Sum());
    }

    [Fact]
    public void Redeeming_more_than_the_percent_cap_is_refused_with_the_cap_named()
    {
        var card = new CardRun(Program);
        card.Adjust(10_000);
        var before = R.Snapshot(card.State);

        var ex = Assert.Throws<CardException>(() => card.Redeem(R.Parse("grocery:10000"), 3_001));

        Assert.Equal(CardErrorCode.LimitExceeded, ex.Code);
        Assert.Contains("at most 3000 kopecks", ex.Message);
        Assert.Equal(before, R.Snapshot(card.State));
    }

    [Fact]
    public void Redeeming_on_a_receipt_of_only_excluded_categories_is_refused()
    {
        var card = new CardRun(Program);
        card.Adjust(10_000);

        var ex = Assert.Throws<CardException>(() => card.Redeem(R.Parse("tobacco:5000,alcohol:5000"), 1));

        Assert.Equal(CardErrorCode.LimitExceeded, ex.Code);
        Assert.Contains("at most 0 kopecks", ex.Message);
    }

    [Fact]
    public void Redeeming_more_than_the_available_balance_is_refused_with_the_balance_named()
    {
        var card = new CardRun(Program);
        card.Adjust(1_000);

        var ex = Assert.Throws<CardException>(() => card.Redeem(R.Parse("grocery:10000"), 1_001));

        Assert.Equal(CardErrorCode.InsufficientBonuses, ex.Code);
        Assert.Contains("1000 kopecks available", ex.Message);
    }

    [Theory]
    [InlineData("grocery:500,grocery:300", 600, "400,200")]
    [InlineData("grocery:101,grocery:10000", 9901, "1,9900")]
    [InlineData("tobacco:5000,grocery:5000,dairy:1000", 5800, "0,4900,900")]
    [InlineData("tobacco:5000,grocery:5000,dairy:1000", 3000, "0,2500,500")]
    public void Every_line_keeps_its_minimum_and_excluded_lines_get_no_discount(string receipt, long amount, string expected)
    {
        var program = Program with { MaxRedeemPercent = 100 };
        var r = R.Parse(receipt);
        var card = new CardRun(program);
        card.Adjust(100_000);

        var hold = card.Redeem(r, amount);

        Assert.Equal(R.Longs(expected), hold.LineDiscounts);
        for (var i = 0; i < r.Lines.Count; i++)
        {
            if (ProgramRules.IsExcluded(program, r.Lines[i])) Assert.Equal(0, hold.LineDiscounts[i]);
            else Assert.True(r.Lines[i].AmountKopecks - hold.LineDiscounts[i] >= program.MinLineAmountKopecks);
        }
    }
}
