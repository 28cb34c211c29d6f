using Microsoft.AspNetCore.Http;

namespace Loyalty.Api.Grpc;

/// <summary>What a method handler knows of its call besides the request message.</summary>
public sealed class ServerCallContext(HttpContext http, string method, CancellationToken cancellationToken, DateTimeOffset? deadline)
{
    /// <summary>The full method path, e.g. "/loyalty.v1.Cards/Redeem".</summary>
    public string Method { get; } = method;

    /// <summary>Cancelled when the client goes away or the call's deadline (grpc-timeout) passes.</summary>
    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>When the client stops waiting, if it said so.</summary>
    public DateTimeOffset? Deadline { get; } = deadline;

    public HttpContext HttpContext => http;

    /// <summary>A request metadata value (names are lower-case on the wire), or null.</summary>
    public string? Header(string name) =>
        http.Request.Headers.TryGetValue(name, out var values) && values.Count > 0 ? values[0] : null;

    /// <summary>Per-call values set by the application (for example the authenticated caller).</summary>
    public IDictionary<object, object?> Items => http.Items;
}

/// <summary>Sends the messages of a server-streaming reply, each flushed as it is written.</summary>
public interface IServerStreamWriter<in T>
{
    Task WriteAsync(T message, CancellationToken cancellationToken);
}
