using System.Security.Cryptography;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Benchmarks;

/// <summary>
/// Where the benchmarks' databases come from: the server named by <c>LOYALTY_DB</c>, or a private cluster
/// in a temporary directory, stopped and deleted on dispose. <see cref="DatabaseForAsync"/> gives the
/// engine benchmark a fresh database on the cluster or the external one as it is;
/// <see cref="CreateDatabaseAsync"/> always makes a fresh one (dropped on dispose when external).
/// </summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    public const string ExternalVariable = "LOYALTY_DB";

    private readonly string? _external;
    private readonly EmbeddedPostgres? _cluster;
    private readonly string? _tempDirectory;
    private readonly List<string> _created = [];

    private BenchDatabase(string? external, EmbeddedPostgres? cluster, string? tempDirectory)
    {
        _external = external;
        _cluster = cluster;
        _tempDirectory = tempDirectory;
    }

    public bool IsExternal => _external is not null;

    /// <summary>The binaries of the temporary cluster (pgbench among them); null for an external server.</summary>
    public string? BinDirectory => _cluster?.BinDirectory;

    /// <summary>The temporary cluster's data directory, for reading its server's CPU use; null for an external server.</summary>
    public string? LocalDataDirectory => _cluster?.Directory;

    /// <summary>The temporary cluster, which the overload benchmark stops and starts again; null for an external server.</summary>
    public EmbeddedPostgres? Cluster => _cluster;

    public string Description => _external is not null
        ? $"external server ({Redacted(_external)}) from {ExternalVariable}"
        : $"temporary cluster in {_cluster!.Directory}";

    public static async Task<BenchDatabase> OpenAsync(Action<string> log, CancellationToken cancellationToken)
    {
        var external = Environment.GetEnvironmentVariable(ExternalVariable);
        if (!string.IsNullOrWhiteSpace(external))
            return new BenchDatabase(external, null, null);
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException($"Without {ExternalVariable} the benchmark starts PostgreSQL itself, which needs a Unix-like OS.");

        var directory = CreateTempDirectory("loyalty-bench");
        try
        {
            var cluster = await EmbeddedPostgres.StartAsync(Path.Combine(directory, "pgdata"), log, cancellationToken);
            return new BenchDatabase(null, cluster, directory);
        }
        catch
        {
            TryDelete(directory);
            throw;
        }
    }

    /// <summary>A connection string for a run: a new database on the embedded cluster, the external one otherwise.</summary>
    public async Task<string> DatabaseForAsync(string name, CancellationToken cancellationToken) =>
        _cluster is not null ? await _cluster.CreateDatabaseAsync(name, cancellationToken) : _external!;

    /// <summary>Creates database <paramref name="name"/> (new for this run) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        if (_cluster is not null) return await _cluster.CreateDatabaseAsync(name, cancellationToken);
        try
        {
            await EmbeddedPostgres.CreateDatabaseIfMissingAsync(_external!, name, cancellationToken);
        }
        catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new InvalidOperationException($"The role in {ExternalVariable} may not create databases ({error.MessageText}); the benchmark needs fresh databases.", error);
        }
        _created.Add(name);
        return new NpgsqlConnectionStringBuilder(_external) { Database = name }.ConnectionString;
    }

    /// <summary>A directory under the temp directory with mode 0755: when we run as root the cluster runs as the postgres user, which must pass through.</summary>
    public static string CreateTempDirectory(string prefix)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"{prefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(directory,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return directory;
    }

    public static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"could not delete {directory}: {error.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            try
            {
                await _cluster.StopAsync();
            }
            finally
            {
                if (_tempDirectory is not null) TryDelete(_tempDirectory);
            }
            return;
        }
        foreach (var name in _created)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_external);
                await connection.OpenAsync();
                // FORCE: a pooled connection of ours may still be open on it.
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\" WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
            }
            catch (Exception error) when (error is NpgsqlException or InvalidOperationException)
            {
                Console.Error.WriteLine($"could not drop the benchmark's database {name}: {error.Message}");
            }
        }
    }

    private static string Redacted(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString) { Password = null };
            return $"{builder.Host}:{builder.Port}/{builder.Database}";
        }
        catch (ArgumentException)
        {
            return "unparsable connection string";
        }
    }
}
