using System.Collections.Concurrent;
using System.Net;

namespace Loyalty.Fuzz;

/// <summary>The server under fuzz: where it listens, the keys made for the run, a funded card, and its process for memory figures.</summary>
public sealed record FuzzTarget(Uri GrpcAddress, string AdminKey, IReadOnlyList<string> PosKeys, string OtherPosKey, string StoreId, string Card, int? ServerProcessId)
{
    public IPEndPoint Endpoint => new(IPAddress.Parse(GrpcAddress.Host), GrpcAddress.Port);

    /// <summary>Keys are spread over workers so that the per-key rate limit only shows where it is the subject.</summary>
    public string PosKey(int worker) => PosKeys[worker % PosKeys.Count];
}

/// <summary>Bounds of a run: every scenario stops by itself within its seconds and counts.</summary>
public sealed record FuzzSettings
{
    public static readonly IReadOnlyList<string> AllScenarios = ["frames", "mutated", "contents", "headers", "slow", "idle", "rate"];

    public int Seed { get; init; } = 1;
    /// <summary>Seconds of traffic per scenario (the slow and idle ones also wait for the server as needed).</summary>
    public double Seconds { get; init; } = 10;
    public int Workers { get; init; } = 8;
    public int IdleConnections { get; init; } = 3_000;
    public int SlowStreams { get; init; } = 40;
    /// <summary>The server's request body timeout (what the slow streams should see), and how long past it they are waited for.</summary>
    public TimeSpan RequestBodyTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan SlowGrace = TimeSpan.FromSeconds(15);
    /// <summary>The per-key rate the server was started with, for judging the rate scenario; 0 = off.</summary>
    public int RatePerKey { get; init; }
    public int RateBurst { get; init; }
    /// <summary>Peak resident memory of the server allowed for the whole run, in MiB; null = not judged.</summary>
    public long? MaxRssMegabytes { get; init; }
    public IReadOnlyList<string> Scenarios { get; init; } = AllScenarios;
    /// <summary>Pause after a scenario before memory is read again, for the server to release what the scenario's connections held.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Whether the headers scenario also waits for the server to close a header block that never ends (its request headers timeout, 10 s).</summary>
    public bool UnfinishedHeaderBlock { get; init; } = true;
}

/// <summary>What one scenario did and saw.</summary>
public sealed class ScenarioResult(string name)
{
    /// <summary>Examples of unexpected answers kept for the report.</summary>
    private const int MaxSamples = 8;

    private readonly ConcurrentDictionary<string, int> _outcomes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _unexpected = new();
    private int _sent;
    private int _unexpectedCount;

    public string Name { get; } = name;
    public int Sent => _sent;
    public IReadOnlyDictionary<string, int> Outcomes => _outcomes;
    public int UnexpectedCount => _unexpectedCount;
    public IEnumerable<string> UnexpectedSamples => _unexpected;
    public bool ServerAlive { get; set; }
    public string AliveDetail { get; set; } = "";
    public long RssBeforeKb { get; set; }
    public long RssPeakKb { get; set; }
    public long RssAfterKb { get; set; }
    /// <summary>Figures particular to the scenario (times, latencies, shares).</summary>
    public List<string> Notes { get; } = [];
    public TimeSpan Duration { get; set; }

    public bool Passed => ServerAlive && _unexpectedCount == 0;

    public void CountSent(int n = 1) => Interlocked.Add(ref _sent, n);

    /// <summary>Counts an outcome; an unexpected one is kept as a finding with what was sent.</summary>
    public void Record(string outcome, bool expected, string? what = null)
    {
        _outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
        if (expected) return;
        if (Interlocked.Increment(ref _unexpectedCount) <= MaxSamples)
            _unexpected.Enqueue(what is null ? outcome : $"{outcome} <- {what}");
    }

    public string OutcomeSummary => string.Join(", ", _outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key}: {o.Value}"));
}

/// <summary>Resident memory of a process from /proc (Linux): now (VmRSS) and its peak so far (VmHWM), in KiB.</summary>
public static class Memory
{
    public static (long RssKb, long PeakKb) Read(int processId)
    {
        long rss = 0, peak = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{processId}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kilobytes(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kilobytes(line);
            }
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // The process is gone (or this is not Linux): no figure.
        }
        return (rss, peak);
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Samples a process's resident memory every <see cref="Interval"/> while a scenario runs and keeps the highest.</summary>
public sealed class MemorySampler : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;
    private long _peakKb;

    public MemorySampler(int? processId)
    {
        _sampling = processId is { } id ? Task.Run(() => SampleAsync(id)) : Task.CompletedTask;
    }

    public long PeakKb => Interlocked.Read(ref _peakKb);

    private async Task SampleAsync(int processId)
    {
        while (!_stop.IsCancellationRequested)
        {
            var (rss, _) = Memory.Read(processId);
            if (rss > Interlocked.Read(ref _peakKb)) Interlocked.Exchange(ref _peakKb, rss);
            try
            {
                await Task.Delay(Interval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampling;
        _stop.Dispose();
    }
}
