using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Loyalty.Fuzz;

/// <summary>A reply as the fuzz classifies it: "grpc CODE", "http NNN" (no grpc-status), "rst CODE" or "connection lost".</summary>
public sealed record CallOutcome(string Outcome, int? GrpcStatus, string? GrpcMessage, byte[] Body)
{
    public bool IsOk => GrpcStatus == 0;

    public T Message<T>(MessageParser<T> parser) where T : IMessage<T> =>
        Body.Length >= 5 ? parser.ParseFrom(Body.AsSpan(5, BinaryPrimitives.ReadInt32BigEndian(Body.AsSpan(1, 4)))) : throw new InvalidOperationException($"No message in the reply ({Outcome}: {GrpcMessage}).");
}

/// <summary>
/// gRPC calls made by hand over HttpClient (h2c, prior knowledge), with any bytes as the body, so a
/// mutated message reaches the server as is. Failures of the transport are outcomes, not exceptions.
/// </summary>
public sealed class GrpcCaller(Uri address) : IDisposable
{
    /// <summary>No single fuzz call should take longer; past it the call counts as "no answer".</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    private readonly HttpClient _http = new(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
    {
        BaseAddress = address,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = CallTimeout,
    };

    public static byte[] Frame(byte[] payload, bool compressed = false, long? declaredLength = null)
    {
        var framed = new byte[5 + payload.Length];
        framed[0] = (byte)(compressed ? 1 : 0);
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)(declaredLength ?? payload.Length));
        payload.CopyTo(framed, 5);
        return framed;
    }

    public Task<CallOutcome> CallAsync(string path, IMessage request, string? key, CancellationToken cancellationToken = default) =>
        SendAsync(path, Frame(request.ToByteArray()), key, cancellationToken: cancellationToken);

    public async Task<CallOutcome> SendAsync(string path, byte[] body, string? key, IEnumerable<(string, string)>? headers = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (key is not null) request.Headers.TryAddWithoutValidation("authorization", $"Bearer {key}");
        foreach (var (name, value) in headers ?? []) request.Headers.TryAddWithoutValidation(name, value);
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            var status = Value(response, "grpc-status");
            if (int.TryParse(status, out var code))
            {
                var message = Value(response, "grpc-message") is { } m ? Uri.UnescapeDataString(m) : null;
                return new CallOutcome($"grpc {((StatusCode)code).ToWireName()}", code, message, bytes);
            }
            return new CallOutcome($"http {(int)response.StatusCode}", null, null, bytes);
        }
        catch (HttpRequestException error) when (error.InnerException is HttpProtocolException protocol)
        {
            return new CallOutcome($"rst {Http2Connection.ErrorName((uint)protocol.ErrorCode)}", null, error.Message, []);
        }
        catch (HttpProtocolException error)
        {
            return new CallOutcome($"rst {Http2Connection.ErrorName((uint)error.ErrorCode)}", null, error.Message, []);
        }
        catch (HttpRequestException error)
        {
            return new CallOutcome("connection lost", null, error.Message, []);
        }
        catch (IOException error)
        {
            return new CallOutcome("connection lost", null, error.Message, []);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CallOutcome("no answer", null, $"no answer within {CallTimeout.TotalSeconds:0} s", []);
        }
    }

    private static string? Value(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var t) ? t.First()
        : response.Headers.TryGetValues(name, out var h) ? h.First()
        : null;

    public void Dispose() => _http.Dispose();
}
