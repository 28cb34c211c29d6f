namespace Loyalty.PosAdapter.Client;

/// <summary>
/// How a <see cref="LoyaltyClient"/> reaches the server: address, key, default deadline and the
/// connection's limits. Checked when the client is made (<see cref="ArgumentException"/>).
/// </summary>
public sealed record LoyaltyClientOptions
{
    /// <summary>The gRPC default, which the server also uses: a larger reply is refused with RESOURCE_EXHAUSTED.</summary>
    public const int DefaultMaxReceiveMessageBytes = 4 * 1024 * 1024;

    /// <summary>A larger request is refused locally with RESOURCE_EXHAUSTED before it is sent.</summary>
    public const int DefaultMaxSendMessageBytes = 4 * 1024 * 1024;

    /// <summary>http:// speaks HTTP/2 with prior knowledge (h2c); https:// speaks HTTP/2 over TLS.</summary>
    public required Uri Address { get; init; }

    /// <summary>Sent as <c>authorization: Bearer &lt;key&gt;</c> on every call; null sends none.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The deadline of a unary call that gives none of its own. Streams have none by default.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes of one reply message, at most.</summary>
    public int MaxReceiveMessageBytes { get; init; } = DefaultMaxReceiveMessageBytes;

    /// <summary>Bytes of one request message, at most.</summary>
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

    /// <summary>A ping not answered within this closes the connection; its calls end UNAVAILABLE.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
