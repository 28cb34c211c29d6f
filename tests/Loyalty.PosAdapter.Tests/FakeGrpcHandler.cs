using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Loyalty.PosAdapter.Client;

namespace Loyalty.PosAdapter.Tests;

/// <summary>
/// Stands in for the HTTP/2 connection: hands each request to a function that makes the response,
/// so the channel's reading of statuses, trailers and failures is tested without a server.
/// </summary>
internal sealed class FakeGrpcHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
{
    public List<HttpRequestMessage> Requests { get; } = [];

    public List<byte[]> RequestBodies { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        lock (Requests)
        {
            Requests.Add(request);
            RequestBodies.Add(body);
        }
        return await respond(request, cancellationToken);
    }

    public static GrpcChannel Channel(FakeGrpcHandler handler, string? apiKey = "test-key", TimeSpan? defaultTimeout = null) =>
        new(new GrpcChannelOptions
        {
            Address = new Uri("http://loyalty.test:5080"),
            ApiKey = apiKey,
            DefaultTimeout = defaultTimeout ?? TimeSpan.FromSeconds(10),
        }, handler);

    /// <summary>A 200 gRPC response with these messages in the body and this status in the trailers.</summary>
    public static HttpResponseMessage Reply(IEnumerable<IMessage> messages, int status = 0, string? message = null)
    {
        var body = messages.SelectMany(item => GrpcFrame.Encode(item, int.MaxValue)).ToArray();
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = GrpcContent(body), Version = HttpVersion.Version20 };
        response.TrailingHeaders.TryAddWithoutValidation("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (message is not null) response.TrailingHeaders.TryAddWithoutValidation("grpc-message", GrpcMessageText.Encode(message));
        return response;
    }

    public static HttpResponseMessage Reply(IMessage message) => Reply([message]);

    /// <summary>A single HEADERS frame with END_STREAM: the status is in the headers.</summary>
    public static HttpResponseMessage TrailersOnly(int status, string message)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = GrpcContent([]), Version = HttpVersion.Version20 };
        response.Headers.TryAddWithoutValidation("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation("grpc-message", GrpcMessageText.Encode(message));
        return response;
    }

    public static ByteArrayContent GrpcContent(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        return content;
    }
}
