using System.Diagnostics;
using System.Globalization;
using Loyalty.Protos.V1;

namespace Loyalty.GrpcBenchmarks;

/// <summary>One measured call count: receipts, latency percentiles, errors and where the CPU went.</summary>
public sealed record LoadResult(
    int Calls,
    double WindowSeconds,
    long Receipts,
    long GrpcCalls,
    double P50Ms,
    double P99Ms,
    long Errors,
    IReadOnlyDictionary<string, long> ErrorsByKind,
    IReadOnlyDictionary<string, long> ErrorsOutsideWindow,
    IReadOnlyDictionary<string, string> ErrorSamples,
    double ClientCores,
    double ServerCores,
    double PostgresCores,
    double MachineCores,
    int ConnectionsOpened)
{
    public double ReceiptsPerSecond => WindowSeconds > 0 ? Receipts / WindowSeconds : 0;
    public double GrpcCallsPerSecond => WindowSeconds > 0 ? GrpcCalls / WindowSeconds : 0;
    /// <summary>Busy CPU that was neither client, server nor PostgreSQL: the machine's other work, kernel network threads.</summary>
    public double OtherCores => MachineCores - ClientCores - ServerCores - (double.IsNaN(PostgresCores) ? 0 : PostgresCores);
}

/// <summary>
/// <c>calls</c> concurrent loops, each Redeem (1.00) then Commit with the hold on its own cards (caller i takes
/// cards i, i+calls, ... in turn, so no two callers queue on one card), with unique operation ids and receipt
/// numbers. A warm-up, then the measured window; a receipt counts if its Commit is answered inside the window,
/// its latency running from sending the Redeem to the Commit's answer.
/// </summary>
public sealed class LoadRun(BenchSession session, IReadOnlyList<ServerProcess> servers, int? postmasterPid, long[] latencyBuffer)
{
    /// <summary>A failing call is followed by this pause, so a broken server is not hammered by a hot loop.</summary>
    private static readonly TimeSpan ErrorPause = TimeSpan.FromMilliseconds(10);
    /// <summary>After the window every loop finishes its receipt in flight; each call is bounded by the call timeout.</summary>
    private static readonly TimeSpan DrainTimeout = 2 * BenchGrpcClient.CallTimeout + TimeSpan.FromSeconds(5);
    /// <summary>Receipt line: 100.00, of which the default programme lets up to 30 % be paid with bonuses; 1.00 is redeemed.</summary>
    private const long LineKopecks = 10_000;
    private const long RedeemKopecks = 100;

    private const int Warmup = 0, Measuring = 1, Stopping = 2;
    private int _phase;
    private int _samples;

    private sealed class Caller
    {
        public long Completed;
        public long MeasuredReceipts;
        public long MeasuredCalls;
        public long MeasuredErrors;
        public readonly Dictionary<string, long> Errors = [];
        public readonly Dictionary<string, long> ErrorsOutside = [];
        public readonly Dictionary<string, string> Samples = [];
    }

    /// <param name="level">The ordinal of this load in the run; it becomes the receipts' shift number, so receipts never repeat.</param>
    /// <param name="seconds">The measured window; 0 runs the warm-up only (the fresh server's JIT warm-up), and the result is empty.</param>
    /// <param name="warmupName">How the warm-up is named in the progress lines.</param>
    public async Task<LoadResult> RunAsync(int calls, int level, double warmupSeconds, double seconds, CancellationToken cancellationToken, string warmupName = "warm-up")
    {
        _phase = Warmup;
        _samples = 0;
        var label = $"[{calls} calls]";
        var callers = Enumerable.Range(0, calls).Select(_ => new Caller()).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = Task.WhenAll(callers.Select((caller, index) => Task.Run(() => LoopAsync(caller, index, calls, level, stop.Token), CancellationToken.None)));

        try
        {
            await TickAsync(label, warmupName, warmupSeconds, callers, loops, cancellationToken);
            var from = CpuSample.Take(servers.Select(s => s.Id).ToList(), postmasterPid);
            var window = Stopwatch.StartNew();
            Volatile.Write(ref _phase, Measuring);

            await TickAsync(label, "measuring", seconds, callers, loops, cancellationToken);
            Volatile.Write(ref _phase, Stopping);
            window.Stop();
            var to = CpuSample.Take(servers.Select(s => s.Id).ToList(), postmasterPid);

            if (seconds > 0) Console.Error.WriteLine($"{label} window over; waiting for the receipts in flight");
            try
            {
                await loops.WaitAsync(DrainTimeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new InvalidOperationException($"{label} the receipts in flight were not answered within {DrainTimeout.TotalSeconds:0} s after the window.");
            }

            var cores = CpuSample.Cores(from, to);
            var count = Math.Min(_samples, latencyBuffer.Length);
            if (_samples > latencyBuffer.Length)
                Console.Error.WriteLine($"{label} only the first {latencyBuffer.Length:N0} of {_samples:N0} latencies were kept; the percentiles are of those.");
            var latencies = latencyBuffer.AsSpan(0, count);
            latencies.Sort();
            return new LoadResult(
                calls,
                window.Elapsed.TotalSeconds,
                callers.Sum(c => c.MeasuredReceipts),
                callers.Sum(c => c.MeasuredCalls),
                PercentileMs(latencies, 0.50),
                PercentileMs(latencies, 0.99),
                callers.Sum(c => c.MeasuredErrors),
                Merge(callers.Select(c => c.Errors)),
                Merge(callers.Select(c => c.ErrorsOutside)),
                callers.SelectMany(c => c.Samples).GroupBy(s => s.Key).ToDictionary(g => g.Key, g => g.First().Value),
                cores.Client,
                cores.Server,
                cores.Postgres,
                cores.Machine,
                session.Client.ConnectionsOpened);
        }
        finally
        {
            // On any failure the loops must not outlive this run.
            Volatile.Write(ref _phase, Stopping);
            await stop.CancelAsync();
            try
            {
                await loops.WaitAsync(DrainTimeout, CancellationToken.None);
            }
            catch (Exception)
            {
                // Only reached on a failure path (a normal run has drained already): the failure that got us
                // here is the one to report, not how the cancelled loops ended.
            }
        }
    }

    private async Task LoopAsync(Caller caller, int index, int calls, int level, CancellationToken cancellationToken)
    {
        // Built once per caller; each receipt only changes the card, the receipt number and the operation ids.
        var receipt = new Receipt
        {
            Ref = new ReceiptRef { StoreId = BenchSession.StoreId, RegisterId = $"R{index}", ShiftNumber = level },
            Lines = { new ReceiptLine { Sku = "SKU-1", Category = "food", Name = "benchmark item", QuantityMilli = 1000, Price = LineKopecks, Amount = LineKopecks } },
        };
        var redeem = new RedeemRequest { Receipt = receipt, Amount = RedeemKopecks };
        var commit = new CommitRequest { Receipt = receipt };
        var cards = session.Cards;
        var ownCards = (cards.Count - index + calls - 1) / calls; // cards index, index+calls, ... below cards.Count
        var prefix = $"L{level}C{index}N";

        // Receipt numbers start at 1: the server refuses 0.
        for (long sequence = 1; Volatile.Read(ref _phase) != Stopping; sequence++)
        {
            var card = cards[index + (int)(sequence % ownCards) * calls];
            receipt.Ref.ReceiptNumber = sequence;
            redeem.OperationId = $"{prefix}{sequence}R";
            redeem.CardNumber = card;
            var started = Stopwatch.GetTimestamp();
            var held = await session.Client.CallAsync(index, session.Redeem, BenchGrpcClient.Encode(redeem), session.PosAuthorization, cancellationToken);
            if (!held.Ok)
            {
                await FailedAsync(caller, "Cards/Redeem", held, cancellationToken);
                continue;
            }
            if (Volatile.Read(ref _phase) == Measuring) caller.MeasuredCalls++;

            commit.OperationId = $"{prefix}{sequence}C";
            commit.CardNumber = card;
            commit.HoldId = RedeemReply.Parser.ParseFrom(held.Message.Span).HoldId;
            var committed = await session.Client.CallAsync(index, session.Commit, BenchGrpcClient.Encode(commit), session.PosAuthorization, cancellationToken);
            var finished = Stopwatch.GetTimestamp();
            if (!committed.Ok)
            {
                await FailedAsync(caller, "Cards/Commit", committed, cancellationToken);
                continue;
            }
            Volatile.Write(ref caller.Completed, caller.Completed + 1);
            if (Volatile.Read(ref _phase) != Measuring) continue;
            caller.MeasuredCalls++;
            caller.MeasuredReceipts++;
            var slot = Interlocked.Increment(ref _samples) - 1;
            if (slot < latencyBuffer.Length) latencyBuffer[slot] = finished - started;
        }
    }

    private async Task FailedAsync(Caller caller, string method, CallResult result, CancellationToken cancellationToken)
    {
        var kind = $"{method} {GrpcStatusNames.Name(result.Status)}";
        if (Volatile.Read(ref _phase) == Measuring)
        {
            caller.MeasuredCalls++;
            caller.MeasuredErrors++;
            caller.Errors[kind] = caller.Errors.GetValueOrDefault(kind) + 1;
        }
        else
        {
            caller.ErrorsOutside[kind] = caller.ErrorsOutside.GetValueOrDefault(kind) + 1;
        }
        if (result.Error is not null) caller.Samples.TryAdd(kind, result.Error);
        await Task.Delay(ErrorPause, cancellationToken);
    }

    /// <summary>Waits <paramref name="seconds"/>, printing progress each second; fails at once if the server died or the loops did.</summary>
    private async Task TickAsync(string label, string phase, double seconds, Caller[] callers, Task loops, CancellationToken cancellationToken)
    {
        if (seconds <= 0) return;
        var elapsed = Stopwatch.StartNew();
        var lastCompleted = callers.Sum(c => Volatile.Read(ref c.Completed));
        var lastTick = Stopwatch.GetTimestamp();
        // One tick per whole second, the last one at the end of the phase (which may be a fraction of a second later).
        for (var tick = 1; ; tick++)
        {
            var until = Math.Min(tick, seconds);
            var wait = until - elapsed.Elapsed.TotalSeconds;
            if (wait > 0) await Task.WhenAny(loops, Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            if (loops.IsCompleted)
            {
                await loops; // surfaces the loop's exception
                throw new InvalidOperationException($"{label} the callers stopped before the {phase} ended.");
            }
            if (servers.FirstOrDefault(s => s.HasExited) is { } server)
                throw new InvalidOperationException($"The server exited during the {phase} of {label}. Its last lines:{Environment.NewLine}{server.Tail}");

            var completed = callers.Sum(c => Volatile.Read(ref c.Completed));
            var now = Stopwatch.GetTimestamp();
            var rate = (completed - lastCompleted) / Math.Max(1e-3, Stopwatch.GetElapsedTime(lastTick, now).TotalSeconds);
            (lastCompleted, lastTick) = (completed, now);
            var errors = callers.Sum(c => Volatile.Read(ref c.MeasuredErrors));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label} {phase} {until:0.#}/{seconds:0.#} s: {rate:0} receipts/s{(errors > 0 ? $", {errors} errors in the window" : "")}"));
            if (until >= seconds) return;
        }
    }

    private static double PercentileMs(Span<long> sortedTicks, double quantile)
    {
        if (sortedTicks.Length == 0) return double.NaN;
        // Nearest rank: the smallest value with at least the quantile of samples at or below it.
        var rank = Math.Max(1, (int)Math.Ceiling(quantile * sortedTicks.Length));
        return sortedTicks[rank - 1] * 1000.0 / Stopwatch.Frequency;
    }

    private static Dictionary<string, long> Merge(IEnumerable<Dictionary<string, long>> parts)
    {
        var merged = new Dictionary<string, long>();
        foreach (var part in parts)
            foreach (var (kind, count) in part)
                merged[kind] = merged.GetValueOrDefault(kind) + count;
        return merged;
    }
}
