using System.Globalization;
using System.Text.Json.Nodes;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

public class AtolReceiptMapperTests
{
    internal static FiscalReceipt R500() => new()
    {
        ReceiptKey = "R-500",
        Lines = [new FiscalLine("Вода 19 л", 1000, 2800, 2800, 0, VatRate.None)],
        Payments = [new FiscalPayment(FiscalPaymentType.Cash, 2800)],
        TaxationType = "usnIncome",
    };

    [Fact]
    public void B5_a_28_rouble_cash_sale_is_sent_as_28_00_roubles_in_price_amount_payment_and_total_byte_identical_under_any_culture()
    {
        const string expected =
            """{"type":"sell","taxationType":"usnIncome","electronically":false,"ignoreNonFiscalPrintErrors":false,"items":[{"type":"position","name":"Вода 19 л","price":28.00,"quantity":1,"amount":28.00,"department":1,"measurementUnit":"piece","paymentMethod":"fullPayment","paymentObject":"commodity","tax":{"type":"none"}}],"payments":[{"type":"cash","sum":28.00}],"total":28.00}""";
        var options = new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var russian = CultureScope.Under(CultureScope.RussianLike(), () => AtolReceiptMapper.Map(R500()).Task.ToJsonString(options));
        var invariant = CultureScope.Under(CultureInfo.InvariantCulture, () => AtolReceiptMapper.Map(R500()).Task.ToJsonString(options));
        Assert.Equal(expected, russian);
        Assert.Equal(expected, invariant);
    }

    [Fact]
    public void B5_a_payment_mapper_that_multiplies_by_100_is_stopped_by_the_pre_send_guard()
    {
        var buggy = new FiscalMappingOptions { PaymentSumToJson = kopecks => FiscalAmount.ToRoubles(kopecks * 100) };
        var error = Assert.Throws<FiscalReceiptException>(() => AtolReceiptMapper.Map(R500(), buggy));
        Assert.Contains("payments sum to 2800.00", error.Message);
    }

    [Fact]
    public void C3_a_3000_kopeck_bonus_on_a_10000_line_prints_price_and_amount_70_00_with_vat_11_67_and_no_counter_provision()
    {
        var receipt = new FiscalReceipt
        {
            ReceiptKey = "C3",
            Lines = [new FiscalLine("Кофе", 1000, 10000, 10000, 3000, VatRate.Vat20)],
            Payments = [new FiscalPayment(FiscalPaymentType.Electronically, 7000)],
        };
        var task = AtolReceiptMapper.Map(receipt);
        var item = task.Task["items"]![0]!;
        Assert.Equal("70.00", item["price"]!.ToJsonString());
        Assert.Equal("70.00", item["amount"]!.ToJsonString());
        Assert.Equal("30.00", item["infoDiscountAmount"]!.ToJsonString());
        Assert.Equal("""{"type":"vat20","sum":11.67}""", item["tax"]!.ToJsonString());
        Assert.Equal(1167, AtolReceiptMapper.VatKopecks(7000, VatRate.Vat20));
        Assert.Equal("""[{"type":"electronically","sum":70.00}]""", task.Task["payments"]!.ToJsonString());
        Assert.Equal("Скидка (бонусы) 30,00", (string?)task.Task["items"]![1]!["text"]);
        Assert.Equal(7000, task.TotalKopecks);
    }

    [Fact]
    public void C3_bonuses_both_as_a_line_discount_and_as_a_counter_provision_payment_are_refused_before_sending()
    {
        var receipt = new FiscalReceipt
        {
            ReceiptKey = "C3-double",
            Lines = [new FiscalLine("Кофе", 1000, 10000, 10000, 3000, VatRate.Vat20)],
            Payments = [new FiscalPayment(FiscalPaymentType.Electronically, 7000), new FiscalPayment(FiscalPaymentType.Other, 3000)],
        };
        var error = Assert.Throws<FiscalReceiptException>(() => AtolReceiptMapper.Map(receipt));
        Assert.Contains("must be equal", error.Message);
    }

    [Fact]
    public void B4_the_engines_spread_of_12_kopecks_onto_the_weighed_line_prints_as_three_exact_lines_summing_to_the_money_paid()
    {
        var receipt = new FiscalReceipt
        {
            ReceiptKey = "B4",
            Lines =
            [
                new FiscalLine("Сыр весовой", 47800, 2199, 105112, 12, VatRate.Vat10, MeasurementUnit: "kilogram"),
                new FiscalLine("Хлеб", 1000, 500, 500, 0, VatRate.Vat10),
            ],
            Payments = [new FiscalPayment(FiscalPaymentType.Cash, 105600)],
        };
        var task = AtolReceiptMapper.Map(receipt);
        Assert.Equal(105600, task.TotalKopecks);
        Assert.Equal(3, task.Lines.Count);
        Assert.All(task.Lines, line => Assert.True(line.ErrorMilliKopecks <= 500));
        Assert.Equal(12, task.Lines.Sum(line => line.DiscountKopecks));
        var positions = task.Task["items"]!.AsArray().Where(i => (string?)i!["type"] == "position").ToList();
        Assert.Equal(["12.2", "35.6", "1"], positions.Select(p => p!["quantity"]!.ToJsonString()));
        Assert.Equal(105600, positions.Sum(p => FiscalAmount.FromRoubles(p!["amount"])));
        Assert.Equal("1056.00", task.Task["total"]!.ToJsonString());
    }

    [Fact]
    public void B4_the_field_cases_expected_spread_12_kopecks_on_the_piece_line_prints_unsplit_at_488()
    {
        var receipt = new FiscalReceipt
        {
            ReceiptKey = "B4-alt",
            Lines =
            [
                new FiscalLine("Сыр весовой", 47800, 2199, 105112, 0, VatRate.Vat10, MeasurementUnit: "kilogram"),
                new FiscalLine("Хлеб", 1000, 500, 500, 12, VatRate.Vat10),
            ],
            Payments = [new FiscalPayment(FiscalPaymentType.Cash, 105600)],
        };
        var task = AtolReceiptMapper.Map(receipt);
        Assert.Equal(2, task.Lines.Count);
        Assert.Equal((2199L, 105112L), (task.Lines[0].PriceKopecks, task.Lines[0].AmountKopecks));
        Assert.Equal((488L, 488L), (task.Lines[1].PriceKopecks, task.Lines[1].AmountKopecks));
        Assert.Equal(105600, task.TotalKopecks);
    }

    [Fact]
    public void Bonuses_spread_over_several_lines_print_each_line_exactly_and_the_lines_sum_to_the_money_paid()
    {
        // 3 pieces at 99.90 with 10.01 off and 2 at 45.50 with 4.99 off: neither 29 969 nor 8 601 divides by its pieces.
        var receipt = new FiscalReceipt
        {
            ReceiptKey = "exact",
            Lines =
            [
                new FiscalLine("Молоко", 3000, 9990, 29970, 1001, VatRate.Vat10),
                new FiscalLine("Хлеб", 2000, 4550, 9100, 499, VatRate.Vat10),
            ],
            Payments = [new FiscalPayment(FiscalPaymentType.Electronically, 37570)],
        };
        var task = AtolReceiptMapper.Map(receipt);
        Assert.All(task.Lines, line => Assert.Equal(0, line.ErrorMilliKopecks));
        Assert.Equal(37570, task.Lines.Sum(line => line.AmountKopecks));
        Assert.Equal(1500, task.Lines.Sum(line => line.DiscountKopecks));
        Assert.Equal(4, task.Lines.Count);
        Assert.Equal([(2000L, 9656L), (1000L, 9657L), (1000L, 4300L), (1000L, 4301L)], task.Lines.Select(l => (l.QuantityMilli, l.PriceKopecks)));
    }

    [Fact]
    public void Payments_short_of_the_lines_are_refused_before_sending()
    {
        var receipt = R500() with { Payments = [new FiscalPayment(FiscalPaymentType.Cash, 2700)] };
        Assert.Throws<FiscalReceiptException>(() => AtolReceiptMapper.Map(receipt));
    }

    [Fact]
    public void A_sale_return_maps_to_the_sellReturn_task()
    {
        var task = AtolReceiptMapper.Map(R500() with { Operation = FiscalOperation.SellReturn });
        Assert.Equal("sellReturn", (string?)task.Task["type"]);
    }

    [Fact]
    public void Buyer_name_and_a_valid_inn_go_into_clientInfo_and_an_invalid_inn_is_left_out_with_a_note()
    {
        var valid = AtolReceiptMapper.Map(R500() with { Customer = new FiscalCustomer(Name: "ООО Ромашка", Inn: "7707083893") });
        Assert.Equal("""{"name":"ООО Ромашка","vatin":"7707083893"}""", valid.Task["clientInfo"]!.ToJsonString(new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        var invalid = AtolReceiptMapper.Map(R500() with { Customer = new FiscalCustomer(Name: "ООО Ромашка", Inn: "7707083894") });
        Assert.Null(invalid.Task["clientInfo"]!["vatin"]);
        Assert.Contains(invalid.Notes, note => note.Contains("7707083894"));
    }

    [Fact]
    public void C1_an_electronic_only_receipt_without_a_valid_contact_is_printed_on_paper_with_a_note()
    {
        var task = AtolReceiptMapper.Map(R500() with { ElectronicOnly = true, Customer = new FiscalCustomer(Email: "ivan.petrov@example") });
        Assert.False((bool)task.Task["electronically"]!);
        Assert.Null(task.Task["clientInfo"]);
        Assert.Contains(task.Notes, note => note.Contains("Contact rejected"));
        Assert.Contains(task.Notes, note => note.Contains("printed on paper"));
    }

    [Fact]
    public void An_electronic_only_receipt_with_a_valid_phone_goes_out_electronically_to_that_phone()
    {
        var task = AtolReceiptMapper.Map(R500() with
        {
            ElectronicOnly = true,
            Customer = new FiscalCustomer(Delivery: new DeliveryAddress(null, ["8 (912) 345-67-89"])),
        });
        Assert.True((bool)task.Task["electronically"]!);
        Assert.Equal("+79123456789", (string?)task.Task["clientInfo"]!["emailOrPhone"]);
    }
}
