using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>How a redemption is spread over the receipt's lines as discounts.</summary>
public sealed class DiscountSpreadTests
{
    private static ProgramSettings ProgramNamed(string name) => name switch
    {
        "all" => R.PayAll(),                                    // no cap, no minimum, no exclusions
        "min100" => R.Standard() with { MaxRedeemPercent = 100 }, // 100 kopecks stay on each line, tobacco excluded
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    // Proportional to line amounts, rounded down; the kopecks left go one each to the largest remainders, ties to the earlier line.
    [Theory]
    [InlineData("all", "x:100,x:100,x:100", 100, "34,33,33")]     // equal remainders: the earliest line gets the kopeck
    [InlineData("all", "x:100,x:100,x:100", 2, "1,1,0")]
    [InlineData("all", "x:7,x:7,x:7", 20, "7,7,6")]
    [InlineData("all", "x:1,x:1,x:1,x:1", 3, "1,1,1,0")]
    [InlineData("all", "x:100,x:200", 100, "33,67")]                // 33.33 / 66.67: the larger remainder wins
    [InlineData("all", "x:200,x:100,x:100", 3, "1,1,1")]            // remainders 0.5, 0.75, 0.75: the later lines win over the first
    [InlineData("all", "x:300,x:100,x:100", 7, "4,2,1")]            // 4.2, 1.4, 1.4: tie between 2 and 3 goes to 2
    [InlineData("all", "x:999,x:1", 1, "1,0")]
    [InlineData("all", "x:1,x:999", 1, "0,1")]
    [InlineData("all", "x:1000,x:2000,x:3000", 600, "100,200,300")] // exact shares need no rounding
    [InlineData("all", "x:5,x:3", 8, "5,3")]                        // the whole receipt
    [InlineData("all", "x:100,x:100,x:100", 0, "0,0,0")]
    [InlineData("all", "x:0,x:100", 50, "0,50")]                    // a zero line takes nothing
    [InlineData("min100", "tobacco:1000,grocery:1000,grocery:1000", 501, "0,251,250")]
    [InlineData("min100", "grocery:150,grocery:1000,grocery:1000", 1000, "50,475,475")] // the first line is full at 50; the rest goes to the others
    [InlineData("min100", "grocery:500,grocery:300", 600, "400,200")]
    public void Discount_is_spread_by_largest_remainder_with_ties_to_the_earlier_line(string program, string receipt, long amount, string expected)
    {
        var discounts = ProgramRules.SpreadDiscount(ProgramNamed(program), R.Parse(receipt), amount);

        Assert.Equal(R.Longs(expected), discounts);
    }

    [Fact]
    public void Spread_is_deterministic_for_the_same_receipt()
    {
        var program = ProgramNamed("min100");
        const string spec = "grocery:7001,dairy:3333,tobacco:5000,books:999,grocery:12345,dairy:101";

        var first = ProgramRules.SpreadDiscount(program, R.Parse(spec), 9_999);
        var second = ProgramRules.SpreadDiscount(program, R.Parse(spec), 9_999);

        Assert.Equal(first, second);
        Assert.Equal(9_999, first.Sum());
    }

    [Fact]
    public void Spread_refuses_more_than_the_lines_can_take()
    {
        Assert.Throws<InvalidOperationException>(() =>
            ProgramRules.SpreadDiscount(ProgramNamed("min100"), R.Parse("grocery:500,grocery:300"), 601));
    }

    [Fact]
    public void Spread_sums_to_the_amount_and_stays_within_each_lines_room_for_random_receipts()
    {
        var random = new Random(20250301);
        for (var n = 0; n < 2_000; n++)
        {
            var (program, receipt) = RandomCase(random);
            var capacity = ProgramRules.RedeemCapacity(program, receipt);
            var amount = random.Next(4) == 0 ? capacity : random.NextInt64(0, capacity + 1);

            var discounts = ProgramRules.SpreadDiscount(program, receipt, amount);

            var context = $"case {n}: amount {amount}, lines {string.Join(",", receipt.Lines.Select(l => $"{l.Category}:{l.AmountKopecks}"))}, min {program.MinLineAmountKopecks}";
            Assert.True(discounts.Sum() == amount, $"{context}: sum {discounts.Sum()}");
            for (var i = 0; i < discounts.Length; i++)
            {
                var room = ProgramRules.LineRedeemRoom(program, receipt.Lines[i]);
                Assert.True(discounts[i] >= 0 && discounts[i] <= room, $"{context}: line {i + 1} got {discounts[i]}, room {room}");
            }
            Assert.Equal(discounts, ProgramRules.SpreadDiscount(program, receipt, amount));
        }
    }

    [Fact]
    public void Spread_without_line_minimums_equals_the_textbook_largest_remainder_for_random_receipts()
    {
        var random = new Random(777);
        var program = ProgramNamed("all");
        for (var n = 0; n < 2_000; n++)
        {
            var count = random.Next(1, 25);
            var amounts = Enumerable.Range(0, count).Select(_ => RandomAmount(random)).ToArray();
            var receipt = R.Receipt(1, amounts.Select((a, i) => R.Line($"L{i + 1}", "grocery", a)).ToArray());
            var total = amounts.Sum();
            var amount = random.NextInt64(0, total + 1);

            var discounts = ProgramRules.SpreadDiscount(program, receipt, amount);

            Assert.True(LargestRemainder(amounts, amount).SequenceEqual(discounts),
                $"case {n}: amount {amount} over {string.Join(",", amounts)} gave {string.Join(",", discounts)}, expected {string.Join(",", LargestRemainder(amounts, amount))}");
        }
    }

    /// <summary>Hamilton's method, written independently: floors, then one kopeck each by largest remainder, ties to the earlier line.</summary>
    private static long[] LargestRemainder(long[] weights, long amount)
    {
        Int128 total = 0;
        foreach (var w in weights) total += w;
        var result = new long[weights.Length];
        if (amount == 0) return result;
        var remainders = new Int128[weights.Length];
        long given = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            var exact = (Int128)amount * weights[i];
            result[i] = (long)(exact / total);
            remainders[i] = exact % total;
            given += result[i];
        }
        var order = Enumerable.Range(0, weights.Length).OrderByDescending(i => remainders[i]).ThenBy(i => i).ToArray();
        for (var k = 0; k < amount - given; k++) result[order[k]]++;
        return result;
    }

    private static long RandomAmount(Random random) => random.Next(10) switch
    {
        0 => 0,
        < 5 => random.NextInt64(1, 1_000),
        < 9 => random.NextInt64(1, 10_000_000),
        _ => random.NextInt64(1, Limits.MaxAmountKopecks + 1),
    };

    private static (ProgramSettings, Receipt) RandomCase(Random random)
    {
        var program = R.Standard() with
        {
            MaxRedeemPercent = random.Next(3) == 0 ? 100 : random.Next(0, 101),
            MinLineAmountKopecks = new long[] { 0, 1, 100, 500, 10_000 }[random.Next(5)],
        };
        var categories = new[] { "grocery", "grocery", "dairy", "books", "tobacco" };
        var count = random.Next(1, 31);
        var lines = Enumerable.Range(0, count)
            .Select(i => R.Line($"L{i + 1}", categories[random.Next(categories.Length)], RandomAmount(random)))
            .ToArray();
        return (program, R.Receipt(1, lines));
    }
}
