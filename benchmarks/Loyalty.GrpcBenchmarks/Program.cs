using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Loyalty.Benchmarks;
using Loyalty.Grains.Storage;
using Loyalty.GrpcBenchmarks;
using Npgsql;

// Redeem+Commit receipts per second through the real server over loopback gRPC, beside pgbench on the
// same PostgreSQL. Tables go to stdout, progress and diagnostics to stderr.

GrpcBenchOptions options;
try
{
    options = GrpcBenchOptions.Parse(args);
}
catch (ArgumentException error)
{
    Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine(GrpcBenchOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(GrpcBenchOptions.Usage);
    return 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop the load and clean up (server, temporary cluster) instead of dying on the spot
    Console.Error.WriteLine("interrupted; stopping");
    cancel.Cancel();
};
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true; // same for SIGTERM: neither the server nor the temporary cluster may outlive us
    Console.Error.WriteLine("terminated; stopping");
    cancel.Cancel();
});

if (options.Overload) return await RunOverloadAsync();

// pgbench's clients: the issue's reference point, whatever --calls says.
const int PgbenchClients = 64;
// The issue's target: receipts/s at least this many times pgbench's transactions/s (a receipt is two durable writes).
const double TargetRatio = 2.0;
// Receipt latencies kept per call count (16 MB); a longer run keeps the first ones.
const int MaxLatencySamples = 2_000_000;

var report = new BenchReport(options, PgbenchClients, TargetRatio);
var failures = new List<string>();
try
{
    await using var database = await BenchDatabase.OpenAsync(line => Console.Error.WriteLine($"postgres: {line}"), cancel.Token);
    var runId = RandomNumberGenerator.GetInt32(100_000, 1_000_000).ToString(CultureInfo.InvariantCulture);
    Console.Error.WriteLine($"database: {database.Description}; {Environment.ProcessorCount} cores; run id {runId}");
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"calls {string.Join(',', options.Calls)} over {options.Connections} HTTP/2 connections; {options.ServerWarmupSeconds:0.#} s server warm-up, then {options.WarmupSeconds:0.#} s warm-up + {options.Seconds:0.#} s measured each; {options.Cards} cards"));

    var serverDatabase = await database.CreateDatabaseAsync($"grpcbench_{runId}_server", cancel.Token);
    report.DatabaseSettings = await DescribeDatabaseAsync(serverDatabase, cancel.Token);
    Console.Error.WriteLine($"postgres settings: {report.DatabaseSettings}");
    var postmasterPid = database.LocalDataDirectory is { } data ? CpuSnapshot.PostmasterPid(data) : null;
    if (postmasterPid is null)
        Console.Error.WriteLine("PostgreSQL's CPU is not measured on its own: it is an external server whose processes this benchmark does not know, so it falls under \"other\" when it runs on this machine.");

    var serverDirectory = BenchDatabase.CreateTempDirectory("loyalty-grpcbench-server");
    try
    {
        await RunServerAsync(serverDatabase, serverDirectory, postmasterPid);
    }
    catch (Exception error) when (error is not OperationCanceledException || !cancel.IsCancellationRequested)
    {
        // A failed load still leaves a database worth checking: whatever was acknowledged must be intact.
        Console.Error.WriteLine($"benchmark failed: {Describe(error)}");
        failures.Add(error.Message);
    }
    finally
    {
        BenchDatabase.TryDelete(serverDirectory);
    }

    // Checked once the server has stopped, so its writer has flushed everything it acknowledged.
    Console.Error.WriteLine("checking the ledger invariants on the server's database");
    await using (var dataSource = NpgsqlDataSource.Create(serverDatabase))
        report.Violations = await InvariantChecker.CheckAsync(dataSource, cancel.Token);

    if (options.Pgbench && failures.Count == 0)
    {
        var pgbench = PgbenchReference.FindPgbench(database.BinDirectory)
            ?? throw new InvalidOperationException("pgbench was not found (Debian package postgresql); install it or pass --no-pgbench.");
        var pgbenchDatabase = await database.CreateDatabaseAsync($"grpcbench_{runId}_pgbench", cancel.Token);
        Console.Error.WriteLine($"[pgbench x{PgbenchClients}] one update + one insert per transaction for {options.Seconds:0.#} s");
        var from = CpuSample.Take((int?)null, postmasterPid);
        var run = PgbenchReference.RunAsync(pgbench, pgbenchDatabase, PgbenchClients, options.Seconds, cancel.Token);
        var started = Stopwatch.StartNew();
        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(1), cancel.Token));
            cancel.Token.ThrowIfCancellationRequested();
            if (!run.IsCompleted) Console.Error.WriteLine($"[pgbench x{PgbenchClients}] {started.Elapsed.TotalSeconds:0}/{options.Seconds:0.#} s");
        }
        report.PgbenchTps = await run;
        var cores = CpuSample.Cores(from, CpuSample.Take((int?)null, postmasterPid));
        report.PgbenchPostgresCores = cores.Postgres;
        report.PgbenchMachineCores = cores.Machine;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[pgbench x{PgbenchClients}] {report.PgbenchTps:0} transactions/s"));
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("interrupted; partial results follow");
    failures.Add("The run was interrupted.");
}
catch (Exception error)
{
    Console.Error.WriteLine($"benchmark failed: {Describe(error)}");
    failures.Add(error.Message);
}

report.Write(Console.Out);
report.WriteFiles();
foreach (var failure in failures) Console.Error.WriteLine($"failure: {failure}");
if (failures.Count > 0) return 2;
return report.Violations is { Count: > 0 } ? 1 : 0;

// The process's resident memory (VmRSS) in KiB, or null when /proc does not say.
static long? ResidentKb(int pid)
{
    var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

// Starts the server, sets up keys and cards, runs every call count, and stops the server with SIGTERM whatever happened.
async Task RunServerAsync(string serverDatabase, string serverDirectory, int? postmasterPid)
{
    // The first server migrates the schema and writes the admin key; the others join its cluster after it.
    var servers = new List<ServerProcess> { ServerProcess.Start(serverDatabase, serverDirectory) };
    var server = servers[0];
    try
    {
        var (grpcAddress, adminKeyPath) = await server.WaitUntilReadyAsync(cancel.Token);
        Console.Error.WriteLine($"server: pid {server.Id}, gRPC on {grpcAddress}");
        var addresses = new List<Uri> { grpcAddress };
        for (var n = 1; n < options.Servers; n++)
        {
            var directory = Path.Combine(serverDirectory, $"server-{n + 1}");
            Directory.CreateDirectory(directory);
            var another = ServerProcess.Start(serverDatabase, directory);
            servers.Add(another);
            var (address, _) = await another.WaitUntilReadyAsync(cancel.Token);
            Console.Error.WriteLine($"server {n + 1}: pid {another.Id}, gRPC on {address}, same cluster");
            addresses.Add(address);
        }
        var adminKey = (await File.ReadAllTextAsync(adminKeyPath, cancel.Token)).Trim();
        using var client = new BenchGrpcClient(addresses, options.Connections);
        var posKey = await BenchSession.CreatePosKeyAsync(client, adminKey, cancel.Token);
        var cards = Enumerable.Range(0, options.Cards).Select(BenchSession.CardNumber).ToArray();
        var session = new BenchSession(client, adminKey, posKey, cards);
        var setup = Stopwatch.StartNew();
        var residentBefore = ResidentKb(server.Id);
        await session.IssueAndFundCardsAsync(cancel.Token);
        await Task.Delay(TimeSpan.FromSeconds(2), cancel.Token);
        if (residentBefore is { } before && ResidentKb(server.Id) is { } after) report.ActivationMemory = (before, after, cards.Length);
        Console.Error.WriteLine($"cards: {cards.Length} issued and funded with {BenchSession.FundKopecks / 100:N0}.00 each in {setup.Elapsed.TotalSeconds:0.0} s");

        var latencies = new long[MaxLatencySamples];
        var level = 0;
        if (options.ServerWarmupSeconds > 0)
        {
            // A fresh server runs its first seconds on unoptimised code (tiered JIT): without this the first
            // call count would be measured on a slower server than the others.
            level++;
            var warm = await new LoadRun(session, servers, postmasterPid, latencies)
                .RunAsync(options.Calls[0], level, options.ServerWarmupSeconds, 0, cancel.Token, "server warm-up");
            foreach (var (kind, count) in warm.ErrorsOutsideWindow)
                Console.Error.WriteLine($"server warm-up: {count} × {kind}{(warm.ErrorSamples.TryGetValue(kind, out var sample) ? $", e.g.: {sample}" : "")}");
        }
        foreach (var calls in options.Calls)
        {
            level++;
            var result = await new LoadRun(session, servers, postmasterPid, latencies)
                .RunAsync(calls, level, options.WarmupSeconds, options.Seconds, cancel.Token);
            report.Results.Add(result);
            Console.Error.WriteLine(BenchReport.Summary(result));
            if (result.Receipts == 0) failures.Add($"No receipt was completed in the measured window at {calls} calls in flight.");
        }
    }
    finally
    {
        foreach (var running in servers.Where(s => !s.HasExited))
        {
            Console.Error.WriteLine($"stopping server pid {running.Id} with SIGTERM");
            var exit = await running.StopAsync();
            report.ServerExit = exit;
            if (exit != 0) failures.Add($"A server exited with code {exit} after SIGTERM instead of 0 (a clean stop). Its last lines:{Environment.NewLine}{running.Tail}");
        }
        foreach (var stopped in servers)
        {
            if (stopped.SuppressedLines > 0) Console.Error.WriteLine($"({stopped.SuppressedLines} more server lines were not echoed)");
            stopped.Dispose();
        }
    }
}

// --overload: the bounded overload scenarios on a fresh database, their table, and the invariants afterwards.
async Task<int> RunOverloadAsync()
{
    var problems = new List<string>();
    IReadOnlyList<string>? violations = null;
    OverloadRun? overload = null;
    try
    {
        await using var database = await BenchDatabase.OpenAsync(line => Console.Error.WriteLine($"postgres: {line}"), cancel.Token);
        var runId = RandomNumberGenerator.GetInt32(100_000, 1_000_000).ToString(CultureInfo.InvariantCulture);
        Console.Error.WriteLine($"database: {database.Description}; {Environment.ProcessorCount} cores; run id {runId}");
        var serverDatabase = await database.CreateDatabaseAsync($"grpcbench_{runId}_overload", cancel.Token);
        var directory = BenchDatabase.CreateTempDirectory("loyalty-grpcbench-overload");
        overload = new OverloadRun(database, serverDatabase, cancel.Token);
        try
        {
            await overload.RunAsync(directory, problems);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine($"overload benchmark failed: {Describe(error)}");
            problems.Add(error.Message);
        }
        finally
        {
            BenchDatabase.TryDelete(directory);
        }
        // Checked once the servers have stopped, so their writers have flushed everything they acknowledged.
        Console.Error.WriteLine("checking the ledger invariants and the refused calls on the servers' database");
        await overload.CheckRefusalsChangedNothingAsync(problems);
        await using (var dataSource = NpgsqlDataSource.Create(serverDatabase))
            violations = await InvariantChecker.CheckAsync(dataSource, cancel.Token);
    }
    catch (OperationCanceledException) when (cancel.IsCancellationRequested)
    {
        Console.Error.WriteLine("interrupted; partial results follow");
        problems.Add("The run was interrupted.");
    }
    catch (Exception error)
    {
        Console.Error.WriteLine($"overload benchmark failed: {Describe(error)}");
        problems.Add(error.Message);
    }

    overload?.Write(Console.Out);
    if (overload is not null) await overload.WriteFilesAsync(options.CsvPath, options.HtmlPath);
    Console.Out.WriteLine(violations switch
    {
        null => "invariants: not checked (the run failed before the check)",
        { Count: 0 } => "invariants: OK",
        var found => $"invariants: {found.Count} violations",
    });
    foreach (var line in violations ?? []) Console.Out.WriteLine($"  {line}");
    foreach (var problem in problems) Console.Error.WriteLine($"failure: {problem}");
    if (problems.Count > 0) return 2;
    return violations is { Count: > 0 } ? 1 : 0;
}

// Our own failures carry full sentences; anything else gets its stack trace, since it is a bug to find.
static string Describe(Exception error) =>
    error is InvalidOperationException or TimeoutException ? error.Message : error.ToString();

static async Task<string> DescribeDatabaseAsync(string connectionString, CancellationToken cancellationToken)
{
    await using var dataSource = NpgsqlDataSource.Create(connectionString);
    await using var command = dataSource.CreateCommand(
        "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('wal_sync_method'), current_setting('max_connections')");
    await using var reader = await command.ExecuteReaderAsync(cancellationToken);
    return await reader.ReadAsync(cancellationToken)
        ? $"PostgreSQL {reader.GetString(0)}, fsync={reader.GetString(1)}, synchronous_commit={reader.GetString(2)}, wal_sync_method={reader.GetString(3)}, max_connections={reader.GetString(4)}"
        : "unknown";
}
