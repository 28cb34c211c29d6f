using Loyalty.PosAdapter;

namespace Loyalty.PosAdapter.Tests;

public class MoneyTests
{
    [Theory]
    [InlineData("150.50", 15050)]
    [InlineData("150.5", 15050)]
    [InlineData("150", 15000)]
    [InlineData("0.01", 1)]
    [InlineData("0", 0)]
    [InlineData("-10.25", -1025)]
    [InlineData("007.10", 710)]
    [InlineData("10000000000", 1_000_000_000_000)]
    public void Roubles_are_parsed_exactly_to_kopecks(string text, long expectedKopecks)
    {
        Assert.Equal(expectedKopecks, Money.ParseRoubles(text));
    }

    [Fact]
    public void A_comma_is_accepted_as_the_decimal_separator()
    {
        Assert.Equal(15050, Money.ParseRoubles("150,50"));
    }

    [Fact]
    public void Amount_with_three_decimals_is_refused()
    {
        var error = Assert.Throws<FormatException>(() => Money.ParseRoubles("1.234"));
        Assert.Contains("more than 2 decimals", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("abc")]
    [InlineData("1.")]
    [InlineData(".5")]
    [InlineData("1e3")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("+5")]
    [InlineData("1.2.3")]
    [InlineData("1,000.00")]
    [InlineData("١٢")] // Arabic-Indic digits are digits to char.IsDigit, not to an amount.
    [InlineData("NaN")]
    public void Text_that_is_not_an_amount_is_refused(string text)
    {
        Assert.False(Money.TryParseRoubles(text, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Theory]
    [InlineData("10000000000.01")]
    [InlineData("99999999999999999999999999")]
    [InlineData("-10000000001")]
    public void Amount_above_the_servers_limit_is_refused_without_overflow(string text)
    {
        Assert.False(Money.TryParseRoubles(text, out _, out var error));
        Assert.Contains("larger than the limit", error);
    }

    [Theory]
    [InlineData(15050, "150.50")]
    [InlineData(0, "0.00")]
    [InlineData(1, "0.01")]
    [InlineData(-5, "-0.05")]
    [InlineData(-15050, "-150.50")]
    [InlineData(100, "1.00")]
    public void Kopecks_are_shown_as_roubles_with_two_decimals(long kopecks, string expected)
    {
        Assert.Equal(expected, Money.Format(kopecks));
    }

    [Fact]
    public void The_smallest_long_is_formatted_without_overflow()
    {
        Assert.Equal("-92233720368547758.08", Money.Format(long.MinValue));
    }

    [Fact]
    public void Formatting_and_parsing_round_trip()
    {
        foreach (var kopecks in new long[] { 0, 1, 99, 100, 101, -1, -99, 123_456_789, -1_000_000_000_000 })
        {
            Assert.Equal(kopecks, Money.ParseRoubles(Money.Format(kopecks)));
        }
    }
}
