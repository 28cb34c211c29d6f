using System.Diagnostics;
using System.Globalization;

namespace Loyalty.Benchmarks;

/// <summary>
/// Optional diagnostics (--db-timing): listens to Npgsql's activity source and adds up, per kind of
/// round trip, how often it ran and how long it took from the client's side (send until the last row
/// was read). The ledger writer's two round trips tell how much of the wall time the writer spends
/// waiting for PostgreSQL; the gaps between them, how long it builds rows and waits for the next batch.
/// Meant for one writer at a time (the benchmark's case).
/// </summary>
public sealed class DbTiming : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly Dictionary<string, (long Count, double TotalMs, double MaxMs)> _byKind = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _collecting;
    private DateTime? _lastWriterEnd;

    public DbTiming()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Record,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Starts a new tally (at the start of a measured window).</summary>
    public void Start()
    {
        lock (_lock)
        {
            _byKind.Clear();
            _lastWriterEnd = null;
            _collecting = true;
        }
    }

    /// <summary>Ends the tally and returns a few lines describing it, for <paramref name="wallSeconds"/> of wall time.</summary>
    public IReadOnlyList<string> Stop(double wallSeconds)
    {
        lock (_lock)
        {
            _collecting = false;
            var lines = new List<string>();
            double writerMs = 0;
            foreach (var (kind, (count, total, max)) in _byKind.OrderByDescending(k => k.Value.TotalMs))
            {
                if (kind.StartsWith("writer:", StringComparison.Ordinal)) writerMs += total;
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"  {kind,-34} {count,8} x {total / count,7:0.000} ms avg (max {max,7:0.0}) = {total / 1000 / wallSeconds * 100,5:0.0}% of wall time"));
            }
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"  ledger writer waits for PostgreSQL {writerMs / 1000 / wallSeconds * 100:0.0}% of wall time, idle or preparing {100 - writerMs / 1000 / wallSeconds * 100:0.0}%"));
            return lines;
        }
    }

    private void Record(Activity activity)
    {
        if (!_collecting) return;
        var kind = Classify(activity);
        lock (_lock)
        {
            if (!_collecting) return;
            Add(kind, activity.Duration.TotalMilliseconds);
            if (!kind.StartsWith("writer:", StringComparison.Ordinal)) return;
            // The ledger writer runs one transaction at a time, so the gaps between its round trips are
            // its own CPU work (between the two) or the wait for the next batch (before the first).
            if (_lastWriterEnd is { } end)
                Add(kind.StartsWith("writer: BEGIN", StringComparison.Ordinal) || kind.StartsWith("writer: whole batch", StringComparison.Ordinal)
                        ? "(gap) waiting for/gathering a batch" : "(gap) writer building the rows",
                    Math.Max(0, (activity.StartTimeUtc - end).TotalMilliseconds));
            _lastWriterEnd = activity.StartTimeUtc + activity.Duration;
        }
    }

    private void Add(string kind, double ms)
    {
        var (count, total, max) = _byKind.GetValueOrDefault(kind);
        _byKind[kind] = (count + 1, total + ms, Math.Max(max, ms));
    }

    private static string Classify(Activity activity)
    {
        var text = (activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement")) as string ?? activity.DisplayName;
        text = text.TrimStart();
        // The writer's common path sends everything, COMMIT included, in one batch starting with BEGIN.
        if (text.StartsWith("BEGIN", StringComparison.Ordinal) && text.Contains("COMMIT", StringComparison.Ordinal)) return "writer: whole batch in one round trip";
        if (text.StartsWith("BEGIN", StringComparison.Ordinal)) return "writer: BEGIN + lock + check";
        if (text.Contains("COMMIT", StringComparison.Ordinal)) return "writer: rows + COMMIT";
        if (text.StartsWith("ROLLBACK", StringComparison.Ordinal)) return "writer: ROLLBACK";
        if (text.StartsWith("SELECT state::text FROM cards", StringComparison.Ordinal)) return "card load";
        if (text.StartsWith("SELECT settings", StringComparison.Ordinal)) return "programme read";
        if (text.StartsWith("SELECT operation_id", StringComparison.Ordinal)) return "operation lookup";
        return text.Length > 34 ? text[..34] : text;
    }

    public void Dispose() => _listener.Dispose();
}
