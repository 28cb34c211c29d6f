using System.Diagnostics;
using System.Globalization;
using Loyalty.Grains;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Benchmarks;

/// <summary>What one mode at one caller count measured.</summary>
public sealed record RunResult(
    CommitMode Mode,
    int Callers,
    double Seconds,
    long Receipts,
    long Writes,
    long Errors,
    IReadOnlyDictionary<string, long> ErrorsByKind,
    double ReceiptsPerSecond,
    double WritesPerSecond,
    double P50Ms,
    double P99Ms,
    double AverageBatchSize,
    long LatencySamples,
    double ClientCores,
    double MachineCores,
    double PostgresCores,
    IReadOnlyList<string> DbTiming)
{
    public string ModeName => Mode == CommitMode.GroupCommit ? "group commit" : "one per commit";
}

/// <summary>
/// One measurement: fresh cards with a balance, then <c>callers</c> concurrent loops of commit-with-redeem
/// (hold 100 kopecks on a 1-2 line receipt, then commit the receipt with that hold) through a
/// card grains on an Orleans silo in this process whose ledger writer is set up for the given mode. Each caller owns
/// the cards i, i+callers, ..., so callers never wait for one another's card.
/// </summary>
public sealed class CommitWithRedeemRun
{
    private const long OpeningBalanceKopecks = 1_000_000;
    private const long RedeemKopecks = 100;
    private const int MaxLatencySamples = 2_000_000;
    private const string ProgramId = "bench";

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _connectionString;
    private readonly CommitMode _mode;
    private readonly int _callers;
    private readonly BenchOptions _options;
    private readonly string _runId;
    private readonly int _set;
    private readonly string[] _cardNumbers;
    private readonly long[] _latencies;
    private readonly DbTiming? _dbTiming;
    private readonly int? _postmasterPid;
    private long _latencyCount;
    private int _errorShown;

    public CommitWithRedeemRun(string connectionString, NpgsqlDataSource dataSource, CommitMode mode, int callers, BenchOptions options, string runId, int set, long[] latencyBuffer,
        DbTiming? dbTiming, int? postmasterPid)
    {
        _dataSource = dataSource;
        _connectionString = connectionString;
        _mode = mode;
        _callers = callers;
        _options = options;
        _runId = runId;
        _set = set;
        _latencies = latencyBuffer;
        _dbTiming = dbTiming;
        _postmasterPid = postmasterPid;
        _cardNumbers = Enumerable.Range(0, Math.Max(options.Cards, callers)).Select(CardNumber).ToArray();
    }

    private string Label => $"[{(_mode == CommitMode.GroupCommit ? "group" : "one-per-commit")} x{_callers}]";

    /// <summary>Card numbers are digits only (ranges are issued by number): run id, run set, index.</summary>
    private string CardNumber(int index) => string.Create(CultureInfo.InvariantCulture, $"{_runId}{_set:D3}{index:D7}");

    public async Task<RunResult> RunAsync(CancellationToken cancellationToken)
    {
        var programs = new ProgramCatalog(_dataSource, TimeProvider.System);
        var store = new CardStore(_dataSource);
        await SetUpAsync(programs, store, cancellationToken);

        var writerOptions = _mode == CommitMode.GroupCommit ? new GroupCommitOptions() : GroupCommitOptions.OnePerCommit;
        await using var engine = await LoyaltyEngine.StartAsync(_connectionString, new EngineOptions { GroupCommit = writerOptions, MaxDatabaseConnections = 100 },
            cancellationToken: cancellationToken);
        // Load every card into its grain first, so the measured loop does only the two writes.
        await Parallel.ForEachAsync(_cardNumbers, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken },
            async (number, _) => await engine.Cards.Card(number).GetAsync());
        return await MeasureAsync(engine.Cards, engine.Writer, cancellationToken);
    }

    /// <summary>Issues the cards and gives each an opening balance, through group commit to be quick.</summary>
    private async Task SetUpAsync(ProgramCatalog programs, CardStore store, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await Migrator.ApplyAsync(_dataSource, cancellationToken);
        await programs.EnsureDefaultAsync();
        await programs.SetAsync(ProgramSettings.Default(ProgramId) with
        {
            MaxRedeemPercent = 50,
            MinLineAmountKopecks = 0,
            AccrualBasisPoints = 500,
            HoldTimeoutSeconds = 900,
        });

        await using var engine = await LoyaltyEngine.StartAsync(_connectionString, cancellationToken: cancellationToken);
        var runtime = engine.Cards;
        for (var first = 0; first < _cardNumbers.Length; first += Limits.MaxCardsPerRange)
        {
            var last = Math.Min(first + Limits.MaxCardsPerRange, _cardNumbers.Length) - 1;
            await runtime.IssueRangeAsync(_cardNumbers[first], _cardNumbers[last], ProgramId, cancellationToken);
        }

        long funded = 0;
        using var progress = new Timer(_ => Console.Error.WriteLine(
            $"{Label} setup: {Interlocked.Read(ref funded)}/{_cardNumbers.Length} cards funded"), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        await Parallel.ForEachAsync(Enumerable.Range(0, _cardNumbers.Length),
            new ParallelOptions { MaxDegreeOfParallelism = 128, CancellationToken = cancellationToken },
            async (i, _) =>
            {
                await runtime.Card(_cardNumbers[i]).AdjustAsync($"b{_runId}s{_set}open{i}", OpeningBalanceKopecks, "benchmark opening balance", "benchmark");
                Interlocked.Increment(ref funded);
            });
        Console.Error.WriteLine($"{Label} setup: {_cardNumbers.Length} cards issued and funded in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private sealed class CallerStats
    {
        public long Done;
        public long Receipts;
        public long Writes;
        public long Errors;
        public readonly Dictionary<string, long> ErrorsByKind = new(StringComparer.Ordinal);
    }

    private async Task<RunResult> MeasureAsync(CardDirectory runtime, GroupCommitWriter writer, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var windowStart = start + (long)(_options.WarmupSeconds * Stopwatch.Frequency);
        var windowEnd = windowStart + (long)(_options.Seconds * Stopwatch.Frequency);
        var stats = Enumerable.Range(0, _callers).Select(_ => new CallerStats()).ToArray();
        _latencyCount = 0;

        var callers = Enumerable.Range(0, _callers)
            .Select(c => Task.Run(() => CallerAsync(runtime, c, stats[c], windowStart, windowEnd, cancellationToken), CancellationToken.None))
            .ToArray();

        // Progress once a second, and the writer's and CPU counters at the edges of the measured window.
        (long Batches, long Writes, CpuSnapshot Cpu)? atStart = null, atEnd = null;
        IReadOnlyList<string> dbTiming = [];
        var nextReport = start + Stopwatch.Frequency;
        while (atEnd is null)
        {
            var now = Stopwatch.GetTimestamp();
            if (atStart is null && now >= windowStart)
            {
                atStart = (writer.BatchesCommitted, writer.WritesCommitted, CpuSnapshot.Take(_postmasterPid));
                _dbTiming?.Start();
            }
            if (now >= windowEnd)
            {
                atEnd = (writer.BatchesCommitted, writer.WritesCommitted, CpuSnapshot.Take(_postmasterPid));
                dbTiming = _dbTiming?.Stop(Stopwatch.GetElapsedTime(atStart!.Value.Cpu.Timestamp, atEnd.Value.Cpu.Timestamp).TotalSeconds) ?? [];
                break;
            }
            if (now >= nextReport)
            {
                var elapsed = Stopwatch.GetElapsedTime(start, now).TotalSeconds;
                var phase = now < windowStart ? "warm-up" : "measuring";
                var done = stats.Sum(s => Volatile.Read(ref s.Done));
                var counted = stats.Sum(s => Volatile.Read(ref s.Receipts));
                var errors = stats.Sum(s => Volatile.Read(ref s.Errors));
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{Label} {elapsed,5:0.0} s {phase,-9} receipts {done,8} (measured {counted,8})  writer: {writer.WritesCommitted} writes in {writer.BatchesCommitted} batches{(errors > 0 ? $"  errors {errors}" : "")}"));
                nextReport += Stopwatch.Frequency;
            }
            var wake = Math.Min(nextReport, atStart is null ? windowStart : windowEnd);
            var delay = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), wake);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, cancellationToken);
        }
        await Task.WhenAll(callers);

        var seconds = _options.Seconds;
        var receipts = stats.Sum(s => s.Receipts);
        var writes = stats.Sum(s => s.Writes);
        var errorsByKind = stats.SelectMany(s => s.ErrorsByKind).GroupBy(e => e.Key)
            .ToDictionary(g => g.Key, g => g.Sum(e => e.Value), StringComparer.Ordinal);
        var samples = Math.Min(_latencyCount, _latencies.Length);
        var sorted = _latencies.AsSpan(0, (int)samples);
        sorted.Sort();
        var batches = atEnd!.Value.Batches - atStart!.Value.Batches;
        var batchWrites = atEnd.Value.Writes - atStart.Value.Writes;

        return new RunResult(
            _mode, _callers, seconds, receipts, writes, stats.Sum(s => s.Errors), errorsByKind,
            receipts / seconds, writes / seconds,
            Percentile(sorted, 0.50), Percentile(sorted, 0.99),
            batches > 0 ? (double)batchWrites / batches : 0,
            samples,
            CpuSnapshot.ProcessCores(atStart.Value.Cpu, atEnd.Value.Cpu),
            CpuSnapshot.MachineCores(atStart.Value.Cpu, atEnd.Value.Cpu),
            CpuSnapshot.PostgresCores(atStart.Value.Cpu, atEnd.Value.Cpu),
            dbTiming);
    }

    private async Task CallerAsync(CardDirectory runtime, int caller, CallerStats stats, long windowStart, long windowEnd, CancellationToken cancellationToken)
    {
        var cards = Enumerable.Range(0, _cardNumbers.Length).Where(i => i % _callers == caller).Select(i => _cardNumbers[i]).ToArray();
        var store = $"bench{_runId}";
        var register = string.Create(CultureInfo.InvariantCulture, $"s{_set}c{caller}");
        long sequence = 0;
        while (!cancellationToken.IsCancellationRequested && Stopwatch.GetTimestamp() < windowEnd)
        {
            sequence++;
            var card = runtime.Card(cards[(int)(sequence % cards.Length)]);
            var receipt = MakeReceipt(new ReceiptRef(store, register, 1, sequence), twoLines: (sequence & 1) == 0);
            var operation = string.Create(CultureInfo.InvariantCulture, $"b{_runId}s{_set}c{caller}n{sequence}");
            var began = Stopwatch.GetTimestamp();
            try
            {
                var hold = await card.RedeemAsync(operation + "r", receipt, RedeemKopecks, CancellationToken.None);
                var held = Stopwatch.GetTimestamp();
                if (held >= windowStart && held < windowEnd) stats.Writes++;
                await card.CommitAsync(operation + "c", receipt, hold.HoldId, CancellationToken.None);
                var ended = Stopwatch.GetTimestamp();
                Volatile.Write(ref stats.Done, stats.Done + 1);
                if (ended >= windowStart && ended < windowEnd)
                {
                    stats.Writes++;
                    Volatile.Write(ref stats.Receipts, stats.Receipts + 1);
                    var slot = Interlocked.Increment(ref _latencyCount) - 1;
                    if (slot < _latencies.Length) _latencies[slot] = ended - began;
                }
            }
            catch (Exception error) when (error is CardException or NpgsqlException or TimeoutException)
            {
                var kind = error is CardException refused ? refused.Code.ToString() : error.GetType().Name;
                Volatile.Write(ref stats.Errors, stats.Errors + 1);
                stats.ErrorsByKind[kind] = stats.ErrorsByKind.GetValueOrDefault(kind) + 1;
                if (Interlocked.Exchange(ref _errorShown, 1) == 0)
                    Console.Error.WriteLine($"{Label} caller {caller}: first error (more are counted, not shown): {kind}: {error.Message}");
                if (error is CardException { Code: CardErrorCode.Overloaded or CardErrorCode.Unavailable })
                    await Task.Delay(10, CancellationToken.None); // back off as a register would
            }
        }
    }

    private static Receipt MakeReceipt(ReceiptRef reference, bool twoLines) => new(reference, twoLines
        ? [
            new ReceiptLine("4600000000017", "dairy", "Milk 3.2% 1 l", 2_000, 8_990, 17_980),
            new ReceiptLine("4600000000024", "bakery", "Rye bread", 1_000, 5_450, 5_450),
        ]
        : [new ReceiptLine("4600000000031", "grocery", "Buckwheat 900 g", 1_000, 12_900, 12_900)]);

    private static double Percentile(Span<long> sorted, double p)
    {
        if (sorted.Length == 0) return double.NaN;
        var index = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)] * 1000.0 / Stopwatch.Frequency;
    }
}
