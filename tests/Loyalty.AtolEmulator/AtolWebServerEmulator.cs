using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Loyalty.AtolEmulator;

/// <summary>Starting state and bounds of the emulator.</summary>
public sealed record AtolEmulatorOptions
{
    /// <summary>FD number of the last document already in the FN when the emulator starts.</summary>
    public long LastFiscalDocumentNumber { get; init; } = 4410;
    /// <summary>The shift open at start (null: the shift is closed); its number and when it opened.</summary>
    public int ShiftNumber { get; init; } = 15;
    public bool ShiftOpen { get; init; } = true;
    /// <summary>The register's clock at start; it runs on with real time and <see cref="AtolWebServerEmulator.AdvanceClock"/>.</summary>
    public DateTimeOffset ClockStart { get; init; } = new(2026, 3, 2, 8, 0, 0, TimeSpan.FromHours(3));
    public string FnNumber { get; init; } = "9999078900001234";
    public string RegistrationNumber { get; init; } = "0001234567012345";
    /// <summary>Jobs the queue holds (waiting or done); a POST beyond it is refused with 503. Real servers bound theirs by retention time.</summary>
    public int MaxJobs { get; init; } = 10_000;
    /// <summary>A shift may stay open this long; then fiscal receipts fail with error 68 (protocols.md §1.5).</summary>
    public TimeSpan MaxShiftLength { get; init; } = TimeSpan.FromHours(24);
    /// <summary>The port on 127.0.0.1 (0: a free one, as tests want; a fixed one for a hosted emulator). Kept across <see cref="AtolWebServerEmulator.RestartAsync"/>.</summary>
    public int Port { get; init; }
    /// <summary>
    /// Told of every document the FN closes, in order (the console host prints a line per document).
    /// Called on the emulator's worker under its lock, so it must be quick and must not call back into the emulator.
    /// </summary>
    public Action<EmulatedDocument>? DocumentClosed { get; init; }
}

/// <summary>
/// An ATOL web server ("АТОЛ. Web Requests", REST API v2) written from protocols.md §1.2–§1.5 for
/// tests and tools: <c>POST/GET/DELETE /api/v2/requests</c>, <c>GET /api/v2/getRequestsQueueStatus</c>,
/// <c>POST /api/v2/operations/query{ShiftStatus,DeviceStatus,FnStatus}</c>. Jobs run one at a time
/// in order, like the real queue. It keeps a list of fiscal documents (<see cref="Documents"/>), the
/// shift, paper and cover, and injects faults: answers dropped or 504, delayed answers, slow tasks,
/// a restart that loses the queue but keeps the documents, a blocked queue resolved later either
/// way, paper out, cover open, shift over 24 h (error 68), and any error code on a matching task
/// (optionally after fiscalising, as a real device sometimes does: field cases B1).
/// Listens on 127.0.0.1 only, on a free port unless told one; <see cref="BaseAddress"/> says where.
/// </summary>
public sealed class AtolWebServerEmulator : IAsyncDisposable
{
    private readonly object gate = new();
    private readonly AtolEmulatorOptions options;
    private readonly List<EmulatedDocument> documents = [];
    private readonly Dictionary<string, Job> jobs = new(StringComparer.Ordinal);
    private readonly List<Job> order = [];
    private readonly List<string> postedUuids = [];
    private readonly List<JsonObject> nonFiscal = [];
    private readonly List<(AnswerFault Fault, string Method, string PathPrefix)> answerFaults = [];
    private readonly List<TaskFault> taskFaults = [];
    private readonly Dictionary<string, TimeSpan> taskDurations = new(StringComparer.Ordinal);
    private readonly DateTimeOffset realStart = DateTimeOffset.UtcNow;
    private TimeSpan clockShift;
    private long lastFd;
    private int shiftNumber;
    private bool shiftOpen;
    private DateTimeOffset shiftOpenedAt;
    private int receiptsInShift;
    private (BlockReason Reason, bool Fiscalise)? blockNext;
    private TaskCompletionSource? blockResolved;
    private Job? blockedJob;
    private BlockReason blockedReason;
    private WebApplication? app;
    private CancellationTokenSource workerStop = new();
    private Task worker = Task.CompletedTask;
    private SemaphoreSlim work = new(0);
    private int port;
    private long signSeed = 1234567890;

    private AtolWebServerEmulator(AtolEmulatorOptions options)
    {
        this.options = options;
        lastFd = options.LastFiscalDocumentNumber;
        shiftNumber = options.ShiftNumber;
        shiftOpen = options.ShiftOpen;
        shiftOpenedAt = options.ClockStart;
        port = options.Port;
    }

    /// <summary>Starts the emulator on 127.0.0.1 and <see cref="AtolEmulatorOptions.Port"/> (by default a free port).</summary>
    public static async Task<AtolWebServerEmulator> StartAsync(AtolEmulatorOptions? options = null)
    {
        var emulator = new AtolWebServerEmulator(options ?? new AtolEmulatorOptions());
        await emulator.StartServerAsync();
        return emulator;
    }

    /// <summary>e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{port}/");

    /// <summary>The register's clock (its own offset, +03:00 by default): not this machine's clock.</summary>
    public DateTimeOffset Now => options.ClockStart + (DateTimeOffset.UtcNow - realStart) + clockShift;

    /// <summary>Moves the register's clock on, e.g. past the 24 h of a shift.</summary>
    public void AdvanceClock(TimeSpan by) { lock (gate) clockShift += by; }

    /// <summary>Every document the FN closed, in order.</summary>
    public IReadOnlyList<EmulatedDocument> Documents { get { lock (gate) return documents.ToList(); } }

    /// <summary>Receipts (sell, sellReturn…) only.</summary>
    public IReadOnlyList<EmulatedDocument> Receipts => Documents.Where(d => d.IsReceipt).ToList();

    /// <summary>The non-fiscal documents printed (<c>nonFiscal</c> tasks, e.g. a receipt's copy), as received; the FN never sees them.</summary>
    public IReadOnlyList<JsonObject> NonFiscalDocuments { get { lock (gate) return nonFiscal.Select(t => (JsonObject)t.DeepClone()).ToList(); } }

    /// <summary>Every uuid POSTed, in order, repeats included (to check that retries reuse the uuid).</summary>
    public IReadOnlyList<string> PostedUuids { get { lock (gate) return postedUuids.ToList(); } }

    public int ShiftNumber { get { lock (gate) return shiftNumber; } }
    public bool ShiftOpen { get { lock (gate) return shiftOpen; } }
    public bool PaperPresent { get; set; } = true;

    /// <summary>
    /// Status queries report an expired shift as <c>opened</c>, as firmware that notices the 24 h only
    /// on the next fiscal operation does; the sale then meets error 68 itself (field cases B3).
    /// </summary>
    public bool StatusHidesShiftExpiry { get; set; }
    public bool CoverOpened { get; set; }

    /// <summary>Delay before each HTTP answer (the work is done first).</summary>
    public TimeSpan AnswerDelay { get; set; }

    /// <summary>How long a task of this type runs (e.g. a 25 s <c>openShift</c> loading keys, field cases B3).</summary>
    public void SetTaskDuration(string taskType, TimeSpan duration) { lock (gate) taskDurations[taskType] = duration; }

    /// <summary>Spoils the next <paramref name="count"/> answers to requests of <paramref name="method"/> whose path starts with <paramref name="pathPrefix"/>.</summary>
    public void FaultAnswers(AnswerFault fault, int count = 1, string method = "POST", string pathPrefix = "/api/v2/requests")
    {
        lock (gate) for (var i = 0; i < count; i++) answerFaults.Add((fault, method, pathPrefix));
    }

    /// <summary>
    /// The next task matching <paramref name="match"/> fails with <paramref name="code"/>; with
    /// <paramref name="fiscaliseFirst"/> the document is closed in the FN before the error is reported.
    /// </summary>
    public void FailNextTask(Func<JsonObject, bool> match, int code, string description, bool fiscaliseFirst = false, int times = 1)
    {
        lock (gate) for (var i = 0; i < times; i++) taskFaults.Add(new TaskFault(match, code, description, fiscaliseFirst));
    }

    /// <summary>
    /// The next fiscal task breaks off with its outcome unknown: status <c>blocked</c>, the queue stops
    /// (<c>isBlocked</c>). <paramref name="fiscalised"/> says whether the FN closed the document. After
    /// <see cref="ResolveBlock"/> the server compares FD numbers and flips the task to ready or error (protocols.md §1.2).
    /// </summary>
    public void BlockNextFiscalTask(BlockReason reason, bool fiscalised) { lock (gate) blockNext = (reason, fiscalised); }

    /// <summary>The device is reachable again: the blocked task is resolved and the queue moves on.</summary>
    public void ResolveBlock() { lock (gate) blockResolved?.TrySetResult(); }

    public bool IsBlocked { get { lock (gate) return blockedJob is not null; } }

    /// <summary>
    /// The web server restarts and loses its queue; the FN keeps its documents. A task running at that
    /// moment is abandoned (its document, if already closed, stays in the FN).
    /// </summary>
    public async Task RestartAsync(TimeSpan? downFor = null)
    {
        await StopServerAsync();
        lock (gate)
        {
            jobs.Clear();
            order.Clear();
            blockedJob = null;
            blockResolved?.TrySetCanceled();
            blockResolved = null;
        }
        if (downFor is { } down) await Task.Delay(down);
        await StartServerAsync();
    }

    public async ValueTask DisposeAsync() => await StopServerAsync();

    private async Task StartServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var web = builder.Build();
        web.MapPost("/api/v2/requests", PostRequest);
        web.MapGet("/api/v2/requests/{uuid}", GetRequest);
        web.MapDelete("/api/v2/requests/{uuid}", DeleteRequest);
        web.MapGet("/api/v2/getRequestsQueueStatus", QueueStatus);
        web.MapPost("/api/v2/operations/{operation}", Query);
        await web.StartAsync();
        port = new Uri(web.Urls.First()).Port;
        workerStop = new CancellationTokenSource();
        work = new SemaphoreSlim(0);
        lock (gate) work.Release(order.Count(j => j.Status == "wait") + 1);
        worker = Task.Run(() => RunWorkerAsync(workerStop.Token));
        app = web;
    }

    private async Task StopServerAsync()
    {
        workerStop.Cancel();
        lock (gate) blockResolved?.TrySetCanceled();
        try { await worker; } catch (OperationCanceledException) { }
        if (app is not null)
        {
            using var stopWithin = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await app.StopAsync(stopWithin.Token);
            await app.DisposeAsync();
            app = null;
        }
    }

    // ---------------------------------------------------------------- HTTP

    private async Task Answer(HttpContext context, int status, JsonNode? body)
    {
        (AnswerFault Fault, string, string)? fault = null;
        lock (gate)
        {
            var index = answerFaults.FindIndex(f => f.Method == context.Request.Method && context.Request.Path.Value!.StartsWith(f.PathPrefix, StringComparison.Ordinal));
            if (index >= 0) { fault = answerFaults[index]; answerFaults.RemoveAt(index); }
        }
        if (AnswerDelay > TimeSpan.Zero) await Task.Delay(AnswerDelay);
        if (fault?.Fault == AnswerFault.Drop) { context.Abort(); return; }
        if (fault?.Fault == AnswerFault.GatewayTimeout) { context.Response.StatusCode = 504; return; }
        context.Response.StatusCode = status;
        if (body is not null)
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(body.ToJsonString());
        }
    }

    private static JsonObject Error(int code, string description) => new() { ["error"] = new JsonObject { ["code"] = code, ["description"] = description } };

    private async Task PostRequest(HttpContext context)
    {
        JsonObject? body;
        try { body = (await JsonNode.ParseAsync(context.Request.Body)) as JsonObject; }
        catch (JsonException) { await Answer(context, 400, Error(505, "Невалидный JSON")); return; }
        var uuid = (string?)body?["uuid"];
        var request = body?["request"];
        var tasks = request switch
        {
            JsonArray array => array.Select(t => (JsonObject)t!.DeepClone()).ToList(),
            JsonObject single => [(JsonObject)single.DeepClone()],
            _ => [],
        };
        if (string.IsNullOrEmpty(uuid)) { await Answer(context, 400, Error(505, "Поле 'uuid' не задано или пустое")); return; }
        if (tasks.Count == 0) { await Answer(context, 400, Error(505, "Поле 'request' не задано или пустое")); return; }
        if (tasks.Count(t => IsFiscal((string?)t["type"])) > 1) { await Answer(context, 400, Error(505, "Задание содержит более одной фискальной операции")); return; }
        int status;
        JsonObject reply;
        lock (gate)
        {
            postedUuids.Add(uuid);
            if (jobs.ContainsKey(uuid)) { status = 409; reply = Error(505, $"Задание с uuid {uuid} уже существует"); }
            else if (jobs.Count >= options.MaxJobs) { status = 503; reply = Error(505, "Очередь заданий переполнена"); }
            else
            {
                var job = new Job(uuid, tasks);
                jobs.Add(uuid, job);
                order.Add(job);
                work.Release();
                status = 201;
                reply = new JsonObject { ["number"] = order.Count(j => j.Status == "wait"), ["uuid"] = uuid, ["isBlocked"] = blockedJob is not null, ["blockedUUID"] = blockedJob?.Uuid ?? "" };
            }
        }
        await Answer(context, status, reply);
    }

    private async Task GetRequest(HttpContext context, string uuid)
    {
        JsonObject? reply = null;
        lock (gate)
        {
            if (jobs.TryGetValue(uuid, out var job))
                reply = new JsonObject { ["results"] = new JsonArray(job.Results.Select(r => (JsonNode)r.ToJson()).ToArray()) };
        }
        await Answer(context, reply is null ? 404 : 200, reply ?? Error(505, $"Задание с uuid {uuid} не найдено"));
    }

    private async Task DeleteRequest(HttpContext context, string uuid)
    {
        int status;
        lock (gate)
        {
            if (!jobs.TryGetValue(uuid, out var job)) status = 404;
            else if (job.Status != "wait") status = 409;
            else
            {
                foreach (var r in job.Results) { r.Status = "canceled"; r.Code = 503; r.Description = "Задание отменено"; }
                status = 200;
            }
        }
        await Answer(context, status, status == 200 ? new JsonObject() : Error(505, "Задание нельзя отменить"));
    }

    private async Task QueueStatus(HttpContext context)
    {
        JsonObject reply;
        lock (gate)
        {
            reply = new JsonObject
            {
                ["number"] = order.Count(j => j.Status == "wait"),
                ["ready"] = order.Count(j => j.Status is "ready" or "error"),
                ["canceled"] = order.Count(j => j.Status == "canceled"),
                ["isBlocked"] = blockedJob is not null,
                ["blockedUUID"] = blockedJob?.Uuid ?? "",
                ["blockReason"] = blockedJob is null ? "" : ReasonName(blockedReason),
            };
        }
        await Answer(context, 200, reply);
    }

    private async Task Query(HttpContext context, string operation)
    {
        var type = operation switch
        {
            "queryShiftStatus" => "getShiftStatus",
            "queryDeviceStatus" => "getDeviceStatus",
            "queryFnStatus" => "getFnStatus",
            _ => null,
        };
        if (type is null) { await Answer(context, 404, Error(505, $"Неизвестная операция {operation}")); return; }
        JsonObject result;
        lock (gate) result = QueryResult(type, new JsonObject { ["type"] = type })!;
        await Answer(context, 200, result);
    }

    // ---------------------------------------------------------------- the device

    private static bool IsFiscal(string? type) => type is "sell" or "sellReturn" or "buy" or "buyReturn" or "openShift" or "closeShift"
        or "sellCorrection" or "sellReturnCorrection" or "buyCorrection" or "buyReturnCorrection";

    private static string ReasonName(BlockReason reason) => reason switch
    {
        BlockReason.ConnectionError => "connectionError",
        BlockReason.FnError => "fnError",
        _ => "paperError",
    };

    private async Task RunWorkerAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await work.WaitAsync(stop);
            Job? job;
            lock (gate) job = order.FirstOrDefault(j => j.Status == "wait");
            if (job is null) continue;
            await RunJobAsync(job, stop);
        }
    }

    private async Task RunJobAsync(Job job, CancellationToken stop)
    {
        var failed = false;
        for (var i = 0; i < job.Tasks.Count; i++)
        {
            var task = job.Tasks[i];
            var result = job.Results[i];
            var type = (string?)task["type"] ?? "";
            lock (gate)
            {
                if (result.Status == "canceled") return;
                if (failed) { result.Status = "interrupted"; result.Code = 502; result.Description = "Выполнение прервано из-за предыдущих ошибок"; continue; }
                result.Status = "inProgress";
            }
            TimeSpan duration;
            lock (gate) duration = taskDurations.GetValueOrDefault(type);
            if (duration > TimeSpan.Zero) await Task.Delay(duration, stop);

            if (!IsFiscal(type))
            {
                lock (gate)
                {
                    var answer = QueryResult(type, task);
                    if (answer is null) { result.Status = "error"; result.Code = 505; result.Description = $"Неизвестный тип задания {type}"; failed = true; }
                    else { result.Status = "ready"; result.Result = answer; }
                }
                continue;
            }

            (BlockReason Reason, bool Fiscalise)? block;
            lock (gate) { block = blockNext; blockNext = null; }
            if (block is { } b)
            {
                TaskCompletionSource resolved;
                lock (gate)
                {
                    if (b.Fiscalise) Fiscalise(job, task);
                    result.Status = "blocked";
                    blockedJob = job;
                    blockedReason = b.Reason;
                    resolved = blockResolved = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                await resolved.Task.WaitAsync(stop);
                lock (gate)
                {
                    blockedJob = null;
                    blockResolved = null;
                    // The server compares FD numbers: a closed document means ready, with getLastFiscalParams' data.
                    if (b.Fiscalise) { result.Status = "ready"; result.Result = FiscalResult(documents[^1]); }
                    else { result.Status = "error"; result.Code = 2; result.Description = "Нет связи"; failed = true; }
                }
                continue;
            }

            lock (gate)
            {
                var (code, description) = Check(type, task);
                if (code != 0)
                {
                    result.Status = "error"; result.Code = code; result.Description = description; failed = true;
                    continue;
                }
                var faultIndex = taskFaults.FindIndex(f => f.Match(task));
                if (faultIndex >= 0)
                {
                    var fault = taskFaults[faultIndex];
                    taskFaults.RemoveAt(faultIndex);
                    if (fault.FiscaliseFirst) Fiscalise(job, task);
                    result.Status = "error"; result.Code = fault.Code; result.Description = fault.Description; failed = true;
                    continue;
                }
                var document = Fiscalise(job, task);
                result.Status = "ready";
                result.Result = FiscalResult(document);
            }
        }
    }

    /// <summary>The device's own refusals, before anything is fiscalised (protocols.md §1.5).</summary>
    private (int Code, string Description) Check(string type, JsonObject task)
    {
        if (!PaperPresent) return (44, "Нет бумаги");
        if (CoverOpened) return (45, "Открыта крышка");
        var expired = shiftOpen && Now - shiftOpenedAt > options.MaxShiftLength;
        switch (type)
        {
            case "openShift":
                return shiftOpen ? (expired ? (68, "Смена превысила 24 часа") : (156, "Смена открыта - операция невозможна")) : (0, "");
            case "closeShift":
                return shiftOpen ? (0, "") : (73, "Смена закрыта - операция невозможна");
            default:
                if (!shiftOpen) return (73, "Смена закрыта - операция невозможна");
                if (expired) return (68, "Смена превысила 24 часа");
                var total = 0m;
                foreach (var item in task["items"]?.AsArray() ?? [])
                    if ((string?)item!["type"] == "position") total += item["amount"]!.GetValue<decimal>();
                var paid = (task["payments"]?.AsArray() ?? []).Sum(p => p!["sum"]!.GetValue<decimal>());
                if (paid < total) return (66, "Вносимая клиентом сумма меньше суммы чека");
                return (0, "");
        }
    }

    private EmulatedDocument Fiscalise(Job job, JsonObject task)
    {
        var type = (string)task["type"]!;
        lastFd++;
        signSeed = (signSeed * 48271 + lastFd) % 4_000_000_000;
        var receiptNumber = 0;
        long total = 0;
        if (type == "openShift")
        {
            shiftNumber++;
            shiftOpen = true;
            shiftOpenedAt = Now;
            receiptsInShift = 0;
        }
        else if (type == "closeShift") shiftOpen = false;
        else
        {
            receiptNumber = ++receiptsInShift;
            total = (long)(task["total"]!.GetValue<decimal>() * 100);
        }
        var document = new EmulatedDocument(type, job.Uuid, lastFd, signSeed.ToString(CultureInfo.InvariantCulture), shiftNumber, receiptNumber,
            Truncate(Now), total, (JsonObject)task.DeepClone());
        documents.Add(document);
        options.DocumentClosed?.Invoke(document);
        return document;
    }

    private static DateTimeOffset Truncate(DateTimeOffset time) => new(time.Year, time.Month, time.Day, time.Hour, time.Minute, time.Second, time.Offset);

    private JsonObject FiscalParams(EmulatedDocument document)
    {
        var p = new JsonObject
        {
            ["fiscalDocumentDateTime"] = document.DateTime.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
            ["fiscalDocumentNumber"] = document.FiscalDocumentNumber,
            ["fiscalDocumentSign"] = document.FiscalSign,
            ["fnNumber"] = options.FnNumber,
            ["registrationNumber"] = options.RegistrationNumber,
            ["shiftNumber"] = document.ShiftNumber,
            ["fnsUrl"] = "www.nalog.gov.ru",
        };
        if (document.IsReceipt)
        {
            p["fiscalReceiptNumber"] = document.ReceiptNumber;
            p["total"] = JsonValue.Create(document.TotalKopecks / 100m);
        }
        return p;
    }

    private JsonObject FiscalResult(EmulatedDocument document) => new()
    {
        ["fiscalParams"] = FiscalParams(document),
        ["warnings"] = new JsonObject { ["notPrinted"] = false },
    };

    private JsonObject? QueryResult(string type, JsonObject task)
    {
        var expired = shiftOpen && Now - shiftOpenedAt > options.MaxShiftLength && !StatusHidesShiftExpiry;
        var shiftState = !shiftOpen ? "closed" : expired ? "expired" : "opened";
        switch (type)
        {
            case "getShiftStatus":
                return new JsonObject
                {
                    ["shiftStatus"] = new JsonObject
                    {
                        ["state"] = shiftState,
                        ["number"] = shiftNumber,
                        ["expiredTime"] = (shiftOpenedAt + options.MaxShiftLength).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
                    },
                };
            case "getDeviceStatus":
                return new JsonObject
                {
                    ["deviceStatus"] = new JsonObject
                    {
                        ["shift"] = shiftState,
                        ["paperPresent"] = PaperPresent,
                        ["coverOpened"] = CoverOpened,
                        ["blocked"] = blockedJob is not null,
                        ["currentDateTime"] = Truncate(Now).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
                    },
                };
            case "getFnStatus":
                return new JsonObject { ["fnStatus"] = new JsonObject { ["fiscalDocumentNumber"] = lastFd, ["serialNumber"] = options.FnNumber } };
            case "getLastFiscalParams":
                var forReceipt = (bool?)task["forReceipt"] ?? false;
                var last = documents.LastOrDefault(d => !forReceipt || d.IsReceipt);
                return last is null ? new JsonObject() : new JsonObject { ["fiscalParams"] = FiscalParams(last) };
            case "continuePrint":
                return new JsonObject();
            case "nonFiscal":
                // Printed on the receipt tape, outside the FN (protocols.md §1.3 "Printing").
                nonFiscal.Add((JsonObject)task.DeepClone());
                return new JsonObject();
            default:
                return null;
        }
    }

    private sealed record TaskFault(Func<JsonObject, bool> Match, int Code, string Description, bool FiscaliseFirst);

    private sealed class Job(string uuid, List<JsonObject> tasks)
    {
        public string Uuid { get; } = uuid;
        public List<JsonObject> Tasks { get; } = tasks;
        public List<TaskResult> Results { get; } = tasks.Select(_ => new TaskResult()).ToList();
        /// <summary>The job's state as the queue sees it: its first unfinished task's, else its last.</summary>
        public string Status => Results.All(r => r.Status == "wait") ? "wait"
            : Results.Any(r => r.Status is "inProgress" or "blocked") ? "inProgress"
            : Results.Any(r => r.Status == "canceled") ? "canceled"
            : Results.Any(r => r.Status == "wait") ? "inProgress"
            : Results.Any(r => r.Status == "error") ? "error" : "ready";
    }

    private sealed class TaskResult
    {
        public string Status { get; set; } = "wait";
        public int Code { get; set; }
        public string Description { get; set; } = "Ошибок нет";
        public JsonObject? Result { get; set; }

        public JsonObject ToJson()
        {
            var json = new JsonObject
            {
                ["status"] = Status,
                ["error"] = new JsonObject { ["code"] = Code, ["description"] = Description },
            };
            if (Result is not null) json["result"] = Result.DeepClone();
            return json;
        }
    }
}
