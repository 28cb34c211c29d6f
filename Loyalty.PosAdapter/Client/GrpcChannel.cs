using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace Loyalty.PosAdapter.Client;

/// <summary>
/// Speaks the gRPC wire protocol (grpc/doc/PROTOCOL-HTTP2.md) over one HttpClient: unary calls and
/// server-streaming reads. Thread-safe; concurrent calls are multiplexed as HTTP/2 streams, and more
/// connections are opened when one connection's stream limit is reached.
/// Every failure is an <see cref="RpcException"/> with the status another gRPC client would report.
/// </summary>
public sealed class GrpcChannel : IDisposable
{
    private const string GrpcContentType = "application/grpc";

    /// <summary>A service has tens of methods; past this, paths are not cached, so odd callers cannot grow the cache.</summary>
    public const int MaxCachedMethodPaths = 256;

    private readonly HttpClient _httpClient;
    private readonly GrpcChannelOptions _options;
    private readonly string? _authorization;
    private readonly ConcurrentDictionary<string, Uri> _methodUris = new(StringComparer.Ordinal);

    public GrpcChannel(GrpcChannelOptions options)
        : this(options, CreateHandler(options))
    {
    }

    /// <summary>With a handler of the caller's (tests, or a custom TLS set-up); the channel owns and disposes it.</summary>
    public GrpcChannel(GrpcChannelOptions options, HttpMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        if (options.Address.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"The server address must be http:// (HTTP/2 without TLS) or https://, not '{options.Address.Scheme}://'.", nameof(options));
        }
        if (options.DefaultTimeout <= TimeSpan.Zero || options.DefaultTimeout > CallOptions.MaxTimeout)
        {
            throw new ArgumentException($"DefaultTimeout must be positive and at most {CallOptions.MaxTimeout}.", nameof(options));
        }
        if (options.MaxReceiveMessageBytes <= 0 || options.MaxSendMessageBytes <= 0)
        {
            throw new ArgumentException("MaxReceiveMessageBytes and MaxSendMessageBytes must be positive.", nameof(options));
        }
        _options = options;
        _authorization = FormatAuthorization(options.ApiKey);
        _httpClient = new HttpClient(handler, disposeHandler: true)
        {
            // Deadlines are the call's business (grpc-timeout plus a local cancellation), not HttpClient's.
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public Uri Address => _options.Address;

    public static SocketsHttpHandler CreateHandler(GrpcChannelOptions options) => new()
    {
        // One HTTP/2 connection carries only as many concurrent streams as the server allows (256 for
        // the loyalty server, 100 for many others); more calls than that would otherwise queue.
        EnableMultipleHttp2Connections = true,
        ConnectTimeout = options.ConnectTimeout,
        KeepAlivePingDelay = options.KeepAlivePingDelay,
        KeepAlivePingTimeout = options.KeepAlivePingTimeout,
        KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        UseProxy = false,
    };

    /// <summary>One request message, one response message.</summary>
    public async Task<TResponse> UnaryCallAsync<TRequest, TResponse>(
        string methodPath,
        TRequest request,
        MessageParser<TResponse> responseParser,
        CallOptions? options = null,
        CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        var timeout = ResolveTimeout(options, hasDefaultDeadline: true);
        using var callCancellation = CreateCallCancellation(timeout, cancellationToken);
        using var httpRequest = CreateRequest(methodPath, request, timeout, options);
        HttpResponseMessage? response = null;
        try
        {
            response = await _httpClient.SendAsync(httpRequest, HttpCompletionOption.ResponseHeadersRead, callCancellation.Token).ConfigureAwait(false);
            if (ReadTrailersOnlyStatus(response) is { } trailersOnly)
            {
                throw trailersOnly.StatusCode == StatusCode.Ok
                    ? new RpcException(StatusCode.Internal, "The server ended the call with OK but sent no response message.")
                    : trailersOnly;
            }

            var body = await response.Content.ReadAsStreamAsync(callCancellation.Token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var message = await GrpcFrame.ReadMessageAsync(body, responseParser, _options.MaxReceiveMessageBytes, callCancellation.Token).ConfigureAwait(false);
                // Reading on to the end of the body is what makes the trailers arrive.
                var extra = message is null
                    ? null
                    : await GrpcFrame.ReadMessageAsync(body, responseParser, _options.MaxReceiveMessageBytes, callCancellation.Token).ConfigureAwait(false);
                var status = ReadTrailerStatus(response);
                if (status.StatusCode != StatusCode.Ok) throw status;
                if (message is null)
                {
                    throw new RpcException(StatusCode.Internal, "The server ended the call with OK but sent no response message.");
                }
                if (extra is not null)
                {
                    throw new RpcException(StatusCode.Internal, "The server sent more than one response message to a unary call.");
                }
                return message;
            }
        }
        catch (Exception error) when (IsTransportFailure(error))
        {
            throw TranslateTransportFailure(error, _options.Address, cancellationToken, callCancellation, timeout);
        }
        finally
        {
            // Disposing an unfinished response resets the stream, which tells the server to stop.
            response?.Dispose();
        }
    }

    /// <summary>
    /// One request message, a stream of response messages (Health/Watch). The stream's final status
    /// is thrown as an <see cref="RpcException"/> after the last message when it is not OK. There is no
    /// deadline unless <paramref name="options"/> gives one; cancel the token to stop watching.
    /// </summary>
    public async IAsyncEnumerable<TResponse> ServerStreamingCallAsync<TRequest, TResponse>(
        string methodPath,
        TRequest request,
        MessageParser<TResponse> responseParser,
        CallOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        var timeout = ResolveTimeout(options, hasDefaultDeadline: false);
        using var callCancellation = CreateCallCancellation(timeout, cancellationToken);
        using var httpRequest = CreateRequest(methodPath, request, timeout, options);
        using var response = await SendStreamingAsync(httpRequest, cancellationToken, callCancellation, timeout).ConfigureAwait(false);
        if (ReadTrailersOnlyStatus(response) is { } trailersOnly)
        {
            if (trailersOnly.StatusCode != StatusCode.Ok) throw trailersOnly;
            yield break;
        }

        var body = await OpenBodyAsync(response, cancellationToken, callCancellation, timeout).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            while (await ReadStreamedMessageAsync(body, responseParser, cancellationToken, callCancellation, timeout).ConfigureAwait(false) is { } message)
            {
                yield return message;
            }
        }
        var status = ReadTrailerStatus(response);
        if (status.StatusCode != StatusCode.Ok) throw status;
    }

    public void Dispose() => _httpClient.Dispose();

    private async Task<HttpResponseMessage> SendStreamingAsync(
        HttpRequestMessage httpRequest, CancellationToken callerToken, CancellationTokenSource callCancellation, TimeSpan? timeout)
    {
        try
        {
            return await _httpClient.SendAsync(httpRequest, HttpCompletionOption.ResponseHeadersRead, callCancellation.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (IsTransportFailure(error))
        {
            throw TranslateTransportFailure(error, _options.Address, callerToken, callCancellation, timeout);
        }
    }

    private async Task<Stream> OpenBodyAsync(
        HttpResponseMessage response, CancellationToken callerToken, CancellationTokenSource callCancellation, TimeSpan? timeout)
    {
        try
        {
            return await response.Content.ReadAsStreamAsync(callCancellation.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (IsTransportFailure(error))
        {
            throw TranslateTransportFailure(error, _options.Address, callerToken, callCancellation, timeout);
        }
    }

    private async Task<TResponse?> ReadStreamedMessageAsync<TResponse>(
        Stream body, MessageParser<TResponse> parser, CancellationToken callerToken, CancellationTokenSource callCancellation, TimeSpan? timeout)
        where TResponse : class, IMessage<TResponse>
    {
        try
        {
            return await GrpcFrame.ReadMessageAsync(body, parser, _options.MaxReceiveMessageBytes, callCancellation.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (IsTransportFailure(error))
        {
            throw TranslateTransportFailure(error, _options.Address, callerToken, callCancellation, timeout);
        }
    }

    /// <summary>The call's own timeout, else the channel's default for unary calls; null means no deadline.</summary>
    private TimeSpan? ResolveTimeout(CallOptions? options, bool hasDefaultDeadline)
    {
        TimeSpan? timeout = options switch
        {
            { Deadline: { } deadline } => deadline - DateTimeOffset.UtcNow,
            { Timeout: { } callTimeout } => callTimeout,
            _ => hasDefaultDeadline ? _options.DefaultTimeout : null,
        };
        if (timeout is { } value)
        {
            if (value <= TimeSpan.Zero)
            {
                throw new RpcException(StatusCode.DeadlineExceeded, "The call's deadline had already passed; it was not sent.");
            }
            if (value > CallOptions.MaxTimeout)
            {
                throw new ArgumentOutOfRangeException(nameof(options), value, $"A call's timeout may be at most {CallOptions.MaxTimeout}.");
            }
        }
        return timeout;
    }

    private static CancellationTokenSource CreateCallCancellation(TimeSpan? timeout, CancellationToken callerToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        if (timeout is { } value) source.CancelAfter(value);
        return source;
    }

    private HttpRequestMessage CreateRequest<TRequest>(string methodPath, TRequest request, TimeSpan? timeout, CallOptions? options)
        where TRequest : IMessage<TRequest>
    {
        var frame = GrpcFrame.Encode(request, _options.MaxSendMessageBytes);
        var content = new ByteArrayContent(frame);
        content.Headers.TryAddWithoutValidation("content-type", GrpcContentType);

        if (!_methodUris.TryGetValue(methodPath, out var uri))
        {
            uri = new Uri(_options.Address, methodPath);
            if (_methodUris.Count < MaxCachedMethodPaths) _methodUris.TryAdd(methodPath, uri);
        }
        var httpRequest = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        var headers = httpRequest.Headers;
        // Required by the protocol: it is how a server tells it is not behind a proxy that drops trailers.
        headers.TryAddWithoutValidation("te", "trailers");
        if (timeout is { } value) headers.TryAddWithoutValidation("grpc-timeout", GrpcTimeout.Format(value));
        headers.TryAddWithoutValidation("user-agent", _options.UserAgent);
        var authorization = options?.ApiKey is { } callKey ? FormatAuthorization(callKey) : _authorization;
        if (authorization is not null) headers.TryAddWithoutValidation("authorization", authorization);
        if (options?.Metadata is { } metadata)
        {
            foreach (var (name, metadataValue) in metadata)
            {
                ValidateMetadataName(name);
                headers.TryAddWithoutValidation(name, metadataValue);
            }
        }
        return httpRequest;
    }

    private static string? FormatAuthorization(string? apiKey)
    {
        if (string.IsNullOrEmpty(apiKey)) return null;
        foreach (var character in apiKey)
        {
            if (character is < (char)0x21 or > (char)0x7E)
            {
                // The key itself is never part of a message: it would end up in logs.
                throw new ArgumentException("The API key contains a character that cannot travel in an HTTP header (spaces, line breaks or non-ASCII).");
            }
        }
        return "Bearer " + apiKey;
    }

    private static void ValidateMetadataName(string name)
    {
        var valid = name.Length > 0 && !name.StartsWith("grpc-", StringComparison.Ordinal)
            && name is not ("authorization" or "te" or "content-type" or "user-agent");
        foreach (var character in name)
        {
            valid &= character is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.';
        }
        if (!valid)
        {
            throw new ArgumentException($"'{name}' cannot be a metadata name: names are lower-case letters, digits, '-', '_' and '.', and neither 'grpc-' names nor the headers the channel sets itself may be given.");
        }
    }

    /// <summary>
    /// A non-200 answer is mapped from its HTTP status; a 200 that is not gRPC is INTERNAL; a
    /// Trailers-Only reply (grpc-status in the headers) gives its status; otherwise null: read on.
    /// </summary>
    private static RpcException? ReadTrailersOnlyStatus(HttpResponseMessage response)
    {
        var httpStatus = (int)response.StatusCode;
        if (httpStatus != 200)
        {
            return new RpcException(GrpcStatus.FromHttpStatus(httpStatus),
                $"The server answered with HTTP status {httpStatus} instead of a gRPC response; is this the gRPC address?");
        }
        var contentType = response.Content.Headers.NonValidated.TryGetValues("content-type", out var values) ? values.ToString() : "";
        if (!contentType.StartsWith(GrpcContentType, StringComparison.OrdinalIgnoreCase))
        {
            return new RpcException(StatusCode.Internal,
                $"The server answered with content type '{contentType}' instead of '{GrpcContentType}'; is this the gRPC address?");
        }
        return GrpcStatus.ReadStatus(response.Headers);
    }

    private static RpcException ReadTrailerStatus(HttpResponseMessage response) =>
        GrpcStatus.ReadStatus(response.TrailingHeaders)
        ?? new RpcException(StatusCode.Internal, "The server ended the call without a grpc-status.");

    private static bool IsTransportFailure(Exception error) =>
        error is OperationCanceledException or HttpRequestException or IOException;

    /// <summary>What went wrong below gRPC, as the status other gRPC clients report for it.</summary>
    private static RpcException TranslateTransportFailure(
        Exception error, Uri address, CancellationToken callerToken, CancellationTokenSource callCancellation, TimeSpan? timeout)
    {
        if (callerToken.IsCancellationRequested)
        {
            return new RpcException(StatusCode.Cancelled, "The call was cancelled by the caller.", error);
        }
        if (callCancellation.IsCancellationRequested)
        {
            // Only the deadline cancels the call's own source when the caller did not.
            return new RpcException(StatusCode.DeadlineExceeded,
                $"The call did not finish within its deadline of {timeout?.TotalMilliseconds:0.###} ms; whether a write was applied is unknown, so repeat it with the same operation id.", error);
        }
        if (Find<HttpProtocolException>(error) is { } protocolError)
        {
            var code = GrpcStatus.FromHttp2ErrorCode(protocolError.ErrorCode);
            return new RpcException(code, $"The server reset the call (HTTP/2 error 0x{protocolError.ErrorCode:X}).", error);
        }
        if (error is HttpRequestException { HttpRequestError: HttpRequestError.VersionNegotiationError })
        {
            return new RpcException(StatusCode.Unavailable, "The server does not speak HTTP/2 at this address; is this the gRPC address?", error);
        }
        var cause = Find<SocketException>(error)?.Message ?? Innermost(error).Message;
        if (error is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError })
        {
            // No connection, so nothing was sent: the call may simply be repeated later.
            return new RpcException(StatusCode.Unavailable, $"The server at {address} could not be reached ({cause}).", error);
        }
        return new RpcException(StatusCode.Unavailable,
            $"The connection to the server was lost during the call ({cause}); whether a write was applied is unknown, so repeat it with the same operation id.", error);
    }

    private static TException? Find<TException>(Exception error) where TException : Exception
    {
        for (Exception? current = error; current is not null; current = current.InnerException)
        {
            if (current is TException found) return found;
        }
        return null;
    }

    private static Exception Innermost(Exception error)
    {
        var current = error;
        while (current.InnerException is not null) current = current.InnerException;
        return current;
    }
}
