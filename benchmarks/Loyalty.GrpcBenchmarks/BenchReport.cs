using System.Globalization;
using System.Net;
using System.Text;

namespace Loyalty.GrpcBenchmarks;

/// <summary>The run's results as people read them: a table on stdout, and optionally CSV and a web page.</summary>
public sealed class BenchReport(GrpcBenchOptions options, int pgbenchClients, double targetRatio)
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    public List<LoadResult> Results { get; } = [];
    public double? PgbenchTps { get; set; }
    public double PgbenchPostgresCores { get; set; } = double.NaN;
    public double PgbenchMachineCores { get; set; } = double.NaN;
    public IReadOnlyList<string>? Violations { get; set; }
    public int? ServerExit { get; set; }
    public string DatabaseSettings { get; set; } = "unknown";
    /// <summary>The server's resident memory before and after its cards were issued, funded and so activated (KiB), and how many.</summary>
    public (long BeforeKb, long AfterKb, int Cards)? ActivationMemory { get; set; }

    /// <summary>One line per call count for stderr, as soon as it is measured.</summary>
    public static string Summary(LoadResult r) => string.Create(Ci,
        $"[{r.Calls} calls] {r.ReceiptsPerSecond:0} receipts/s, {r.GrpcCallsPerSecond:0} gRPC calls/s, p50 {r.P50Ms:0.00} ms, p99 {r.P99Ms:0.00} ms, " +
        $"errors {r.Errors}; CPU in cores: client {r.ClientCores:0.00}, server {r.ServerCores:0.00}, postgres {Cores(r.PostgresCores)}, " +
        $"other {Cores(r.OtherCores)}, whole machine {Cores(r.MachineCores)} of {Environment.ProcessorCount}; {r.ConnectionsOpened} HTTP/2 connections opened so far");

    private double? Ratio(LoadResult r) => PgbenchTps is > 0 ? r.ReceiptsPerSecond / PgbenchTps : null;

    private string Headline(LoadResult r) => Ratio(r) is { } ratio
        ? string.Create(Ci, $"receipts/s at {r.Calls} calls ÷ pgbench tps: {ratio:0.00}× (target ≥ {targetRatio:0.#}×: {(ratio >= targetRatio ? "met" : "NOT met")})")
        : $"receipts/s at {r.Calls} calls ÷ pgbench tps: not measured (no pgbench run)";

    private string InvariantsLine => Violations switch
    {
        null => "invariants: not checked (the run failed before the check)",
        { Count: 0 } => "invariants: OK",
        var found => $"invariants: {found.Count} violations",
    };

    public void Write(TextWriter output)
    {
        output.WriteLine();
        if (Results.Count > 0)
        {
            output.WriteLine("| calls in flight | receipts/s | gRPC calls/s | p50 ms | p99 ms | errors | client CPU | server CPU | postgres CPU |");
            output.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in Results)
                output.WriteLine(string.Create(Ci,
                    $"| {r.Calls} | {r.ReceiptsPerSecond:0} | {r.GrpcCallsPerSecond:0} | {r.P50Ms:0.00} | {r.P99Ms:0.00} | {r.Errors} | {r.ClientCores:0.00} | {r.ServerCores:0.00} | {Cores(r.PostgresCores)} |"));
            output.WriteLine();
            var machine = string.Join(", ", Results.Select(r => $"{Cores(r.MachineCores)} ({Cores(r.OtherCores)} other) at {r.Calls} calls"));
            output.WriteLine(string.Create(Ci,
                $"CPU in cores during each measured window (1.00 = one core busy) of {Environment.ProcessorCount}; whole machine, with what was neither client, server nor postgres: {machine}. " +
                $"{options.Servers} server process(es) in one cluster (server CPU is their sum), {options.Connections} HTTP/2 connections, {options.Seconds:0.#} s measured after {options.WarmupSeconds:0.#} s warm-up (and {options.ServerWarmupSeconds:0.#} s server warm-up before the first), {options.Cards} cards; {DatabaseSettings}."));
        }
        if (PgbenchTps is { } tps)
            output.WriteLine(string.Create(Ci,
                $"pgbench at {pgbenchClients} clients: {tps:0} transactions/s (one row update + one insert per transaction, {options.Seconds:0.#} s; postgres CPU {Cores(PgbenchPostgresCores)}, whole machine {Cores(PgbenchMachineCores)})"));
        foreach (var r in Results) output.WriteLine(Headline(r));
        if (ActivationMemory is { } memory)
            output.WriteLine(string.Create(Ci,
                $"server memory: {memory.BeforeKb / 1024.0:0} MiB resident before, {memory.AfterKb / 1024.0:0} MiB after {memory.Cards} cards were issued, funded and left active: {(memory.AfterKb - memory.BeforeKb) * 1024.0 / memory.Cards / 1024:0.0} KiB per card activation (GC heap growth included)"));

        foreach (var r in Results.Where(r => r.ErrorsByKind.Count > 0 || r.ErrorsOutsideWindow.Count > 0))
        {
            if (r.ErrorsByKind.Count > 0)
                output.WriteLine($"errors at {r.Calls} calls: {ErrorList(r.ErrorsByKind)}");
            if (r.ErrorsOutsideWindow.Count > 0)
                output.WriteLine($"errors at {r.Calls} calls outside the measured window (warm-up, drain): {ErrorList(r.ErrorsOutsideWindow)}");
            foreach (var (kind, message) in r.ErrorSamples)
                output.WriteLine($"  {kind}, e.g.: {message}");
        }

        if (ServerExit is { } exit)
            output.WriteLine(exit == 0 ? "server: stopped cleanly on SIGTERM (exit code 0)" : $"server: exit code {exit} after SIGTERM, not a clean stop");
        output.WriteLine(InvariantsLine);
        foreach (var line in Violations ?? []) output.WriteLine($"  {line}");
    }

    public void WriteFiles()
    {
        if (options.CsvPath is { } csvPath)
        {
            var csv = new StringBuilder(
                "calls_in_flight,receipts_per_s,grpc_calls_per_s,p50_ms,p99_ms,errors,client_cpu_cores,server_cpu_cores,postgres_cpu_cores,other_cpu_cores,machine_cpu_cores," +
                "connections,window_s,pgbench_clients,pgbench_tps,ratio_to_pgbench,invariants_ok\n");
            foreach (var r in Results)
                csv.Append(Ci,
                    $"{r.Calls},{r.ReceiptsPerSecond:0.0},{r.GrpcCallsPerSecond:0.0},{r.P50Ms:0.000},{r.P99Ms:0.000},{r.Errors},{r.ClientCores:0.000},{r.ServerCores:0.000},{Csv(r.PostgresCores)},{Csv(r.OtherCores)},{Csv(r.MachineCores)}," +
                    $"{options.Connections},{r.WindowSeconds:0.000},{pgbenchClients},{(PgbenchTps is { } t ? t.ToString("0.0", Ci) : "")},{(Ratio(r) is { } x ? x.ToString("0.000", Ci) : "")},{(Violations is null ? "" : Violations.Count == 0 ? "true" : "false")}\n");
            File.WriteAllText(csvPath, csv.ToString());
            Console.Error.WriteLine($"wrote {csvPath}");
        }

        if (options.HtmlPath is { } htmlPath)
        {
            var html = new StringBuilder();
            html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Loyalty gRPC benchmark</title>")
                .Append("<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 10px;text-align:right}.met{color:#070}.not{color:#b00}</style></head><body>")
                .Append("<h1>Redeem + Commit through the real server over gRPC</h1>")
                .Append(Ci, $"<p>{DateTimeOffset.UtcNow:u}; {Environment.ProcessorCount} cores; {options.Connections} HTTP/2 connections over loopback; ")
                .Append(Ci, $"{options.Seconds:0.#} s measured after {options.WarmupSeconds:0.#} s warm-up per row ({options.ServerWarmupSeconds:0.#} s server warm-up before the first); {options.Cards} cards; {WebUtility.HtmlEncode(DatabaseSettings)}.</p>")
                .Append("<p>Each receipt is a Redeem of 1.00 on a one-line receipt of 100.00, then the Commit of that receipt with the hold: two durable writes. ")
                .Append("Latency runs from sending the Redeem to the Commit's answer. CPU is in cores (1.00 = one core busy) during the measured window.</p>")
                .Append("<table><tr><th>calls in flight</th><th>receipts/s</th><th>gRPC calls/s</th><th>p50 ms</th><th>p99 ms</th><th>errors</th><th>client CPU</th><th>server CPU</th><th>postgres CPU</th><th>other CPU</th><th>whole machine CPU</th></tr>");
            foreach (var r in Results)
                html.Append(Ci,
                    $"<tr><td>{r.Calls}</td><td>{r.ReceiptsPerSecond:0}</td><td>{r.GrpcCallsPerSecond:0}</td><td>{r.P50Ms:0.00}</td><td>{r.P99Ms:0.00}</td><td>{r.Errors}</td><td>{r.ClientCores:0.00}</td><td>{r.ServerCores:0.00}</td><td>{Cores(r.PostgresCores)}</td><td>{Cores(r.OtherCores)}</td><td>{Cores(r.MachineCores)}</td></tr>");
            html.Append("</table><ul>");
            if (PgbenchTps is { } tps)
                html.Append(Ci, $"<li>pgbench at {pgbenchClients} clients (one row update + one insert per transaction): <b>{tps:0} transactions/s</b>; postgres CPU {Cores(PgbenchPostgresCores)}</li>");
            foreach (var r in Results)
            {
                var ratio = Ratio(r);
                var css = ratio is null ? "" : ratio >= targetRatio ? " class=\"met\"" : " class=\"not\"";
                html.Append($"<li{css}>{WebUtility.HtmlEncode(Headline(r))}</li>");
            }
            foreach (var r in Results.Where(r => r.ErrorsByKind.Count > 0))
                html.Append($"<li>errors at {r.Calls} calls: {WebUtility.HtmlEncode(ErrorList(r.ErrorsByKind))}</li>");
            html.Append($"<li>{WebUtility.HtmlEncode(InvariantsLine)}</li></ul></body></html>\n");
            File.WriteAllText(htmlPath, html.ToString());
            Console.Error.WriteLine($"wrote {htmlPath}");
        }
    }

    private static string ErrorList(IReadOnlyDictionary<string, long> errors) =>
        string.Join(", ", errors.OrderByDescending(e => e.Value).Select(e => $"{e.Key} {e.Value}"));

    private static string Cores(double cores) => double.IsNaN(cores) ? "?" : cores.ToString("0.00", Ci);

    private static string Csv(double value) => double.IsNaN(value) ? "" : value.ToString("0.000", Ci);
}
