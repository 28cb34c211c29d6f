using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Loyalty.Api.Tests.Support;

/// <summary>What came back from a call, read straight off HTTP/2: status line, headers, body bytes and trailers.</summary>
public sealed record RawReply(HttpStatusCode HttpStatus, HttpResponseHeaders Headers, string? ContentType, byte[] Body, HttpResponseHeaders Trailers)
{
    /// <summary>grpc-status from the trailers, or from the headers of a Trailers-Only reply.</summary>
    public int? GrpcStatus => int.TryParse(Value("grpc-status"), out var s) ? s : null;

    public string? GrpcMessage => Value("grpc-message") is { } m ? Uri.UnescapeDataString(m) : null;

    public bool TrailersOnly => Headers.Contains("grpc-status");

    public T Message<T>(MessageParser<T> parser) where T : IMessage<T>
    {
        Assert.True(Body.Length >= 5, $"The reply has no message (status {GrpcStatus}: {GrpcMessage}).");
        var length = BinaryPrimitives.ReadInt32BigEndian(Body.AsSpan(1, 4));
        Assert.Equal(Body.Length, 5 + length);
        return parser.ParseFrom(Body.AsSpan(5, length));
    }

    private string? Value(string name) =>
        Trailers.TryGetValues(name, out var t) ? t.First()
        : Headers.TryGetValues(name, out var h) ? h.First()
        : null;
}

/// <summary>
/// gRPC calls made by hand with HttpClient over h2c, so the tests see exactly what the server puts
/// on the wire (and can send what no well-behaved client would).
/// </summary>
public sealed class RawGrpc(Uri address) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
    {
        BaseAddress = address,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(60),
    };

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    /// <summary>A frame with the compressed flag set around <paramref name="payload"/> gzip-compressed.</summary>
    public static byte[] GzipFrame(byte[] payload)
    {
        using var output = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(payload);
        var frame = Frame(output.ToArray());
        frame[0] = 1;
        return frame;
    }

    public static byte[] Frame(byte[] payload)
    {
        var framed = new byte[5 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(1), payload.Length);
        payload.CopyTo(framed, 5);
        return framed;
    }

    public Task<RawReply> CallAsync(string path, IMessage request, string? key = null, string? timeout = null) =>
        SendAsync(path, Frame(request), key, timeout: timeout);

    public async Task<RawReply> SendAsync(string path, byte[] body, string? key = null, string contentType = "application/grpc", string method = "POST", string? timeout = null, string? encoding = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = new ByteArrayContent(body),
            // The client's default version applies only to its shortcut methods, not to a message sent as is.
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (key is not null) request.Headers.TryAddWithoutValidation("authorization", $"Bearer {key}");
        if (timeout is not null) request.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        if (encoding is not null) request.Headers.TryAddWithoutValidation("grpc-encoding", encoding);
        using var response = await _http.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        return new RawReply(response.StatusCode, response.Headers, response.Content.Headers.ContentType?.MediaType, bytes, response.TrailingHeaders);
    }

    public void Dispose() => _http.Dispose();
}
