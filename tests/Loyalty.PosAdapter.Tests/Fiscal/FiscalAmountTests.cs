using System.Globalization;
using System.Text.Json.Nodes;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

public class FiscalAmountTests
{
    [Theory]
    [InlineData(1, "0.01")]
    [InlineData(2800, "28.00")]
    [InlineData(105600, "1056.00")]
    [InlineData(0, "0.00")]
    [InlineData(1_000_000_000_000, "10000000000.00")]
    public void Kopecks_become_roubles_with_a_dot_and_two_decimals_under_any_culture(long kopecks, string expected)
    {
        var russian = CultureScope.Under(CultureScope.RussianLike(), () => FiscalAmount.ToRoubles(kopecks).ToJsonString());
        var english = CultureScope.Under(CultureInfo.InvariantCulture, () => FiscalAmount.ToRoubles(kopecks).ToJsonString());
        Assert.Equal(expected, russian);
        Assert.Equal(expected, english);
    }

    [Theory]
    [InlineData("1499.00", 149900)]
    [InlineData("0.01", 1)]
    [InlineData("1056", 105600)]
    public void Roubles_from_ATOL_json_become_kopecks_exactly(string json, long expected)
    {
        Assert.Equal(expected, FiscalAmount.FromRoubles(JsonNode.Parse(json)));
    }

    [Fact]
    public void A_fraction_of_a_kopeck_from_ATOL_is_refused_rather_than_rounded()
    {
        Assert.Throws<FormatException>(() => FiscalAmount.FromRoubles(JsonNode.Parse("10.005")));
    }

    [Fact]
    public void Printed_text_uses_the_russian_decimal_comma_whatever_the_culture()
    {
        Assert.Equal("30,00", CultureScope.Under(CultureInfo.InvariantCulture, () => FiscalAmount.ForPrintedText(3000)));
    }
}
