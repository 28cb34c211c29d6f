using System.Security.Cryptography;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Benchmarks;

/// <summary>
/// Where the benchmark's databases come from: the server named by <c>LOYALTY_DB</c> (one database, used
/// as it is), or a private cluster in a temporary directory with a fresh database per run, which is
/// stopped and deleted on dispose.
/// </summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    public const string ExternalVariable = "LOYALTY_DB";

    private readonly string? _external;
    private readonly EmbeddedPostgres? _cluster;
    private readonly string? _tempDirectory;

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

        // 0755: when we run as root the server runs as the postgres user, which must be able to pass through.
        var directory = Path.Combine(Path.GetTempPath(), $"loyalty-bench-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
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
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"could not delete {directory}: {error.Message}");
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
