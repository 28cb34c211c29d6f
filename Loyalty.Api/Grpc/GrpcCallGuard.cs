using System.Buffers;
using System.IO.Pipelines;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Loyalty.Api.Grpc;

/// <summary>The bounds <see cref="GrpcCallGuard"/> enforces in front of Grpc.AspNetCore.</summary>
public sealed class GrpcCallGuardOptions
{
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
    /// A register on a poor link sends a receipt of a few KiB in well under a second. Unary and
    /// server-streaming calls get it for the whole request; a client- or duplex-streaming call may
    /// idle between messages, but not inside one.
    /// </summary>
    public TimeSpan RequestMessageTimeout { get; init; } = DefaultRequestMessageTimeout;

    /// <summary>A request message whose length prefix says more is refused with RESOURCE_EXHAUSTED before it is read.</summary>
    public int MaxReceiveMessageBytes { get; init; } = LoyaltyApi.MaxMessageBytes;
}

/// <summary>
/// Middleware in front of the gRPC endpoints (after routing, so the method is known): refuses a
/// call past the calls-in-progress limit with a Trailers-Only RESOURCE_EXHAUSTED, and hands
/// Grpc.AspNetCore a request body that (1) ends a stalled message with DEADLINE_EXCEEDED and
/// (2) refuses a frame whose compressed flag is neither 0 nor 1 as INTERNAL — Grpc.AspNetCore
/// throws InvalidDataException there, which it would answer UNKNOWN and log at Error per request.
/// </summary>
public sealed class GrpcCallGuard(GrpcCallGuardOptions options)
{
    private int _callsInProgress;

    /// <summary>Calls in progress now (tests and diagnostics).</summary>
    public int CallsInProgress => Volatile.Read(ref _callsInProgress);

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        var grpcMethod = http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>();
        if (grpcMethod is null)
        {
            // Not a served method. A gRPC request gets our sentence naming the path; anything else goes
            // on to Grpc.AspNetCore's fallback (HTTP 415 for another content type, and the like).
            if (HttpMethods.IsPost(http.Request.Method) && IsGrpcContentType(http.Request.ContentType))
                SendStatus(http.Response, StatusCode.Unimplemented, $"The method {http.Request.Path.Value} is not served here.");
            else
                await next(http);
            return;
        }
        if (HasZeroTimeout(http.Request.Headers["grpc-timeout"]))
        {
            // Grpc.AspNetCore reads a timeout under 100 ns as no deadline at all and would run the call.
            SendStatus(http.Response, StatusCode.DeadlineExceeded, $"The call's deadline passed before {grpcMethod.Method.FullName} started.");
            return;
        }
        if (Interlocked.Increment(ref _callsInProgress) > options.MaxCallsInProgress)
        {
            Interlocked.Decrement(ref _callsInProgress);
            SendStatus(http.Response, StatusCode.ResourceExhausted,
                $"The server has {options.MaxCallsInProgress:N0} calls in progress, its limit; retry in a moment.");
            return;
        }
        var bodyFeature = http.Features.Get<IRequestBodyPipeFeature>();
        GuardedRequestBody? guarded = null;
        if (bodyFeature is not null)
        {
            var wholeRequestTimed = grpcMethod.Method.Type is MethodType.Unary or MethodType.ServerStreaming;
            guarded = new GuardedRequestBody(bodyFeature.Reader, options.RequestMessageTimeout, wholeRequestTimed, grpcMethod.Method.FullName, options.MaxReceiveMessageBytes);
            http.Features.Set<IRequestBodyPipeFeature>(guarded);
        }
        try
        {
            await next(http);
        }
        finally
        {
            guarded?.Dispose();
            Interlocked.Decrement(ref _callsInProgress);
        }
    }

    /// <summary>A Trailers-Only reply: the call ends before any message, as gRPC's protocol has it.</summary>
    private static void SendStatus(HttpResponse response, StatusCode status, string message)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Protos.GrpcMessageText.Encode(message);
    }

    private static bool IsGrpcContentType(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
        && (contentType.Length == "application/grpc".Length || contentType["application/grpc".Length] is '+' or ';');

    /// <summary>True for a well-formed grpc-timeout (1 to 8 digits and a unit) that is shorter than one tick (100 ns).</summary>
    private static bool HasZeroTimeout(string? value)
    {
        if (value is null || value.Length is < 2 or > 9) return false;
        var digits = value.AsSpan(0, value.Length - 1);
        foreach (var c in digits)
            if (c is < '0' or > '9') return false;
        var amount = long.Parse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture);
        return value[^1] switch
        {
            'H' or 'M' or 'S' or 'm' or 'u' => amount == 0,
            'n' => amount < 100,
            _ => false,
        };
    }
}

/// <summary>
/// The request body as Grpc.AspNetCore reads it, with the message timeout and the frame-flag check.
/// Grpc.AspNetCore consumes whole messages only, so the start of every buffer it is handed is the
/// start of a frame, and bytes left unconsumed after <c>AdvanceTo</c> are a message in part.
/// </summary>
internal sealed class GuardedRequestBody(PipeReader inner, TimeSpan timeout, bool wholeRequestTimed, string method, int maxMessageBytes) : PipeReader, IRequestBodyPipeFeature, IDisposable
{
    private ReadOnlySequence<byte> _lastBuffer;
    private bool _insideMessage;
    private ITimer? _timer;
    private bool _timerRunning;
    private volatile bool _timedOut;

    public PipeReader Reader => this;

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var pending = inner.ReadAsync(cancellationToken);
        // Most requests arrive whole with their headers; the timer is started only when the server must wait.
        if (!pending.IsCompleted && (wholeRequestTimed || _insideMessage)) StartTimer();
        var result = await pending;
        if (result.IsCanceled && _timedOut)
            throw Rpc.Error(StatusCode.DeadlineExceeded,
                $"The request message to {method} did not arrive in full within {timeout.TotalSeconds:0.###} s; " +
                "the server ends calls whose message stalls, so that a stalled client cannot hold a stream.");
        Check(result.Buffer);
        _lastBuffer = result.Buffer;
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result)) return false;
        Check(result.Buffer);
        _lastBuffer = result.Buffer;
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var somethingConsumed = !consumed.Equals(_lastBuffer.Start);
        _insideMessage = !_lastBuffer.Slice(consumed).IsEmpty;
        inner.AdvanceTo(consumed, examined);
        // A streaming call's message has arrived whole: the next message gets its own time.
        if (somethingConsumed && !wholeRequestTimed) StopTimer();
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public void Dispose() => _timer?.Dispose();

    private void StartTimer()
    {
        if (_timerRunning) return;
        _timerRunning = true;
        _timer ??= TimeProvider.System.CreateTimer(static state => ((GuardedRequestBody)state!).TimedOut(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(timeout, Timeout.InfiniteTimeSpan);
    }

    private void StopTimer()
    {
        if (!_timerRunning) return;
        _timerRunning = false;
        _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private void TimedOut()
    {
        _timedOut = true;
        inner.CancelPendingRead();
    }

    private void Check(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty) return;
        var flag = buffer.FirstSpan[0];
        if (flag > 1)
            throw Rpc.Error(StatusCode.Internal,
                $"A request message frame has the compressed flag {flag}; gRPC allows only 0 (plain) or 1 (compressed).");
        if (buffer.Length < 5) return;
        Span<byte> header = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(header);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        // Refused from the prefix alone, so a lying client cannot make the server buffer more.
        if (length > maxMessageBytes)
            throw Rpc.Error(StatusCode.ResourceExhausted,
                $"The request message is {length:N0} bytes; this server accepts at most {maxMessageBytes:N0}.");
    }
}
