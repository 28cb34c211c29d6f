using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Loyalty.Api.Grpc;

/// <summary>
/// The methods a gRPC endpoint serves, by path. Mapping a method is one line: its service and
/// method names, the request parser and a handler. Nothing here knows what the messages mean.
/// </summary>
public sealed class GrpcMethodTable
{
    private readonly Dictionary<string, GrpcMethod> _methods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _services = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Services => _services;

    public GrpcMethodTable MapUnary<TRequest, TReply>(string service, string method, Func<TRequest, ServerCallContext, Task<TReply>> handler)
        where TRequest : IMessage<TRequest>, new()
        where TReply : IMessage<TReply> =>
        Add(service, new UnaryMethod<TRequest, TReply>(Path(service, method), handler));

    public GrpcMethodTable MapServerStreaming<TRequest, TReply>(string service, string method, Func<TRequest, IServerStreamWriter<TReply>, ServerCallContext, Task> handler)
        where TRequest : IMessage<TRequest>, new()
        where TReply : IMessage<TReply> =>
        Add(service, new ServerStreamingMethod<TRequest, TReply>(Path(service, method), handler));

    /// <summary>Both sides stream: the handler reads requests as they arrive and writes replies as it goes.</summary>
    public GrpcMethodTable MapDuplexStreaming<TRequest, TReply>(string service, string method, Func<IAsyncEnumerable<TRequest>, IServerStreamWriter<TReply>, ServerCallContext, Task> handler)
        where TRequest : IMessage<TRequest>, new()
        where TReply : IMessage<TReply> =>
        Add(service, new DuplexStreamingMethod<TRequest, TReply>(Path(service, method), handler));

    internal bool TryGet(string? path, out GrpcMethod method)
    {
        method = null!;
        return path is not null && _methods.TryGetValue(path, out method!);
    }

    private static string Path(string service, string method) => $"/{service}/{method}";

    private GrpcMethodTable Add(string service, GrpcMethod method)
    {
        if (!_methods.TryAdd(method.Path, method))
            throw new InvalidOperationException($"The gRPC method {method.Path} is mapped twice.");
        _services.Add(service);
        return this;
    }
}

internal abstract class GrpcMethod(string path)
{
    public string Path { get; } = path;

    public abstract Task InvokeAsync(ServerCallContext context, GrpcEndpointOptions options);

    /// <summary>
    /// Reads the one request message of the call and parses it. A unary or server-streaming call
    /// carries exactly one message; the client's END_STREAM is awaited so that a second message
    /// is refused rather than ignored. The message must be there within the request message timeout.
    /// </summary>
    protected static async Task<TRequest> ReadRequestAsync<TRequest>(ServerCallContext context, GrpcEndpointOptions options)
        where TRequest : IMessage<TRequest>, new()
    {
        var reader = context.HttpContext.Request.BodyReader;
        // Most requests arrive whole with their headers; the timer is started only when the server must wait.
        CancellationTokenSource? messageTimer = null;
        try
        {
            // TryRead would hand back the same bytes again, so it serves only the first look.
            var firstLook = true;
            while (true)
            {
                ReadResult result;
                if (!firstLook || !reader.TryRead(out result))
                    result = await ReadWithinAsync(reader, messageTimer ??= StartMessageTimer(context, options), context, options);
                firstLook = false;
                var buffer = result.Buffer;
                if (GrpcWire.TryReadFrameHeader(buffer, out var compressed, out var length))
                {
                    RefuseUnreadable(reader, buffer, compressed, length, options);
                    var frameBytes = GrpcWire.FrameHeaderBytes + length;
                    if (buffer.Length > frameBytes)
                    {
                        reader.AdvanceTo(buffer.End);
                        throw new RpcException(StatusCode.InvalidArgument, $"A call to {context.Method} carries one request message; more were sent.");
                    }
                    if (buffer.Length == frameBytes && result.IsCompleted)
                    {
                        try
                        {
                            return Parse<TRequest>(buffer.Slice(GrpcWire.FrameHeaderBytes));
                        }
                        finally
                        {
                            reader.AdvanceTo(buffer.End);
                        }
                    }
                }
                if (result.IsCompleted)
                {
                    reader.AdvanceTo(buffer.End);
                    throw new RpcException(StatusCode.InvalidArgument, buffer.IsEmpty
                        ? $"A call to {context.Method} must carry one request message; none was sent."
                        : $"The request message to {context.Method} is incomplete: the stream ended {buffer.Length:N0} bytes into it.");
                }
                // Nothing is consumed until the whole message and END_STREAM are there.
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            messageTimer?.Dispose();
        }
    }

    /// <summary>
    /// Reads request messages one by one as they arrive, until the client's END_STREAM. Each message
    /// is held to the same size limit as a unary request; a stream that ends inside a message is refused.
    /// </summary>
    protected static async IAsyncEnumerable<TRequest> ReadRequestsAsync<TRequest>(ServerCallContext context, GrpcEndpointOptions options)
        where TRequest : IMessage<TRequest>, new()
    {
        var reader = context.HttpContext.Request.BodyReader;
        // Between messages the stream may be quiet as long as the call lives; a message once begun
        // must arrive in full within the request message timeout.
        CancellationTokenSource? messageTimer = null;
        try
        {
            while (true)
            {
                var result = messageTimer is null
                    ? await reader.ReadAsync(context.CancellationToken)
                    : await ReadWithinAsync(reader, messageTimer, context, options);
                var buffer = result.Buffer;
                var messages = new List<TRequest>();
                while (GrpcWire.TryReadFrameHeader(buffer, out var compressed, out var length))
                {
                    RefuseUnreadable(reader, buffer, compressed, length, options);
                    var frameBytes = GrpcWire.FrameHeaderBytes + length;
                    if (buffer.Length < frameBytes) break;
                    try
                    {
                        messages.Add(Parse<TRequest>(buffer.Slice(GrpcWire.FrameHeaderBytes, length)));
                    }
                    catch
                    {
                        reader.AdvanceTo(buffer.End);
                        throw;
                    }
                    buffer = buffer.Slice(frameBytes);
                }
                var completed = result.IsCompleted;
                var leftover = buffer.Length;
                reader.AdvanceTo(buffer.Start, buffer.End);
                // The timer runs from the first bytes of a message; a message completed stops it.
                if (messages.Count > 0 || leftover == 0)
                {
                    messageTimer?.Dispose();
                    messageTimer = null;
                }
                if (leftover > 0) messageTimer ??= StartMessageTimer(context, options);
                foreach (var message in messages) yield return message;
                if (completed)
                {
                    if (leftover > 0)
                        throw new RpcException(StatusCode.InvalidArgument, $"The last request message to {context.Method} is incomplete: the stream ended {leftover:N0} bytes into it.");
                    yield break;
                }
            }
        }
        finally
        {
            messageTimer?.Dispose();
        }
    }

    private static CancellationTokenSource StartMessageTimer(ServerCallContext context, GrpcEndpointOptions options)
    {
        var timer = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        timer.CancelAfter(options.RequestMessageTimeout);
        return timer;
    }

    /// <summary>Waits for more of the request; past the request message timeout the call ends with DEADLINE_EXCEEDED.</summary>
    private static async ValueTask<ReadResult> ReadWithinAsync(PipeReader reader, CancellationTokenSource messageTimer, ServerCallContext context, GrpcEndpointOptions options)
    {
        try
        {
            return await reader.ReadAsync(messageTimer.Token);
        }
        catch (OperationCanceledException) when (messageTimer.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(StatusCode.DeadlineExceeded,
                $"The request message to {context.Method} did not arrive in full within {options.RequestMessageTimeout.TotalSeconds:0.###} s; " +
                "the server ends calls whose message stalls, so that a stalled client cannot hold a stream.");
        }
    }

    /// <summary>
    /// Refuses a message this server will not read, from its frame header alone: compressed (only
    /// identity is accepted) or over the size limit (so a lying client cannot make it buffer more).
    /// </summary>
    private static void RefuseUnreadable(PipeReader reader, in ReadOnlySequence<byte> buffer, bool compressed, uint length, GrpcEndpointOptions options)
    {
        if (compressed)
        {
            reader.AdvanceTo(buffer.End);
            throw new RpcException(StatusCode.Unimplemented, "This server accepts only uncompressed messages (grpc-encoding identity).");
        }
        if (length > options.MaxReceiveMessageBytes)
        {
            reader.AdvanceTo(buffer.End);
            throw new RpcException(StatusCode.ResourceExhausted,
                $"The request message is {length:N0} bytes; this server accepts at most {options.MaxReceiveMessageBytes:N0}.");
        }
    }

    private static TRequest Parse<TRequest>(in ReadOnlySequence<byte> payload) where TRequest : IMessage<TRequest>, new()
    {
        var message = new TRequest();
        try
        {
            message.MergeFrom(payload);
        }
        catch (InvalidProtocolBufferException error)
        {
            // Google.Protobuf 3.36 refuses invalid UTF-8 itself, without naming the field; the walk
            // below (bounded, safe on any bytes) finds which one, as the answer did before.
            if (ProtobufUtf8.FindInvalidString(payload, message.Descriptor) is { } invalid)
                throw new RpcException(StatusCode.InvalidArgument, $"The request's field {invalid} is not valid UTF-8; protobuf strings must be UTF-8.");
            throw new RpcException(StatusCode.InvalidArgument, $"The request is not a valid {message.Descriptor.FullName} message: {error.Message}");
        }
        if (ProtobufUtf8.FindInvalidString(payload, message.Descriptor) is { } field)
            throw new RpcException(StatusCode.InvalidArgument, $"The request's field {field} is not valid UTF-8; protobuf strings must be UTF-8.");
        return message;
    }

    /// <summary>Gives stream writers the reply helpers without making them public.</summary>
    internal abstract class ReplyWriter
    {
        protected static void Write(HttpResponse response, IMessage message, GrpcEndpointOptions options)
        {
            StartReply(response);
            WriteMessage(response, message, options);
        }
    }

    protected static void StartReply(HttpResponse response)
    {
        if (response.HasStarted) return;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcEndpoint.ContentType;
    }

    protected static void WriteMessage(HttpResponse response, IMessage message, GrpcEndpointOptions options)
    {
        var size = message.CalculateSize();
        if (size > options.MaxSendMessageBytes)
            throw new RpcException(StatusCode.ResourceExhausted, $"The reply would be {size:N0} bytes, over this server's limit of {options.MaxSendMessageBytes:N0}; ask for less (a smaller page).");
        var span = response.BodyWriter.GetSpan(GrpcWire.FrameHeaderBytes + size);
        GrpcWire.WriteFrameHeader(span, size);
        message.WriteTo(span.Slice(GrpcWire.FrameHeaderBytes, size));
        response.BodyWriter.Advance(GrpcWire.FrameHeaderBytes + size);
    }
}

internal sealed class UnaryMethod<TRequest, TReply>(string path, Func<TRequest, ServerCallContext, Task<TReply>> handler) : GrpcMethod(path)
    where TRequest : IMessage<TRequest>, new()
    where TReply : IMessage<TReply>
{
    public override async Task InvokeAsync(ServerCallContext context, GrpcEndpointOptions options)
    {
        var request = await ReadRequestAsync<TRequest>(context, options);
        context.CancellationToken.ThrowIfCancellationRequested();
        var reply = await handler(request, context);
        // A reply after the deadline is not sent: the client has given up and reports DEADLINE_EXCEEDED,
        // and the server says the same. A write that did complete is found again by its operation id.
        context.CancellationToken.ThrowIfCancellationRequested();
        var response = context.HttpContext.Response;
        StartReply(response);
        WriteMessage(response, reply, options);
        response.AppendTrailer(GrpcEndpoint.StatusHeader, "0");
    }
}

internal sealed class DuplexStreamingMethod<TRequest, TReply>(string path, Func<IAsyncEnumerable<TRequest>, IServerStreamWriter<TReply>, ServerCallContext, Task> handler) : GrpcMethod(path)
    where TRequest : IMessage<TRequest>, new()
    where TReply : IMessage<TReply>
{
    public override async Task InvokeAsync(ServerCallContext context, GrpcEndpointOptions options)
    {
        var response = context.HttpContext.Response;
        await handler(ReadRequestsAsync<TRequest>(context, options), new StreamWriter<TReply>(response, options), context);
        StartReply(response);
        response.AppendTrailer(GrpcEndpoint.StatusHeader, "0");
    }
}

internal sealed class StreamWriter<TReply>(HttpResponse response, GrpcEndpointOptions options) : GrpcMethod.ReplyWriter, IServerStreamWriter<TReply>
    where TReply : IMessage<TReply>
{
    public async Task WriteAsync(TReply message, CancellationToken cancellationToken)
    {
        Write(response, message, options);
        await response.BodyWriter.FlushAsync(cancellationToken);
    }
}

internal sealed class ServerStreamingMethod<TRequest, TReply>(string path, Func<TRequest, IServerStreamWriter<TReply>, ServerCallContext, Task> handler) : GrpcMethod(path)
    where TRequest : IMessage<TRequest>, new()
    where TReply : IMessage<TReply>
{
    public override async Task InvokeAsync(ServerCallContext context, GrpcEndpointOptions options)
    {
        var request = await ReadRequestAsync<TRequest>(context, options);
        var response = context.HttpContext.Response;
        await handler(request, new StreamWriter<TReply>(response, options), context);
        StartReply(response);
        response.AppendTrailer(GrpcEndpoint.StatusHeader, "0");
    }
}
