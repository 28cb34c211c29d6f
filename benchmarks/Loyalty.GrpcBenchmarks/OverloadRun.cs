using System.Diagnostics;
using System.Globalization;
using Loyalty.Benchmarks;
using Loyalty.Protos.V1;
using Loyalty.Tools;

namespace Loyalty.GrpcBenchmarks;

/// <summary>One row of the overload table: the answers callers got and how long they took.</summary>
public sealed record OverloadResult(
    string Scenario,
    long Calls,
    long Ok,
    long ResourceExhausted,
    long Unavailable,
    long Other,
    double OkP50Ms,
    double OkP99Ms,
    double RefusedP50Ms,
    double RefusedP99Ms,
    double RefusedMaxMs,
    IReadOnlyDictionary<string, string> OtherSamples);

/// <summary>
/// <c>grpc-bench.sh --overload</c>: bounded scenarios that overfill one bound each, against the real server
/// on loopback, and what callers saw. Every call is Admin/Adjust of +0.01 on a card: one durable write,
/// and the card's state does not grow with the number of calls (as open holds would). Each scenario
/// runs a few seconds and stops by itself; refusals are RESOURCE_EXHAUSTED and UNAVAILABLE.
/// </summary>
public sealed class OverloadRun(BenchDatabase database, string connectionString, CancellationToken cancellationToken)
{
    /// <summary>(a) Calls sent at once to one card, about four times the default mailbox of 512.</summary>
    public const int HotCardCalls = 2_000;
    /// <summary>(b) Writers at once, each on its own card, against a writer queue of <see cref="SmallWriterQueue"/>.</summary>
    public const int QueueWriters = 1_000;
    public const int SmallWriterQueue = 64;
    /// <summary>(c) Callers in a loop on their own cards while the database is stopped: an ordinary load, not an overload.</summary>
    public const int OutageCallers = 64;
    /// <summary>HTTP/2 connections: 2,000 calls over 16 is 125 streams each, below the server's 256 per connection.</summary>
    public const int Connections = 16;
    /// <summary>Bursts of (a) and (b) are repeated for this long (at least one counted burst, after one warm-up burst).</summary>
    public static readonly TimeSpan BurstTime = TimeSpan.FromSeconds(4);
    /// <summary>(c): load before the stop, the outage itself, and load after the database is back.</summary>
    public static readonly TimeSpan BeforeOutage = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Outage = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan AfterOutage = TimeSpan.FromSeconds(2);
    /// <summary>A caller of (c) whose call failed waits this long before the next, as a register's retry would.</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(10);

    private const int ResourceExhausted = 8, Unavailable = 14;

    private readonly record struct Sample(int Status, long Started, long Finished, string? Error);

    public List<OverloadResult> Results { get; } = [];
    public List<string> Notes { get; } = [];

    /// <summary>Server A (default settings) serves (a) and (c); server B, on the same database with a writer queue of 64, serves (b).</summary>
    public async Task RunAsync(string directory, List<string> failures)
    {
        using var serverA = ServerProcess.Start(connectionString, Directory.CreateDirectory(Path.Combine(directory, "a")).FullName);
        try
        {
            var (grpcA, adminKeyPath) = await serverA.WaitUntilReadyAsync(cancellationToken);
            var adminKey = (await File.ReadAllTextAsync(adminKeyPath, cancellationToken)).Trim();
            using var clientA = new BenchGrpcClient(grpcA, Connections);
            var hotCard = BenchSession.CardNumber(0);
            var queueCards = Enumerable.Range(1, QueueWriters).Select(BenchSession.CardNumber).ToArray();
            var outageCards = Enumerable.Range(1 + QueueWriters, OutageCallers).Select(BenchSession.CardNumber).ToArray();
            var setup = new BenchSession(clientA, adminKey, adminKey, [hotCard, .. queueCards, .. outageCards]);
            await setup.IssueAndFundCardsAsync(cancellationToken);
            var auth = setup.AdminAuthorization;

            Console.Error.WriteLine($"[hot card] {HotCardCalls} calls at once on one card, default mailbox, for {BurstTime.TotalSeconds:0} s");
            var hot = await BurstsAsync(clientA, auth, HotCardCalls, (round, i) => (hotCard, $"hot-{round}-{i}"));
            Results.Add(Summarise($"(a) hot card: {HotCardCalls} calls at once on one card, mailbox 512", hot));

            using (var serverB = ServerProcess.Start(connectionString, Directory.CreateDirectory(Path.Combine(directory, "b")).FullName,
                new Dictionary<string, string> { ["LOYALTY_MAX_QUEUED_WRITES"] = SmallWriterQueue.ToString(CultureInfo.InvariantCulture) }))
            {
                var (grpcB, _) = await serverB.WaitUntilReadyAsync(cancellationToken);
                using var clientB = new BenchGrpcClient(grpcB, Connections);
                // Each card read once first, so the burst meets the writer queue and not the first load of each card.
                await Task.WhenAll(queueCards.Select((card, i) => clientB.CallAsync(i, BenchGrpcClient.Method("loyalty.v1.Cards", "GetCard"),
                    BenchGrpcClient.Encode(new GetCardRequest { CardNumber = card }), auth, cancellationToken)));
                Console.Error.WriteLine($"[writer queue] {QueueWriters} writers at once on their own cards, LOYALTY_MAX_QUEUED_WRITES={SmallWriterQueue}, for {BurstTime.TotalSeconds:0} s");
                var queue = await BurstsAsync(clientB, auth, QueueWriters, (round, i) => (queueCards[i], $"queue-{round}-{i}"));
                Results.Add(Summarise($"(b) writer queue of {SmallWriterQueue}: {QueueWriters} writers at once on their own cards", queue));
                var exit = await serverB.StopAsync();
                if (exit != 0) failures.Add($"The server with the small writer queue exited with code {exit} after SIGTERM. Its last lines:{Environment.NewLine}{serverB.Tail}");
            }

            if (database.Cluster is { } cluster)
                await OutageAsync(clientA, auth, outageCards, cluster);
            else
                Notes.Add("(c) database down: not run, since the database is an external server (LOYALTY_DB) this benchmark may not stop.");
        }
        finally
        {
            if (!serverA.HasExited)
            {
                var exit = await serverA.StopAsync();
                if (exit != 0) failures.Add($"The server exited with code {exit} after SIGTERM. Its last lines:{Environment.NewLine}{serverA.Tail}");
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="calls"/> calls at once, waits for every answer, and repeats for <see cref="BurstTime"/>.
    /// The first burst is not counted: a fresh server runs it on unoptimised code (tiered JIT).
    /// </summary>
    private async Task<List<Sample>> BurstsAsync(BenchGrpcClient client, string auth, int calls, Func<int, int, (string Card, string OperationId)> pick)
    {
        var adjust = BenchGrpcClient.Method("loyalty.v1.Admin", "Adjust");
        var samples = new List<Sample>();
        Stopwatch? clock = null;
        for (var round = 0; clock is null || round == 1 || clock.Elapsed < BurstTime; round++)
        {
            var burst = Enumerable.Range(0, calls).Select(i =>
            {
                var (card, operationId) = pick(round, i);
                // The warm-up's operation ids are apart, so the check that refusals stored nothing counts only measured calls.
                return AdjustAsync(client, adjust, auth, i, card, clock is null ? $"warm-{operationId}" : operationId);
            }).ToArray();
            var answers = await Task.WhenAll(burst);
            var name = clock is null ? "warm-up burst (not counted)" : $"burst {round}";
            Console.Error.WriteLine($"  {name}: {answers.Count(a => a.Status == 0)} OK of {calls} ({(clock ?? Stopwatch.StartNew()).Elapsed.TotalSeconds:0.0} s)");
            if (clock is null)
            {
                clock = Stopwatch.StartNew();
                continue;
            }
            samples.AddRange(answers);
        }
        return samples;
    }

    /// <summary>
    /// (c) Callers loop on their own cards; the database is stopped (pg_ctl stop -m fast) for <see cref="Outage"/>
    /// and started again on the same port. Rows: the calls made entirely while it was down, and those after it was back.
    /// </summary>
    private async Task OutageAsync(BenchGrpcClient client, string auth, string[] cards, Loyalty.Grains.Storage.EmbeddedPostgres cluster)
    {
        var adjust = BenchGrpcClient.Method("loyalty.v1.Admin", "Adjust");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var perCaller = cards.Select(_ => new List<Sample>()).ToArray();
        var loops = Task.WhenAll(cards.Select((card, i) => Task.Run(async () =>
        {
            for (var sequence = 0; !stop.IsCancellationRequested; sequence++)
            {
                var sample = await AdjustAsync(client, adjust, auth, i, card, $"outage-{i}-{sequence}");
                perCaller[i].Add(sample);
                if (sample.Status != 0) await Task.Delay(RetryPause, CancellationToken.None);
            }
        }, CancellationToken.None)));

        Console.Error.WriteLine($"[database down] {cards.Length} callers in a loop; PostgreSQL stopped for {Outage.TotalSeconds:0} s after {BeforeOutage.TotalSeconds:0} s");
        await Task.Delay(BeforeOutage, cancellationToken);
        var stopping = Stopwatch.GetTimestamp();
        long down = 0, starting = 0;
        await cluster.RestartAsync("fast", async () =>
        {
            down = Stopwatch.GetTimestamp();
            Console.Error.WriteLine($"[database down] stopped ({Ms(stopping, down):0} ms for pg_ctl stop); starting again in {Outage.TotalSeconds:0} s");
            await Task.Delay(Outage, cancellationToken);
            starting = Stopwatch.GetTimestamp();
        }, cancellationToken);
        var back = Stopwatch.GetTimestamp();
        Console.Error.WriteLine($"[database down] accepting connections again ({Ms(starting, back):0} ms for pg_ctl start)");
        await Task.Delay(AfterOutage, cancellationToken);
        await stop.CancelAsync();
        await loops;

        var all = perCaller.SelectMany(s => s).ToList();
        Results.Add(Summarise($"(c) database stopped: {cards.Length} callers, calls made while it was down ({Outage.TotalSeconds:0} s)",
            [.. all.Where(s => s.Started >= down && s.Finished <= starting)]));
        Results.Add(Summarise($"(c) database back: the same callers, the first {AfterOutage.TotalSeconds:0} s after it accepted connections again",
            [.. all.Where(s => s.Started >= back)]));

        // Recovery: for each caller, its first OK answer after the restart began; the last of these is when everyone was served again.
        var firstOk = perCaller.Select(s => s.Where(x => x.Status == 0 && x.Finished >= starting).Select(x => (long?)x.Finished).Min()).ToArray();
        var failedAfterBack = all.Count(s => s.Status != 0 && s.Finished >= back);
        var served = firstOk.All(f => f is not null)
            ? string.Create(CultureInfo.InvariantCulture, $"the first caller was served {Ms(back, firstOk.Min()!.Value):0} ms and every caller {Ms(back, firstOk.Max()!.Value):0} ms after PostgreSQL accepted connections again (negative: before the benchmark's probe saw it)")
            : string.Create(CultureInfo.InvariantCulture, $"{firstOk.Count(f => f is null)} of {cards.Length} callers were not served again within {AfterOutage.TotalSeconds:0} s");
        Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"(c) recovery: pg_ctl stop took {Ms(stopping, down):0} ms and pg_ctl start {Ms(starting, back):0} ms; {served}; {failedAfterBack} calls failed after it was back; the server was not restarted."));
        Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"(c) while stopping (pg_ctl stop -m fast, sessions terminated): {Count(all, s => s.Started < down && s.Finished > stopping)} calls, of which {Count(all, s => s.Started < down && s.Finished > stopping && s.Status == 0)} OK."));
    }

    /// <summary>
    /// A refusal must change nothing: after the servers stopped, the operations stored for (a) and (b) are
    /// exactly as many as the OK answers. (For (c) a call cut off by the stop may have been stored; its
    /// retry with the same operation id would say so.)
    /// </summary>
    public async Task CheckRefusalsChangedNothingAsync(List<string> failures)
    {
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(connectionString);
        foreach (var (prefix, row) in new[] { ("hot-", Results.ElementAtOrDefault(0)), ("queue-", Results.ElementAtOrDefault(1)) })
        {
            if (row is null) continue;
            await using var command = dataSource.CreateCommand("SELECT count(*) FROM operations WHERE starts_with(operation_id, $1)");
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = prefix });
            var stored = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            Notes.Add($"stored operations of {row.Scenario[..3]}: {stored} for {row.Ok} OK answers{(stored == row.Ok ? " (refused calls stored nothing)" : " — MISMATCH")}");
            if (stored != row.Ok) failures.Add($"{row.Scenario}: {stored} operations are stored for {row.Ok} OK answers; a refused call must store nothing.");
        }
    }

    private async Task<Sample> AdjustAsync(BenchGrpcClient client, Grpc.Core.Method<byte[], byte[]> adjust, string auth, int connection, string card, string operationId)
    {
        var body = BenchGrpcClient.Encode(new AdjustRequest { OperationId = operationId, CardNumber = card, Amount = 1, Reason = "overload benchmark" });
        var started = Stopwatch.GetTimestamp();
        var result = await client.CallAsync(connection, adjust, body, auth, cancellationToken);
        return new Sample(result.Status, started, Stopwatch.GetTimestamp(), result.Error);
    }

    private static OverloadResult Summarise(string scenario, List<Sample> samples)
    {
        var ok = Latencies(samples.Where(s => s.Status == 0));
        var refused = Latencies(samples.Where(s => s.Status is ResourceExhausted or Unavailable));
        var other = samples.Where(s => s.Status is not (0 or ResourceExhausted or Unavailable))
            .GroupBy(s => GrpcStatusNames.Name(s.Status)).ToDictionary(g => $"{g.Key} × {g.Count()}", g => g.First().Error ?? "");
        return new OverloadResult(scenario, samples.Count, ok.Length, Count(samples, s => s.Status == ResourceExhausted), Count(samples, s => s.Status == Unavailable),
            samples.Count - ok.Length - refused.Length,
            Percentile(ok, 0.50), Percentile(ok, 0.99), Percentile(refused, 0.50), Percentile(refused, 0.99), refused.Length == 0 ? double.NaN : refused[^1], other);
    }

    private static double[] Latencies(IEnumerable<Sample> samples) => [.. samples.Select(s => Ms(s.Started, s.Finished)).Order()];

    private static double Percentile(double[] sorted, double quantile) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Max(1, (int)Math.Ceiling(quantile * sorted.Length)) - 1]; // nearest rank

    private static long Count(List<Sample> samples, Func<Sample, bool> predicate) => samples.Count(predicate);

    private static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    public void Write(TextWriter output)
    {
        static string F(double ms) => double.IsNaN(ms) ? "–" : ms.ToString(ms < 10 ? "0.0" : "0", CultureInfo.InvariantCulture);
        output.WriteLine();
        output.WriteLine("| scenario | calls | OK | RESOURCE_EXHAUSTED | UNAVAILABLE | other | OK p50 ms | OK p99 ms | refused p50 ms | refused p99 ms | refused max ms |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Results)
            output.WriteLine($"| {r.Scenario} | {r.Calls} | {r.Ok} | {r.ResourceExhausted} | {r.Unavailable} | {r.Other} | {F(r.OkP50Ms)} | {F(r.OkP99Ms)} | {F(r.RefusedP50Ms)} | {F(r.RefusedP99Ms)} | {F(r.RefusedMaxMs)} |");
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Each call is Admin/Adjust of +0.01 (one durable write) over {Connections} HTTP/2 connections on loopback; latency from sending to the answer, measured by the client; refused = RESOURCE_EXHAUSTED or UNAVAILABLE; {Environment.ProcessorCount} cores."));
        foreach (var note in Notes) output.WriteLine(note);
        foreach (var r in Results)
            foreach (var (kind, sample) in r.OtherSamples)
                output.WriteLine($"other answers in {r.Scenario}: {kind}{(sample.Length > 0 ? $", e.g.: {sample}" : "")}");
    }

    /// <summary>The same table as CSV and as a web page, for whoever reads the run later.</summary>
    public async Task WriteFilesAsync(string? csvPath, string? htmlPath)
    {
        string[] header = ["scenario", "calls", "ok", "resource_exhausted", "unavailable", "other", "ok_p50_ms", "ok_p99_ms", "refused_p50_ms", "refused_p99_ms", "refused_max_ms"];
        var rows = Results.Select(r => new ReportFiles.Row(
        [
            r.Scenario, N(r.Calls), N(r.Ok), N(r.ResourceExhausted), N(r.Unavailable), N(r.Other),
            Ms(r.OkP50Ms), Ms(r.OkP99Ms), Ms(r.RefusedP50Ms), Ms(r.RefusedP99Ms), Ms(r.RefusedMaxMs),
        ])).ToList();
        if (csvPath is not null) await ReportFiles.WriteCsvAsync(csvPath, header, rows);
        if (htmlPath is not null) await ReportFiles.WriteHtmlAsync(htmlPath, "Loyalty overload run", [], header, rows, Notes);
    }

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);
    private static string Ms(double ms) => double.IsNaN(ms) ? "" : ms.ToString("0.0", CultureInfo.InvariantCulture);
}
