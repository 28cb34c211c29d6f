using System.Collections.Concurrent;
using System.Diagnostics;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Silo.Tests;

/// <summary>The server process as ./run.sh starts it: embedded database, migrations, clean shutdown on SIGTERM.</summary>
public sealed class SiloProcessTests : IDisposable
{
    private readonly string _dataDirectory;

    public SiloProcessTests()
    {
        _dataDirectory = Path.Combine(Path.GetTempPath(), $"loyalty-silo-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(_dataDirectory);
        // When the tests run as root, the embedded cluster runs as the postgres user, who must reach it.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dataDirectory, (UnixFileMode)0b111_101_101);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private sealed class RunningSilo(Process process, ConcurrentQueue<string> lines) : IDisposable
    {
        public Process Process => process;
        public string Output => string.Join('\n', lines);

        public async Task WaitForLineAsync(string text, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                if (process.HasExited) throw new Xunit.Sdk.XunitException($"The server exited with {process.ExitCode} before printing \"{text}\":\n{Output}");
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"The server did not print \"{text}\" in {timeout}:\n{Output}");
                await Task.Delay(100);
            }
        }

        public async Task<int> TerminateAsync()
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            return process.ExitCode;
        }

        public void Dispose()
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.Dispose();
        }
    }

    private RunningSilo Start(params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dataDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Loyalty.Silo.dll"));
        start.Environment["LOYALTY_DATA_DIR"] = _dataDirectory;
        start.Environment.Remove("LOYALTY_DB");
        // Free ports, so the test never collides with a server already running on the defaults.
        start.Environment["LOYALTY_GRPC_URL"] = "http://127.0.0.1:0";
        start.Environment["LOYALTY_SILO_PORT"] = "0";
        start.Environment["LOYALTY_HTTP_URL"] = "http://127.0.0.1:0";
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var lines = new ConcurrentQueue<string>();
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new RunningSilo(process, lines);
    }

    [Fact]
    public async Task The_server_starts_on_its_embedded_database_and_stops_it_cleanly_on_SIGTERM_keeping_the_data()
    {
        using (var first = Start())
        {
            await first.WaitForLineAsync("Loyalty engine ready", TimeSpan.FromSeconds(90));
            Assert.Contains("initialising PostgreSQL cluster", first.Output);
            await first.WaitForLineAsync("Serving gRPC on http://127.0.0.1:", TimeSpan.FromSeconds(30));
            var adminKey = Path.Combine(_dataDirectory, "admin.key");
            Assert.Contains($"Created the first admin key; it is in {adminKey}", first.Output);
            Assert.DoesNotContain(File.ReadAllText(adminKey).Trim(), first.Output);
            Assert.Equal(0, await first.TerminateAsync());
            Assert.Contains("Ledger writer flushed and stopped", first.Output);
            Assert.Contains("Embedded PostgreSQL stopped", first.Output);
        }
        Assert.True(File.Exists(Path.Combine(_dataDirectory, "postgres", "PG_VERSION")));
        Assert.False(File.Exists(Path.Combine(_dataDirectory, "postgres", "postmaster.pid")), "PostgreSQL was left running");

        using var second = Start();
        await second.WaitForLineAsync("Loyalty engine ready", TimeSpan.FromSeconds(90));
        Assert.DoesNotContain("initialising PostgreSQL cluster", second.Output);
        await second.WaitForLineAsync("Admin keys exist already", TimeSpan.FromSeconds(30));
        Assert.Equal(0, await second.TerminateAsync());
    }

    [Fact]
    public async Task A_malformed_LOYALTY_DB_stops_the_server_with_a_message_naming_the_setting()
    {
        using var silo = Start(("LOYALTY_DB", "this is = not;;a connection=string;Port=notanumber"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await silo.Process.WaitForExitAsync(timeout.Token);

        Assert.NotEqual(0, silo.Process.ExitCode);
        Assert.Contains("LOYALTY_DB", silo.Output);
    }

    [Fact]
    public async Task With_LOYALTY_DB_pointing_nowhere_the_server_refuses_to_start_rather_than_run_without_its_database()
    {
        var nowhere = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = 1, Username = "x", Password = "y", Database = "z", Timeout = 2 };
        using var silo = Start(("LOYALTY_DB", nowhere.ConnectionString), ("LOYALTY_DB_WAIT_SECONDS", "1"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await silo.Process.WaitForExitAsync(timeout.Token);

        // Exit code 1 with one sentence, not an unhandled exception (SIGABRT, 134) with a stack trace.
        Assert.Equal(1, silo.Process.ExitCode);
        Assert.Contains("The server did not start: Failed to connect to 127.0.0.1:1", silo.Output);
        Assert.DoesNotContain("Unhandled exception", silo.Output);
        Assert.DoesNotContain("Password=y", silo.Output);
    }

    /// <summary>Found by a test sending SIGTERM right after start-up: the signal's default action ended the process on the spot (exit 143).</summary>
    [Fact]
    public async Task A_stop_requested_during_start_up_cancels_the_start_and_exits_cleanly()
    {
        var nowhere = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = 1, Username = "x", Password = "y", Database = "z", Timeout = 2 };
        using var silo = Start(("LOYALTY_DB", nowhere.ConnectionString), ("LOYALTY_DB_WAIT_SECONDS", "600"));
        await silo.WaitForLineAsync("PostgreSQL is not reachable yet", TimeSpan.FromSeconds(60));

        Assert.Equal(0, await silo.TerminateAsync());
        Assert.Contains("Stopped during start-up", silo.Output);
    }

    /// <summary>Found by the chaos harness: a server restarted while PostgreSQL was down crashed instead of waiting for it.</summary>
    [Fact]
    public async Task A_server_started_while_its_database_is_down_waits_for_it_and_then_serves()
    {
        await using var postgres = await EmbeddedPostgres.StartAsync(Path.Combine(_dataDirectory, "external-pg"));
        var connectionString = await postgres.CreateDatabaseAsync("waits");
        await postgres.InterruptAsync("immediate");

        using var silo = Start(("LOYALTY_DB", connectionString));
        await silo.WaitForLineAsync("PostgreSQL is not reachable yet", TimeSpan.FromSeconds(60));
        await postgres.StartAgainAsync();
        await silo.WaitForLineAsync("Serving gRPC on http://127.0.0.1:", TimeSpan.FromSeconds(90));
        Assert.Equal(0, await silo.TerminateAsync());
    }
}
