using System.Collections.Concurrent;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Loyalty.Grains.Runtime;

/// <summary>Bounds of the print queues' host.</summary>
public sealed record PrintQueueLimits
{
    /// <summary>Calls waiting for one register's turn; more get RESOURCE_EXHAUSTED (retry with the same operation id).</summary>
    public int MaxWaitingCallsPerRegister { get; init; } = 256;
    /// <summary>Jobs a feed hands out ahead of their results, so the adapter never waits for the server between two receipts.</summary>
    public int FeedWindow { get; init; } = 16;
    /// <summary>Submits stored in one commit when many wait for the register's turn at once (a burst of drivers).</summary>
    public int MaxSubmitBatch { get; init; } = 64;
}

/// <summary>
/// The print queue of one office register, hosted by its <see cref="IPrintQueueGrain"/>. Its methods
/// take immutable inputs and return immutable records; the rules are in <see cref="PrintQueue"/>;
/// every change is in PostgreSQL before the method returns. Not thread-safe by itself: the grain
/// runs one call at a time.
/// </summary>
public sealed class OfficePrintQueue(string storeId, string registerId, PrintJobStore store, CardDirectory cards, TimeProvider time, ILogger logger)
{
    private readonly SortedDictionary<long, PrintJob> _open = [];
    private long _lastSequence;
    private bool _loaded;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string StoreId => storeId;
    public string RegisterId => registerId;

    /// <summary>Completes at the next change (a submit or a result); the feed waits on it. (Under Orleans: a grain observer.)</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>Loads the open jobs and settles bonus steps a crash left owed (the activation's OnActivateAsync).</summary>
    public async Task ActivateAsync(CancellationToken cancellationToken)
    {
        if (_loaded) return;
        var (open, last) = await store.LoadRegisterAsync(storeId, registerId, cancellationToken);
        _lastSequence = last;
        foreach (var job in open) _open[job.Sequence] = job;
        _loaded = true;
        foreach (var job in open.Where(j => j.OwedBonusStep != BonusStep.None).ToList())
            await SettleBonusesAsync(job, cancellationToken);
    }

    /// <summary>
    /// Queues sales (already validated), each answered with its job or the refusal of its operation
    /// id, in one database commit: submits that waited for the register's turn together are stored
    /// together. Durable before it returns.
    /// </summary>
    public async Task<SubmitOutcome[]> SubmitManyAsync(IReadOnlyList<PrintJobRequest> requests, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var jobs = requests.Select((request, i) => PrintQueue.Submit(request, PrintQueue.NewJobId(), _lastSequence + 1 + i, PrintQueue.NewReceiptToken(), now)).ToList();
        var inserted = await store.TryInsertManyAsync(jobs, cancellationToken);
        // Sequences of refused rows stay unused: gaps are harmless, the order is what counts.
        _lastSequence += jobs.Count;
        var results = new SubmitOutcome[jobs.Count];
        for (var i = 0; i < jobs.Count; i++)
        {
            if (inserted[i])
            {
                _open[jobs[i].Sequence] = jobs[i];
                results[i] = new SubmitOutcome(jobs[i], null, null);
                continue;
            }
            // The operation id was taken meanwhile (a retry in the same batch, or through another register's queue of the store),
            // or the sale already has a job under another operation id.
            var other = await store.LoadByOperationAsync(storeId, requests[i].OperationId, cancellationToken);
            try
            {
                if (other is not null)
                    results[i] = new SubmitOutcome(PrintQueue.Resubmit(other, PrintJobStore.SubmitKey(other.Request) == PrintJobStore.SubmitKey(requests[i])), null, null);
                else if (PrintQueue.SaleKey(requests[i]) is { } sale && await store.LoadSaleAsync(storeId, sale, cancellationToken) is { } first)
                    throw PrintQueue.SaleAlreadyQueued(requests[i], first);
                else
                    results[i] = new SubmitOutcome(null, CardErrorCode.Unavailable, $"Operation {requests[i].OperationId} conflicted but is not stored; retry with the same operation id.");
            }
            catch (CardException refused) { results[i] = new SubmitOutcome(null, refused.Code, refused.Message); }
        }
        // Each new sale takes its hold, so that only the job settles it from now on (Card.BindHoldToPrintJob).
        // A hold that went meanwhile (timed out, or cancelled by hand before this) is held again when the receipt is printed.
        await Task.WhenAll(jobs.Where((job, i) => inserted[i] && job.Request.ReprintOf is null && !string.IsNullOrEmpty(job.Request.HoldId)).Select(BindHoldAsync));
        if (inserted.Any(x => x)) Signal();
        return results;
    }

    private async Task BindHoldAsync(PrintJob job)
    {
        var holdId = job.Request.HoldId!;
        try
        {
            await cards.Card(Card.CardNumberOfHold(holdId)!).BindHoldToPrintJobAsync(PrintQueue.BindOperationId(job), holdId, job.JobId, CancellationToken.None);
        }
        catch (Exception error) when (error is CardException or Npgsql.NpgsqlException or TimeoutException)
        {
            logger.LogWarning("Print job {JobId}: its hold {HoldId} could not be given to it ({Reason}); it is settled when the receipt is printed.", job.JobId, holdId, error.Message);
        }
    }

    /// <summary>
    /// The next jobs for a feed that has handed out everything up to <paramref name="afterSequence"/>:
    /// marked printing (stored) before they are returned, so a restart hands them out again.
    /// </summary>
    public async Task<IReadOnlyList<PrintJob>> TakeForFeedAsync(long afterSequence, int window, CancellationToken cancellationToken)
    {
        var inFlight = _open.Values.Count(j => j.Sequence <= afterSequence && j.State == PrintJobState.Printing);
        var next = PrintQueue.NextForFeed(_open.Values, afterSequence, window - inFlight);
        if (next.Count == 0) return next;
        var now = time.GetUtcNow();
        var delivered = next.Select(j => PrintQueue.Deliver(j, now)).ToList();
        await store.UpdateManyAsync(delivered, cancellationToken);
        foreach (var job in delivered) _open[job.Sequence] = job;
        return delivered;
    }

    /// <summary>Applies the office adapter's result and then the bonus step it calls for (commit on done, cancel on failed).</summary>
    public async Task<PrintJob> ReportAsync(PrintJob stored, PrintReport report, CancellationToken cancellationToken)
    {
        var current = _open.TryGetValue(stored.Sequence, out var open) ? open : stored;
        var (job, changed) = PrintQueue.Report(current, report, time.GetUtcNow());
        if (changed)
        {
            await store.UpdateAsync(job, cancellationToken);
            Remember(job);
            Signal();
        }
        // The bonus step is the server's own bookkeeping once the outcome is stored: it is seen through
        // even if the adapter's call is cancelled meanwhile (a killed adapter, a stopping feed).
        if (job.OwedBonusStep != BonusStep.None) job = await SettleBonusesAsync(job, CancellationToken.None);
        return job;
    }

    /// <summary>Records what became of sending the job's receipt link.</summary>
    public async Task<PrintJob> NoteAsync(string jobId, string notice, CancellationToken cancellationToken)
    {
        var job = await store.LoadAsync(jobId, cancellationToken) ?? throw new CardException(CardErrorCode.NotFound, $"No print job '{jobId}'.");
        var noted = PrintQueue.Noticed(job, notice, time.GetUtcNow());
        await store.UpdateAsync(noted, cancellationToken);
        if (_open.ContainsKey(noted.Sequence)) _open[noted.Sequence] = noted;
        return noted;
    }

    /// <summary>
    /// Commits the hold (or books the accrual) of a done job, or cancels the hold of a failed one,
    /// under an operation id derived from the job: a repeated report or a restart books once. A
    /// hold that timed out while the printer waited, or was cancelled by hand before the job was
    /// stored, is held again and committed, since the receipt shows the discount. A card's refusal is recorded on the job; a transient error leaves the
    /// step owed for the next report or activation.
    /// </summary>
    private async Task<PrintJob> SettleBonusesAsync(PrintJob job, CancellationToken cancellationToken)
    {
        var request = job.Request;
        var holdId = string.IsNullOrEmpty(request.HoldId) ? null : request.HoldId;
        var cardNumber = holdId is not null ? Card.CardNumberOfHold(holdId)! : request.CardNumber!;
        BonusSettlement settlement;
        string message;
        try
        {
            if (job.OwedBonusStep == BonusStep.Commit)
            {
                var card = cards.Card(cardNumber);
                CommitResult result;
                try
                {
                    result = await card.CommitAsync(PrintQueue.BonusOperationId(job, "commit"), request.LoyaltyReceipt(), holdId, cancellationToken);
                }
                // The receipt is printed with the discount, so the bonuses are owed whatever became of the
                // hold meanwhile: timed out while the printer waited, or cancelled by hand in the moment
                // between the submit's hold check and the job being stored (Cards.Cancel refuses it after).
                catch (CardException gone) when (holdId is not null && gone.Code == CardErrorCode.AlreadyResolved
                                                  && (gone.Message.Contains("expired", StringComparison.Ordinal) || gone.Message.Contains("was cancelled", StringComparison.Ordinal)))
                {
                    var again = await card.RedeemAsync(PrintQueue.BonusOperationId(job, "hold-again"), request.LoyaltyReceipt(), request.BonusKopecks, cancellationToken);
                    result = await card.CommitAsync(PrintQueue.BonusOperationId(job, "commit-again"), request.LoyaltyReceipt(), again.HoldId, cancellationToken);
                }
                settlement = BonusSettlement.Committed;
                message = $"{result.RedeemedKopecks} kopecks of bonuses booked, {result.AccruedKopecks} accrued on card {cardNumber}.";
                if (result.RedeemedKopecks != request.BonusKopecks)
                    message += $" The receipt printed {request.BonusKopecks} kopecks of bonus discounts: check the hold.";
            }
            else
            {
                await cards.Card(cardNumber).CancelAsync(PrintQueue.BonusOperationId(job, "cancel"), holdId!, storeId, cancellationToken);
                settlement = BonusSettlement.Cancelled;
                message = "The bonus hold was cancelled.";
            }
        }
        catch (CardException refused)
        {
            settlement = BonusSettlement.Refused;
            message = $"The card refused the bonus step: {refused.Message}";
            logger.LogWarning("Print job {JobId}: the card refused the bonus step: {Reason}", job.JobId, refused.Message);
        }
        catch (Exception transient) when (transient is Npgsql.NpgsqlException or TimeoutException)
        {
            logger.LogWarning(transient, "Print job {JobId}: the bonus step is owed and will be tried again.", job.JobId);
            return job;
        }
        var settled = PrintQueue.Settled(job, settlement, message, time.GetUtcNow());
        await store.UpdateAsync(settled, cancellationToken);
        Remember(settled);
        return settled;
    }

    private void Remember(PrintJob job)
    {
        if (job.IsFinal && job.OwedBonusStep == BonusStep.None) _open.Remove(job.Sequence);
        else _open[job.Sequence] = job;
    }

    private void Signal() => Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}

/// <summary>
/// The server side's door to the office registers' print queues (<see cref="IPrintQueueGrain"/>, one
/// activation per register in the cluster). Per server it gathers the submits that arrive together
/// for one register and sends them to the grain as one batch (one commit), with at most
/// <see cref="PrintQueueLimits.MaxWaitingCallsPerRegister"/> waiting here (more:
/// <see cref="CardErrorCode.Overloaded"/>, RESOURCE_EXHAUSTED); the grain takes the register's calls
/// one at a time whichever server they come through.
/// </summary>
public sealed class PrintQueues(PrintJobStore store, CardDirectory cards, PrintQueueLimits? limits = null)
{
    /// <summary>How long a feed waits on the grain for a change before it asks again (a lost wake-up costs at most this).</summary>
    public static readonly TimeSpan FeedPollInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<(string, string), Slot> _slots = new();

    public PrintQueueLimits Limits { get; } = limits ?? new PrintQueueLimits();
    public PrintJobStore Store => store;

    private sealed class Slot
    {
        public SemaphoreSlim Turn { get; } = new(1, 1);
        /// <summary>Submits waiting to be sent by whichever call takes this server's turn next (one batch for all of them).</summary>
        public ConcurrentQueue<(PrintJobRequest Request, TaskCompletionSource<PrintJob> Answer)> PendingSubmits { get; } = new();
        public int Waiting;
    }

    private Slot SlotOf(string storeId, string registerId) => _slots.GetOrAdd((storeId, registerId), _ => new Slot());

    private IPrintQueueGrain Queue(string storeId, string registerId) =>
        cards.Grains.GetGrain<IPrintQueueGrain>(IPrintQueueGrain.KeyOf(storeId, registerId));

    /// <summary>Submits a sale to its register's queue.</summary>
    public async Task<PrintJob> SubmitAsync(PrintJobRequest request, CancellationToken cancellationToken)
    {
        PrintQueue.Validate(request);
        // A retry is answered from the database without the register's turn: the turn is for new jobs.
        if (await store.LoadByOperationAsync(request.StoreId, request.OperationId, cancellationToken) is { } existing)
            return PrintQueue.Resubmit(existing, PrintJobStore.SubmitKey(existing.Request) == PrintJobStore.SubmitKey(request));
        // A new sale with bonuses must print exactly what its hold booked: checked here, against the
        // card's own hold, before the job is queued, so a wrong receipt is refused and never printed.
        if (request.ReprintOf is null && request.HoldId is { Length: > 0 } holdId)
        {
            var hold = await cards.Card(Card.CardNumberOfHold(holdId)!).GetOpenHoldAsync(holdId, cancellationToken);
            if (hold.Receipt.Ref.StoreId != request.StoreId)
                throw new CardException(CardErrorCode.Forbidden, $"Hold {holdId} was not made for a receipt of store {request.StoreId}.");
            request = PrintQueue.BindHold(request, hold);
        }
        else if (request.ReprintOf is null && request.CardNumber is { Length: > 0 } cardNumber)
        {
            // The accrual is booked once the receipt is printed: a card that does not exist is refused now, not after.
            await cards.Card(cardNumber).GetAsync(cancellationToken);
        }
        if (request.ReprintOf is null) PrintQueue.RequirePrintable(request);
        var slot = SlotOf(request.StoreId, request.OfficeRegisterId);
        if (Interlocked.Increment(ref slot.Waiting) > Limits.MaxWaitingCallsPerRegister)
        {
            Interlocked.Decrement(ref slot.Waiting);
            throw new CardException(CardErrorCode.Overloaded,
                $"{Limits.MaxWaitingCallsPerRegister} calls already wait for office register {request.StoreId}/{request.OfficeRegisterId}; retry with the same operation id.");
        }
        try
        {
            var answer = new TaskCompletionSource<PrintJob>(TaskCreationOptions.RunContinuationsAsynchronously);
            slot.PendingSubmits.Enqueue((request, answer));
            await slot.Turn.WaitAsync(cancellationToken);
            try
            {
                // Whoever takes the turn sends every submit waiting by then (up to MaxSubmitBatch): one commit instead of one each.
                var batch = new List<(PrintJobRequest Request, TaskCompletionSource<PrintJob> Answer)>();
                while (batch.Count < Limits.MaxSubmitBatch && slot.PendingSubmits.TryDequeue(out var pending)) batch.Add(pending);
                if (batch.Count > 0)
                {
                    try
                    {
                        var results = await Queue(request.StoreId, request.OfficeRegisterId).SubmitManyAsync([.. batch.Select(b => b.Request)], CancellationToken.None);
                        for (var i = 0; i < batch.Count; i++)
                            if (results[i].Job is { } job) batch[i].Answer.TrySetResult(job);
                            else batch[i].Answer.TrySetException(new CardException(results[i].Code ?? CardErrorCode.Unavailable, results[i].Message ?? "The job could not be stored."));
                    }
                    catch (Exception failed)
                    {
                        foreach (var b in batch) b.Answer.TrySetException(failed);
                    }
                }
            }
            finally { slot.Turn.Release(); }
            return await answer.Task.WaitAsync(cancellationToken);
        }
        finally { Interlocked.Decrement(ref slot.Waiting); }
    }

    /// <summary>Applies a result report to the job's register queue; NotFound for an unknown job.</summary>
    public async Task<PrintJob> ReportAsync(PrintReport report, CancellationToken cancellationToken)
    {
        var job = await store.LoadAsync(report.JobId, cancellationToken) ?? throw NotFound(report.JobId);
        return await Queue(job.Request.StoreId, job.Request.OfficeRegisterId).ReportAsync(job, report, cancellationToken);
    }

    /// <summary>Queues a paper copy of a done job's receipt on the job's register (idempotent by <paramref name="operationId"/>).</summary>
    public Task<PrintJob> ReprintAsync(PrintJob original, string operationId, string submittedBy, CancellationToken cancellationToken) =>
        SubmitAsync(PrintQueue.Reprint(original, operationId, submittedBy), cancellationToken);

    /// <summary>Records what became of sending a job's receipt link.</summary>
    public Task<PrintJob> NoteAsync(PrintJob job, string notice, CancellationToken cancellationToken) =>
        Queue(job.Request.StoreId, job.Request.OfficeRegisterId).NoteAsync(job.JobId, notice, cancellationToken);

    /// <summary>A job as stored now, or NotFound.</summary>
    public async Task<PrintJob> GetAsync(string jobId, CancellationToken cancellationToken) =>
        await store.LoadAsync(jobId, cancellationToken) ?? throw NotFound(jobId);

    /// <summary>
    /// The register's feed: yields batches of jobs to print, oldest first, waiting for new ones; ends
    /// when <paramref name="cancellationToken"/> fires or a newer feed for the register starts on any
    /// server (<see cref="FeedSupersededException"/>).
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<PrintJob>> FeedAsync(string storeId, string registerId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var queue = Queue(storeId, registerId);
        var feed = await queue.StartFeedAsync();
        long after = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = await queue.TakeForFeedAsync(feed, after, Limits.FeedWindow, cancellationToken);
            if (batch.Superseded) throw new FeedSupersededException(storeId, registerId);
            if (batch.Jobs.Count > 0)
            {
                after = batch.Jobs[^1].Sequence;
                yield return batch.Jobs;
                continue;
            }
            if (await queue.WaitForChangeAsync(feed, FeedPollInterval).WaitAsync(cancellationToken))
                throw new FeedSupersededException(storeId, registerId);
        }
    }

    private static CardException NotFound(string jobId) => new(CardErrorCode.NotFound, $"No print job '{jobId}'.");
}

/// <summary>A newer feed for the same office register took over (ABORTED on the wire).</summary>
public sealed class FeedSupersededException(string storeId, string registerId)
    : Exception($"Another office adapter connected for register {storeId}/{registerId}; this feed ended.");
