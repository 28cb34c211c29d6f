using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>Where a fiscal document stands.</summary>
public enum FiscalState
{
    /// <summary>Fiscalised; <see cref="FiscalOutcome.Fiscal"/> holds FD, FP, FN, shift and time. Commit the bonuses.</summary>
    Printed,
    /// <summary>Not fiscalised and will not be: cancel the bonus hold. <see cref="FiscalOutcome.Message"/> says why.</summary>
    Failed,
    /// <summary>A person must act (<see cref="FiscalOutcome.Attention"/>); then <see cref="AtolFiscalDriver.ResumeAsync"/>. Nothing is committed meanwhile.</summary>
    NeedsAttention,
    /// <summary>Sent or about to be, outcome not known yet (the job is still running or the server is unreachable); ask again later. Nothing is committed meanwhile.</summary>
    Pending,
}

/// <summary>What a person has to do for a <see cref="FiscalState.NeedsAttention"/> document.</summary>
public enum AttentionReason
{
    None,
    /// <summary>Load paper (error 44).</summary>
    PaperOut,
    /// <summary>Close the cover (error 45).</summary>
    CoverOpen,
    /// <summary>Printer fault or overheat (errors 46, 47, 114).</summary>
    PrinterFault,
    /// <summary>The shift is over 24 h (error 68) and automatic Z + reopen is off: confirm the Z report.</summary>
    ShiftExpired,
    /// <summary>Opening or closing the shift failed (e.g. no internet for the ОКП key update, field cases B3).</summary>
    ShiftFailed,
    /// <summary>The web server's queue is blocked (a task with unknown outcome: connection, FN or paper error).</summary>
    QueueBlocked,
    /// <summary>The FD counter moved, but the last receipt is not this one: check the register's journal by hand.</summary>
    Unreconciled,
    /// <summary>Too many attempts for one document; something keeps refusing it.</summary>
    TooManyAttempts,
}

/// <summary>The answer about one fiscal document (a receipt or a shift document).</summary>
/// <param name="DocumentKey">The receipt key, or <c>shift/open/N</c>, <c>shift/close/N</c>.</param>
/// <param name="Uuid">The ATOL job uuid of the latest attempt (null when nothing was sent yet).</param>
/// <param name="ContactUsed">Tag 1008 as sent, or null (see <paramref name="Notes"/> for why).</param>
/// <param name="QrCode">The FNS check string for a printed receipt (protocols.md §2.3).</param>
public sealed record FiscalOutcome(
    string DocumentKey,
    FiscalState State,
    FiscalData? Fiscal,
    string Message,
    AttentionReason Attention = AttentionReason.None,
    int? ErrorCode = null,
    string? Uuid = null,
    string? ContactUsed = null,
    IReadOnlyList<string>? Notes = null,
    string? QrCode = null);

/// <summary>The driver was asked for more concurrent calls than <see cref="AtolDriverOptions.MaxWaitingCalls"/>.</summary>
public sealed class FiscalDriverBusyException(string message) : Exception(message);

/// <summary>Settings of one driver (one register behind one ATOL web server).</summary>
public sealed record AtolDriverOptions
{
    /// <summary>The web server, e.g. <c>http://127.0.0.1:16732/</c> (ATOL's default port, protocols.md §1.1).</summary>
    public required Uri BaseAddress { get; init; }
    /// <summary>Where the journal lives; one driver process per directory.</summary>
    public required string DataDirectory { get; init; }
    public string? UserName { get; init; }
    public string? Password { get; init; }
    /// <summary>Each HTTP call's bound. A slow task (a 25 s openShift) is not bounded by it: jobs are polled.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Between two polls of a job (protocols.md §1.6: 0.5–2 s).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>How long one call waits on a running or blocked job before answering <see cref="FiscalState.Pending"/> or <see cref="AttentionReason.QueueBlocked"/>.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Retries of a read (GET, status queries) against transport failures, spaced by <see cref="PollInterval"/>.</summary>
    public int ReadRetries { get; init; } = 3;
    /// <summary>On error 68 run Z and reopen by itself, then print (field cases B3). Off: the document waits for a person.</summary>
    public bool AutoReopenExpiredShift { get; init; } = true;
    /// <summary>Attempts (jobs) per document before it is handed to a person; a bound so a refusing device cannot loop the driver.</summary>
    public int MaxAttemptsPerDocument { get; init; } = 5;
    /// <summary>Calls waiting for the register (it prints one document at a time); more are refused at once.</summary>
    public int MaxWaitingCalls { get; init; } = 64;
    /// <summary>The last receipt's time may be this much earlier than the register's clock read before the attempt and still be ours (clock steps, minute-precision documents).</summary>
    public TimeSpan RegisterClockTolerance { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Cashier printed on shift documents.</summary>
    public FiscalOperator? ShiftOperator { get; init; }
    public FiscalMappingOptions Mapping { get; init; } = new();
}

/// <summary>
/// Prints receipts exactly once on an ATOL register through its web server (protocols.md §1),
/// with bonuses as line discounts (<see cref="AtolReceiptMapper"/>).
/// <para>How "exactly once" holds: every document is written to the <see cref="FiscalJournal"/>
/// (fsync) when accepted, and every job attempt — its uuid, derived from the document key and the
/// attempt number, the task, the FN's last FD number and the register's clock — before it is sent.
/// A lost answer, a timeout, a 5xx, a restart of this process: the driver asks for that uuid again
/// and never makes a new one while the old one may still print (protocols.md §1.2 "What this means
/// for the adapter"). When the web server does not know the uuid (its queue was lost) or reports an
/// error, the FN is asked: an unchanged last FD means nothing was printed and the same uuid is sent
/// again; a new last receipt with this total, not older than the attempt, means it was printed
/// (field cases B1); anything else is handed to a person (<see cref="AttentionReason.Unreconciled"/>).</para>
/// <para>Error 68 (shift over 24 h) runs Z and a new shift, each a journalled document too, then a
/// new attempt (field cases B3); 73 opens the shift; 44/45/46/47/114 (paper, cover, printer) and a
/// blocked queue wait for a person and <see cref="ResumeAsync"/>; error 51 on a receipt with tag
/// 1008 retries once without the contact (field cases C1). One document at a time per driver.</para>
/// </summary>
public sealed class AtolFiscalDriver : IAsyncDisposable
{
    /// <summary>Device codes that need a person (protocols.md §1.5).</summary>
    private static readonly HashSet<int> PersonCodes = [44, 45, 46, 47, 114];
    /// <summary>Codes that say the task itself is wrong: never retried unchanged (protocols.md §1.5: 66, 143, 144; 505 web-server API error).</summary>
    private static readonly HashSet<int> PayloadCodes = [66, 143, 144, 505];
    private const int IncorrectParametersCode = 51;
    private const int ShiftExpiredCode = 68;
    private const int ShiftClosedCode = 73;

    private readonly AtolDriverOptions options;
    private readonly HttpClient http;
    private readonly AtolWebApi api;
    private readonly FiscalJournal journal;
    private readonly TimeProvider time;
    private readonly SemaphoreSlim turn = new(1, 1);
    private readonly CancellationTokenSource disposing = new();
    private readonly Dictionary<string, List<JournalEntry>> byDocument = new(StringComparer.Ordinal);
    private readonly List<string> documentOrder = [];
    private readonly ResiliencePipeline readRetry;
    private int waitingCalls;

    /// <summary>Test seam: called after the attempt is journalled (<c>journalled</c>) and after the POST (<c>posted</c>); a throw there plays a crash.</summary>
    internal Func<string, string, Task>? StageHook { get; set; }

    private AtolFiscalDriver(AtolDriverOptions options, HttpMessageHandler? handler, TimeProvider? time)
    {
        this.options = options;
        this.time = time ?? TimeProvider.System;
        http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }, disposeHandler: handler is null)
        {
            BaseAddress = options.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan, // AtolWebApi bounds each call itself.
        };
        api = new AtolWebApi(http, options.RequestTimeout, options.UserName, options.Password);
        journal = FiscalJournal.Open(options.DataDirectory);
        foreach (var entry in journal.Entries) Index(entry);
        readRetry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<AtolUnreachableException>(),
                MaxRetryAttempts = Math.Max(1, options.ReadRetries),
                Delay = options.PollInterval,
                BackoffType = DelayBackoffType.Constant,
            })
            .Build();
    }

    /// <summary>Opens the journal in <see cref="AtolDriverOptions.DataDirectory"/> (throws <see cref="IOException"/> if another driver has it) and connects lazily.</summary>
    public static AtolFiscalDriver Open(AtolDriverOptions options, HttpMessageHandler? handler = null, TimeProvider? time = null)
    {
        if (options.MaxAttemptsPerDocument < 1 || options.MaxWaitingCalls < 1 || options.PollInterval <= TimeSpan.Zero || options.RequestTimeout <= TimeSpan.Zero)
            throw new ArgumentException("AtolDriverOptions: MaxAttemptsPerDocument, MaxWaitingCalls, PollInterval and RequestTimeout must be positive.", nameof(options));
        return new AtolFiscalDriver(options, handler, time);
    }

    public FiscalJournal Journal => journal;

    /// <summary>
    /// Fiscalises <paramref name="receipt"/> (sell or sellReturn) once. Calling again with the same
    /// <see cref="FiscalReceipt.ReceiptKey"/> never prints again: it returns or resumes the first
    /// call's document. Throws <see cref="FiscalReceiptException"/> when the receipt is refused before
    /// anything is journalled or sent (bad sums, a line no price can print), and
    /// <see cref="InvalidOperationException"/> when the key was used for another receipt.
    /// </summary>
    public async Task<FiscalOutcome> PrintAsync(FiscalReceipt receipt, CancellationToken cancellationToken = default)
    {
        var mapped = AtolReceiptMapper.Map(receipt, options.Mapping);
        return await WithTurnAsync(async ct =>
        {
            if (byDocument.TryGetValue(receipt.ReceiptKey, out var entries))
            {
                if (entries[0].TaskJson != mapped.Task.ToJsonString())
                    throw new InvalidOperationException($"Receipt key '{receipt.ReceiptKey}' was already used for a different receipt; it is not printed.");
                return await DriveAsync(receipt.ReceiptKey, resume: false, ct);
            }
            Record(new JournalEntry
            {
                Kind = "document", DocumentKey = receipt.ReceiptKey, Uuid = "", TaskType = (string)mapped.Task["type"]!,
                TaskJson = mapped.Task.ToJsonString(), TotalKopecks = mapped.TotalKopecks, At = time.GetUtcNow(),
                Notes = mapped.Notes, ContactUsed = mapped.Contact.Value,
            });
            return await DriveAsync(receipt.ReceiptKey, resume: false, ct);
        }, cancellationToken);
    }

    /// <summary>Carries a document on after a person acted (paper loaded, cover closed, queue unblocked, Z confirmed).</summary>
    public Task<FiscalOutcome> ResumeAsync(string documentKey, CancellationToken cancellationToken = default) =>
        WithTurnAsync(ct => byDocument.ContainsKey(documentKey)
            ? DriveAsync(documentKey, resume: true, ct)
            : throw new KeyNotFoundException($"No fiscal document '{documentKey}' is in the journal."), cancellationToken);

    /// <summary>
    /// After a start: carries on every journalled document that is neither printed nor failed, in
    /// journal order (documents that need a person stay so until <see cref="ResumeAsync"/>).
    /// </summary>
    public Task<IReadOnlyList<FiscalOutcome>> RecoverAsync(CancellationToken cancellationToken = default) =>
        WithTurnAsync<IReadOnlyList<FiscalOutcome>>(async ct =>
        {
            var outcomes = new List<FiscalOutcome>();
            foreach (var key in documentOrder.ToList())
                if (Final(byDocument[key]) is null) outcomes.Add(await DriveAsync(key, resume: false, ct));
            return outcomes;
        }, cancellationToken);

    /// <summary>
    /// Prints a copy of a fiscalised receipt as a non-fiscal document (ATOL <c>nonFiscal</c>: the
    /// text lines, then the FNS QR code), headed «КОПИЯ». Not a fiscal document and not journalled:
    /// its job uuid comes from <paramref name="copyKey"/>, so a repeated call while the job is known
    /// to the web server does not print twice (409), but a crash between the POST and its answer
    /// followed by a lost web-server queue may print a second copy, which is harmless.
    /// </summary>
    public Task<FiscalOutcome> PrintCopyAsync(string copyKey, IReadOnlyList<string> lines, string? qrCode, CancellationToken cancellationToken = default) =>
        WithTurnAsync(async ct =>
        {
            var items = new JsonArray { new JsonObject { ["type"] = "text", ["text"] = "КОПИЯ", ["alignment"] = "center" } };
            foreach (var line in lines) items.Add(new JsonObject { ["type"] = "text", ["text"] = line });
            if (!string.IsNullOrEmpty(qrCode)) items.Add(new JsonObject { ["type"] = "barcode", ["barcode"] = qrCode, ["barcodeType"] = "QR", ["scale"] = 5, ["alignment"] = "center" });
            var uuid = JobUuid(copyKey, 1);
            var task = new JsonObject { ["type"] = "nonFiscal", ["items"] = items, ["printFooter"] = false };
            try
            {
                var results = await PollAsync(uuid, time.GetUtcNow() + options.MaxWait, ct);
                if (results is null)
                {
                    await readRetry.ExecuteAsync(async c => await api.PostAsync(uuid, [task.DeepClone()], c), ct);
                    results = await PollAsync(uuid, time.GetUtcNow() + options.MaxWait, ct);
                }
                var result = results is { Count: > 0 } ? results[0] : null;
                return result switch
                {
                    { Status: "ready" } => new FiscalOutcome(copyKey, FiscalState.Printed, null, "The copy was printed.", Uuid: uuid),
                    { IsPending: true } or null => new FiscalOutcome(copyKey, FiscalState.Pending, null, "The copy is not printed yet.", Uuid: uuid),
                    { ErrorCode: 44 } => new FiscalOutcome(copyKey, FiscalState.NeedsAttention, null, "The register is out of paper; load paper and resume.", AttentionReason.PaperOut, 44, uuid),
                    _ => new FiscalOutcome(copyKey, FiscalState.Failed, null, $"The copy was refused: {result.ErrorCode} {result.ErrorDescription}", ErrorCode: result.ErrorCode, Uuid: uuid),
                };
            }
            catch (AtolUnreachableException error)
            {
                return new FiscalOutcome(copyKey, FiscalState.Pending, null, $"The ATOL web server does not answer ({error.Message}); the copy is tried again later.", Uuid: uuid);
            }
        }, cancellationToken);

    /// <summary>What the journal says about a document, without asking the register; null when unknown.</summary>
    public FiscalOutcome? Find(string documentKey)
    {
        lock (byDocument)
            return byDocument.TryGetValue(documentKey, out var entries) ? OutcomeFromJournal(entries) : null;
    }

    /// <summary>Opens a shift (openShift) unless one is open; a journalled document like a receipt.</summary>
    public Task<FiscalOutcome> OpenShiftAsync(CancellationToken cancellationToken = default) =>
        WithTurnAsync(async ct =>
        {
            var shift = await GetShiftStatusCoreAsync(ct);
            if (shift.State != "closed") return new FiscalOutcome($"shift/open/{shift.Number}", FiscalState.Printed, null, $"Shift {shift.Number} is already open.");
            return await ShiftDocumentAsync("openShift", shift.Number + 1, resume: true, ct);
        }, cancellationToken);

    /// <summary>Closes the shift (closeShift, the Z report) if one is open or expired.</summary>
    public Task<FiscalOutcome> CloseShiftAsync(CancellationToken cancellationToken = default) =>
        WithTurnAsync(async ct =>
        {
            var shift = await GetShiftStatusCoreAsync(ct);
            if (shift.State == "closed") return new FiscalOutcome($"shift/close/{shift.Number}", FiscalState.Printed, null, $"Shift {shift.Number} is already closed.");
            return await ShiftDocumentAsync("closeShift", shift.Number, resume: true, ct);
        }, cancellationToken);

    /// <summary>Shift state (<c>closed</c>, <c>opened</c>, <c>expired</c>) and number: <c>queryShiftStatus</c> (protocols.md §1.3).</summary>
    public async Task<ShiftStatus> GetShiftStatusAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, disposing.Token);
        return await readRetry.ExecuteAsync(async ct => await GetShiftStatusCoreAsync(ct), linked.Token);
    }

    /// <summary>Paper, cover, shift and the register's clock: <c>queryDeviceStatus</c>.</summary>
    public async Task<DeviceStatus> GetDeviceStatusAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, disposing.Token);
        return await readRetry.ExecuteAsync(async ct => await GetDeviceStatusCoreAsync(ct), linked.Token);
    }

    /// <summary>The last receipt's fiscal data (<c>getLastFiscalParams</c>, forReceipt), or null when the FN has none or the queue cannot run it within <see cref="AtolDriverOptions.MaxWait"/>.</summary>
    public async Task<FiscalData?> GetLastReceiptAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, disposing.Token);
        var result = await RunQueryJobAsync(new JsonObject { ["type"] = "getLastFiscalParams", ["forReceipt"] = true }, linked.Token);
        return result?["fiscalParams"] is JsonObject p ? FiscalData.FromFiscalParams(p) : null;
    }

    public async ValueTask DisposeAsync()
    {
        if (disposing.IsCancellationRequested) return;
        disposing.Cancel();
        // Let a call in flight see the cancellation and leave before the journal closes.
        if (await turn.WaitAsync(TimeSpan.FromSeconds(5))) turn.Release();
        journal.Dispose();
        http.Dispose();
    }

    // ------------------------------------------------------------------ the state machine

    private async Task<FiscalOutcome> DriveAsync(string key, bool resume, CancellationToken ct)
    {
        // Each pass either finishes, or records one new fact (a result or an attempt); bounded so a confused device cannot spin us.
        for (var pass = 0; pass < 4 * options.MaxAttemptsPerDocument + 4; pass++)
        {
            ct.ThrowIfCancellationRequested();
            var entries = byDocument[key];
            if (Final(entries) is { } final) return OutcomeFromJournal(entries, final);
            var document = entries[0];
            var last = entries.LastOrDefault(e => e.Kind == "attempt");
            var notPrinted = last is null ? null : entries.LastOrDefault(e => e.Kind == "result" && e.Uuid == last.Uuid && e.Result == AttemptResult.NotPrinted);

            if (last is not null && notPrinted is null)
            {
                var resolution = await ResolveAsync(last, ct);
                if (resolution.Result is AttemptResult.Printed or AttemptResult.NotPrinted)
                {
                    Record(Result(last, resolution));
                    continue;
                }
                if (resolution.Result == AttemptResult.NeedsAttention) RecordAttention(entries, last, resolution);
                return Outcome(entries, resolution.Result == AttemptResult.NeedsAttention ? FiscalState.NeedsAttention : FiscalState.Pending, resolution);
            }

            // No attempt yet, or the last one certainly did not print: decide whether and how to try again.
            var task = (JsonObject)JsonNode.Parse(last?.TaskJson ?? document.TaskJson!)!;
            var isShift = document.TaskType is "openShift" or "closeShift";
            if (notPrinted is not null)
            {
                var code = notPrinted.ErrorCode ?? 0;
                var attempts = entries.Count(e => e.Kind == "attempt");
                if (PayloadCodes.Contains(code) && !isShift)
                    return Finish(entries, last!, AttemptResult.Failed, code, $"The register refused the receipt: {notPrinted.Message} It was not fiscalised.");
                if (attempts >= options.MaxAttemptsPerDocument)
                    return Attention(entries, last!, AttentionReason.TooManyAttempts, code, $"{attempts} attempts did not print it; the last said: {notPrinted.Message}");
                if (!resume)
                {
                    if (PersonCodes.Contains(code)) return Attention(entries, last!, PersonReason(code), code, notPrinted.Message ?? "");
                    if (code == ShiftExpiredCode && !options.AutoReopenExpiredShift)
                        return Attention(entries, last!, AttentionReason.ShiftExpired, code, "The shift is over 24 hours; confirm the Z report to go on.");
                    if (isShift && code is not ShiftExpiredCode and not ShiftClosedCode)
                        return Attention(entries, last!, AttentionReason.ShiftFailed, code, $"{document.TaskType} failed: {notPrinted.Message}");
                }
                if (code == IncorrectParametersCode && task["clientInfo"]?["emailOrPhone"] is not null)
                {
                    // Field cases C1: a register refusing tag 1008 must not cost the sale; print without the copy.
                    task["clientInfo"]!.AsObject().Remove("emailOrPhone");
                    if (task["clientInfo"]!.AsObject().Count == 0) task.Remove("clientInfo");
                    task["electronically"] = false;
                }
            }
            resume = false;

            // Error 68: the register says the shift is over 24 h even when its status still says "opened" (field cases B3).
            var forceNewShift = notPrinted?.ErrorCode == ShiftExpiredCode;
            var preflight = await PreflightAsync(isShift, forceNewShift, entries, ct);
            if (preflight.Outcome is not null) return preflight.Outcome;
            var number = entries.Count(e => e.Kind == "attempt") + 1;
            var attempt = Record(new JournalEntry
            {
                Kind = "attempt", DocumentKey = key, Uuid = JobUuid(key, number), Attempt = number, TaskType = document.TaskType,
                TaskJson = task.ToJsonString(), TotalKopecks = document.TotalKopecks, FdBefore = preflight.FdBefore,
                RegisterTimeBefore = preflight.RegisterTime, ShiftBefore = preflight.ShiftNumber, ShiftStateBefore = preflight.ShiftState,
                At = time.GetUtcNow(),
            });
            if (StageHook is not null) await StageHook("journalled", attempt.Uuid);
            try { await api.PostAsync(attempt.Uuid, [task], ct); }
            catch (AtolUnreachableException) { /* Outcome unknown: the next pass asks for this uuid. */ }
            catch (FiscalReceiptException refused)
            {
                return Finish(entries, attempt, AttemptResult.Failed, 400, refused.Message);
            }
            if (StageHook is not null) await StageHook("posted", attempt.Uuid);
        }
        var stuck = byDocument[key];
        return Attention(stuck, stuck.Last(e => e.Kind == "attempt"), AttentionReason.TooManyAttempts, null, "The driver went round too many times on this document.");
    }

    /// <summary>What an attempt came to; a null <paramref name="Result"/> means not known yet (still running, or the server unreachable).</summary>
    private sealed record Resolution(AttemptResult? Result, FiscalData? Fiscal, int? Code, string Message, AttentionReason Attention = AttentionReason.None);

    /// <summary>Finds out what became of an attempt that may have been sent: its job's results, else the FN.</summary>
    private async Task<Resolution> ResolveAsync(JournalEntry attempt, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + options.MaxWait;
        while (true)
        {
            IReadOnlyList<AtolTaskResult>? results;
            try { results = await PollAsync(attempt.Uuid, deadline, ct); }
            catch (AtolUnreachableException error)
            {
                return Unknown($"The ATOL web server does not answer ({error.Message}); the receipt is pending, asked again later.");
            }

            if (results is null)
            {
                // The server does not know the uuid: never queued, or its queue was lost. The FN decides.
                var reconciled = await ReconcileAsync(attempt, ct);
                if (reconciled.Result != AttemptResult.NotPrinted) return reconciled;
                try { await api.PostAsync(attempt.Uuid, [JsonNode.Parse(attempt.TaskJson!)!], ct); }
                catch (AtolUnreachableException) { }
                catch (FiscalReceiptException refused) { return new Resolution(AttemptResult.NotPrinted, null, 505, refused.Message); }
                if (time.GetUtcNow() > deadline) return Unknown("The job was sent again after the web server lost it; its result is not in yet.");
                continue;
            }

            var result = results.Count > 0 ? results[^1] : new AtolTaskResult("wait", 0, "", null);
            switch (result.Status)
            {
                case "ready":
                    var fiscal = result.Result?["fiscalParams"] is JsonObject p ? FiscalData.FromFiscalParams(p) : null;
                    return new Resolution(AttemptResult.Printed, fiscal, 0, "Fiscalised.");
                case "blocked":
                    var queue = await TryQueueStatusAsync(ct);
                    return new Resolution(AttemptResult.NeedsAttention, null, null,
                        $"The web server's queue is blocked by this receipt ({queue?.BlockReason ?? "reason unknown"}): the outcome is unknown until the register is reachable again.",
                        AttentionReason.QueueBlocked);
                case "wait":
                case "inProgress":
                    return Unknown($"The job is still '{result.Status}' after {options.MaxWait.TotalSeconds:0} s.");
                default:
                    // error, interrupted, canceled: not printed by the server's account — but a device can close the document and still report an error (field cases B1).
                    var check = await ReconcileAsync(attempt, ct);
                    if (check.Result == AttemptResult.NotPrinted)
                        return new Resolution(AttemptResult.NotPrinted, null, result.ErrorCode, $"{result.Status} {result.ErrorCode}: {result.ErrorDescription}");
                    return check;
            }
        }
    }

    private static Resolution Unknown(string message) => new(null, null, null, message);

    /// <summary>
    /// Printed or not, from the FN: an unchanged last FD number → not printed; a new last receipt
    /// with this total and a time not before the attempt → printed, with its data; otherwise a person decides.
    /// </summary>
    private async Task<Resolution> ReconcileAsync(JournalEntry attempt, CancellationToken ct)
    {
        long lastFd;
        try { lastFd = await LastFdAsync(ct); }
        catch (AtolUnreachableException error) { return Unknown($"The FN cannot be asked: {error.Message}"); }
        if (lastFd == attempt.FdBefore) return new Resolution(AttemptResult.NotPrinted, null, null, "The FN's last document is the one before this attempt: not printed.");

        var isShift = attempt.TaskType is "openShift" or "closeShift";
        var last = await RunQueryJobAsync(new JsonObject { ["type"] = "getLastFiscalParams", ["forReceipt"] = !isShift }, ct);
        if (last is null)
            return new Resolution(AttemptResult.NeedsAttention, null, null, "The FN's counter moved but its last document cannot be read now (queue busy or blocked).", AttentionReason.QueueBlocked);
        var data = last["fiscalParams"] is JsonObject p ? FiscalData.FromFiscalParams(p) : null;
        if (isShift)
        {
            var shift = await GetShiftStatusCoreAsync(ct);
            var done = attempt.TaskType == "openShift"
                ? shift.State != "closed" && shift.Number > (attempt.ShiftBefore ?? int.MaxValue)
                : shift.State == "closed" && shift.Number == attempt.ShiftBefore;
            return done
                ? new Resolution(AttemptResult.Printed, data?.FiscalDocumentNumber > attempt.FdBefore ? data : null, 0, $"{attempt.TaskType} found done in the FN.")
                : new Resolution(AttemptResult.NotPrinted, null, null, $"{attempt.TaskType} not done: the shift is {shift.State} {shift.Number}.");
        }
        if (data is not null && data.FiscalDocumentNumber > attempt.FdBefore && data.TotalKopecks == attempt.TotalKopecks
            && data.DocumentDateTime >= attempt.RegisterTimeBefore - options.RegisterClockTolerance)
            return new Resolution(AttemptResult.Printed, data, 0, $"Found in the FN as FD {data.FiscalDocumentNumber} (its job's answer was lost or wrong).");
        return new Resolution(AttemptResult.NeedsAttention, null, null,
            $"The FN's last FD went from {attempt.FdBefore} to {lastFd}, but its last receipt (FD {data?.FiscalDocumentNumber}, {Money.Format(data?.TotalKopecks ?? 0)}, {data?.DocumentDateTime:O}) " +
            $"is not this one ({Money.Format(attempt.TotalKopecks)}): check the register's journal before printing it again.", AttentionReason.Unreconciled);
    }

    private sealed record Preflight(FiscalOutcome? Outcome, long FdBefore, DateTimeOffset RegisterTime, int ShiftNumber, string ShiftState);

    /// <summary>Before a new attempt: paper, cover, queue, shift (opened, or Z + open), then the FN's last FD and the register's clock to journal.</summary>
    private async Task<Preflight> PreflightAsync(bool isShift, bool forceNewShift, List<JournalEntry> entries, CancellationToken ct)
    {
        var last = entries.LastOrDefault(e => e.Kind == "attempt") ?? entries[0];
        try
        {
            var device = await readRetry.ExecuteAsync(async c => await GetDeviceStatusCoreAsync(c), ct);
            if (!device.PaperPresent) return new Preflight(Attention(entries, last, AttentionReason.PaperOut, 44, "The register is out of paper; load paper and resume."), 0, default, 0, "");
            if (device.CoverOpened) return new Preflight(Attention(entries, last, AttentionReason.CoverOpen, 45, "The register's cover is open; close it and resume."), 0, default, 0, "");
            var queue = await readRetry.ExecuteAsync(async c => await api.GetQueueStatusAsync(c), ct);
            if (queue.IsBlocked)
                return new Preflight(Attention(entries, last, AttentionReason.QueueBlocked, null,
                    $"The web server's queue is blocked by job {queue.BlockedUuid} ({queue.BlockReason}); nothing is sent until it clears."), 0, default, 0, "");
            var shift = await readRetry.ExecuteAsync(async c => await GetShiftStatusCoreAsync(c), ct);
            if (!isShift && (shift.State != "opened" || forceNewShift))
            {
                if (shift.State == "expired" || shift.State == "opened")
                {
                    var close = await ShiftDocumentAsync("closeShift", shift.Number, resume: true, ct);
                    if (close.State != FiscalState.Printed)
                        return new Preflight(Attention(entries, last, AttentionReason.ShiftFailed, close.ErrorCode, $"The Z report for shift {shift.Number} did not go through: {close.Message}"), 0, default, 0, "");
                    shift = await readRetry.ExecuteAsync(async c => await GetShiftStatusCoreAsync(c), ct);
                }
                if (shift.State == "closed")
                {
                    var open = await ShiftDocumentAsync("openShift", shift.Number + 1, resume: true, ct);
                    if (open.State != FiscalState.Printed)
                        return new Preflight(Attention(entries, last, AttentionReason.ShiftFailed, open.ErrorCode, $"Opening shift {shift.Number + 1} failed: {open.Message}"), 0, default, 0, "");
                    shift = await readRetry.ExecuteAsync(async c => await GetShiftStatusCoreAsync(c), ct);
                }
                device = await readRetry.ExecuteAsync(async c => await GetDeviceStatusCoreAsync(c), ct);
            }
            var fd = await readRetry.ExecuteAsync(async c => await LastFdAsync(c), ct);
            return new Preflight(null, fd, device.CurrentDateTime, shift.Number, shift.State);
        }
        catch (AtolUnreachableException error)
        {
            var outcome = Outcome(entries, FiscalState.Pending, Unknown($"The ATOL web server does not answer ({error.Message}); nothing was sent, it is tried again later."));
            return new Preflight(outcome, 0, default, 0, "");
        }
    }

    /// <summary>A shift document with its own journal key, so a crash or a lost answer during Z or open is resolved like a receipt and never doubled.</summary>
    private async Task<FiscalOutcome> ShiftDocumentAsync(string type, int shiftNumber, bool resume, CancellationToken ct)
    {
        var key = type == "openShift" ? $"shift/open/{shiftNumber}" : $"shift/close/{shiftNumber}";
        if (!byDocument.ContainsKey(key))
        {
            var task = new JsonObject { ["type"] = type };
            if (options.ShiftOperator is { } op)
            {
                task["operator"] = new JsonObject { ["name"] = op.Name };
                if (op.Vatin is not null) task["operator"]!["vatin"] = op.Vatin;
            }
            Record(new JournalEntry { Kind = "document", DocumentKey = key, Uuid = "", TaskType = type, TaskJson = task.ToJsonString(), At = time.GetUtcNow() });
        }
        return await DriveAsync(key, resume, ct);
    }

    // ------------------------------------------------------------------ reads

    /// <summary>Shift state and number, <c>queryShiftStatus</c>.</summary>
    public sealed record ShiftStatus(string State, int Number);

    /// <summary>The parts of <c>getDeviceStatus</c> the driver uses.</summary>
    public sealed record DeviceStatus(string Shift, bool PaperPresent, bool CoverOpened, DateTimeOffset CurrentDateTime);

    private async Task<ShiftStatus> GetShiftStatusCoreAsync(CancellationToken ct)
    {
        var json = await api.QueryAsync("queryShiftStatus", ct);
        var s = json["shiftStatus"] ?? throw new AtolUnreachableException("queryShiftStatus answered without shiftStatus.");
        return new ShiftStatus((string?)s["state"] ?? "closed", s["number"]?.GetValue<int>() ?? 0);
    }

    private async Task<DeviceStatus> GetDeviceStatusCoreAsync(CancellationToken ct)
    {
        var json = await api.QueryAsync("queryDeviceStatus", ct);
        var d = json["deviceStatus"] ?? throw new AtolUnreachableException("queryDeviceStatus answered without deviceStatus.");
        var now = DateTimeOffset.TryParse((string?)d["currentDateTime"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t : DateTimeOffset.MinValue;
        return new DeviceStatus((string?)d["shift"] ?? "closed", (bool?)d["paperPresent"] ?? true, (bool?)d["coverOpened"] ?? false, now);
    }

    private async Task<long> LastFdAsync(CancellationToken ct)
    {
        var json = await api.QueryAsync("queryFnStatus", ct);
        return json["fnStatus"]?["fiscalDocumentNumber"]?.GetValue<long>() ?? throw new AtolUnreachableException("queryFnStatus answered without fnStatus.fiscalDocumentNumber.");
    }

    private async Task<AtolQueueStatus?> TryQueueStatusAsync(CancellationToken ct)
    {
        try { return await api.GetQueueStatusAsync(ct); }
        catch (AtolUnreachableException) { return null; }
    }

    /// <summary>Polls a job until none of its tasks is pending or <paramref name="deadline"/>; null when the server does not know it (404).</summary>
    private async Task<IReadOnlyList<AtolTaskResult>?> PollAsync(string uuid, DateTimeOffset deadline, CancellationToken ct)
    {
        var unreachableSince = (DateTimeOffset?)null;
        while (true)
        {
            IReadOnlyList<AtolTaskResult>? results;
            try
            {
                results = await api.GetResultsAsync(uuid, ct);
                unreachableSince = null;
            }
            catch (AtolUnreachableException)
            {
                unreachableSince ??= time.GetUtcNow();
                if (time.GetUtcNow() > deadline) throw;
                await Task.Delay(options.PollInterval, time, ct);
                continue;
            }
            if (results is null || !results.Any(r => r.IsPending) || time.GetUtcNow() > deadline) return results;
            if (results.Any(r => r.Status == "blocked") && time.GetUtcNow() + options.PollInterval > deadline) return results;
            await Task.Delay(options.PollInterval, time, ct);
        }
    }

    /// <summary>Runs a query task (e.g. getLastFiscalParams) as its own job; null when it does not finish within <see cref="AtolDriverOptions.MaxWait"/>.</summary>
    private async Task<JsonObject?> RunQueryJobAsync(JsonObject task, CancellationToken ct)
    {
        var uuid = Guid.NewGuid().ToString();
        try
        {
            await readRetry.ExecuteAsync(async c => await api.PostAsync(uuid, [task.DeepClone()], c), ct);
            var results = await PollAsync(uuid, time.GetUtcNow() + options.MaxWait, ct);
            var result = results is { Count: > 0 } ? results[0] : null;
            return result?.Status == "ready" ? result.Result ?? new JsonObject() : null;
        }
        catch (AtolUnreachableException) { return null; }
    }

    // ------------------------------------------------------------------ journal helpers

    private JournalEntry Record(JournalEntry entry)
    {
        var stored = journal.Append(entry);
        Index(stored);
        return stored;
    }

    private void Index(JournalEntry entry)
    {
        lock (byDocument)
        {
            if (!byDocument.TryGetValue(entry.DocumentKey, out var list))
            {
                byDocument[entry.DocumentKey] = list = [];
                documentOrder.Add(entry.DocumentKey);
            }
            list.Add(entry);
        }
    }

    private static JournalEntry? Final(List<JournalEntry> entries) =>
        entries.LastOrDefault(e => e.Kind == "result" && e.Result is AttemptResult.Printed or AttemptResult.Failed);

    private JournalEntry Result(JournalEntry attempt, Resolution resolution) => new()
    {
        Kind = "result", DocumentKey = attempt.DocumentKey, Uuid = attempt.Uuid, Attempt = attempt.Attempt, Result = resolution.Result,
        Fiscal = resolution.Fiscal, ErrorCode = resolution.Code, Message = resolution.Message, At = time.GetUtcNow(),
    };

    private FiscalOutcome Finish(List<JournalEntry> entries, JournalEntry attempt, AttemptResult result, int? code, string message)
    {
        var stored = Record(new JournalEntry
        {
            Kind = "result", DocumentKey = attempt.DocumentKey, Uuid = attempt.Uuid, Attempt = attempt.Attempt, Result = result,
            ErrorCode = code, Message = message, At = time.GetUtcNow(),
        });
        return OutcomeFromJournal(entries, stored);
    }

    private FiscalOutcome Attention(List<JournalEntry> entries, JournalEntry attemptOrDocument, AttentionReason reason, int? code, string message)
    {
        var resolution = new Resolution(AttemptResult.NeedsAttention, null, code, message, reason);
        RecordAttention(entries, attemptOrDocument, resolution);
        return Outcome(entries, FiscalState.NeedsAttention, resolution);
    }

    /// <summary>Journals a need for a person once per reason, so a document polled every minute does not grow the journal.</summary>
    private void RecordAttention(List<JournalEntry> entries, JournalEntry attemptOrDocument, Resolution resolution)
    {
        var previous = entries.LastOrDefault(e => e.Kind == "result");
        if (previous?.Result == AttemptResult.NeedsAttention && previous.Attention == resolution.Attention && previous.Uuid == attemptOrDocument.Uuid) return;
        Record(new JournalEntry
        {
            Kind = "result", DocumentKey = attemptOrDocument.DocumentKey, Uuid = attemptOrDocument.Uuid, Attempt = attemptOrDocument.Attempt,
            Result = AttemptResult.NeedsAttention, Attention = resolution.Attention, ErrorCode = resolution.Code, Message = resolution.Message, At = time.GetUtcNow(),
        });
    }

    private static AttentionReason PersonReason(int code) => code switch
    {
        44 => AttentionReason.PaperOut,
        45 => AttentionReason.CoverOpen,
        _ => AttentionReason.PrinterFault,
    };

    private static FiscalOutcome Outcome(List<JournalEntry> entries, FiscalState state, Resolution resolution)
    {
        var document = entries[0];
        var last = entries.LastOrDefault(e => e.Kind == "attempt");
        return new FiscalOutcome(document.DocumentKey, state, resolution.Fiscal, resolution.Message, resolution.Attention, resolution.Code,
            last?.Uuid, ContactSent(document, last), document.Notes);
    }

    private static FiscalOutcome OutcomeFromJournal(List<JournalEntry> entries, JournalEntry? final = null)
    {
        var document = entries[0];
        var last = entries.LastOrDefault(e => e.Kind == "attempt");
        final ??= Final(entries) ?? entries.LastOrDefault(e => e.Kind == "result");
        var state = final?.Result switch
        {
            AttemptResult.Printed => FiscalState.Printed,
            AttemptResult.Failed => FiscalState.Failed,
            AttemptResult.NeedsAttention => FiscalState.NeedsAttention,
            _ => FiscalState.Pending,
        };
        string? qr = null;
        if (state == FiscalState.Printed && final!.Fiscal is { } fiscal && document.TaskType is "sell" or "sellReturn")
            qr = FnsQrCode.Build(fiscal, document.TaskType == "sell" ? FiscalOperation.Sell : FiscalOperation.SellReturn);
        return new FiscalOutcome(document.DocumentKey, state, final?.Fiscal, final?.Message ?? "Accepted, not sent yet.", final?.Attention ?? AttentionReason.None,
            final?.ErrorCode, last?.Uuid, ContactSent(document, last), document.Notes, qr);
    }

    private static string? ContactSent(JournalEntry document, JournalEntry? last)
    {
        var json = last?.TaskJson ?? document.TaskJson;
        return json is null ? null : (string?)JsonNode.Parse(json)?["clientInfo"]?["emailOrPhone"];
    }

    /// <summary>
    /// The job uuid of attempt <paramref name="attempt"/> of document <paramref name="key"/>: a
    /// name-based UUID (SHA-256, RFC 9562 version 8 layout), so the same attempt always has the same
    /// uuid, in this process or the next, and the web server's 409 catches a duplicate POST.
    /// </summary>
    public static string JobUuid(string key, int attempt)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"loyalty-fiscal\n{key}\n{attempt}"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true).ToString();
    }

    // ------------------------------------------------------------------ one at a time

    private async Task<T> WithTurnAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref waitingCalls) > options.MaxWaitingCalls)
        {
            Interlocked.Decrement(ref waitingCalls);
            throw new FiscalDriverBusyException($"{options.MaxWaitingCalls} calls already wait for the register; try again later.");
        }
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, disposing.Token);
            await turn.WaitAsync(linked.Token);
            try { return await action(linked.Token); }
            finally { turn.Release(); }
        }
        finally { Interlocked.Decrement(ref waitingCalls); }
    }

}
