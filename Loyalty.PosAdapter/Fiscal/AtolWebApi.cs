using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>
/// The web server could not be asked or did not answer in time: connection refused or reset, a
/// timeout, a 5xx. For a POST the job may or may not have been queued.
/// </summary>
public sealed class AtolUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>How the web server took a POSTed job.</summary>
public enum PostReply
{
    /// <summary>201: queued now.</summary>
    Created,
    /// <summary>409: a job with this uuid already exists (an earlier attempt got through).</summary>
    AlreadyExists,
}

/// <summary>One task's entry in a job's results (protocols.md §1.2 "GET response shape").</summary>
/// <param name="Status"><c>wait</c>, <c>inProgress</c>, <c>ready</c>, <c>error</c>, <c>interrupted</c>, <c>blocked</c>, <c>canceled</c>.</param>
/// <param name="ErrorCode">libfptr or web-server code; 0 when none.</param>
public sealed record AtolTaskResult(string Status, int ErrorCode, string ErrorDescription, JsonObject? Result)
{
    /// <summary>Still being worked on by the server: poll again, never resend.</summary>
    public bool IsPending => Status is "wait" or "inProgress" or "blocked";
}

/// <summary><c>GET /api/v2/getRequestsQueueStatus</c> (protocols.md §1.2).</summary>
public sealed record AtolQueueStatus(bool IsBlocked, string BlockedUuid, string BlockReason);

/// <summary>
/// The ATOL web server's REST API v2 over one <see cref="HttpClient"/> (protocols.md §1.2):
/// <c>POST /api/v2/requests</c>, <c>GET /api/v2/requests/{uuid}</c>,
/// <c>GET /api/v2/getRequestsQueueStatus</c>, <c>POST /api/v2/operations/query*</c>. Every call has
/// <see cref="RequestTimeout"/> on top of the caller's token. It never retries: resending is the
/// driver's decision, made from the journal (style.md §5 E2: no resilience handler on this client).
/// Transport failures, timeouts and 5xx become <see cref="AtolUnreachableException"/>.
/// </summary>
public sealed class AtolWebApi
{
    private readonly HttpClient http;

    public AtolWebApi(HttpClient http, TimeSpan requestTimeout, string? userName = null, string? password = null)
    {
        this.http = http;
        RequestTimeout = requestTimeout;
        if (userName is not null)
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{userName}:{password}")));
    }

    public TimeSpan RequestTimeout { get; }

    /// <summary>
    /// Queues job <paramref name="uuid"/> with <paramref name="tasks"/> (one fiscal task at most).
    /// 400 (malformed job) → <see cref="FiscalReceiptException"/>; 401 → <see cref="UnauthorizedAccessException"/>.
    /// </summary>
    public async Task<PostReply> PostAsync(string uuid, JsonArray tasks, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["uuid"] = uuid, ["request"] = tasks.DeepClone() };
        using var response = await SendAsync(HttpMethod.Post, "api/v2/requests", body, cancellationToken);
        return response.StatusCode switch
        {
            HttpStatusCode.Created or HttpStatusCode.OK => PostReply.Created,
            HttpStatusCode.Conflict => PostReply.AlreadyExists,
            HttpStatusCode.Unauthorized => throw new UnauthorizedAccessException("The ATOL web server refused the credentials (401)."),
            HttpStatusCode.BadRequest => throw new FiscalReceiptException($"The ATOL web server refused job {uuid}: {await ErrorText(response, cancellationToken)}"),
            _ => throw new AtolUnreachableException($"The ATOL web server answered {(int)response.StatusCode} to job {uuid}."),
        };
    }

    /// <summary>The job's results, one per task, or null when the server does not know the uuid (404).</summary>
    public async Task<IReadOnlyList<AtolTaskResult>?> GetResultsAsync(string uuid, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, $"api/v2/requests/{Uri.EscapeDataString(uuid)}", null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        var json = await ReadObjectAsync(response, cancellationToken);
        var results = new List<AtolTaskResult>();
        foreach (var item in json["results"]?.AsArray() ?? [])
        {
            var o = item!.AsObject();
            // ≥ 10.7 nests {error:{code,description}}; older servers use flat errorCode/errorDescription (protocols.md §1.2).
            var code = o["error"]?["code"]?.GetValue<int>() ?? o["errorCode"]?.GetValue<int>() ?? 0;
            var description = (string?)o["error"]?["description"] ?? (string?)o["errorDescription"] ?? "";
            results.Add(new AtolTaskResult((string?)o["status"] ?? "", code, description, o["result"] as JsonObject));
        }
        return results;
    }

    public async Task<AtolQueueStatus> GetQueueStatusAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, "api/v2/getRequestsQueueStatus", null, cancellationToken);
        var json = await ReadObjectAsync(response, cancellationToken);
        var blocked = (bool?)json["isBlocked"] ?? (bool?)json["is_blocked"] ?? false;
        return new AtolQueueStatus(blocked, (string?)json["blockedUUID"] ?? "", (string?)json["blockReason"] ?? "");
    }

    /// <summary>A synchronous query that skips the queue, e.g. <c>queryShiftStatus</c>, <c>queryDeviceStatus</c>, <c>queryFnStatus</c>.</summary>
    public async Task<JsonObject> QueryAsync(string operation, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Post, $"api/v2/operations/{operation}", new JsonObject(), cancellationToken);
        return await ReadObjectAsync(response, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AtolUnreachableException($"No answer from the ATOL web server to {method} /{path} within {RequestTimeout.TotalSeconds:0.###} s.");
        }
        catch (HttpRequestException error)
        {
            throw new AtolUnreachableException($"The ATOL web server could not be reached for {method} /{path}: {error.Message}", error);
        }
        if ((int)response.StatusCode >= 500)
        {
            var status = (int)response.StatusCode;
            response.Dispose();
            throw new AtolUnreachableException($"The ATOL web server answered {status} to {method} /{path}.");
        }
        return response;
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
            throw new AtolUnreachableException($"The ATOL web server answered {(int)response.StatusCode}: {await ErrorText(response, cancellationToken)}");
        try
        {
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) as JsonObject
                ?? throw new AtolUnreachableException("The ATOL web server answered with JSON that is not an object.");
        }
        catch (JsonException error)
        {
            throw new AtolUnreachableException("The ATOL web server answered with malformed JSON.", error);
        }
    }

    private static async Task<string> ErrorText(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try { return (string?)JsonNode.Parse(text)?["error"]?["description"] ?? text; }
        catch (JsonException) { return text; }
    }
}
