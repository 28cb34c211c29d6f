using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;

namespace Loyalty.GrpcBenchmarks;

/// <summary>The outcome of one unary call: its gRPC status (0 = OK) and, when OK, the reply message's bytes.</summary>
public readonly record struct CallResult(int Status, ReadOnlyMemory<byte> Message, string? Error)
{
    public bool Ok => Status == 0;
}

/// <summary>
/// A lean unary gRPC caller over h2c: one <see cref="HttpClient"/> per HTTP/2 connection (each with its own
/// handler and multiple connections off, so N clients are exactly N connections), calls spread over them by
/// the caller's index. No per-call logging, no generated stubs; bodies are framed straight from the message.
/// </summary>
public sealed class RawGrpcClient : IDisposable
{
    /// <summary>No call may hang the benchmark: the client gives up after this, and tells the server the same deadline.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private static readonly string GrpcTimeoutHeader = $"{(int)CallTimeout.TotalSeconds}S";

    /// <summary>Local statuses for what never got a gRPC status: the HTTP exchange failed, or the reply was malformed.</summary>
    public const int TransportFailure = -1;
    public const int MalformedReply = -2;

    private readonly HttpClient[] _connections;
    private int _opened;

    public RawGrpcClient(Uri address, int connections)
    {
        _connections = new HttpClient[connections];
        for (var i = 0; i < connections; i++)
        {
            var handler = new SocketsHttpHandler
            {
                // One connection per handler: the spread over connections is ours, by caller index.
                EnableMultipleHttp2Connections = false,
                ConnectCallback = ConnectAsync,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                UseProxy = false,
                AllowAutoRedirect = false,
                UseCookies = false,
            };
            _connections[i] = new HttpClient(handler) { BaseAddress = address, Timeout = CallTimeout };
        }
    }

    /// <summary>TCP connections opened so far (a reconnect would show here as more than the connection count).</summary>
    public int ConnectionsOpened => Volatile.Read(ref _opened);

    public int ConnectionCount => _connections.Length;

    /// <summary>A method's path as a ready <see cref="Uri"/>, so no call parses it again.</summary>
    public Uri Method(string service, string method) => new(_connections[0].BaseAddress!, $"/{service}/{method}");

    /// <summary>Frames <paramref name="message"/> as one gRPC message: 0 (not compressed), big-endian length, bytes.</summary>
    public static byte[] Frame(IMessage message)
    {
        var size = message.CalculateSize();
        var body = new byte[5 + size];
        BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(1, 4), size);
        message.WriteTo(body.AsSpan(5));
        return body;
    }

    /// <summary>One unary call on connection <paramref name="connection"/> (taken modulo the connection count). Never throws for call failures.</summary>
    public async Task<CallResult> CallAsync(int connection, Uri method, byte[] body, string authorization, CancellationToken cancellationToken)
    {
        var http = _connections[connection % _connections.Length];
        using var request = new HttpRequestMessage(HttpMethod.Post, method)
        {
            Content = new ByteArrayContent(body),
            // The client's default version applies only to its shortcut methods, not to a message sent as is.
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("authorization", authorization);
        request.Headers.TryAddWithoutValidation("grpc-timeout", GrpcTimeoutHeader);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
                return new CallResult(TransportFailure, default, $"HTTP {(int)response.StatusCode}");
            // Trailers-Only replies carry the status in the headers; all others in the trailers.
            var status = Header(response.TrailingHeaders, "grpc-status") ?? Header(response.Headers, "grpc-status");
            if (status is null || !int.TryParse(status, out var code))
                return new CallResult(MalformedReply, default, "no grpc-status");
            if (code != 0)
            {
                var message = Header(response.TrailingHeaders, "grpc-message") ?? Header(response.Headers, "grpc-message");
                return new CallResult(code, default, message is null ? null : Uri.UnescapeDataString(message));
            }
            if (bytes.Length < 5 || BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4)) != bytes.Length - 5)
                return new CallResult(MalformedReply, default, $"an OK reply whose body of {bytes.Length} bytes is not one gRPC message");
            return new CallResult(0, bytes.AsMemory(5), null);
        }
        catch (Exception error) when (error is HttpRequestException or IOException or TaskCanceledException)
        {
            // Failures caused by our own cancellation are not the server's: the caller is stopping.
            cancellationToken.ThrowIfCancellationRequested();
            return new CallResult(TransportFailure, default, $"{error.GetType().Name}: {error.Message}");
        }
    }

    private static string? Header(System.Net.Http.Headers.HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>Plain TCP with Nagle off (small gRPC frames must not wait for ACKs), counted.</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            Interlocked.Increment(ref _opened);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var connection in _connections) connection.Dispose();
    }
}
