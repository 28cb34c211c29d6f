using System.Security.Cryptography;
using Loyalty.PosAdapter.Formats;

namespace Loyalty.PosAdapter.Tests.Formats;

public sealed class SalesReportGoldenTests : IDisposable
{
    private readonly FormatTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static readonly ReportReadOptions Frontol = new()
    {
        LineDiscountsAreBonuses = true,
        StoreId = "MSK-01",
        RegisterId = "R1",
        RegisterNumber = 1,
        EnterpriseCode = "1",
        BonusPaymentTypeCodes = new HashSet<string> { "9" },
    };

    private static readonly ReportReadOptions Kassir = new() { StoreId = "MSK-01", RegisterId = "R13", RegisterNumber = 13 };

    private static ShiftReport ReadFrontol() => FrontolReportReader.Read(FormatTestFiles.Golden("frontol-report-shift466.txt"), Frontol);

    private static ReportReceipt Receipt(ShiftReport report, long number) => Assert.Single(report.Receipts, receipt => receipt.Number == number);

    [Fact]
    public void The_frontol_golden_report_reads_as_one_closed_shift_with_its_digest()
    {
        var report = ReadFrontol();

        Assert.Equal(("MSK-01", "R1", 1L, 466L), (report.StoreId, report.RegisterId, report.RegisterNumber, report.ShiftNumber));
        Assert.Equal(RegisterFormat.Frontol, report.SourceFormat);
        Assert.True(report.HasZRecord);
        Assert.Equal(("466", "1"), (report.ReportNumber, report.SourceDatabaseId));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(FormatTestFiles.GoldenBytes("frontol-report-shift466.txt"))), report.Sha256);
        Assert.Equal([102033L, 102034, 102040, 102041, 102042, 102043, 102044, 102045], report.Receipts.Select(receipt => receipt.Number));
    }

    [Fact]
    public void A_frontol_line_discount_is_read_as_the_receipts_bonus_and_the_card_keeps_its_leading_zeros()
    {
        var receipt = Receipt(ReadFrontol(), 102033);

        Assert.Equal(new ReportReceipt(102033, ReceiptKind.Sale, "0000123456789", new DateTime(2026, 7, 6, 21, 5, 31),
            [new ReportLine("101", "", 1000, 100000, 100000, 20000)], [new ReportPayment("1", 80000, false)], null, 6),
            receipt with { Lines = receipt.Lines.ToArray(), Payments = receipt.Payments.ToArray() }, new ReceiptComparer());
        Assert.Equal((100000, 20000, 80000), (receipt.GoodsKopecks, receipt.BonusKopecks, receipt.MoneyKopecks));
    }

    [Fact]
    public void A_decimal_comma_weighed_line_is_price_6600_quantity_548_sum_3617_and_the_storno_removed_its_line()
    {
        var receipt = Receipt(ReadFrontol(), 102034);

        Assert.Equal([new ReportLine("941", "", 548, 6600, 3617, 0)], receipt.Lines);
        Assert.Null(receipt.CardNumber);
    }

    [Fact]
    public void A_shift_across_midnight_is_one_shift_opened_the_evening_before_and_closed_by_its_Z()
    {
        var report = ReadFrontol();

        Assert.Equal(new DateTime(2026, 7, 6, 21, 5, 10), report.OpenedAtLocal);
        Assert.Equal(new DateTime(2026, 7, 7, 0, 25, 0), report.ClosedAtLocal);
        Assert.Equal(new DateTime(2026, 7, 7, 0, 20, 6), Receipt(report, 102041).ClosedAtLocal);
        Assert.Equal(122617, report.ZTotalKopecks);
        Assert.Equal(0, report.ZDifferenceKopecks);
    }

    [Fact]
    public void Bonuses_as_a_payment_type_and_bonuses_as_a_line_discount_normalise_to_the_same_figures()
    {
        var report = ReadFrontol();
        var asPayment = Receipt(report, 102042);

        Assert.Equal([new ReportPayment("2", 7000, false), new ReportPayment("9", 3000, true)], asPayment.Payments);
        Assert.Equal((10000L, 3000L, 7000L), (asPayment.GoodsKopecks, asPayment.BonusKopecks, asPayment.MoneyKopecks));
        var asDiscount = new ReportReceipt(1, ReceiptKind.Sale, null, default, [new ReportLine("104", "", 1000, 10000, 10000, 3000)], [new ReportPayment("2", 7000, false)], null, 0);
        Assert.Equal((asDiscount.GoodsKopecks, asDiscount.BonusKopecks, asDiscount.MoneyKopecks), (asPayment.GoodsKopecks, asPayment.BonusKopecks, asPayment.MoneyKopecks));
    }

    [Fact]
    public void Without_the_line_discount_option_a_frontol_discount_lowers_the_line_and_books_no_bonuses()
    {
        var report = FrontolReportReader.Read(FormatTestFiles.Golden("frontol-report-shift466.txt"), Frontol with { LineDiscountsAreBonuses = false });

        var receipt = Receipt(report, 102033);
        Assert.Equal([new ReportLine("101", "", 1000, 100000, 80000, 0)], receipt.Lines);
        Assert.Equal((80000L, 0L, 80000L), (receipt.GoodsKopecks, receipt.BonusKopecks, receipt.MoneyKopecks));
    }

    [Fact]
    public void A_bonus_payment_type_that_is_not_configured_counts_as_money()
    {
        var report = FrontolReportReader.Read(FormatTestFiles.Golden("frontol-report-shift466.txt"), Frontol with { BonusPaymentTypeCodes = new HashSet<string>() });

        Assert.Equal((0L, 10000L), (Receipt(report, 102042).BonusKopecks, Receipt(report, 102042).MoneyKopecks));
    }

    [Fact]
    public void A_cancelled_receipt_is_kept_as_cancelled_without_lines_or_payments()
    {
        var receipt = Receipt(ReadFrontol(), 102043);

        Assert.Equal(ReceiptKind.Cancelled, receipt.Kind);
        Assert.Empty(receipt.Lines);
        Assert.Empty(receipt.Payments);
    }

    [Fact]
    public void A_return_naming_its_sale_carries_the_reference_and_one_naming_only_itself_carries_none()
    {
        var report = ReadFrontol();

        Assert.Equal(ReceiptKind.Return, Receipt(report, 102044).Kind);
        Assert.Equal(new ReceiptReference(1, 465, 102001), Receipt(report, 102044).ReturnOf);
        Assert.Equal(ReceiptKind.Return, Receipt(report, 102045).Kind);
        Assert.Null(Receipt(report, 102045).ReturnOf);
        Assert.Equal("2000003", Receipt(report, 102045).CardNumber);
        Assert.Equal(2000, Receipt(report, 102045).BonusKopecks);
    }

    [Fact]
    public void A_Z_total_that_differs_from_the_receipts_is_read_and_reported_as_a_difference_not_an_error()
    {
        var text = RegisterEncodings.Windows1251.GetString(FormatTestFiles.GoldenBytes("frontol-report-shift466.txt")).Replace(";1226,17;", ";1216,17;");
        var path = _files.Write("report.txt", RegisterEncodings.Windows1251.GetBytes(text));

        var report = FrontolReportReader.Read(path, Frontol);

        Assert.Equal(-1000, report.ZDifferenceKopecks);
    }

    [Fact]
    public void The_same_report_read_twice_gives_the_same_digest_and_a_re_export_with_another_header_another_one()
    {
        var text = RegisterEncodings.Windows1251.GetString(FormatTestFiles.GoldenBytes("frontol-report-shift466.txt"));
        var reExport = _files.Write("467.txt", RegisterEncodings.Windows1251.GetBytes("@" + text[1..].Replace("\r\n466\r\n", "\r\n467\r\n")));

        var first = ReadFrontol();
        var again = ReadFrontol();
        var other = FrontolReportReader.Read(reExport, Frontol);

        Assert.Equal(first.Sha256, again.Sha256);
        Assert.NotEqual(first.Sha256, other.Sha256);
        Assert.Equal("467", other.ReportNumber);
        Assert.Equal(first.Receipts.Select(receipt => receipt.Number), other.Receipts.Select(receipt => receipt.Number));
    }

    [Theory]
    [InlineData("ru-RU")]
    [InlineData("en-US")]
    public async Task Reports_read_the_same_whatever_the_machines_culture(string culture)
    {
        ShiftReport? frontol = null, kassir = null;
        await FormatTestFiles.InCulture(culture, () =>
        {
            frontol = ReadFrontol();
            kassir = KassirReportReader.Read(FormatTestFiles.Golden("kassir-report-shift15.txt"), Kassir);
            return Task.CompletedTask;
        });

        Assert.Equal(3617, Receipt(frontol!, 102034).Lines[0].AmountKopecks);
        Assert.Equal(13200, Receipt(kassir!, 1276).Lines[0].AmountKopecks);
    }

    [Fact]
    public void The_kassir_golden_report_reads_as_shift_15_with_its_receipts()
    {
        var report = KassirReportReader.Read(FormatTestFiles.Golden("kassir-report-shift15.txt"), Kassir);

        Assert.Equal((13L, 15L, RegisterFormat.Kassir5), (report.RegisterNumber, report.ShiftNumber, report.SourceFormat));
        Assert.Equal([1276L, 1277, 1278, 1279], report.Receipts.Select(receipt => receipt.Number));
        Assert.Equal(new DateTime(2023, 4, 5, 19, 36, 30), report.OpenedAtLocal);
        Assert.Equal(new DateTime(2023, 4, 5, 20, 0, 0), report.ClosedAtLocal);
        Assert.Equal(14550, report.ZTotalKopecks);
        Assert.Equal(0, report.ZDifferenceKopecks);
        Assert.Null(report.ReportNumber);
    }

    [Fact]
    public void A_kassir_line_with_dot_decimals_and_a_two_digit_year_is_price_300_quantity_44000_and_its_card_discount_is_the_bonus()
    {
        var receipt = Receipt(KassirReportReader.Read(FormatTestFiles.Golden("kassir-report-shift15.txt"), Kassir), 1276);

        Assert.Equal([new ReportLine("941", "", 44000, 300, 13200, 3200)], receipt.Lines);
        Assert.Equal([new ReportPayment("1", 10000, false)], receipt.Payments);
        Assert.Equal("0000123456789", receipt.CardNumber);
        Assert.Equal(new DateTime(2023, 4, 5, 19, 36, 37), receipt.ClosedAtLocal);
        Assert.Equal((13200L, 3200L, 10000L), (receipt.GoodsKopecks, receipt.BonusKopecks, receipt.MoneyKopecks));
    }

    [Fact]
    public void A_kassir_storno_removes_its_line_and_the_card_comes_from_the_receipt_discount_detail()
    {
        var receipt = Receipt(KassirReportReader.Read(FormatTestFiles.Golden("kassir-report-shift15.txt"), Kassir), 1277);

        Assert.Equal([new ReportLine("102", "", 2000, 4550, 9100, 0)], receipt.Lines);
        Assert.Equal("123456789", receipt.CardNumber);
        Assert.Equal(ReceiptKind.Sale, receipt.Kind);
    }

    [Fact]
    public void A_kassir_receipt_of_type_2_is_a_return_without_a_reference_and_a_cancelled_one_is_kept()
    {
        var report = KassirReportReader.Read(FormatTestFiles.Golden("kassir-report-shift15.txt"), Kassir);

        Assert.Equal(ReceiptKind.Return, Receipt(report, 1278).Kind);
        Assert.Null(Receipt(report, 1278).ReturnOf);
        Assert.Equal(ReceiptKind.Cancelled, Receipt(report, 1279).Kind);
    }

    /// <summary>Records with list members compare the lists by reference; compare their items.</summary>
    private sealed class ReceiptComparer : IEqualityComparer<ReportReceipt>
    {
        public bool Equals(ReportReceipt? x, ReportReceipt? y) =>
            x is not null && y is not null && x with { Lines = [], Payments = [] } == y with { Lines = [], Payments = [] }
            && x.Lines.SequenceEqual(y.Lines) && x.Payments.SequenceEqual(y.Payments);

        public int GetHashCode(ReportReceipt obj) => obj.Number.GetHashCode();
    }
}
