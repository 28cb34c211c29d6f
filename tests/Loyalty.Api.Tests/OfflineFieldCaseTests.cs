using System.CommandLine;
using System.Globalization;
using System.Text;
using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Adapter;
using Loyalty.PosAdapter.Cli;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Formats;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>
/// The offline field cases of ../shared/docs/field-cases.md (§A1, A4, A5, A6 and the reconciliation
/// part of C3) end to end: Frontol reports written as a register writes them (Windows-1251, decimal
/// commas), uploaded through the CLI or the client to the real server, and the cards checked after.
/// Amounts are the field cases' own. Where our design answers differently from a field case's
/// "expected", the test says so and checks our answer.
/// </summary>
public sealed class OfflineFieldCaseTests(ServerFixture server) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loyalty-field-cases-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private LoyaltyClient Admin() => LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));

    private async Task<(int ExitCode, string Output, string Error)> CliAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await LoyaltyCommandLine.RunAsync([.. args, "--server", server.GrpcAddress.ToString(), "--key", server.AdminKey],
            new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private Task<(int ExitCode, string Output, string Error)> UploadAsync(string file, string store, string register, bool lineDiscountsAreBonuses = false) =>
        lineDiscountsAreBonuses
            ? CliAsync("report", "upload", file, "--store", store, "--register", register, "--format", "frontol", "--bonus-payment-types", "9", "--line-discounts-are-bonuses")
            : CliAsync("report", "upload", file, "--store", store, "--register", register, "--format", "frontol", "--bonus-payment-types", "9");

    private static async Task IssueAsync(LoyaltyClient admin, string card, long balance)
    {
        await admin.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        await admin.AdjustAsync(new AdjustRequest { OperationId = $"field-open-{card}", CardNumber = card, Amount = balance, Reason = "opening balance" });
    }

    /// <summary>A hold of <paramref name="bonus"/> on one line of <paramref name="amount"/>, committed: the online side of a receipt.</summary>
    private static async Task<CommitReply> SellOnlineAsync(LoyaltyClient admin, string card, string store, string register, long shift, long number, long amount, long bonus, string sku = "101")
    {
        var receipt = new Receipt { Ref = new ReceiptRef { StoreId = store, RegisterId = register, ShiftNumber = shift, ReceiptNumber = number } };
        receipt.Lines.Add(new ReceiptLine { Sku = sku, Category = "goods", Name = "item", QuantityMilli = 1000, Price = amount, Amount = amount });
        var hold = bonus > 0 ? (await admin.RedeemAsync(new RedeemRequest { OperationId = OperationId.New(), CardNumber = card, Receipt = receipt, Amount = bonus })).HoldId : "";
        return await admin.CommitAsync(new CommitRequest { OperationId = OperationId.New(), CardNumber = card, Receipt = receipt, HoldId = hold });
    }

    [Fact]
    public async Task A1_the_same_receipts_re_exported_in_another_report_and_uploaded_twice_at_once_are_applied_once_and_a_second_registers_lower_numbers_are_applied_too()
    {
        using var admin = Admin();
        await IssueAsync(admin, "A1C1", 50_000);
        await IssueAsync(admin, "A1C2", 3_000);
        // R1, Frontol database 1, shift 466, report 466: goods 1000.00, a 200.00 bonus line discount on C-1, 800.00 paid.
        var report466 = new FrontolFile(shift: 466, reportNumber: "466", firstTransaction: 1_603_301);
        report466.Line(102033, "101", 100_000, after: 80_000).Pay(102033, "1", 80_000).Close(102033, "A1C1").Z();
        var first = await UploadAsync(report466.Write(_directory, "r466.txt"), "A1", "R1", lineDiscountsAreBonuses: true);
        Assert.True(first.ExitCode == 0, first.Error);
        var shift = await admin.GetShiftAsync(new GetShiftRequest { StoreId = "A1", RegisterId = "R1", ShiftNumber = 466 });
        var applied = Assert.Single(shift.Receipts);
        Assert.Equal((ReceiptOutcome.AppliedFromReport, 20_000L), (applied.Outcome, applied.AppliedRedeemed));
        var afterFirst = 50_000 - 20_000 + applied.AppliedAccrued;   // 34,000 at the field case's 5 %
        Assert.Equal(afterFirst, (await admin.GetCardAsync("A1C1")).Balance);

        // The operator re-exports "by report number": report 467 carries the same transactions. Uploaded twice at once.
        var report467 = new FrontolFile(shift: 466, reportNumber: "467", firstTransaction: 1_603_301);
        report467.Line(102033, "101", 100_000, after: 80_000).Pay(102033, "1", 80_000).Close(102033, "A1C1").Z();
        var read = StoreExchange.ReadReport("frontol", report467.Write(_directory, "r467.txt"),
            new ReportReadOptions { StoreId = "A1", RegisterId = "R1", LineDiscountsAreBonuses = true });
        var wire = ReportConversion.ToWire(read, LoyaltyCommandLine.DefaultReportCategory);
        Assert.NotEqual(shift.Digest, wire.Digest);
        var answers = await Task.WhenAll(admin.UploadShiftReportAsync(wire), admin.UploadShiftReportAsync(wire));
        Assert.All(answers, answer => Assert.Equal(shift, answer));
        Assert.Equal(afterFirst, (await admin.GetCardAsync("A1C1")).Balance);

        // Report 467 with the same transactions plus a new document: our design does not apply a
        // different report to a reconciled shift (the field case applies only 102034); it is refused
        // naming the new receipt, changes nothing, and an accountant resolves it.
        var withNew = new FrontolFile(shift: 466, reportNumber: "467", firstTransaction: 1_603_301);
        withNew.Line(102033, "101", 100_000, after: 80_000).Pay(102033, "1", 80_000).Close(102033, "A1C1")
            .Line(102034, "102", 10_000).Pay(102034, "1", 10_000).Close(102034, "A1C1").Z();
        var refused = await UploadAsync(withNew.Write(_directory, "r467-new.txt"), "A1", "R1", lineDiscountsAreBonuses: true);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("receipt 102034 is new", refused.Error);
        Assert.Equal(afterFirst, (await admin.GetCardAsync("A1C1")).Balance);

        // R2, another Frontol database, report 12 with transaction numbers 5001-5004, far below R1's: applied all the same.
        var report12 = new FrontolFile(shift: 12, reportNumber: "12", firstTransaction: 5_001, pos: 2);
        report12.Line(7, "103", 2_000).Pay(7, "1", 2_000).Close(7, "A1C2").Z();
        var second = await UploadAsync(report12.Write(_directory, "r12.txt"), "A1", "R2");
        Assert.True(second.ExitCode == 0, second.Error);
        var r2 = Assert.Single((await admin.GetShiftAsync(new GetShiftRequest { StoreId = "A1", RegisterId = "R2", ShiftNumber = 12 })).Receipts);
        Assert.Equal(ReceiptOutcome.AppliedFromReport, r2.Outcome);
        Assert.Equal(3_000 + r2.AppliedAccrued, (await admin.GetCardAsync("A1C2")).Balance);   // 3,100 at 5 %
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
    }

    [Fact]
    public async Task A4_a_redemption_on_card_0000123456789_is_taken_from_that_card_and_card_123456789_is_left_alone()
    {
        using var admin = Admin();
        await IssueAsync(admin, "0000987654321", 15_000);
        await IssueAsync(admin, "987654321", 700);
        var report = new FrontolFile(shift: 3, reportNumber: "3", firstTransaction: 10);
        report.Line(1, "101", 20_000).Pay(1, "1", 10_000).Pay(1, "9", 10_000).Close(1, "0000987654321").Z();
        var upload = await UploadAsync(report.Write(_directory, "a4.txt"), "A4", "R1");
        Assert.True(upload.ExitCode == 0, upload.Error);

        var receipt = Assert.Single((await admin.GetShiftAsync(new GetShiftRequest { StoreId = "A4", RegisterId = "R1", ShiftNumber = 3 })).Receipts);
        Assert.Equal(("0000987654321", 10_000L, false), (receipt.CardNumber, receipt.AppliedRedeemed, receipt.Debt));
        Assert.Equal(15_000 - 10_000 + receipt.AppliedAccrued, (await admin.GetCardAsync("0000987654321")).Balance);   // 5,000 before accrual
        Assert.Equal(700, (await admin.GetCardAsync("987654321")).Balance);
    }

    [Fact]
    public async Task A5_a_shift_across_midnight_is_refused_until_its_Z_arrives_then_its_online_receipt_matches_and_a_Z_total_unlike_the_receipts_changes_no_balance()
    {
        using var admin = Admin();
        await IssueAsync(admin, "A5C1", 10_000);
        // Online at 23:50: goods 300.00, 50.00 held and committed.
        var online = await SellOnlineAsync(admin, "A5C1", "A5", "R1", 466, 102040, 30_000, 5_000);
        var afterOnline = (await admin.GetCardAsync("A5C1")).Balance;
        Assert.Equal(10_000 - 5_000 + online.Accrued, afterOnline);

        // Report 470 ends at 00:25 with no Z record: the shift is still open, so it is refused and nothing is flagged.
        FrontolFile Shift466(bool z, long? zTotal)
        {
            var file = new FrontolFile(shift: 466, reportNumber: z ? "471" : "470", firstTransaction: 1_603_309);
            file.Line(102040, "102", 30_000, after: 25_000, at: "06.07.2026;23:50:00").Pay(102040, "1", 25_000, at: "06.07.2026;23:50:10").Close(102040, "A5C1", at: "06.07.2026;23:50:11")
                .Line(102041, "103", 20_000, at: "07.07.2026;00:20:00").Pay(102041, "1", 20_000, at: "07.07.2026;00:20:05").Close(102041, null, at: "07.07.2026;00:20:06");
            return z ? file.Z(zTotal, at: "07.07.2026;00:25:00") : file;
        }
        var open = await UploadAsync(Shift466(z: false, null).Write(_directory, "r470.txt"), "A5", "R1", lineDiscountsAreBonuses: true);
        Assert.NotEqual(0, open.ExitCode);
        Assert.Contains("Z", open.Error);
        await Assert.ThrowsAsync<RpcException>(() => admin.GetShiftAsync(new GetShiftRequest { StoreId = "A5", RegisterId = "R1", ShiftNumber = 466 }));

        // Report 471 carries the Z, with 440.00 where the receipts make 450.00: a warning, not a change.
        var closed = await UploadAsync(Shift466(z: true, 44_000).Write(_directory, "r471.txt"), "A5", "R1", lineDiscountsAreBonuses: true);
        Assert.True(closed.ExitCode == 0, closed.Error);
        Assert.Contains("differs from the receipts by", closed.Error);
        Assert.Contains("10.00", closed.Error);
        var shift = await admin.GetShiftAsync(new GetShiftRequest { StoreId = "A5", RegisterId = "R1", ShiftNumber = 466 });
        Assert.Equal(ReceiptOutcome.Matched, shift.Receipts.Single(r => r.ReceiptNumber == 102040).Outcome);
        Assert.Equal(ReceiptOutcome.WithoutCard, shift.Receipts.Single(r => r.ReceiptNumber == 102041).Outcome);
        Assert.Equal(ShiftStatus.Settled, shift.Status);
        Assert.Equal(afterOnline, (await admin.GetCardAsync("A5C1")).Balance);
    }

    [Fact]
    public async Task A6_a_return_naming_its_sale_restores_and_reverses_once_and_returns_without_a_reference_are_flagged_and_change_nothing()
    {
        using var admin = Admin();
        await IssueAsync(admin, "A6C3", 10_000);
        // S1 online: line A 100.00, 20.00 of bonuses, 80.00 paid; 8,400 at the field case's 5 %.
        var sale = await SellOnlineAsync(admin, "A6C3", "A6", "R1", 100, 5, 10_000, 2_000, sku: "A");
        Assert.Equal(10_000 - 2_000 + sale.Accrued, (await admin.GetCardAsync("A6C3")).Balance);

        // The next day's report: (a) a return of A naming S1 (field 26 = POS/shift/receipt), (b) a return of A for 80.00
        // with the card and no reference, (c) an unreferenced return of 100.00, more than was paid for A.
        var report = new FrontolFile(shift: 101, reportNumber: "101", firstTransaction: 1);
        report.Line(1, "A", 10_000, after: 8_000, kind: 1).Pay(1, "1", 8_000).Close(1, "A6C3", kind: 1, reference: "1/100/5")
            .Line(2, "A", 8_000, kind: 1).Pay(2, "1", 8_000).Close(2, "A6C3", kind: 1)
            .Line(3, "A", 10_000, kind: 1).Pay(3, "1", 10_000).Close(3, "A6C3", kind: 1).Z(total: 0);
        var file = report.Write(_directory, "a6.txt");
        var upload = await UploadAsync(file, "A6", "R1");
        Assert.True(upload.ExitCode == 0, upload.Error);
        var again = await UploadAsync(file, "A6", "R1");
        Assert.Equal(upload.Output, again.Output);

        var shift = await admin.GetShiftAsync(new GetShiftRequest { StoreId = "A6", RegisterId = "R1", ShiftNumber = 101 });
        var referenced = shift.Receipts.Single(r => r.ReceiptNumber == 1);
        Assert.Equal((ReceiptOutcome.ReturnApplied, 2_000L, sale.Accrued), (referenced.Outcome, referenced.ReturnRestored, referenced.ReturnReversed));
        Assert.All(shift.Receipts.Where(r => r.ReceiptNumber != 1), r =>
        {
            Assert.Equal(ReceiptOutcome.ReturnUnmatched, r.Outcome);
            Assert.Equal(0, r.ReturnRestored + r.ReturnReversed + r.AppliedAccrued + r.AppliedRedeemed);
        });
        Assert.Equal(ShiftStatus.NeedsAttention, shift.Status);
        Assert.Equal(10_000, (await admin.GetCardAsync("A6C3")).Balance);
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
    }

    [Fact]
    public async Task C3_a_receipt_with_bonuses_online_as_a_line_discount_and_in_the_report_as_a_bonus_payment_is_matched_not_a_mismatch()
    {
        using var admin = Admin();
        await IssueAsync(admin, "C3C1", 10_000);
        // Online: goods 100.00, 30.00 of bonuses as the line's discount.
        var online = await SellOnlineAsync(admin, "C3C1", "C3", "R1", 9, 1, 10_000, 3_000);
        var balance = (await admin.GetCardAsync("C3C1")).Balance;
        Assert.Equal(10_000 - 3_000 + online.Accrued, balance);

        // The register reports the same receipt as goods 100.00 paid 70.00 money + 30.00 with payment type 9 (bonuses).
        var report = new FrontolFile(shift: 9, reportNumber: "9", firstTransaction: 1);
        report.Line(1, "101", 10_000).Pay(1, "1", 7_000).Pay(1, "9", 3_000).Close(1, "C3C1").Z();
        var upload = await UploadAsync(report.Write(_directory, "c3.txt"), "C3", "R1");
        Assert.True(upload.ExitCode == 0, upload.Error);

        var receipt = Assert.Single((await admin.GetShiftAsync(new GetShiftRequest { StoreId = "C3", RegisterId = "R1", ShiftNumber = 9 })).Receipts);
        Assert.Equal(ReceiptOutcome.Matched, receipt.Outcome);
        Assert.Equal((10_000L, 3_000L, 10_000L, 3_000L), (receipt.OnlineTotal, receipt.OnlineRedeemed, receipt.ReportTotal, receipt.ReportRedeemed));
        Assert.Equal(balance, (await admin.GetCardAsync("C3C1")).Balance);
    }

    /// <summary>
    /// A Frontol transactions file (protocols.md §3.2; the layout <see cref="FrontolReportReader"/>
    /// documents): 3 header lines, then type 11 lines, 40/41 payments, 55 closes and a 61 Z record.
    /// </summary>
    private sealed class FrontolFile(long shift, string reportNumber, long firstTransaction, int pos = 1)
    {
        private readonly StringBuilder _text = new($"#\n1\n{reportNumber}\n");
        private long _transaction = firstTransaction;
        private long _total;

        private static string Money(long kopecks) => DecimalText.Format(kopecks, 2, ',');

        private FrontolFile Add(int type, long receipt, string at, string rest)
        {
            _text.Append(CultureInfo.InvariantCulture, $"{_transaction++};{at};{type};{pos};{receipt};1;{rest}\n");
            return this;
        }

        public FrontolFile Line(long receipt, string sku, long sum, long? after = null, int kind = 0, string at = "06.07.2026;21:05:10")
        {
            _total += (kind == 0 ? 1 : -1) * (after ?? sum);
            return Add(11, receipt, at, $"{sku};;{Money(sum)};1,000;{Money(sum)};{kind};{shift};;{Money(after ?? sum)}");
        }

        public FrontolFile Pay(long receipt, string type, long amount, string at = "06.07.2026;21:05:30") =>
            Add(type == "1" ? 40 : 41, receipt, at, $";{type};;;{Money(amount)}");

        public FrontolFile Close(long receipt, string? card, int kind = 0, string? reference = null, string at = "06.07.2026;21:05:31") =>
            Add(55, receipt, at, $"{card};;;;;{kind};{shift}{(reference is null ? "" : new string(';', 12) + reference)}");

        public FrontolFile Z(long? total = null, string at = "07.07.2026;00:25:00") => Add(61, 0, at, $";{shift};;;{Money(total ?? _total)}");

        public string Write(string directory, string name)
        {
            var path = Path.Combine(directory, name);
            File.WriteAllBytes(path, RegisterEncodings.Windows1251.GetBytes(_text.ToString()));
            return path;
        }
    }
}
