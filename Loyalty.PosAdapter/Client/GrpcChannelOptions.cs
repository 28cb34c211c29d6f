namespace Loyalty.PosAdapter.Client;

public sealed record GrpcChannelOptions
{
    /// <summary>The gRPC default, which the server also uses: a larger reply is refused with RESOURCE_EXHAUSTED.</summary>
    public const int DefaultMaxReceiveMessageBytes = 4 * 1024 * 1024;

    public const int DefaultMaxSendMessageBytes = 4 * 1024 * 1024;

    /// <summary>http:// speaks HTTP/2 with prior knowledge (h2c); https:// speaks HTTP/2 over TLS.</summary>
    public required Uri Address { get; init; }

    /// <summary>Sent as <c>authorization: Bearer &lt;key&gt;</c> on every call; null sends none.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The deadline of a unary call that gives none of its own. Streams have none by default.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public int MaxReceiveMessageBytes { get; init; } = DefaultMaxReceiveMessageBytes;

    public int MaxSendMessageBytes { get; init; } = DefaultMaxSendMessageBytes;

    /// <summary>
    /// A server that does not accept a connection within this is UNAVAILABLE sooner than the call's
    /// deadline would say, so a terminal can fall back to offline quickly.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// While calls are in flight the connection is pinged this often, so a server that vanished
    /// without closing the connection is noticed before every deadline runs out.
    /// </summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public string UserAgent { get; init; } = "loyalty-pos-dotnet/1.0";
}
