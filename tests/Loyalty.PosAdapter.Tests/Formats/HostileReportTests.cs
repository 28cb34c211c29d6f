using System.Text;
using Loyalty.PosAdapter.Formats;

namespace Loyalty.PosAdapter.Tests.Formats;

/// <summary>
/// Bad sales reports (issue 11, "Bad input"; field-cases A3, A5): each is refused with one
/// <see cref="RegisterFileException"/> naming the file, the line and the field, and no report.
/// The files are the golden reports with one fault put in.
/// </summary>
public sealed class HostileReportTests : IDisposable
{
    private readonly FormatTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static readonly ReportReadOptions Frontol = new() { StoreId = "MSK-01", RegisterId = "R1", RegisterNumber = 1, EnterpriseCode = "1" };
    private static readonly ReportReadOptions Kassir = new() { StoreId = "MSK-01", RegisterId = "R13", RegisterNumber = 13 };

    private static List<string> GoldenLines(string name) =>
        RegisterEncodings.Windows1251.GetString(FormatTestFiles.GoldenBytes(name)).Split("\r\n").SkipLast(1).ToList();

    private static int IndexOf(List<string> lines, string part) => lines.FindIndex(line => line.Contains(part, StringComparison.Ordinal));

    private string Frontol_with(Action<List<string>> change, Encoding? encoding = null)
    {
        var lines = GoldenLines("frontol-report-shift466.txt");
        change(lines);
        return _files.WriteLines("report.txt", lines, encoding);
    }

    private static RegisterFileException Refused(string path, ReportReadOptions? options = null, RegisterFormat format = RegisterFormat.Frontol)
    {
        var error = Assert.Throws<RegisterFileException>(() => format == RegisterFormat.Frontol
            ? FrontolReportReader.Read(path, options ?? Frontol)
            : KassirReportReader.Read(path, options ?? Kassir));
        Assert.Equal(path, error.FilePath);
        Assert.StartsWith(path, error.Message);
        if (error.LineNumber > 0) Assert.Contains($"line {error.LineNumber}", error.Message);
        if (error.Field is not null) Assert.Contains(error.Field, error.Message);
        return error;
    }

    private static void Set(List<string> lines, int index, int field, string value)
    {
        var fields = lines[index].Split(';');
        fields[field - 1] = value;
        lines[index] = string.Join(';', fields);
    }

    [Fact]
    public void A_file_cut_in_the_middle_of_its_last_line_is_refused_as_truncated()
    {
        var bytes = FormatTestFiles.GoldenBytes("frontol-report-shift466.txt");
        var path = _files.Write("report.txt", bytes[..^12]);

        var error = Refused(path);

        Assert.Equal(RegisterFileError.Truncated, error.Error);
        Assert.Equal(GoldenLines("frontol-report-shift466.txt").Count, error.LineNumber);
    }

    [Fact]
    public void A_file_cut_between_lines_leaves_a_receipt_without_its_close_record_and_is_refused()
    {
        var path = Frontol_with(lines => lines.RemoveRange(IndexOf(lines, ";55;1;102045;"), 2));

        var error = Refused(path);

        Assert.Equal(RegisterFileError.ReceiptNotClosed, error.Error);
        Assert.Equal("field 6 (receipt number)", error.Field);
        Assert.Equal(IndexOf(GoldenLines("frontol-report-shift466.txt"), ";11;1;102045;") + 1, error.LineNumber);
        Assert.Contains("102045", error.Message);
    }

    [Fact]
    public void A_report_without_a_Z_record_is_refused_as_a_shift_not_closed_yet()
    {
        var path = Frontol_with(lines => lines.RemoveAt(IndexOf(lines, ";61;1;")));

        var error = Refused(path);

        Assert.Equal(RegisterFileError.ShiftNotClosed, error.Error);
        Assert.Contains("shift 466 is not closed", error.Message);
    }

    [Fact]
    public void A_report_without_a_Z_record_can_be_read_as_an_open_shift_when_asked()
    {
        var path = Frontol_with(lines => lines.RemoveAt(IndexOf(lines, ";61;1;")));

        var report = FrontolReportReader.Read(path, Frontol with { RequireZRecord = false });

        Assert.False(report.HasZRecord);
        Assert.Null(report.ZTotalKopecks);
        Assert.Equal(466, report.ShiftNumber);
        Assert.Equal(new DateTime(2026, 7, 7, 0, 24, 6), report.ClosedAtLocal);
    }

    [Fact]
    public void A_utf8_file_given_to_a_windows_1251_register_is_refused_instead_of_read_as_mojibake()
    {
        var path = Frontol_with(lines => Set(lines, IndexOf(lines, ";40;1;102034;"), 7, "Молоко"), RegisterEncodings.Utf8);

        var error = Refused(path);

        Assert.Equal(RegisterFileError.WrongEncoding, error.Error);
        Assert.Equal(IndexOf(GoldenLines("frontol-report-shift466.txt"), ";40;1;102034;") + 1, error.LineNumber);
    }

    [Fact]
    public void A_windows_1251_file_given_to_a_strict_utf8_reader_is_refused()
    {
        var path = Frontol_with(lines => Set(lines, IndexOf(lines, ";40;1;102034;"), 7, "Молоко"));

        var error = Refused(path, Frontol with { Encoding = TextEncodingChoice.Utf8 });

        Assert.Equal(RegisterFileError.WrongEncoding, error.Error);
    }

    [Theory]
    [InlineData("utf-8")]
    [InlineData("windows-1251")]
    public void Encoding_detection_reads_either_encoding(string encoding)
    {
        var path = Frontol_with(lines => Set(lines, IndexOf(lines, ";40;1;102034;"), 7, "Молоко"),
            encoding == "utf-8" ? RegisterEncodings.Utf8 : RegisterEncodings.Windows1251);

        var report = FrontolReportReader.Read(path, Frontol with { Encoding = TextEncodingChoice.Detect });

        Assert.Equal(8, report.Receipts.Count);
    }

    [Fact]
    public void A_receipt_line_with_too_few_fields_is_refused_naming_the_first_missing_field()
    {
        var path = Frontol_with(lines => lines[IndexOf(lines, ";11;1;102034;")] = "9;06.07.2026;21:10:00;11;1;102034;1;500;;10,00");

        var error = Refused(path);

        Assert.Equal(RegisterFileError.WrongFieldCount, error.Error);
        Assert.Equal("field 11", error.Field);
    }

    [Theory]
    [InlineData(12, "-36,17", RegisterFileError.AbsurdAmount, "field 12 (sum)")]
    [InlineData(12, "36,1x", RegisterFileError.Malformed, "field 12 (sum)")]
    [InlineData(12, "36.170001", RegisterFileError.Malformed, "field 12 (sum)")]
    [InlineData(12, "99999999999999,00", RegisterFileError.AbsurdAmount, "field 12 (sum)")]
    [InlineData(11, "10000000", RegisterFileError.AbsurdAmount, "field 11 (quantity)")]
    [InlineData(10, "", RegisterFileError.Malformed, "field 10 (price)")]
    [InlineData(2, "31.02.2026", RegisterFileError.Malformed, "field 2 (date)")]
    [InlineData(3, "25:00:00", RegisterFileError.Malformed, "field 3 (time)")]
    [InlineData(4, "1x", RegisterFileError.Malformed, "field 4 (transaction type)")]
    [InlineData(16, "40,00", RegisterFileError.AbsurdAmount, "field 16 (sum after discounts)")]
    public void A_bad_amount_date_or_code_is_refused_naming_its_field(int field, string value, RegisterFileError expected, string named)
    {
        var index = IndexOf(GoldenLines("frontol-report-shift466.txt"), ";11;1;102034;1;941;");
        var path = Frontol_with(lines => Set(lines, index, field, value));

        var error = Refused(path);

        Assert.Equal(expected, error.Error);
        Assert.Equal(named, error.Field);
        Assert.Equal(index + 1, error.LineNumber);
    }

    [Fact]
    public void Two_receipts_with_one_number_in_a_shift_are_refused()
    {
        var path = Frontol_with(lines =>
        {
            var close = IndexOf(lines, ";55;1;102041;");
            lines.InsertRange(close + 1, [lines[close - 2], lines[close - 1], lines[close]]);
        });

        var error = Refused(path);

        Assert.Equal(RegisterFileError.DuplicateReceipt, error.Error);
        Assert.Equal("field 6 (receipt number)", error.Field);
    }

    [Fact]
    public void A_report_of_another_enterprise_is_refused_as_another_stores()
    {
        var path = Frontol_with(lines => Set(lines, 5, 27, "2"));

        var error = Refused(path);

        Assert.Equal(RegisterFileError.WrongStoreOrRegister, error.Error);
        Assert.Equal("field 27 (enterprise)", error.Field);
        Assert.Equal(6, error.LineNumber);
    }

    [Fact]
    public void A_report_of_another_register_is_refused()
    {
        var path = Frontol_with(_ => { });

        var error = Refused(path, Frontol with { RegisterNumber = 2 });

        Assert.Equal(RegisterFileError.WrongStoreOrRegister, error.Error);
        Assert.Equal("field 5 (POS number)", error.Field);
        Assert.Equal(4, error.LineNumber);
    }

    [Fact]
    public void A_200_MB_file_is_refused_from_its_size_before_it_is_read()
    {
        var path = _files.PathOf("huge.txt");
        using (var stream = File.Create(path))
        {
            stream.Write("#\r\n"u8);
            stream.SetLength(200L * 1024 * 1024); // sparse: no 200 MB written to the test disk
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = Refused(path);

        Assert.Equal(RegisterFileError.TooLarge, error.Error);
        Assert.Equal(0, error.LineNumber);
        Assert.True(clock.ElapsedMilliseconds < 1000);
    }

    [Fact]
    public void A_line_longer_than_the_bound_is_refused_before_it_is_decoded()
    {
        var path = Frontol_with(lines => lines.Insert(5, new string('1', ReportLimits.MaxLineBytes + 1)));

        var error = Refused(path);

        Assert.Equal(RegisterFileError.TooLarge, error.Error);
        Assert.Equal(6, error.LineNumber);
    }

    [Fact]
    public void A_line_with_thousands_of_fields_is_refused()
    {
        var path = Frontol_with(lines => lines.Insert(5, string.Join(';', Enumerable.Repeat("1", ReportLimits.MaxFieldsPerLine + 1))));

        Assert.Equal(RegisterFileError.WrongFieldCount, Refused(path).Error);
    }

    [Fact]
    public void A_storno_of_a_line_the_receipt_does_not_have_is_refused()
    {
        var path = Frontol_with(lines => Set(lines, IndexOf(lines, ";12;1;102034;"), 8, "777"));

        var error = Refused(path);

        Assert.Equal(RegisterFileError.StornoWithoutLine, error.Error);
        Assert.Equal("field 8 (goods code)", error.Field);
    }

    [Fact]
    public void Receipts_of_two_shifts_in_one_file_are_refused()
    {
        var path = Frontol_with(lines => Set(lines, IndexOf(lines, ";55;1;102041;"), 14, "467"));

        var error = Refused(path);

        Assert.Equal(RegisterFileError.SeveralShifts, error.Error);
        Assert.Equal("field 14 (shift number)", error.Field);
    }

    [Fact]
    public void A_file_that_is_not_a_frontol_report_is_refused_at_its_first_line()
    {
        var path = _files.WriteLines("report.txt", ["PK\u0003\u0004", "1", "2"]);

        var error = Refused(path);

        Assert.Equal(RegisterFileError.Malformed, error.Error);
        Assert.Equal(1, error.LineNumber);
    }

    [Fact]
    public void An_empty_file_is_refused_as_truncated()
    {
        var path = _files.Write("report.txt", []);

        Assert.Equal(RegisterFileError.Truncated, Refused(path).Error);
    }

    [Fact]
    public void A_report_with_more_receipts_than_the_bound_is_refused()
    {
        var lines = new List<string> { "#", "1", "1" };
        for (var receipt = 1; receipt <= ReportLimits.MaxReceipts + 1; receipt++)
            lines.Add($"{receipt};01.03.2026;10:00:00;56;1;{receipt};1;;;;;;;;;");
        var path = _files.WriteLines("report.txt", lines);

        var error = Refused(path);

        Assert.Equal(RegisterFileError.TooLarge, error.Error);
        Assert.Equal(ReportLimits.MaxReceipts + 4, error.LineNumber);
    }

    [Fact]
    public void A_receipt_with_more_lines_than_the_bound_is_refused()
    {
        var lines = new List<string> { "#", "1", "1" };
        for (var line = 1; line <= ReportLimits.MaxLinesPerReceipt + 1; line++)
            lines.Add($"{line};01.03.2026;10:00:00;11;1;7;1;101;;1,00;1;1,00;0;1;;1,00");
        var path = _files.WriteLines("report.txt", lines);

        Assert.Equal(RegisterFileError.TooLarge, Refused(path).Error);
    }

    [Fact]
    public void A_kassir_receipt_after_the_Z_record_belongs_to_the_next_shift_and_is_refused()
    {
        var lines = GoldenLines("kassir-report-shift15.txt");
        lines.Add("28200;05.04.23;20:05:00;11;13;1280;1;101;1;89.90;1.000;89.90;");
        var path = _files.WriteLines("report.txt", lines);

        var error = Refused(path, format: RegisterFormat.Kassir5);

        Assert.Equal(RegisterFileError.SeveralShifts, error.Error);
        Assert.Equal(lines.Count, error.LineNumber);
    }

    [Fact]
    public void A_kassir_change_larger_than_the_sum_tendered_is_refused()
    {
        var lines = GoldenLines("kassir-report-shift15.txt");
        var index = IndexOf(lines, ";40;13;1276;");
        Set(lines, index, 10, "300.00");
        var path = _files.WriteLines("report.txt", lines);

        var error = Refused(path, format: RegisterFormat.Kassir5);

        Assert.Equal(RegisterFileError.AbsurdAmount, error.Error);
        Assert.Equal("field 10 (change)", error.Field);
    }

    [Fact]
    public void A_kassir_report_without_a_Z_record_is_refused_as_not_closed()
    {
        var lines = GoldenLines("kassir-report-shift15.txt");
        lines.RemoveAt(lines.Count - 1);
        var path = _files.WriteLines("report.txt", lines);

        Assert.Equal(RegisterFileError.ShiftNotClosed, Refused(path, format: RegisterFormat.Kassir5).Error);
    }
}
