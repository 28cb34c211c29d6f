using System.CommandLine;
using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Cli;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Formats;
using Loyalty.Protos.V1;
using ShiftReport = Loyalty.Protos.V1.ShiftReport;

namespace Loyalty.Api.Tests;

/// <summary>
/// The offline exchange end to end against the real server, as a store's operator runs it: the
/// catalog file written from the server's cards, the register's Frontol report (the golden file built
/// from protocols.md §3.2) uploaded and reconciled once, shown, uploaded again unchanged, and a pos
/// key kept to its own store.
/// </summary>
public sealed class ExchangeEndToEndTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Formats", "Golden", name);

    private async Task<(int ExitCode, string Output, string Error)> CliAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await LoyaltyCommandLine.RunAsync([.. args, "--server", server.GrpcAddress.ToString(), "--key", server.AdminKey],
            new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task A_frontol_report_is_uploaded_and_reconciled_once_and_the_catalog_file_carries_the_offline_amounts()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        foreach (var card in new[] { "0000123456789", "123456789", "2000003" })
        {
            await admin.IssueCardAsync(new IssueCardRequest { CardNumber = card });
            await admin.AdjustAsync(new AdjustRequest { OperationId = $"e2e-open-{card}", CardNumber = card, Amount = 1_000_00, Reason = "opening balance" });
        }

        var first = await CliAsync("report", "upload", Golden("frontol-report-shift466.txt"), "--store", "MSK-01", "--register", "R1", "--format", "frontol", "--bonus-payment-types", "9", "--line-discounts-are-bonuses", "--json");
        Assert.True(first.ExitCode == 0, first.Error);
        var again = await CliAsync("report", "upload", Golden("frontol-report-shift466.txt"), "--store", "MSK-01", "--register", "R1", "--format", "frontol", "--bonus-payment-types", "9", "--line-discounts-are-bonuses", "--json");
        Assert.Equal(first.Output, again.Output);
        var shown = await CliAsync("shift", "show", "MSK-01", "R1", "466");
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Contains("applied from report", shown.Output, StringComparison.OrdinalIgnoreCase);

        var shift = await admin.GetShiftAsync(new GetShiftRequest { StoreId = "MSK-01", RegisterId = "R1", ShiftNumber = 466 });
        var sale = Assert.Single(shift.Receipts, r => r.ReceiptNumber == 102033);
        Assert.Equal(ReceiptOutcome.AppliedFromReport, sale.Outcome);
        Assert.Equal(200_00, sale.AppliedRedeemed);
        var mine = shift.Receipts.Where(r => r.CardNumber == "0000123456789").ToList();   // a line discount and a bonus-type payment
        var balance = 1_000_00 - mine.Sum(r => r.AppliedRedeemed) + mine.Sum(r => r.AppliedAccrued);
        Assert.Equal(balance, (await admin.GetCardAsync("0000123456789")).Balance);
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());

        var catalog = Path.Combine(Path.GetTempPath(), $"loyalty-e2e-{Guid.NewGuid():N}.txt");
        try
        {
            var exported = await CliAsync("catalog", "export", "--store", "MSK-01", "--format", "kassir", "--out", catalog);
            Assert.True(exported.ExitCode == 0, exported.Error);
            var cards = KassirCatalogFile.Read(catalog);
            Assert.Contains(cards, c => c.CardNumber == "0000123456789" && c.OfflineSpendableKopecks == balance);
        }
        finally
        {
            File.Delete(catalog);
        }
    }

    [Fact]
    public async Task A_report_without_its_Z_record_is_refused_with_a_non_zero_exit_code_and_changes_nothing()
    {
        var file = Path.Combine(Path.GetTempPath(), $"loyalty-e2e-open-{Guid.NewGuid():N}.txt");
        var lines = File.ReadAllLines(Golden("frontol-report-shift466.txt"), RegisterEncodings.Windows1251).Where(l => !l.Contains(";61;")).ToArray();
        File.WriteAllLines(file, lines, RegisterEncodings.Windows1251);
        try
        {
            var refused = await CliAsync("report", "upload", file, "--store", "MSK-02", "--register", "R1", "--format", "frontol");
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("Z", refused.Error);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_pos_key_may_export_and_upload_only_for_its_own_store()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        var key = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = "SPB-01", Name = "till" })).ApiKey;
        using var till = LoyaltyClient.Create(server.GrpcAddress.ToString(), key, TimeSpan.FromSeconds(30));

        var export = await Assert.ThrowsAsync<RpcException>(async () => { await foreach (var _ in till.ExportCardsAsync("MSK-01")) { } });
        var upload = await Assert.ThrowsAsync<RpcException>(() => till.UploadShiftReportAsync(new ShiftReport { StoreId = "MSK-01", RegisterId = "R1", ShiftNumber = 1, ZReportPresent = true, Digest = "x" }));

        Assert.Equal(StatusCode.PermissionDenied, export.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, upload.StatusCode);
        await foreach (var _ in till.ExportCardsAsync("SPB-01")) { }
    }
}
