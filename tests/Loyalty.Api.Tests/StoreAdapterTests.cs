using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Adapter;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Formats;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>
/// The store adapter against the real server, with real exchange folders: catalog files written,
/// reports uploaded once and archived, broken ones moved aside with a reason while the others go
/// on, and reports waiting through a server outage.
/// </summary>
public sealed class StoreAdapterTests(ServerFixture server, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "loyalty-adapter-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Formats", "Golden", name);

    private AdapterConfig Config(string store, string? serverAddress = null) => new()
    {
        Server = serverAddress ?? server.GrpcAddress.ToString(),
        KeyFile = Path.Combine(server.DataDirectory, "admin.key"),
        Store = store,
        DataDirectory = Path.Combine(_root, "data"),
        Registers =
        [
            new RegisterFolder("R1", "frontol", Path.Combine(_root, "r1", "in", "cards.txt"), Path.Combine(_root, "r1", "out"), BonusPaymentTypes: ["9"], LineDiscountsAreBonuses: true),
            new RegisterFolder("R2", "kassir", Path.Combine(_root, "r2", "in", "cards.txt")),
        ],
    };

    private async Task IssueAsync(LoyaltyClient admin, params string[] cards)
    {
        foreach (var card in cards)
        {
            try { await admin.IssueCardAsync(new IssueCardRequest { CardNumber = card }); }
            catch (RpcException exists) when (exists.StatusCode == StatusCode.AlreadyExists) { }
            await admin.AdjustAsync(new AdjustRequest { OperationId = $"adapter-open-{card}-{Guid.NewGuid():N}", CardNumber = card, Amount = 500_00, Reason = "opening balance" });
        }
    }

    [Fact]
    public async Task One_pass_writes_every_registers_catalog_uploads_the_report_once_archives_it_and_moves_a_broken_one_aside()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        await IssueAsync(admin, "0000123456789", "123456789", "2000003");
        var config = Config("ADP-01");
        var reports = config.Registers[0].ReportsDirectory!;
        Directory.CreateDirectory(reports);
        File.Copy(Golden("frontol-report-shift466.txt"), Path.Combine(reports, "shift466.txt"));
        var broken = File.ReadAllLines(Golden("frontol-report-shift466.txt"), RegisterEncodings.Windows1251);
        broken[3] = broken[3].Replace("1000,00", "abc");   // the first transaction, line 4 of the file
        File.WriteAllLines(Path.Combine(reports, "shift467.txt"), broken, RegisterEncodings.Windows1251);

        using var client = LoyaltyClient.Create(config.Server, server.AdminKey, TimeSpan.FromSeconds(30));
        var state = await new StoreAdapter(config, client).PassAsync(CancellationToken.None, exportNow: true);

        Assert.True(state.LinkUp, state.LastError);
        Assert.Equal((1, 1, 0), (state.UploadedReports, state.BrokenReports, state.QueuedReports));
        Assert.True(File.Exists(Path.Combine(reports, "archive", "shift466.txt")));
        var reason = await File.ReadAllTextAsync(Path.Combine(reports, "broken", "shift467.txt.reason.txt"));
        Assert.Contains("shift467.txt", reason);
        Assert.Contains("line 4", reason);
        Assert.Contains(FrontolCatalogFile.Read(config.Registers[0].CatalogPath), c => c.CardNumber == "0000123456789");
        Assert.Contains(KassirCatalogFile.Read(config.Registers[1].CatalogPath), c => c.CardNumber == "2000003" && c.OfflineSpendableKopecks > 0);
        var shift = await admin.GetShiftAsync(new GetShiftRequest { StoreId = "ADP-01", RegisterId = "R1", ShiftNumber = 466 });
        Assert.Contains(shift.Receipts, r => r.Outcome == ReceiptOutcome.AppliedFromReport);
        Assert.Equal(state, StoreAdapter.ReadState(config)! with { UpdatedAt = state.UpdatedAt });
    }

    [Fact]
    public async Task Reports_wait_in_their_folder_while_the_server_is_down_and_go_up_once_when_it_is_back()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        await IssueAsync(admin, "0000123456789", "123456789", "2000003");
        var down = Config("ADP-02", ClosedPort.Address());
        var reports = down.Registers[0].ReportsDirectory!;
        Directory.CreateDirectory(reports);
        File.Copy(Golden("frontol-report-shift466.txt"), Path.Combine(reports, "shift466.txt"));

        using (var offline = LoyaltyClient.Create(down.Server, server.AdminKey, TimeSpan.FromSeconds(5)))
        {
            var waiting = await new StoreAdapter(down, offline).PassAsync(CancellationToken.None, exportNow: true);
            Assert.False(waiting.LinkUp);
            Assert.Equal(1, waiting.QueuedReports);
            Assert.True(File.Exists(Path.Combine(reports, "shift466.txt")));
        }

        var up = Config("ADP-02");
        using var online = LoyaltyClient.Create(up.Server, server.AdminKey, TimeSpan.FromSeconds(30));
        // A crash between upload and archive: the report goes up again and is answered the same.
        var adapter = new StoreAdapter(up, online);
        await online.UploadShiftReportAsync(PosAdapter.Cli.ReportConversion.ToWire(
            FrontolReportReader.Read(Path.Combine(reports, "shift466.txt"), new ReportReadOptions { StoreId = "ADP-02", RegisterId = "R1", BonusPaymentTypeCodes = new HashSet<string> { "9" }, LineDiscountsAreBonuses = true }), "goods"));
        var balance = (await admin.GetCardAsync("0000123456789")).Balance;
        var state = await adapter.PassAsync(CancellationToken.None);

        Assert.True(state.LinkUp);
        Assert.Equal((1, 0), (state.UploadedReports, state.QueuedReports));
        Assert.Equal(balance, (await admin.GetCardAsync("0000123456789")).Balance);
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
    }

    /// <summary>
    /// Issue 11, "Bad input", through the adapter: every hostile file in a register's folder is moved
    /// aside with a reason naming the file (and the line and field where there is one), nothing of any
    /// of them reaches the server, and the good report beside them still goes up in the same pass.
    /// </summary>
    [Fact]
    public async Task Every_hostile_report_is_moved_aside_naming_file_line_and_field_none_is_applied_and_the_good_one_still_goes_up()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        await IssueAsync(admin, "0000123456789", "123456789", "2000003");
        var config = Config("ADP-03");
        var reports = config.Registers[0].ReportsDirectory!;
        Directory.CreateDirectory(reports);
        var golden = File.ReadAllLines(Golden("frontol-report-shift466.txt"), RegisterEncodings.Windows1251);
        int Index(string part) => Array.FindIndex(golden, line => line.Contains(part, StringComparison.Ordinal));
        void Write(string name, Func<List<string>, List<string>> change, System.Text.Encoding? encoding = null) =>
            File.WriteAllLines(Path.Combine(reports, name), change([.. golden]), encoding ?? RegisterEncodings.Windows1251);
        static List<string> SetField(List<string> lines, int index, int field, string value)
        {
            var fields = lines[index].Split(';');
            fields[field - 1] = value;
            lines[index] = string.Join(';', fields);
            return lines;
        }

        // The good one: the same register's next shift, 467.
        Write("good.txt", lines => [.. lines.Select((l, i) => i == 2 ? "467" : l.Replace(";466;", ";467;").Replace("1/466/", "1/467/"))]);
        // The hostile ones, all of shift 466.
        var bytes = File.ReadAllBytes(Golden("frontol-report-shift466.txt"));
        File.WriteAllBytes(Path.Combine(reports, "truncated.txt"), bytes[..(bytes.Length - 20)]);
        Write("utf8.txt", lines => SetField(lines, Index(";40;1;102034;"), 7, "Молоко"), RegisterEncodings.Utf8);
        Write("fields.txt", lines => { lines[Index(";11;1;102034;")] = "9;06.07.2026;21:10:00;11;1;102034;1;500;;10,00"; return lines; });
        Write("negative.txt", lines => SetField(lines, Index(";11;1;102034;1;941;"), 12, "-36,17"));
        Write("absurd.txt", lines => SetField(lines, Index(";11;1;102034;1;941;"), 12, "99999999999999,00"));
        Write("unclosed.txt", lines => { lines.RemoveRange(lines.FindIndex(l => l.Contains(";55;1;102045;")), 2); return lines; });
        Write("duplicate.txt", lines =>
        {
            var close = lines.FindIndex(l => l.Contains(";55;1;102041;"));
            lines.InsertRange(close + 1, [lines[close - 2], lines[close - 1], lines[close]]);
            return lines;
        });
        Write("other-register.txt", lines => SetField(lines, Index(";11;1;102040;"), 5, "2"));
        using (var huge = File.Create(Path.Combine(reports, "huge.txt")))
        {
            huge.Write("#\r\n"u8);
            huge.SetLength(200L * 1024 * 1024);   // sparse: no 200 MB written to the test disk
        }
        var hostile = new[] { "truncated.txt", "utf8.txt", "fields.txt", "negative.txt", "absurd.txt", "unclosed.txt", "duplicate.txt", "other-register.txt", "huge.txt" };

        using var client = LoyaltyClient.Create(config.Server, server.AdminKey, TimeSpan.FromSeconds(30));
        var state = await new StoreAdapter(config, client).PassAsync(CancellationToken.None, exportNow: true);

        Assert.True(state.LinkUp, state.LastError);
        Assert.Equal((1, hostile.Length, 0), (state.UploadedReports, state.BrokenReports, state.QueuedReports));
        Assert.True(File.Exists(Path.Combine(reports, "archive", "good.txt")));
        foreach (var name in hostile)
        {
            var reason = await File.ReadAllTextAsync(Path.Combine(reports, "broken", name + ".reason.txt"));
            Assert.Contains(name, reason);
            if (name != "huge.txt") Assert.Matches(@"line \d+", reason);
            if (name is "fields.txt" or "negative.txt" or "absurd.txt" or "unclosed.txt" or "duplicate.txt" or "other-register.txt")
                Assert.True(reason.Contains("field", StringComparison.Ordinal), $"{name}: {reason}");
        }
        var missing = await Assert.ThrowsAsync<RpcException>(() => admin.GetShiftAsync(new GetShiftRequest { StoreId = "ADP-03", RegisterId = "R1", ShiftNumber = 466 }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var good = await admin.GetShiftAsync(new GetShiftRequest { StoreId = "ADP-03", RegisterId = "R1", ShiftNumber = 467 });
        Assert.Contains(good.Receipts, r => r.Outcome == ReceiptOutcome.AppliedFromReport);
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
    }

    /// <summary>
    /// The adapter as its own process (./loyalty adapter run), killed with SIGKILL while it works
    /// through a folder of reports and started again: every report ends archived, every shift is
    /// reconciled once, and the cards hold exactly what the shifts' answers say. Where the kill lands
    /// (between reports, or between an upload and its archiving) varies from run to run; each case
    /// must come out the same.
    /// </summary>
    [Fact]
    public async Task The_adapter_process_killed_with_SIGKILL_mid_pass_and_started_again_uploads_every_report_exactly_once()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        string[] cards = ["0000123456789", "123456789", "2000003"];
        await IssueAsync(admin, cards);
        var before = new Dictionary<string, long>();
        foreach (var card in cards) before[card] = (await admin.GetCardAsync(card)).Balance;
        var config = Config("ADP-04") with { ScanEverySeconds = 1, Registers = [Config("ADP-04").Registers[0]] };
        var reports = config.Registers[0].ReportsDirectory!;
        Directory.CreateDirectory(reports);
        var golden = File.ReadAllLines(Golden("frontol-report-shift466.txt"), RegisterEncodings.Windows1251);
        var shifts = Enumerable.Range(600, 40).ToList();
        foreach (var shift in shifts)
            File.WriteAllLines(Path.Combine(reports, $"shift{shift}.txt"),
                golden.Select((l, i) => i == 2 ? $"{shift}" : l.Replace(";466;", $";{shift};").Replace("1/466/", $"1/{shift}/")), RegisterEncodings.Windows1251);
        var configPath = Path.Combine(_root, "adapter.json");
        await File.WriteAllTextAsync(configPath, System.Text.Json.JsonSerializer.Serialize(config, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web)));
        var archive = Path.Combine(reports, "archive");
        int Archived() => Directory.Exists(archive) ? Directory.GetFiles(archive).Length : 0;

        var (adapter, adapterErrors) = StartAdapter(configPath);
        using (adapter)
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Archived() < 3 && !adapter.HasExited && waited.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(5);
            if (adapter.HasExited) Assert.Fail($"The adapter exited with {adapter.ExitCode}: {await adapterErrors}");
            adapter.Kill();   // SIGKILL: no handler runs, the state file is whatever was last written
            await adapter.WaitForExitAsync();
        }
        var archivedAtKill = Archived();
        output.WriteLine($"killed after {archivedAtKill} of {shifts.Count} reports were archived");
        Assert.True(archivedAtKill < shifts.Count, "The adapter finished the folder before it was killed; the kill tested nothing.");

        var (again, againErrors) = StartAdapter(configPath, "--once");
        using (again)
        {
            await again.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
            Assert.True(again.ExitCode == 0, await againErrors);
        }

        Assert.Equal(shifts.Count, Archived());
        Assert.Empty(Directory.GetFiles(reports, "*.txt"));
        Assert.False(Directory.Exists(Path.Combine(reports, "broken")) && Directory.GetFiles(Path.Combine(reports, "broken")).Length > 0, "A report was moved aside.");
        var expected = new Dictionary<string, long>(before);
        foreach (var shift in shifts)
        {
            var answer = await admin.GetShiftAsync(new GetShiftRequest { StoreId = "ADP-04", RegisterId = "R1", ShiftNumber = shift });
            foreach (var r in answer.Receipts.Where(r => expected.ContainsKey(r.CardNumber)))
                expected[r.CardNumber] += r.AppliedAccrued - r.AppliedRedeemed + r.ReturnRestored - r.ReturnReversed;
        }
        foreach (var card in cards)
            Assert.True(expected[card] == (await admin.GetCardAsync(card)).Balance, $"Card {card}: the answers add up to {expected[card]} (killed after {archivedAtKill} of {shifts.Count} reports were archived).");
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
    }

    private static (System.Diagnostics.Process Process, Task<string> Errors) StartAdapter(string configPath, params string[] extra)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        // The CLI from its own build output (tests/Loyalty.Api.Tests/bin/CONFIG/net10.0 → Loyalty.PosAdapter/bin/CONFIG/net10.0),
        // with its own dependencies; the copy beside the tests resolves against the tests' package versions.
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var cli = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName, "Loyalty.PosAdapter", "bin", here.Parent.Name, here.Name, "loyalty.dll");
        start.ArgumentList.Add(cli);
        foreach (var arg in (string[])["adapter", "run", "--config", configPath, .. extra]) start.ArgumentList.Add(arg);
        var process = System.Diagnostics.Process.Start(start)!;
        // Both drained from the start, so a chatty adapter never blocks on a full pipe.
        _ = process.StandardOutput.ReadToEndAsync();
        return (process, process.StandardError.ReadToEndAsync());
    }
}
