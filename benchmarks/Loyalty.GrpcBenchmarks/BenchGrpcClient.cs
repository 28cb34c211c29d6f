using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Loyalty.GrpcBenchmarks;

/// <summary>The outcome of one unary call: its gRPC status (0 = OK) and, when OK, the reply message's bytes.</summary>
public readonly record struct CallResult(int Status, ReadOnlyMemory<byte> Message, string? Error)
{
    public bool Ok => Status == 0;
}

/// <summary>
/// A lean unary caller on the stock Grpc.Net.Client: one <see cref="GrpcChannel"/> per HTTP/2
/// connection (each with its own handler and multiple connections off, so N channels are exactly N
/// connections), calls spread over them by the caller's index. Messages pass as bytes through a
/// pass-through marshaller, so the client's own CPU per call is the channel's framing and HTTP/2,
/// not protobuf work the server side of the benchmark does not measure either.
/// </summary>
public sealed class BenchGrpcClient : IDisposable
{
    /// <summary>No call may hang the benchmark: the client gives up after this, and tells the server the same deadline.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Local status for what never got a gRPC status from the server: the connection failed or the reply was unreadable.</summary>
    public const int TransportFailure = -1;

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(static bytes => bytes, static bytes => bytes);

    private readonly GrpcChannel[] _channels;
    private readonly CallInvoker[] _invokers;
    private int _opened;

    public BenchGrpcClient(Uri address, int connections) : this([address], connections) { }

    /// <summary>Connection i goes to <paramref name="addresses"/>[i mod their count].</summary>
    public BenchGrpcClient(IReadOnlyList<Uri> addresses, int connections)
    {
        _channels = new GrpcChannel[connections];
        _invokers = new CallInvoker[connections];
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
            _channels[i] = GrpcChannel.ForAddress(addresses[i % addresses.Count], new GrpcChannelOptions
            {
                HttpHandler = handler,
                DisposeHttpClient = true,
                // The benchmark counts every refusal; a retry inside the channel would hide some.
                MaxRetryAttempts = 0,
            });
            _invokers[i] = _channels[i].CreateCallInvoker();
        }
    }

    /// <summary>TCP connections opened so far (a reconnect would show here as more than the connection count).</summary>
    public int ConnectionsOpened => Volatile.Read(ref _opened);

    public int ConnectionCount => _channels.Length;

    /// <summary>A unary method of <paramref name="service"/> (full name, e.g. loyalty.v1.Cards), made once and reused.</summary>
    public static Method<byte[], byte[]> Method(string service, string method) => new(MethodType.Unary, service, method, Bytes, Bytes);

    /// <summary>The message's bytes, encoded once by the caller so no call encodes it again.</summary>
    public static byte[] Encode(IMessage message) => message.ToByteArray();

    /// <summary>One unary call on connection <paramref name="connection"/> (taken modulo the connection count). Never throws for call failures.</summary>
    public async Task<CallResult> CallAsync(int connection, Method<byte[], byte[]> method, byte[] request, string authorization, CancellationToken cancellationToken)
    {
        var invoker = _invokers[connection % _invokers.Length];
        var options = new CallOptions(new Metadata { { "authorization", authorization } }, DateTime.UtcNow + CallTimeout, cancellationToken);
        try
        {
            using var call = invoker.AsyncUnaryCall(method, host: null, options, request);
            return new CallResult(0, await call.ResponseAsync, null);
        }
        catch (RpcException error)
        {
            // Failures caused by our own cancellation are not the server's: the caller is stopping.
            cancellationToken.ThrowIfCancellationRequested();
            var clientMade = error.Status.DebugException is not null && error.StatusCode is not (Grpc.Core.StatusCode.DeadlineExceeded or Grpc.Core.StatusCode.Cancelled);
            return new CallResult(clientMade ? TransportFailure : (int)error.StatusCode, default, error.Status.Detail);
        }
    }

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
        foreach (var channel in _channels) channel.Dispose();
    }
}
