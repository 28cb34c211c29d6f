using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Loyalty.Benchmarks;
using Loyalty.Grains.Storage;
using Npgsql;

// Commit-with-redeem throughput and latency, group commit against one commit per operation.
// Tables go to stdout, progress and diagnostics to stderr.

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException error)
{
    Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop the runs and clean up (the temporary cluster) instead of dying on the spot
    Console.Error.WriteLine("interrupted; stopping");
    cancel.Cancel();
};
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true; // same for SIGTERM: the temporary cluster must not outlive us
    Console.Error.WriteLine("terminated; stopping");
    cancel.Cancel();
});

var results = new List<RunResult>();
var references = new List<(int Clients, double TransactionsPerSecond)>();
var violations = new List<(string Run, IReadOnlyList<string> Found)>();
try
{
    await using var database = await BenchDatabase.OpenAsync(line => Console.Error.WriteLine($"postgres: {line}"), cancel.Token);
    var runId = RandomNumberGenerator.GetInt32(100_000, 1_000_000).ToString(CultureInfo.InvariantCulture);
    var latencyBuffer = new long[2_000_000];
    using var dbTiming = options.DbTiming ? new DbTiming() : null;
    Console.Error.WriteLine($"database: {database.Description}; {Environment.ProcessorCount} cores; run id {runId}");
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"callers {string.Join(',', options.Callers)}; {options.WarmupSeconds:0.#} s warm-up + {options.Seconds:0.#} s measured per mode; {options.Cards} cards per run"));

    var set = 0;
    foreach (var callers in options.Callers)
    {
        foreach (var mode in options.Modes)
        {
            cancel.Token.ThrowIfCancellationRequested();
            set++;
            var connectionString = await database.DatabaseForAsync($"bench_{runId}_{set}", cancel.Token);
            await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 100 });
            if (set == 1) await DescribeServerAsync(dataSource);

            var run = new CommitWithRedeemRun(connectionString, dataSource, mode, callers, options, runId, set, latencyBuffer, dbTiming,
                database.LocalDataDirectory is { } data ? CpuSnapshot.PostmasterPid(data) : null);
            var result = await run.RunAsync(cancel.Token);
            var found = await InvariantChecker.CheckAsync(dataSource, cancel.Token);
            if (found.Count > 0) violations.Add(($"{result.ModeName} x{callers}", found));
            results.Add(result);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{result.ModeName} x{callers}] {result.ReceiptsPerSecond:0} receipts/s, p50 {result.P50Ms:0.00} ms, p99 {result.P99Ms:0.00} ms, " +
                $"avg batch {result.AverageBatchSize:0.0}; CPU in cores: client {result.ClientCores:0.00}, postgres {(double.IsNaN(result.PostgresCores) ? "?" : result.PostgresCores.ToString("0.00", CultureInfo.InvariantCulture))}, " +
                $"whole machine {result.MachineCores:0.00} of {Environment.ProcessorCount}; " +
                $"errors {result.Errors}{(result.Errors > 0 ? " (" + string.Join(", ", result.ErrorsByKind.Select(e => $"{e.Key} {e.Value}")) + ")" : "")}; " +
                $"invariants {(found.Count == 0 ? "OK" : found.Count + " violations")}"));
            foreach (var line in result.DbTiming) Console.Error.WriteLine(line);
        }

        if (options.Pgbench)
        {
            var pgbench = PgbenchReference.FindPgbench(database.BinDirectory)
                ?? throw new InvalidOperationException("--pgbench needs pgbench (Debian package postgresql).");
            set++;
            var connectionString = await database.DatabaseForAsync($"bench_{runId}_{set}", cancel.Token);
            Console.Error.WriteLine($"[pgbench x{callers}] one update + one insert per transaction for {options.Seconds:0.#} s");
            var tps = await PgbenchReference.RunAsync(pgbench, connectionString, callers, options.Seconds, cancel.Token);
            references.Add((callers, tps));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[pgbench x{callers}] {tps:0} transactions/s"));
        }
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("interrupted; partial results follow");
}
catch (Exception error)
{
    Console.Error.WriteLine($"benchmark failed: {error}");
    Report(results, references, violations, options);
    return 2;
}

Report(results, references, violations, options);
return violations.Count > 0 ? 1 : 0;

static void Report(List<RunResult> results, List<(int Clients, double TransactionsPerSecond)> references, List<(string Run, IReadOnlyList<string> Found)> violations, BenchOptions options)
{
    if (results.Count == 0) return;
    var ci = CultureInfo.InvariantCulture;
    var stdout = Console.Out;
    stdout.WriteLine();
    stdout.WriteLine("| mode | callers | receipts/s | writes/s | p50 ms | p99 ms | avg batch size |");
    stdout.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
    foreach (var r in results)
        stdout.WriteLine(string.Create(ci,
            $"| {r.ModeName} | {r.Callers} | {r.ReceiptsPerSecond:0} | {r.WritesPerSecond:0} | {r.P50Ms:0.00} | {r.P99Ms:0.00} | {r.AverageBatchSize:0.0} |"));
    stdout.WriteLine();

    foreach (var callers in results.Select(r => r.Callers).Distinct())
    {
        var group = results.FirstOrDefault(r => r.Callers == callers && r.Mode == CommitMode.GroupCommit);
        var one = results.FirstOrDefault(r => r.Callers == callers && r.Mode == CommitMode.OnePerCommit);
        if (group is null || one is null || one.ReceiptsPerSecond <= 0) continue;
        var ratio = group.ReceiptsPerSecond / one.ReceiptsPerSecond;
        var target = callers == 64 ? (ratio >= 5 ? " (target >= 5x: met)" : " (target >= 5x: NOT met)") : "";
        stdout.WriteLine(string.Create(ci, $"ratio group/one-per-commit at {callers} callers: {ratio:0.00}x{target}"));
    }

    foreach (var (clients, tps) in references)
    {
        var group = results.FirstOrDefault(r => r.Callers == clients && r.Mode == CommitMode.GroupCommit);
        stdout.WriteLine(string.Create(ci, $"pgbench at {clients} clients (one update + one insert per transaction): {tps:0} transactions/s") +
            (group is null ? "" : string.Create(ci, $"; engine durable writes/s ÷ pgbench transactions/s: {group.WritesPerSecond / tps:0.00}x")));
    }

    var errors = results.Where(r => r.Errors > 0).ToList();
    foreach (var r in errors)
        stdout.WriteLine(string.Create(ci, $"errors in {r.ModeName} x{r.Callers}: {string.Join(", ", r.ErrorsByKind.Select(e => $"{e.Key} {e.Value}"))}"));

    if (violations.Count == 0)
        stdout.WriteLine("invariants: OK");
    else
        foreach (var (run, found) in violations)
        {
            stdout.WriteLine($"invariants: {found.Count} violations after {run}:");
            foreach (var line in found) stdout.WriteLine($"  {line}");
        }

    if (options.CsvPath is { } path)
    {
        var csv = new StringBuilder("mode,callers,receipts_per_s,writes_per_s,p50_ms,p99_ms,avg_batch_size\n");
        foreach (var r in results)
            csv.Append(ci, $"{r.ModeName},{r.Callers},{r.ReceiptsPerSecond:0.0},{r.WritesPerSecond:0.0},{r.P50Ms:0.000},{r.P99Ms:0.000},{r.AverageBatchSize:0.00}\n");
        File.WriteAllText(path, csv.ToString());
        Console.Error.WriteLine($"wrote {path}");
    }

    if (options.HtmlPath is { } page)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Loyalty group-commit benchmark</title>")
            .Append("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}</style></head><body>")
            .Append(ci, $"<h1>Commit-with-redeem: group commit against one commit per operation</h1><p>{DateTimeOffset.UtcNow:u}, {Environment.ProcessorCount} cores, {options.Seconds} s per run.</p>")
            .Append("<table><tr><th>mode</th><th>callers</th><th>receipts/s</th><th>writes/s</th><th>p50 ms</th><th>p99 ms</th><th>avg batch size</th></tr>");
        foreach (var r in results)
            html.Append(ci, $"<tr><td>{r.ModeName}</td><td>{r.Callers}</td><td>{r.ReceiptsPerSecond:0}</td><td>{r.WritesPerSecond:0}</td><td>{r.P50Ms:0.00}</td><td>{r.P99Ms:0.00}</td><td>{r.AverageBatchSize:0.0}</td></tr>");
        html.Append("</table><ul>");
        foreach (var callers in results.Select(r => r.Callers).Distinct())
        {
            var group = results.FirstOrDefault(r => r.Callers == callers && r.Mode == CommitMode.GroupCommit);
            var one = results.FirstOrDefault(r => r.Callers == callers && r.Mode == CommitMode.OnePerCommit);
            if (group is not null && one is not null && one.ReceiptsPerSecond > 0)
                html.Append(ci, $"<li>ratio at {callers} callers: {group.ReceiptsPerSecond / one.ReceiptsPerSecond:0.00}×</li>");
        }
        foreach (var (clients, tps) in references)
            html.Append(ci, $"<li>pgbench at {clients} clients (one update + one insert per transaction): {tps:0} transactions/s</li>");
        html.Append($"<li>invariants: {(violations.Count == 0 ? "OK" : "VIOLATED")}</li></ul></body></html>\n");
        File.WriteAllText(page, html.ToString());
        Console.Error.WriteLine($"wrote {page}");
    }
}

static async Task DescribeServerAsync(NpgsqlDataSource dataSource)
{
    await using var command = dataSource.CreateCommand(
        "SELECT version(), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('wal_sync_method'), current_setting('commit_delay')");
    await using var reader = await command.ExecuteReaderAsync();
    if (await reader.ReadAsync())
        Console.Error.WriteLine($"server: {reader.GetString(0)}; fsync={reader.GetString(1)} synchronous_commit={reader.GetString(2)} wal_sync_method={reader.GetString(3)} commit_delay={reader.GetString(4)}");
}
