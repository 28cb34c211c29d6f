using System.Globalization;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

public class FnsQrCodeTests
{
    /// <summary>R-700 of field case C2: fiscalised at 21:14 register time (MSK, +03:00) on 2026-03-02.</summary>
    private static FiscalData R700(long fd = 4512, string fp = "1234567890") => new(
        FiscalDocumentNumber: fd, FiscalSign: fp, FnNumber: "9999078900001234", ShiftNumber: 16, ReceiptNumber: 3,
        DocumentDateTime: new DateTimeOffset(2026, 3, 2, 21, 14, 0, TimeSpan.FromHours(3)), TotalKopecks: 105600,
        RegistrationNumber: "0001234567012345", FnsUrl: "www.nalog.gov.ru");

    [Fact]
    public void C2_the_qr_string_carries_the_registers_own_time_on_a_24_hour_clock_the_total_with_a_dot_and_n_1_for_a_sale()
    {
        // The server's clock reads 18:14:05 UTC and its culture writes a comma and a 12-hour clock: none of it may leak in.
        var text = CultureScope.Under(CultureScope.RussianLike(), () => FnsQrCode.Build(R700(), FiscalOperation.Sell));
        Assert.Equal("t=20260302T2114&s=1056.00&fn=9999078900001234&i=4512&fp=1234567890&n=1", text);
        foreach (var wrong in new[] { "T0914", "T000000", "T1814", "T211405", "s=1056,00", "s=105600&", "n=2" })
            Assert.DoesNotContain(wrong, text);
    }

    [Fact]
    public void C2_a_refund_of_the_same_amount_has_n_2_and_its_own_fd_and_fp()
    {
        Assert.Equal("t=20260302T2114&s=1056.00&fn=9999078900001234&i=4513&fp=987654321&n=2",
            FnsQrCode.Build(R700(4513, "987654321"), FiscalOperation.SellReturn));
    }

    [Fact]
    public void C2_the_time_is_the_fiscal_documents_wall_clock_even_when_its_offset_differs_from_this_machines()
    {
        var atUtc = R700() with { DocumentDateTime = DateTimeOffset.Parse("2026-03-02T21:14:00+03:00", CultureInfo.InvariantCulture) };
        Assert.StartsWith("t=20260302T2114&", FnsQrCode.Build(atUtc, FiscalOperation.Sell));
    }

    [Fact]
    public void The_qr_string_round_trips_through_the_parser_to_the_same_fiscal_data()
    {
        var text = FnsQrCode.Build(R700(), FiscalOperation.Sell);
        var fields = FnsQrCode.Parse(text);
        Assert.Equal(new FnsQrFields(new DateTime(2026, 3, 2, 21, 14, 0), 105600, "9999078900001234", 4512, "1234567890", FiscalOperation.Sell), fields);
        Assert.Equal(text, FnsQrCode.Build(fields));
    }

    [Fact]
    public void The_parser_reads_the_registers_form_with_seconds_and_the_fns_sample()
    {
        var withSeconds = FnsQrCode.Parse("t=20260302T211400&s=1056.00&fn=9999078900001234&i=4512&fp=1234567890&n=1");
        Assert.Equal(new DateTime(2026, 3, 2, 21, 14, 0), withSeconds.LocalDateTime);
        var sample = FnsQrCode.Parse("t=20200727T1117&s=4850.00&fn=9287440300634471&i=13571&fp=3730902192&n=1");
        Assert.Equal((485000L, 13571L, "3730902192"), (sample.TotalKopecks, sample.FiscalDocumentNumber, sample.FiscalSign));
    }

    [Theory]
    [InlineData("t=20260302T2114&s=1056,00&fn=9999078900001234&i=4512&fp=1234567890&n=1", "s=")]
    [InlineData("t=20260302T2114&s=105600&fn=9999078900001234&i=4512&fp=1234567890&n=1", "s=")]
    [InlineData("t=2026-03-02T21:14&s=1056.00&fn=9999078900001234&i=4512&fp=1234567890&n=1", "t=")]
    [InlineData("t=20260302T2114&s=1056.00&fn=9999078900001234&i=4512&n=1", "fp")]
    [InlineData("t=20260302T2114&s=1056.00&fn=9999078900001234&i=4512&fp=1234567890&n=7", "n=")]
    [InlineData("t=20260302T2514&s=1056.00&fn=9999078900001234&i=4512&fp=1234567890&n=1", "t=")]
    public void A_malformed_qr_string_is_refused_naming_the_bad_key(string text, string key)
    {
        var error = Assert.Throws<FormatException>(() => FnsQrCode.Parse(text));
        Assert.Contains(key, error.Message);
    }
}
