using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Concurrency;

namespace Loyalty.Grains.Runtime;

/// <summary>A submit's answer across the grain boundary: the job, or the refusal of its operation id (code and sentence).</summary>
[Orleans.Immutable]
public sealed record SubmitOutcome(PrintJob? Job, CardErrorCode? Code, string? Message);

/// <summary>What a feed gets: the next jobs, or that a newer feed for the register took over.</summary>
[Orleans.Immutable]
public sealed record FeedBatch(bool Superseded, IReadOnlyList<PrintJob> Jobs);

/// <summary>
/// The print queue of one office register (key: store and register, <see cref="KeyOf"/>): one
/// activation in the cluster takes the register's submits, hand-outs and results one at a time,
/// whichever server the drivers and the office adapter reach. The rules are in
/// <see cref="PrintQueue"/>; the queue's object (<see cref="OfficePrintQueue"/>) keeps every change
/// in PostgreSQL (print_jobs) before a method returns, so a new activation after a crash loads the
/// open jobs and settles owed bonus steps.
/// </summary>
public interface IPrintQueueGrain : IGrainWithStringKey
{
    /// <summary>Queues validated sales in one commit; each answered with its job or its refusal.</summary>
    Task<SubmitOutcome[]> SubmitManyAsync(PrintJobRequest[] requests, CancellationToken cancellationToken = default);

    /// <summary>Starts a feed for the register's office adapter; an older feed is told it was superseded.</summary>
    Task<long> StartFeedAsync();

    /// <summary>The next jobs after <paramref name="afterSequence"/> for feed <paramref name="feed"/>, marked printing before they are returned.</summary>
    Task<FeedBatch> TakeForFeedAsync(long feed, long afterSequence, int window, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits (interleaved with the queue's other calls: it only waits) until the queue changes, the feed
    /// is superseded, or <paramref name="maxWait"/> passes. True when the feed was superseded.
    /// </summary>
    [AlwaysInterleave]
    Task<bool> WaitForChangeAsync(long feed, TimeSpan maxWait);

    /// <summary>Applies the office adapter's result, then the bonus step it calls for.</summary>
    Task<PrintJob> ReportAsync(PrintJob stored, PrintReport report, CancellationToken cancellationToken = default);

    /// <summary>Records what became of sending the job's receipt link.</summary>
    Task<PrintJob> NoteAsync(string jobId, string notice, CancellationToken cancellationToken = default);

    /// <summary>The grain key: store and register joined by U+001F, a control character no identifier contains.</summary>
    static string KeyOf(string storeId, string registerId) => $"{storeId}\u001f{registerId}";
}

public sealed class PrintQueueGrain(CardGrainServices services, NpgsqlDataSource dataSource, ILogger<PrintQueueGrain> logger) : Grain, IPrintQueueGrain
{
    private OfficePrintQueue _queue = null!;
    private long _feed;
    private TaskCompletionSource _superseded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString().Split('\u001f');
        var cards = new CardDirectory(GrainFactory, services.Store, services.Programs, services.Time);
        _queue = new OfficePrintQueue(key[0], key[1], new PrintJobStore(dataSource), cards, services.Time, logger);
        await _queue.ActivateAsync(cancellationToken);
        await base.OnActivateAsync(cancellationToken);
    }

    public Task<SubmitOutcome[]> SubmitManyAsync(PrintJobRequest[] requests, CancellationToken cancellationToken) =>
        _queue.SubmitManyAsync(requests, cancellationToken);

    public Task<long> StartFeedAsync()
    {
        _feed++;
        Interlocked.Exchange(ref _superseded, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        return Task.FromResult(_feed);
    }

    public async Task<FeedBatch> TakeForFeedAsync(long feed, long afterSequence, int window, CancellationToken cancellationToken) =>
        feed != _feed ? new FeedBatch(true, []) : new FeedBatch(false, await _queue.TakeForFeedAsync(afterSequence, window, cancellationToken));

    public async Task<bool> WaitForChangeAsync(long feed, TimeSpan maxWait)
    {
        if (feed != _feed) return true;
        var superseded = Volatile.Read(ref _superseded).Task;
        await Task.WhenAny(_queue.Changed, superseded, Task.Delay(maxWait));
        return feed != _feed;
    }

    public Task<PrintJob> ReportAsync(PrintJob stored, PrintReport report, CancellationToken cancellationToken) =>
        _queue.ReportAsync(stored, report, cancellationToken);

    public Task<PrintJob> NoteAsync(string jobId, string notice, CancellationToken cancellationToken) =>
        _queue.NoteAsync(jobId, notice, cancellationToken);
}
