using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Loyalty.Api.Grpc;

public sealed class GrpcEndpointOptions
{
    /// <summary>The gRPC default; both stock clients refuse larger replies unless told otherwise.</summary>
    public const int DefaultMessageBytes = 4 * 1024 * 1024;

    /// <summary>A larger request message is refused with RESOURCE_EXHAUSTED before it is read.</summary>
    public int MaxReceiveMessageBytes { get; init; } = DefaultMessageBytes;

    public int MaxSendMessageBytes { get; init; } = DefaultMessageBytes;

    /// <summary>A grpc-timeout above this is cut to it, so no call can hold server resources for days.</summary>
    public TimeSpan MaxDeadline { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Calls in progress in the whole process, streams included. Far above honest peaks (the gRPC
    /// benchmark drives 256 at once), it bounds the memory and tasks that calls waiting for their
    /// turn can hold when clients open streams faster than the engine answers.
    /// </summary>
    public const int DefaultMaxCallsInProgress = 20_000;

    /// <summary>Past this many calls in progress a new call is answered RESOURCE_EXHAUSTED at once, before its message is read.</summary>
    public int MaxCallsInProgress { get; init; } = DefaultMaxCallsInProgress;

    public static readonly TimeSpan DefaultRequestMessageTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a request message may take to arrive in full once the server waits for it; then the
    /// call ends with DEADLINE_EXCEEDED. Without it a client that sends half a message and stalls
    /// (or trickles it) holds a stream and its buffered bytes for as long as the connection lives.
    /// A register on a poor link sends a receipt of a few KiB in well under a second.
    /// </summary>
    public TimeSpan RequestMessageTimeout { get; init; } = DefaultRequestMessageTimeout;

    /// <summary>
    /// Turns an application exception into a status; null means "not one of mine" and gives INTERNAL.
    /// The gRPC layer knows nothing of the application's error types.
    /// </summary>
    public Func<Exception, RpcException?> MapException { get; init; } = _ => null;
}

/// <summary>
/// Serves gRPC calls (grpc/doc/PROTOCOL-HTTP2.md) on Kestrel's HTTP/2: checks the request,
/// finds the method, enforces the deadline, and always ends the reply with grpc-status —
/// in the trailers, or as a Trailers-Only reply when the call fails before any message.
/// </summary>
public sealed class GrpcEndpoint(GrpcMethodTable methods, GrpcEndpointOptions options, ILogger<GrpcEndpoint> logger)
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";

    private int _callsInProgress;

    public async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        var response = http.Response;
        if (!HttpMethods.IsPost(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "POST";
            return;
        }
        // The protocol says a non-gRPC content type is answered in HTTP terms, not gRPC ones.
        if (request.ContentType is not { } contentType || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase)
            || (contentType.Length > ContentType.Length && contentType[ContentType.Length] is not ('+' or ';')))
        {
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }
        if (!methods.TryGet(request.Path.Value, out var method))
        {
            SendStatus(response, StatusCode.Unimplemented, $"The method {request.Path.Value} is not served here.");
            return;
        }

        if (Interlocked.Increment(ref _callsInProgress) > options.MaxCallsInProgress)
        {
            Interlocked.Decrement(ref _callsInProgress);
            SendStatus(response, StatusCode.ResourceExhausted,
                $"The server has {options.MaxCallsInProgress:N0} calls in progress, its limit; retry in a moment.");
            return;
        }
        try
        {
            await InvokeAsync(http, method);
        }
        finally
        {
            Interlocked.Decrement(ref _callsInProgress);
        }
    }

    private async Task InvokeAsync(HttpContext http, GrpcMethod method)
    {
        var request = http.Request;
        var response = http.Response;
        var timeout = GrpcWire.ParseTimeout(request.Headers["grpc-timeout"]);
        if (timeout > options.MaxDeadline) timeout = options.MaxDeadline;
        using var deadline = timeout is { } t ? new CancellationTokenSource(t) : null;
        using var call = deadline is null
            ? CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted)
            : CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadline.Token);
        var context = new ServerCallContext(http, method.Path, call.Token, timeout is { } d ? DateTimeOffset.UtcNow + d : null);
        try
        {
            await method.InvokeAsync(context, options);
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true)
        {
            SendStatus(response, StatusCode.DeadlineExceeded, $"The call's deadline of {timeout!.Value.TotalMilliseconds:N0} ms passed before it finished.");
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client is gone; nobody reads the status, but the stream still ends properly.
            SendStatus(response, StatusCode.Cancelled, "The client cancelled the call.");
        }
        catch (RpcException error)
        {
            SendStatus(response, error.Status, error.Message, error.Trailers);
        }
        catch (Exception error) when (options.MapException(error) is { } mapped)
        {
            SendStatus(response, mapped.Status, mapped.Message, mapped.Trailers);
        }
        catch (Exception error) when (error is Microsoft.AspNetCore.Http.BadHttpRequestException or IOException && http.RequestAborted.IsCancellationRequested)
        {
            SendStatus(response, StatusCode.Cancelled, "The connection was lost during the call.");
        }
        catch (Exception error)
        {
            logger.LogError(error, "The gRPC method {Method} failed unexpectedly.", method.Path);
            SendStatus(response, StatusCode.Internal, "The server failed to process the call; the failure has been logged.");
        }
    }

    /// <summary>Ends the call with a status: Trailers-Only when nothing was sent yet, trailers otherwise.</summary>
    private static void SendStatus(HttpResponse response, StatusCode status, string message, IReadOnlyDictionary<string, string>? trailers = null)
    {
        var code = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var encoded = GrpcMessageText.Encode(message);
        if (!response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = ContentType;
            response.Headers[StatusHeader] = code;
            response.Headers[MessageHeader] = encoded;
            foreach (var (name, value) in trailers ?? Empty) response.Headers[name] = value;
            return;
        }
        response.AppendTrailer(StatusHeader, code);
        response.AppendTrailer(MessageHeader, encoded);
        foreach (var (name, value) in trailers ?? Empty) response.AppendTrailer(name, value);
    }

    private static readonly Dictionary<string, string> Empty = [];
}
