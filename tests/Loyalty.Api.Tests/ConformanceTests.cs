using System.Diagnostics;
using Loyalty.Api.Tests.Support;

namespace Loyalty.Api.Tests;

/// <summary>
/// The server against two gRPC clients nobody here wrote: @grpc/grpc-js (pure JavaScript) and
/// Debian's python3-grpcio (the C core). Each runs the POS flow, the status-code checks and the
/// office register's fiscal flow of tests/conformance; test.sh installs both before the tests run.
/// The suite's summary line ("# python: N of N checks passed") goes to the test output.
/// </summary>
public class ConformanceTests(ServerFixture server, Xunit.Abstractions.ITestOutputHelper log) : IClassFixture<ServerFixture>
{
    /// <summary>Both suites finish in seconds; this only stops a hung peer from hanging the test run.</summary>
    private static readonly TimeSpan SuiteTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Grpc_js_runs_the_pos_flow_the_fiscal_flow_and_gets_every_status_code_the_contract_promises()
    {
        var suite = Path.Combine(RepositoryRoot(), "tests", "conformance", "node");
        Assert.True(Directory.Exists(Path.Combine(suite, "node_modules", "@grpc", "grpc-js")),
            "@grpc/grpc-js is not installed; test.sh runs scripts/ensure-test-peers.sh first.");
        await RunSuiteAsync("node", [Path.Combine(suite, "conformance.js")], suite);
    }

    [Fact]
    public async Task Python_grpcio_runs_the_pos_flow_the_fiscal_flow_and_gets_every_status_code_the_contract_promises()
    {
        var suite = Path.Combine(RepositoryRoot(), "tests", "conformance", "python");
        await RunSuiteAsync("/usr/bin/python3", [Path.Combine(suite, "conformance.py")], suite);
    }

    private async Task RunSuiteAsync(string program, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["LOYALTY_GRPC_ADDR"] = $"{server.GrpcAddress.Host}:{server.GrpcAddress.Port}";
        start.Environment["LOYALTY_ADMIN_KEY"] = server.AdminKey;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(SuiteTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{program} did not finish in {SuiteTimeout}:\n{await output}");
        }
        var text = await output + await errors;
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed (exit {process.ExitCode}):\n{text}");
        var lines = text.Split('\n');
        Assert.DoesNotContain(lines, line => line.StartsWith("FAIL", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("ok", StringComparison.Ordinal));
        // Every section ran, the office register's (issue 13's fixed names) included.
        Assert.Contains(lines, line => line.StartsWith("# fiscal", StringComparison.Ordinal));
        foreach (var summary in lines.Where(line => line.Contains("checks passed", StringComparison.Ordinal))) log.WriteLine(summary);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Loyalty.sln"))) return directory.FullName;
        throw new InvalidOperationException("The tests run outside the repository; Loyalty.sln was not found above " + AppContext.BaseDirectory);
    }
}
