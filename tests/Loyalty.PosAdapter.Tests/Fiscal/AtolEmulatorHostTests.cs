using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

/// <summary>./atol-emulator.sh's program (tools/Loyalty.AtolEmulatorHost) as a separate process, as an integrator runs it.</summary>
public sealed partial class AtolEmulatorHostTests
{
    [GeneratedRegex(@"on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex Url();

    [Fact]
    public async Task The_emulator_host_prints_its_loopback_url_a_line_per_fiscal_document_and_stops_on_SIGTERM()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Loyalty.AtolEmulatorHost.dll"));
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add("0"); // a free port: the default 16732 may be taken on a developer's machine
        var lines = new BlockingCollection<string>();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Add("stderr: " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var directory = Path.Combine(Path.GetTempPath(), "loyalty-emulator-host-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Bounded waits for the process's lines: a hung host fails the test instead of hanging it.
            string Next() => lines.TryTake(out var line, TimeSpan.FromSeconds(60)) ? line : throw new Xunit.Sdk.XunitException("The emulator host printed nothing more.");
            var first = Next();
            var url = Url().Match(first);
            Assert.True(url.Success, first);

            FiscalOutcome outcome;
            await using (var driver = AtolFiscalDriver.Open(new AtolDriverOptions { BaseAddress = new Uri(url.Groups[1].Value), DataDirectory = directory }))
                outcome = await driver.PrintAsync(DriverHarness.Receipt("host-1", 432_10, 32_10));
            var document = Next();

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            using var exitWithin = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exitWithin.Token);

            Assert.Equal(FiscalState.Printed, outcome.State);
            Assert.Matches($@"FD {outcome.Fiscal!.FiscalDocumentNumber} sell total 400\.00 ", document);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}
