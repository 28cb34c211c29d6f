// The bonus liability statement over a large ledger, measured (issue 12). Fills N ledger rows straight
// in SQL (generate_series, a million rows per statement, through the real ledger table with its indexes
// and its summary trigger) for C cards spread over a year of book days, sets the cards' figures to their
// ledger sums, then times the statement for a month and for the year from the daily summary
// (ledger_days), and once straight from the ledger for comparison; checks the summary against the
// ledger. Progress on stderr, the table on stdout; --csv and --html write it for people.
// Usage: ./liability-bench.sh [--rows 10000000] [--cards 100000] [--runs 5] [--csv FILE] [--html FILE]
using System.Diagnostics;
using System.Globalization;
using Loyalty.Benchmarks;
using Loyalty.Grains;
using Loyalty.Grains.Runtime;
using Loyalty.Tools;
using Npgsql;

var rows = 10_000_000L;
var cards = 100_000;
var runs = 5;
string? csv = null, html = null;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--rows": rows = long.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--cards": cards = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--csv": csv = Next(); break;
        case "--html": html = Next(); break;
        default:
            Console.Error.WriteLine("usage: ./liability-bench.sh [--rows N (default 10000000)] [--cards N (default 100000)] [--runs N (default 5)] [--csv FILE] [--html FILE]");
            return 2;
    }
}
if (rows < 1_000_000 || rows > 100_000_000 || cards < 1_000 || cards > 10_000_000 || runs < 1 || runs > 50)
{
    Console.Error.WriteLine("--rows must be 1,000,000..100,000,000, --cards 1,000..10,000,000, --runs 1..50.");
    return 2;
}

void Log(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(60)); // bounded: stops by itself
await using var database = await BenchDatabase.OpenAsync(Log, stop.Token);
var connection = await database.CreateDatabaseAsync("liability_bench", stop.Token);
await using var engine = await LoyaltyEngine.StartAsync(connection, cancellationToken: stop.Token);
var table = new List<string[]>();

async Task<TimeSpan> SqlAsync(string sql, params object[] parameters)
{
    var watch = Stopwatch.StartNew();
    await using var command = engine.DataSource.CreateCommand(sql);
    command.CommandTimeout = 0;
    foreach (var p in parameters) command.Parameters.Add(new NpgsqlParameter { Value = p });
    await command.ExecuteNonQueryAsync(stop.Token);
    return watch.Elapsed;
}

// The year of book days the rows spread over, ending today.
var books = new AccountantBooks(engine.Cards, TimeProvider.System);
var today = books.Today;
var yearStart = today.AddDays(-364);

Log($"issuing {cards:N0} cards in SQL…");
await SqlAsync(
    """
    INSERT INTO cards (number, program_id, status, version, balance, held, pending, state)
    SELECT (9000000000000 + g)::text, 'default', 'Active', 1, 0, 0, 0,
           json_build_object('number', (9000000000000 + g)::text, 'programId', 'default')
    FROM generate_series(1, $1) g
    """, cards);

// A mix of kinds like a year of trading: accruals (some pending), their releases, holds and their posts,
// offline redemptions, expiry, returns, adjustments. Amounts in kopecks; `at` spread over the year.
const string Fill =
    """
    INSERT INTO ledger (card_number, operation_id, entry_number, kind, amount, held_delta, pending_delta, balance_after, available_after,
                        version_after, store_id, register_id, shift_number, receipt_number, offline, reason, actor, at)
    SELECT (9000000000000 + 1 + ((g / 20) % $3))::text, 'bench-' || g, 0, k.kind,
           CASE k.kind WHEN 'Accrual' THEN 500 WHEN 'AccrualRelease' THEN 0 WHEN 'Hold' THEN 0 WHEN 'HoldPost' THEN -300
                       WHEN 'OfflineRedeem' THEN -200 WHEN 'Expiry' THEN -50 WHEN 'RefundRestore' THEN 100 WHEN 'RefundReversal' THEN -40 ELSE 1000 END,
           CASE k.kind WHEN 'Hold' THEN 300 WHEN 'HoldPost' THEN -300 ELSE 0 END,
           CASE k.kind WHEN 'Accrual' THEN CASE WHEN g % 2 = 0 THEN 500 ELSE 0 END WHEN 'AccrualRelease' THEN -250 ELSE 0 END,
           0, 0, 1,
           CASE WHEN k.kind IN ('Accrual', 'Hold', 'HoldPost', 'OfflineRedeem', 'RefundRestore', 'RefundReversal') THEN 'S' || (g % 50) END,
           CASE WHEN k.kind IN ('Accrual', 'Hold', 'HoldPost', 'OfflineRedeem', 'RefundRestore', 'RefundReversal') THEN 'R1' END,
           CASE WHEN k.kind IN ('Accrual', 'Hold', 'HoldPost', 'OfflineRedeem', 'RefundRestore', 'RefundReversal') THEN g % 1000 END,
           CASE WHEN k.kind IN ('Accrual', 'Hold', 'HoldPost', 'OfflineRedeem', 'RefundRestore', 'RefundReversal') THEN g END,
           k.kind = 'OfflineRedeem', NULL, NULL,
           $4::timestamptz + ((g * 7919) % (365 * 86400)) * interval '1 second'
    FROM generate_series($1::bigint, $2::bigint) g
    CROSS JOIN LATERAL (SELECT (ARRAY['Accrual','Accrual','Accrual','AccrualRelease','Hold','Hold','HoldPost','HoldPost','OfflineRedeem','Expiry',
                                      'RefundRestore','RefundReversal','Adjustment','Accrual','HoldPost','Accrual','AccrualRelease','Hold','Expiry','Accrual'])[1 + g % 20] AS kind) k
    """;
var start = new DateTimeOffset(yearStart.ToDateTime(TimeOnly.MinValue), TimeSpan.FromHours(3)).ToUniversalTime();
const long Chunk = 1_000_000;
var withTrigger = TimeSpan.Zero;
long withTriggerRows = 0;
for (var from = 1L; from <= rows; from += Chunk)
{
    var to = Math.Min(rows, from + Chunk - 1);
    var last = to == rows && from > 1;
    if (last)
    {
        // The last million without the summary trigger, then summed into ledger_days by hand: the trigger's cost, measured.
        await SqlAsync("ALTER TABLE ledger DISABLE TRIGGER ledger_days_maintained");
        var plain = await SqlAsync(Fill, from, to, cards, start);
        var sum = await SqlAsync(
            """
            INSERT INTO ledger_days AS d (day, program_id, store_id, kind, rows, amount, held_delta, pending_delta)
            SELECT loyalty_book_day(l.at), coalesce(c.program_id, ''), coalesce(l.store_id, ''), l.kind, count(*), sum(l.amount), sum(l.held_delta), sum(l.pending_delta)
            FROM ledger l LEFT JOIN cards c ON c.number = l.card_number WHERE l.operation_id LIKE 'bench-%' AND l.id >= (SELECT min(id) FROM ledger WHERE operation_id = 'bench-' || $1)
            GROUP BY 1, 2, 3, 4
            ON CONFLICT (day, program_id, store_id, kind) DO UPDATE SET rows = d.rows + excluded.rows, amount = d.amount + excluded.amount,
                held_delta = d.held_delta + excluded.held_delta, pending_delta = d.pending_delta + excluded.pending_delta
            """, from);
        await SqlAsync("ALTER TABLE ledger ENABLE TRIGGER ledger_days_maintained");
        table.Add([$"fill {to - from + 1:N0} ledger rows without the summary trigger", N(to - from + 1), S(plain), "(for comparison)"]);
        Log($"ledger rows {from:N0}..{to:N0} without the trigger: {plain.TotalSeconds:F1} s (+ {sum.TotalSeconds:F1} s to sum them)");
        continue;
    }
    var took = await SqlAsync(Fill, from, to, cards, start);
    withTrigger += took;
    withTriggerRows += to - from + 1;
    Log($"ledger rows {from:N0}..{to:N0}: {took.TotalSeconds:F1} s");
}
table.Insert(0, [$"fill ledger rows, a million per statement, with the summary trigger", N(withTriggerRows), S(withTrigger),
    $"{withTriggerRows / withTrigger.TotalSeconds:N0} rows/s"]);
if (table.Count > 1) table[1][3] = $"{long.Parse(table[1][1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture) / double.Parse(table[1][2], CultureInfo.InvariantCulture):N0} rows/s";

// The trigger's cost where it matters, on the ledger writer's path: many small statements of a group
// commit's size, with and without the trigger, each in its own transaction rolled back (so the ledger
// and its summary stay as filled, and no transaction piles up row versions of the same summary rows,
// as a long one would; the commit's fsync, the same for both, is left out). Without the trigger means
// the session's triggers off (session_replication_role = replica: a setting, not DDL on the table).
const int Batches = 2_000, BatchRows = 32;
async Task<TimeSpan> SmallBatchesAsync(bool trigger)
{
    await using var connection = await engine.DataSource.OpenConnectionAsync(stop.Token);
    await using (var role = new NpgsqlCommand($"SET session_replication_role = {(trigger ? "origin" : "replica")}", connection))
        await role.ExecuteNonQueryAsync(stop.Token);
    // Rows of a live batch happen "now": one book day, any of the 50 stores and the kinds' mix.
    await using var insert = new NpgsqlCommand(Fill.Replace("((g * 7919) % (365 * 86400))", "(364 * 86400 + g % 60)"), connection);
    foreach (var value in new object[] { 0L, 0L, cards, start }) insert.Parameters.Add(new NpgsqlParameter { Value = value });
    await insert.PrepareAsync(stop.Token);
    var took = TimeSpan.Zero;
    for (var b = 0; b < Batches; b++)
    {
        await using var transaction = await connection.BeginTransactionAsync(stop.Token);
        insert.Transaction = transaction;
        insert.Parameters[0].Value = rows + 1 + (long)b * BatchRows;
        insert.Parameters[1].Value = rows + (long)(b + 1) * BatchRows;
        var watch = Stopwatch.StartNew();
        await insert.ExecuteNonQueryAsync(stop.Token);
        took += watch.Elapsed;
        await transaction.RollbackAsync(stop.Token);
    }
    await using (var reset = new NpgsqlCommand("RESET session_replication_role", connection))
        await reset.ExecuteNonQueryAsync(stop.Token);
    return took;
}
Log($"{Batches:N0} inserts of {BatchRows} rows with and without the trigger (twice each, alternating)…");
var smallWith = new List<TimeSpan>();
var smallWithout = new List<TimeSpan>();
for (var round = 0; round < 2; round++)
{
    smallWithout.Add(await SmallBatchesAsync(trigger: false));
    smallWith.Add(await SmallBatchesAsync(trigger: true));
}
var perWith = smallWith.Min().TotalMilliseconds * 1000 / Batches;
var perWithout = smallWithout.Min().TotalMilliseconds * 1000 / Batches;
table.Add([$"{Batches:N0} inserts of {BatchRows} ledger rows (a group commit's size) with the summary trigger", N(Batches * BatchRows), S(smallWith.Min()), $"{perWith:F0} µs per batch"]);
table.Add([$"the same without the trigger", N(Batches * BatchRows), S(smallWithout.Min()), $"{perWithout:F0} µs per batch: the trigger costs {perWith - perWithout:F0} µs a batch"]);

Log("setting the cards' figures to their ledger sums…");
await SqlAsync(
    """
    UPDATE cards c SET balance = s.balance, held = s.held, pending = s.pending
    FROM (SELECT card_number, sum(amount) AS balance, sum(held_delta) AS held, sum(pending_delta) AS pending FROM ledger GROUP BY card_number) s
    WHERE c.number = s.card_number
    """);
await SqlAsync("VACUUM ANALYZE ledger");
await SqlAsync("VACUUM ANALYZE ledger_days");
await SqlAsync("VACUUM ANALYZE cards");
var summaryRows = 0L;
await using (var count = engine.DataSource.CreateCommand("SELECT count(*) FROM ledger_days"))
    summaryRows = (long)(await count.ExecuteScalarAsync(stop.Token))!;

async Task<(TimeSpan Median, TimeSpan Best, LiabilityReport Report)> TimeStatementAsync(DateOnly from, DateOnly to)
{
    var times = new List<TimeSpan>();
    LiabilityReport? report = null;
    for (var run = 0; run < runs; run++)
    {
        var watch = Stopwatch.StartNew();
        report = await books.LiabilityAsync(from, to, stop.Token);
        times.Add(watch.Elapsed);
    }
    times.Sort();
    return (times[times.Count / 2], times[0], report!);
}

var monthStart = new DateOnly(today.Year, today.Month, 1);
foreach (var (label, from, to) in new[] { ("this month, to today (tied to the cards)", monthStart, today), ("the whole year, to today (tied to the cards)", yearStart, today),
             ("last month (closed: no card tie)", monthStart.AddMonths(-1), monthStart.AddDays(-1)) })
{
    Log($"statement for {label}, {runs} runs…");
    var (median, best, report) = await TimeStatementAsync(from, to);
    var check = (report.Statement.RollsForward ? "rolls forward" : "DOES NOT ROLL FORWARD") + (report.Cards is null ? "" : report.TiesToCards == true ? ", ties to cards" : ", DOES NOT TIE to cards");
    table.Add([$"liability statement, {label}, from ledger_days", N(report.Statement.Total.Rows), $"{median.TotalSeconds:F3} (best {best.TotalSeconds:F3})", check]);
}

Log("the same sums straight from the ledger (no summary), once…");
var direct = await SqlAsync(
    """
    SELECT coalesce(c.program_id, ''), coalesce(l.store_id, ''), l.kind, loyalty_book_day(l.at) < $1, count(*), sum(l.amount), sum(l.held_delta), sum(l.pending_delta)
    FROM ledger l LEFT JOIN cards c ON c.number = l.card_number WHERE loyalty_book_day(l.at) <= $2 GROUP BY 1, 2, 3, 4
    """, monthStart, today);
table.Add(["the month's sums straight from the ledger (no summary), for comparison", N(rows), S(direct), ""]);

Log("checking the summary against the ledger (full scan)…");
var watchVerify = Stopwatch.StartNew();
var differences = await books.VerifySummaryAsync(stop.Token);
table.Add(["summary = ledger, checked by a full scan", N(rows), S(watchVerify.Elapsed), differences.Count == 0 ? "equal" : $"DIFFERS: {differences[0]}"]);

string[] header = ["step", "rows", "seconds", "result"];
Console.WriteLine($"| {string.Join(" | ", header)} |");
Console.WriteLine($"|{string.Join("|", header.Select((_, i) => i == 0 ? "---" : "---:"))}|");
foreach (var row in table) Console.WriteLine($"| {string.Join(" | ", row)} |");
var note = $"{rows:N0} ledger rows, {cards:N0} cards, {summaryRows:N0} summary rows (book day × programme × store × kind); {database.Description}.";
Console.WriteLine(note);
if (csv is not null) await ReportFiles.WriteCsvAsync(csv, header, table.Select(r => new ReportFiles.Row(r)));
if (html is not null) await ReportFiles.WriteHtmlAsync(html, "Liability statement benchmark", [note], header, table.Select(r => new ReportFiles.Row(r)), []);
return differences.Count == 0 ? 0 : 1;

static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
static string S(TimeSpan t) => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture);
