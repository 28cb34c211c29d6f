using Microsoft.Extensions.Configuration;

namespace Loyalty.Silo;

/// <summary>
/// The server's settings, from environment variables or --NAME=value flags of the same names.
/// Validated at start-up with messages that name the setting.
/// </summary>
public sealed record SiloOptions(
    string DataDirectory,
    string? ConnectionString,
    Uri GrpcUrl,
    Uri HttpUrl,
    string? TlsCertificatePath,
    string? TlsKeyPath,
    int MaxConnections,
    int MaxStreamsPerConnection)
{
    public const string DataDirectoryVariable = "LOYALTY_DATA_DIR";
    public const string DatabaseVariable = "LOYALTY_DB";
    public const string GrpcUrlVariable = "LOYALTY_GRPC_URL";
    public const string HttpUrlVariable = "LOYALTY_HTTP_URL";
    public const string TlsCertificateVariable = "LOYALTY_TLS_CERT";
    public const string TlsKeyVariable = "LOYALTY_TLS_KEY";
    public const string MaxConnectionsVariable = "LOYALTY_MAX_CONNECTIONS";
    public const string MaxStreamsVariable = "LOYALTY_MAX_STREAMS_PER_CONNECTION";
    public const string MailboxCapacityVariable = "LOYALTY_MAILBOX_CAPACITY";
    public const string MaxQueuedWritesVariable = "LOYALTY_MAX_QUEUED_WRITES";
    public const string DatabaseWaitVariable = "LOYALTY_DB_WAIT_SECONDS";
    public const string RatePerKeyVariable = "LOYALTY_RATE_PER_KEY";
    public const string RateBurstVariable = "LOYALTY_RATE_BURST";
    public const string RequestBodyTimeoutVariable = "LOYALTY_REQUEST_BODY_TIMEOUT";
    public const string IdleConnectionTimeoutVariable = "LOYALTY_IDLE_CONNECTION_TIMEOUT";
    public const string MaxCallsInProgressVariable = "LOYALTY_MAX_CALLS_IN_PROGRESS";
    public const string SiloPortVariable = "LOYALTY_SILO_PORT";
    public const string SiloAddressVariable = "LOYALTY_SILO_ADDRESS";
    public const string ClusterIdVariable = "LOYALTY_CLUSTER_ID";

    /// <summary>
    /// Calls per second per API key. A busy register makes a few calls per receipt, a few receipts a
    /// minute; a thousand a second is far above honest use (a batch import included) and stops only
    /// a runaway loop. 0 turns the limit off.
    /// </summary>
    public const int DefaultRatePerKey = 1_000;
    /// <summary>Calls a key may make at once after a quiet spell: a register reconnecting with a backlog of offline receipts.</summary>
    public const int DefaultRateBurst = 2_000;
    /// <summary>Kestrel's own default for keep-alive, kept: a register idle between customers keeps its connection for two minutes.</summary>
    public const int DefaultIdleConnectionTimeoutSeconds = 130;

    /// <summary>Calls waiting for one card's turn; past it callers are refused at once.</summary>
    public int MailboxCapacity { get; init; } = new Grains.Runtime.CardGrainOptions().MailboxCapacity;
    /// <summary>Writes queued for the ledger writer; past it callers are refused at once.</summary>
    public int MaxQueuedWrites { get; init; } = new Grains.Storage.GroupCommitOptions().MaxQueuedWrites;
    /// <summary>
    /// How long a starting server waits for an unreachable database. After a power cut the server
    /// often comes up before PostgreSQL; two minutes covers a crash recovery.
    /// </summary>
    public TimeSpan DatabaseWait { get; init; } = TimeSpan.FromSeconds(DefaultDatabaseWaitSeconds);
    public const int DefaultDatabaseWaitSeconds = 120;

    /// <summary>Calls per second each API key may make (token bucket); 0 means no limit.</summary>
    public int RatePerKey { get; init; } = DefaultRatePerKey;
    /// <summary>The bucket's size: calls a key may make at once after a quiet spell.</summary>
    public int RateBurst { get; init; } = DefaultRateBurst;
    /// <summary>How long a request message may take to arrive in full; a client that stalls mid-message is cut off then.</summary>
    public TimeSpan RequestBodyTimeout { get; init; } = Api.Grpc.GrpcCallGuardOptions.DefaultRequestMessageTimeout;
    /// <summary>A connection with no call in progress for this long is closed (HTTP/2 GOAWAY); clients reconnect on their next call.</summary>
    public TimeSpan IdleConnectionTimeout { get; init; } = TimeSpan.FromSeconds(DefaultIdleConnectionTimeoutSeconds);
    /// <summary>gRPC calls in progress in the process; past it a new call gets RESOURCE_EXHAUSTED at once.</summary>
    public int MaxCallsInProgress { get; init; } = Api.Grpc.GrpcCallGuardOptions.DefaultMaxCallsInProgress;

    /// <summary>
    /// The Orleans silo this server runs: the cluster it joins (every server on the same database with
    /// the same cluster id is one cluster), the address the others dial, and the silo-to-silo port
    /// (0 picks a free one: for tests and several servers on one machine).
    /// </summary>
    public Grains.Cluster.SiloEndpoint Silo { get; init; } = new(Grains.Cluster.SiloEndpoint.DefaultClusterId, Grains.Cluster.SiloEndpoint.DefaultSiloPort, System.Net.IPAddress.Loopback);

    public const string DefaultGrpcUrl = "http://127.0.0.1:5080";
    public const string DefaultHttpUrl = "http://127.0.0.1:5081";

    public string AdminKeyPath => Path.Combine(DataDirectory, "admin.key");

    public static SiloOptions From(IConfiguration configuration)
    {
        var dataDirectory = Path.GetFullPath(Value(configuration, DataDirectoryVariable) ?? "./.data");
        var connectionString = Value(configuration, DatabaseVariable);
        if (connectionString is not null)
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            }
            catch (ArgumentException error)
            {
                throw new InvalidOperationException($"{DatabaseVariable} is not a valid PostgreSQL connection string: {error.Message}");
            }
        }
        var grpcUrl = ListenUrl(configuration, GrpcUrlVariable, DefaultGrpcUrl);
        var httpUrl = ListenUrl(configuration, HttpUrlVariable, DefaultHttpUrl);
        var certificate = Value(configuration, TlsCertificateVariable);
        var key = Value(configuration, TlsKeyVariable);
        if (grpcUrl.Scheme == Uri.UriSchemeHttps && (certificate is null || key is null))
            throw new InvalidOperationException($"{GrpcUrlVariable} is https, so {TlsCertificateVariable} and {TlsKeyVariable} must name a PEM certificate and its PEM key.");
        if (grpcUrl.Scheme == Uri.UriSchemeHttp && certificate is not null)
            throw new InvalidOperationException($"{TlsCertificateVariable} is set but {GrpcUrlVariable} is http; make it https to serve TLS.");
        return new SiloOptions(dataDirectory, connectionString, grpcUrl, httpUrl, certificate, key,
            Number(configuration, MaxConnectionsVariable, 10_000, 1, 1_000_000),
            Number(configuration, MaxStreamsVariable, 256, 1, 10_000))
        {
            MailboxCapacity = Number(configuration, MailboxCapacityVariable, new Grains.Runtime.CardGrainOptions().MailboxCapacity, 1, 100_000),
            MaxQueuedWrites = Number(configuration, MaxQueuedWritesVariable, new Grains.Storage.GroupCommitOptions().MaxQueuedWrites, 1, 1_000_000),
            DatabaseWait = TimeSpan.FromSeconds(Number(configuration, DatabaseWaitVariable, DefaultDatabaseWaitSeconds, 0, 3_600)),
            RatePerKey = Number(configuration, RatePerKeyVariable, DefaultRatePerKey, 0, 1_000_000),
            RateBurst = Number(configuration, RateBurstVariable, DefaultRateBurst, 1, 1_000_000),
            RequestBodyTimeout = TimeSpan.FromSeconds(Number(configuration, RequestBodyTimeoutVariable,
                (int)Api.Grpc.GrpcCallGuardOptions.DefaultRequestMessageTimeout.TotalSeconds, 1, 3_600)),
            IdleConnectionTimeout = TimeSpan.FromSeconds(Number(configuration, IdleConnectionTimeoutVariable, DefaultIdleConnectionTimeoutSeconds, 1, 86_400)),
            MaxCallsInProgress = Number(configuration, MaxCallsInProgressVariable, Api.Grpc.GrpcCallGuardOptions.DefaultMaxCallsInProgress, 1, 10_000_000),
            Silo = new Grains.Cluster.SiloEndpoint(ClusterId(configuration),
                Number(configuration, SiloPortVariable, Grains.Cluster.SiloEndpoint.DefaultSiloPort, 0, 65_535), SiloAddress(configuration)),
        };
    }

    private static string ClusterId(IConfiguration configuration)
    {
        var text = Value(configuration, ClusterIdVariable) ?? Grains.Cluster.SiloEndpoint.DefaultClusterId;
        if (text.Length > 64 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new InvalidOperationException($"{ClusterIdVariable} must be 1 to 64 letters, digits, '-', '_' or '.'; \"{text}\" was given.");
        return text;
    }

    private static System.Net.IPAddress SiloAddress(IConfiguration configuration)
    {
        var text = Value(configuration, SiloAddressVariable) ?? "127.0.0.1";
        if (!System.Net.IPAddress.TryParse(text, out var address) || address.Equals(System.Net.IPAddress.Any) || address.Equals(System.Net.IPAddress.IPv6Any))
            throw new InvalidOperationException($"{SiloAddressVariable} must be this server's IP address as the other servers reach it (not 0.0.0.0); \"{text}\" was given.");
        return address;
    }

    private static string? Value(IConfiguration configuration, string name) =>
        configuration[name] is { Length: > 0 } value ? value : null;

    private static Uri ListenUrl(IConfiguration configuration, string name, string fallback)
    {
        var text = Value(configuration, name) ?? fallback;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.AbsolutePath != "/")
            throw new InvalidOperationException($"{name} must be an address like {fallback} (scheme, host, port; port 0 picks a free one); \"{text}\" was given.");
        return url;
    }

    private static int Number(IConfiguration configuration, string name, int fallback, int min, int max)
    {
        var text = Value(configuration, name);
        if (text is null) return fallback;
        if (!int.TryParse(text, out var value) || value < min || value > max)
            throw new InvalidOperationException($"{name} must be a whole number from {min} to {max}; \"{text}\" was given.");
        return value;
    }
}
