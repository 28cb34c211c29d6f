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
    int MaxStreamsPerConnection,
    int MailboxCapacity,
    int MaxQueuedWrites,
    TimeSpan DatabaseWait)
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
            Number(configuration, MaxStreamsVariable, 256, 1, 10_000),
            Number(configuration, MailboxCapacityVariable, new Grains.Runtime.GrainRuntimeOptions().MailboxCapacity, 1, 100_000),
            Number(configuration, MaxQueuedWritesVariable, new Grains.Storage.GroupCommitOptions().MaxQueuedWrites, 1, 1_000_000),
            // After a power cut the server often comes up before PostgreSQL; two minutes covers a crash recovery.
            TimeSpan.FromSeconds(Number(configuration, DatabaseWaitVariable, 120, 0, 3_600)));
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
