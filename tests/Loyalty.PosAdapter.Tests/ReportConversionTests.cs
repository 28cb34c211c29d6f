using Loyalty.PosAdapter.Cli;
using Loyalty.PosAdapter.Formats;

namespace Loyalty.PosAdapter.Tests;

/// <summary>A register's report as the Exchange service takes it: bonuses per line whichever shape the register used.</summary>
public sealed class ReportConversionTests
{
    private static ReportReceipt Receipt(ReportLine[] lines, params ReportPayment[] payments) =>
        new(1, ReceiptKind.Sale, "0001", new DateTime(2026, 7, 6, 21, 0, 0), lines, payments, null, 1);

    [Fact]
    public void Bonuses_paid_as_a_payment_type_are_spread_over_the_lines_and_sum_exactly()
    {
        var receipt = Receipt([new ReportLine("A", "", 1000, 100_00, 100_00, 0), new ReportLine("B", "", 1000, 33_33, 33_33, 0), new ReportLine("C", "", 1000, 1_01, 1_01, 0)],
            new ReportPayment("1", 100_00, false), new ReportPayment("9", 34_34, true));

        var bonuses = ReportConversion.LineBonuses(receipt);

        Assert.Equal(34_34, bonuses.Sum());
        Assert.All(bonuses.Zip(receipt.Lines), pair => Assert.InRange(pair.First, 0, pair.Second.AmountKopecks));
    }

    [Fact]
    public void Line_discounts_are_kept_as_the_register_gave_them()
    {
        var receipt = Receipt([new ReportLine("A", "", 1000, 100_00, 100_00, 20_00)], new ReportPayment("1", 80_00, false));

        Assert.Equal([20_00L], ReportConversion.LineBonuses(receipt));
    }

    [Fact]
    public void A_return_names_its_sale_only_when_it_was_made_on_the_same_register()
    {
        var report = new ShiftReport("S", "R1", 1, 7, default, default, RegisterFormat.Frontol, "digest", true, null, null, null,
        [
            new ReportReceipt(2, ReceiptKind.Return, "0001", default, [new ReportLine("A", "", 1000, 1_00, 1_00, 0)], [], new ReceiptReference(1, 6, 40), 2),
            new ReportReceipt(3, ReceiptKind.Return, "0001", default, [new ReportLine("A", "", 1000, 1_00, 1_00, 0)], [], new ReceiptReference(2, 6, 41), 3),
        ]);

        var wire = ReportConversion.ToWire(report, "goods");

        Assert.Equal(("S", "R1", 6L, 40L), (wire.Receipts[0].Original.StoreId, wire.Receipts[0].Original.RegisterId, wire.Receipts[0].Original.ShiftNumber, wire.Receipts[0].Original.ReceiptNumber));
        Assert.Null(wire.Receipts[1].Original);
        Assert.All(wire.Receipts.SelectMany(r => r.Lines), l => Assert.Equal("goods", l.Category));
    }
}
