using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

public class LineSplitterTests
{
    private static FiscalLine Line(long quantityMilli, long price, long amount, long discount, string unit = "piece") =>
        new("Товар", quantityMilli, price, amount, discount, VatRate.Vat20, MeasurementUnit: unit);

    [Fact]
    public void A_line_whose_discounted_amount_divides_by_its_quantity_stays_one_line()
    {
        var printed = LineSplitter.Split(0, Line(3000, 1000, 3000, 300));
        var line = Assert.Single(printed);
        Assert.Equal((3000L, 900L, 2700L, 300L), (line.QuantityMilli, line.PriceKopecks, line.AmountKopecks, line.DiscountKopecks));
    }

    [Fact]
    public void Three_pieces_for_1000_kopecks_split_into_two_pieces_at_333_and_one_at_334()
    {
        var printed = LineSplitter.Split(0, Line(3000, 500, 1500, 500));
        Assert.Equal(2, printed.Count);
        Assert.Equal((2000L, 333L, 666L), (printed[0].QuantityMilli, printed[0].PriceKopecks, printed[0].AmountKopecks));
        Assert.Equal((1000L, 334L, 334L), (printed[1].QuantityMilli, printed[1].PriceKopecks, printed[1].AmountKopecks));
        Assert.All(printed, line => Assert.Equal(0, line.ErrorMilliKopecks));
        Assert.Equal(500, printed.Sum(line => line.DiscountKopecks));
    }

    [Fact]
    public void B4_a_weighed_line_of_47_8_kg_with_12_kopecks_off_no_single_price_can_print_is_split_into_two_exact_lines()
    {
        // 47.800 kg × 21.99 = 1 051.122 → 105 112; 12 kop of bonuses leave 105 100, which neither 21.98 (105 064.4)
        // nor 21.99 (105 112.2) gives within a kopeck (field cases B4).
        var printed = LineSplitter.Split(0, Line(47800, 2199, 105112, 12, "kilogram"));
        Assert.Equal(2, printed.Count);
        Assert.Equal(105100, printed.Sum(line => line.AmountKopecks));
        Assert.Equal(47800, printed.Sum(line => line.QuantityMilli));
        Assert.Equal(12, printed.Sum(line => line.DiscountKopecks));
        Assert.All(printed, line => Assert.True(line.ErrorMilliKopecks <= 500, $"{line} is off by more than half a kopeck"));
        Assert.Equal((12200L, 2198L, 26816L), (printed[0].QuantityMilli, printed[0].PriceKopecks, printed[0].AmountKopecks));
        Assert.Equal((35600L, 2199L, 78284L), (printed[1].QuantityMilli, printed[1].PriceKopecks, printed[1].AmountKopecks));
    }

    [Fact]
    public void A_weighed_line_without_a_discount_keeps_its_price_within_the_registers_one_kopeck_allowance()
    {
        var line = Assert.Single(LineSplitter.Split(0, Line(47800, 2199, 105112, 0, "kilogram")));
        Assert.Equal((2199L, 105112L), (line.PriceKopecks, line.AmountKopecks));
        Assert.True(line.ErrorMilliKopecks <= LineSplitter.ToleranceMilliKopecks);
    }

    [Fact]
    public void Seeded_random_lines_always_print_their_exact_discounted_amount_within_the_allowance()
    {
        var random = new Random(20260302);
        for (var i = 0; i < 20_000; i++)
        {
            var weighed = random.Next(2) == 0;
            var quantity = weighed ? random.Next(1, 100_000) : random.Next(1, 50) * 1000L;
            var price = random.Next(1, 500_000);
            var amount = (long)Math.Round(price * (decimal)quantity / 1000m, MidpointRounding.AwayFromZero);
            var discount = amount == 0 ? 0 : random.NextInt64(0, amount + 1);
            var printed = LineSplitter.Split(0, Line(quantity, price, amount, discount));
            Assert.Equal(amount - discount, printed.Sum(p => p.AmountKopecks));
            Assert.Equal(quantity, printed.Sum(p => p.QuantityMilli));
            Assert.Equal(discount, printed.Sum(p => p.DiscountKopecks));
            Assert.InRange(printed.Count, 1, 2);
            Assert.All(printed, p => Assert.True(p.ErrorMilliKopecks <= (weighed ? LineSplitter.ToleranceMilliKopecks : 0), $"line {i}: {p}"));
            Assert.All(printed, p => Assert.True(p.QuantityMilli > 0 && p.PriceKopecks >= 0 && p.AmountKopecks >= 0));
        }
    }
}
