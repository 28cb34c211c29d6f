// The offline exchange, measured (issue 11): every card streamed from the database into a Кассир 5
// catalog load file, at two card counts (so "memory flat in the card count" is a measurement), and
// one large closed shift's sales report reconciled, beside pgbench on the same PostgreSQL in the same
// run. Progress on stderr, the table on stdout; --csv and --html write the table for people.
// Usage: ./exchange-bench.sh [--cards 1000000] [--receipts 10000] [--csv FILE] [--html FILE]
using System.Diagnostics;
using System.Globalization;
using Loyalty.Benchmarks;
using Loyalty.Grains;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Loyalty.PosAdapter.Formats;
using Loyalty.Tools;

var cards = 1_000_000;
var receipts = 10_000;
string? csv = null, html = null;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--cards": cards = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--receipts": receipts = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--csv": csv = Next(); break;
        case "--html": html = Next(); break;
        default:
            Console.Error.WriteLine("usage: ./exchange-bench.sh [--cards N (≥ 200000, default 1000000)] [--receipts N (default 10000)] [--csv FILE] [--html FILE]");
            return 2;
    }
}
if (cards < 200_000 || cards > 10_000_000 || receipts < 100 || receipts > ShiftReconciliation.MaxReceiptsPerReport)
{
    Console.Error.WriteLine("--cards must be 200,000..10,000,000 and --receipts 100..100,000.");
    return 2;
}

void Log(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(20)); // bounded: stops by itself
await using var database = await BenchDatabase.OpenAsync(Log, stop.Token);
var connection = await database.CreateDatabaseAsync("exchange_bench", stop.Token);
await using var engine = await LoyaltyEngine.StartAsync(connection, cancellationToken: stop.Token);
const int FundedCards = 10_000;
const string Number = "D12";

async Task IssueUpToAsync(int total)
{
    var issued = (int)await ScalarAsync("SELECT count(*) FROM cards");
    for (var from = issued; from < total; from += Limits.MaxCardsPerRange)
    {
        var to = Math.Min(total, from + Limits.MaxCardsPerRange) - 1;
        await engine.Cards.IssueRangeAsync((2_000_000_000_000L + from).ToString(Number), (2_000_000_000_000L + to).ToString(Number), ProgramCatalog.DefaultProgramId, stop.Token);
        Log($"issued {to + 1:N0} of {total:N0} cards");
    }
}

async Task<long> ScalarAsync(string sql)
{
    await using var command = engine.DataSource.CreateCommand(sql);
    return Convert.ToInt64(await command.ExecuteScalarAsync(stop.Token), CultureInfo.InvariantCulture);
}

// Peak resident memory during a step, sampled every 20 ms: the step's own cost over the process's baseline.
async Task<(TimeSpan Elapsed, long PeakMiB, long BaselineMiB, T Result)> MeasureAsync<T>(Func<Task<T>> step)
{
    GC.Collect();
    using var self = Process.GetCurrentProcess();
    self.Refresh();
    var baseline = self.WorkingSet64;
    var peak = baseline;
    using var sampling = new CancellationTokenSource();
    var sampler = Task.Run(async () =>
    {
        using var process = Process.GetCurrentProcess();
        while (!sampling.IsCancellationRequested)
        {
            process.Refresh();
            peak = Math.Max(peak, process.WorkingSet64);
            try { await Task.Delay(20, sampling.Token); } catch (OperationCanceledException) { }
        }
    });
    var clock = Stopwatch.StartNew();
    var result = await step();
    clock.Stop();
    sampling.Cancel();
    await sampler;
    return (clock.Elapsed, peak / 1024 / 1024, baseline / 1024 / 1024, result);
}

async Task<long> ExportAsync(string path)
{
    var export = new CardExport(engine.DataSource, engine.Cards.Programs);
    var watermark = DateTimeOffset.MinValue;
    async IAsyncEnumerable<CatalogCard> Cards()
    {
        long n = 0;
        await foreach (var card in export.StreamAsync(w => watermark = w.At, stop.Token))
        {
            if (++n % 250_000 == 0) Log($"exported {n:N0} cards");
            yield return new CatalogCard(card.Number, card.Status == Loyalty.Grains.Domain.CardStatus.Active ? Loyalty.PosAdapter.Formats.CardStatus.Active : Loyalty.PosAdapter.Formats.CardStatus.Blocked,
                card.OfflineSpendableKopecks, card.BalanceKopecks, watermark);
        }
    }
    var result = await KassirCatalogFile.WriteAsync(path, Cards(), cancellationToken: stop.Token);
    return result.CardCount;
}

var directory = Directory.CreateTempSubdirectory("loyalty-exchange-bench").FullName;
var rows = new List<string[]>();
try
{
    // Some cards carry bonuses, so the file has amounts and the shift has something to redeem.
    await IssueUpToAsync(cards / 5);
    for (var i = 0; i < FundedCards; i++)
    {
        await engine.Cards.Card((2_000_000_000_000L + i).ToString(Number)).AdjustAsync($"fund-{i}", 500_00 + i, "benchmark opening balance", "bench");
        if ((i + 1) % 2_500 == 0) Log($"funded {i + 1:N0} cards");
    }
    foreach (var count in new[] { cards / 5, cards })
    {
        await IssueUpToAsync(count);
        var path = Path.Combine(directory, $"cards-{count}.txt");
        Log($"exporting {count:N0} cards to a Кассир 5 file…");
        var (elapsed, peak, baseline, written) = await MeasureAsync(() => ExportAsync(path));
        rows.Add([$"export to Кассир 5 ({new FileInfo(path).Length / 1024 / 1024:N0} MiB file)", written.ToString("N0", CultureInfo.InvariantCulture), elapsed.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture),
            (written / elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture) + " cards/s", $"{peak - baseline:N0} (of {peak:N0})"]);
    }

    // One closed shift: a fifth of its receipts were seen online (matched), the rest are applied from the report.
    var shift = new ShiftKey("BENCH", "R1", 1);
    var random = new Random(1);
    var reported = new List<ReportedReceipt>(receipts);
    Log($"committing {receipts / 5:N0} of the shift's receipts online first…");
    for (var n = 1; n <= receipts; n++)
    {
        var card = (2_000_000_000_000L + random.Next(FundedCards)).ToString(Number);
        var amount = random.NextInt64(100_00, 2_000_00);
        var bonus = random.Next(3) == 0 ? random.NextInt64(1_00, 30_00) : 0;
        reported.Add(new ReportedReceipt(n, ReportedReceiptKind.Sale, card, [new ReportedLine("SKU1", "grocery", "goods", 1000, amount, amount, bonus)]));
        if (n % 5 == 0)
        {
            var receipt = ShiftReconciliation.ToReceipt(shift, reported[^1]);
            var grain = engine.Cards.Card(card);
            var hold = bonus > 0 ? (await grain.RedeemAsync($"bench-hold-{n}", receipt, bonus)).HoldId : null;
            await grain.CommitAsync($"bench-commit-{n}", receipt, hold);
        }
    }
    var report = new ShiftReportData(shift, DateTimeOffset.UtcNow, true, "bench", "digest", reported);
    Log($"reconciling a {receipts:N0}-receipt shift report…");
    var reconciler = new ShiftReconciler(engine.Cards, TimeProvider.System);
    var (took, peakMiB, baseMiB, result) = await MeasureAsync(() => reconciler.UploadAsync(report, stop.Token));
    rows.Add([$"reconcile one shift ({result.Count(ReceiptOutcome.Matched):N0} matched, {result.Count(ReceiptOutcome.AppliedFromReport):N0} applied)",
        receipts.ToString("N0", CultureInfo.InvariantCulture), took.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture),
        (receipts / took.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture) + " receipts/s", $"{peakMiB - baseMiB:N0} (of {peakMiB:N0})"]);

    var violations = await engine.CheckInvariantsAsync(stop.Token);
    Log(violations.Count == 0 ? "invariants OK" : $"INVARIANTS VIOLATED: {string.Join("; ", violations.Take(5))}");

    var pgbench = PgbenchReference.FindPgbench(database.BinDirectory);
    double? tps = null;
    if (pgbench is not null)
    {
        Log("pgbench, 64 clients, 10 s…");
        tps = await PgbenchReference.RunAsync(pgbench, connection, 64, 10, stop.Token);
    }

    string[] header = ["step", "count", "seconds", "rate", "peak RSS growth MiB (process)"];
    Console.WriteLine($"| {string.Join(" | ", header)} |");
    Console.WriteLine($"|{string.Join("|", header.Select((_, i) => i == 0 ? "---" : "---:"))}|");
    foreach (var row in rows) Console.WriteLine($"| {string.Join(" | ", row)} |");
    var reference = tps is { } t ? $"pgbench at 64 clients: {t:N0} transactions/s; reconciliation receipts/s ÷ pgbench tps: {receipts / took.TotalSeconds / t:F2}×" : "pgbench not found: no reference point";
    Console.WriteLine(reference);
    Console.WriteLine(violations.Count == 0 ? "Invariants OK." : "Invariants VIOLATED.");
    if (csv is not null) await ReportFiles.WriteCsvAsync(csv, header, rows.Select(r => new ReportFiles.Row(r)));
    if (html is not null) await ReportFiles.WriteHtmlAsync(html, "Offline exchange benchmark", [$"{cards:N0} cards, one {receipts:N0}-receipt shift."], header, rows.Select(r => new ReportFiles.Row(r)), [reference]);
    return violations.Count == 0 ? 0 : 1;
}
finally
{
    Directory.Delete(directory, recursive: true);
}
