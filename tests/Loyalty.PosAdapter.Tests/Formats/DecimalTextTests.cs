using Loyalty.PosAdapter.Formats;

namespace Loyalty.PosAdapter.Tests.Formats;

public class DecimalTextTests
{
    [Theory]
    [InlineData("36,17", 3617)]          // Frontol's decimal comma (field-cases A3)
    [InlineData("36.17", 3617)]          // Кассир's dot
    [InlineData("66", 6600)]
    [InlineData("3.00", 300)]
    [InlineData("1500.00", 150000)]
    [InlineData("0,5", 50)]
    [InlineData("44.000", 4400)]         // digits past the kopeck that are zeros are fine
    [InlineData("007,10", 710)]
    [InlineData("-0,05", -5)]
    public void Decimal_text_with_either_separator_is_read_exactly_as_kopecks(string text, long kopecks)
    {
        Assert.True(DecimalText.TryParse(text, DecimalText.KopeckScale, out var value));
        Assert.Equal(kopecks, value);
    }

    [Theory]
    [InlineData("0,548", 548)]
    [InlineData("44.000", 44000)]
    [InlineData("1", 1000)]
    [InlineData("2,5", 2500)]
    public void Quantities_are_read_exactly_as_thousandths(string text, long milli)
    {
        Assert.True(DecimalText.TryParse(text, DecimalText.MilliScale, out var value));
        Assert.Equal(milli, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("1.005")]               // a fraction of a kopeck is refused, not rounded
    [InlineData("1,000.00")]            // thousands separators are not amounts
    [InlineData("1 000,00")]
    [InlineData(" 1")]
    [InlineData("1e3")]
    [InlineData("1.")]
    [InlineData(",5")]
    [InlineData("NaN")]
    [InlineData("1234567890123456")]   // more than 15 integer digits
    public void Text_that_is_not_an_exact_amount_is_refused(string text)
    {
        Assert.False(DecimalText.TryParse(text, DecimalText.KopeckScale, out _));
    }

    [Theory]
    [InlineData(3617, 2, '.', "36.17")]
    [InlineData(5, 2, ',', "0,05")]
    [InlineData(-5, 2, '.', "-0.05")]
    [InlineData(548, 3, ',', "0,548")]
    [InlineData(long.MinValue, 2, '.', "-92233720368547758.08")]
    public void Scaled_integers_are_formatted_with_the_separator_asked_for(long value, int scale, char separator, string text)
    {
        Assert.Equal(text, DecimalText.Format(value, scale, separator));
    }
}
