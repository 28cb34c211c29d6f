using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Tests.Support;

/// <summary>
/// Databases for tests. One embedded PostgreSQL cluster is shared by the whole test process (starting one
/// per test would dominate the run time); every test gets its own freshly created database on it, so tests
/// never see each other's data and can run in parallel.
/// </summary>
/// <remarks>
/// Set <c>LOYALTY_TEST_DB</c> to the connection string of an existing server (whose user may CREATE DATABASE)
/// to use that server instead of starting a cluster, e.g. where PostgreSQL binaries are not installed.
/// </remarks>
public static class TestDatabase
{
    /// <summary>Environment variable naming an external server to use instead of the embedded cluster.</summary>
    public const string ExternalServerVariable = "LOYALTY_TEST_DB";

    private const string TempDirectoryPrefix = "loyalty-tests-";

    // Lazy so that test runs that never touch a database never start PostgreSQL; ExecutionAndPublication so
    // tests racing for the first database start exactly one cluster.
    private static readonly Lazy<Task<EmbeddedPostgres?>> Cluster =
        new(() => Task.Run(StartClusterAsync), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Creates a new, empty database named <paramref name="namePrefix"/> (lower-cased, reduced to
    /// [a-z0-9_]) plus a short random suffix, and returns a connection string for it.
    /// </summary>
    public static async Task<string> CreateAsync(string namePrefix)
    {
        var name = UniqueName(namePrefix);
        var external = Environment.GetEnvironmentVariable(ExternalServerVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            await EmbeddedPostgres.CreateDatabaseIfMissingAsync(external, name, CancellationToken.None);
            return new NpgsqlConnectionStringBuilder(external) { Database = name }.ConnectionString;
        }

        var cluster = await ClusterAsync() ?? throw new InvalidOperationException("No embedded cluster although no external server is configured.");
        return await cluster.CreateDatabaseAsync(name);
    }

    /// <summary>The shared embedded cluster, started on first use; null when <c>LOYALTY_TEST_DB</c> is set.</summary>
    public static Task<EmbeddedPostgres?> ClusterAsync() => Cluster.Value;

    /// <summary>
    /// Creates an empty directory <c>&lt;temp&gt;/loyalty-tests-&lt;pid&gt;-&lt;random&gt;</c> with mode 0755, so that the
    /// postgres user can traverse it when tests run as root. The caller deletes it.
    /// </summary>
    public static string CreateTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), $"{TempDirectoryPrefix}{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        }

        return path;
    }

    /// <summary>Deletes a directory made by <see cref="CreateTempDirectory"/>, ignoring failures (it is only temp space).</summary>
    public static void DeleteTempDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only temp space; not worth failing a test over.
        }
    }

    internal static string UniqueName(string namePrefix)
    {
        var prefix = new StringBuilder();
        foreach (var c in namePrefix.ToLowerInvariant())
        {
            prefix.Append(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' ? c : '_');
        }

        // Unquoted identifiers must not start with a digit; keep names usable without quoting in psql.
        if (prefix.Length == 0 || char.IsAsciiDigit(prefix[0]))
        {
            prefix.Insert(0, "t_");
        }

        var suffix = "_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var maxPrefix = 63 - suffix.Length; // PostgreSQL identifiers are at most 63 bytes.
        return (prefix.Length > maxPrefix ? prefix.ToString(0, maxPrefix) : prefix.ToString()) + suffix;
    }

    private static async Task<EmbeddedPostgres?> StartClusterAsync()
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ExternalServerVariable)))
        {
            return null;
        }

        var root = CreateTempDirectory();
        EmbeddedPostgres? cluster = null;

        // xunit 2 has no assembly-level teardown, so cleanup hangs off ProcessExit. Registered before the
        // start so that a half-started cluster is cleaned up too.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                cluster?.StopAsync().GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"Could not stop the test PostgreSQL cluster in {root}: {e.Message}");
            }

            DeleteTempDirectory(root);
        };

        cluster = await EmbeddedPostgres.StartAsync(Path.Combine(root, "cluster"), line => Trace.WriteLine($"[test-db] {line}"));
        StartWatchdog(cluster, root);
        return cluster;
    }

    /// <summary>
    /// ProcessExit alone is not enough: <c>dotnet test</c> kills the test host about 100 ms after the run
    /// (VSTEST_TESTHOST_SHUTDOWN_TIMEOUT), which is less than a clean PostgreSQL shutdown takes, and a crashed
    /// or killed host never runs it. So a small detached process waits for this process to end and then stops
    /// the cluster and removes its directory. If ProcessExit got there first, its pg_ctl just finds nothing to stop.
    /// </summary>
    private static void StartWatchdog(EmbeddedPostgres cluster, string root)
    {
        // A fixed script; every value arrives as a positional parameter, so nothing is interpolated into shell code.
        const string script = """
            exec </dev/null >/dev/null 2>&1
            pid=$1; root=$2; shift 2
            while kill -0 "$pid"; do sleep 1; done
            "$@"
            rm -rf -- "$root"
            """;

        var arguments = new List<string> { "sh", "-c", script, "sh", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), root };
        if (Environment.IsPrivilegedProcess)
        {
            arguments.AddRange(["runuser", "-u", "postgres", "--"]); // as EmbeddedPostgres does: postgres refuses to run as root
        }

        arguments.AddRange([Path.Combine(cluster.BinDirectory, "pg_ctl"), "stop", "-D", cluster.Directory, "-m", "fast", "-w"]);

        // setsid puts the watchdog in its own session so a Ctrl+C aimed at the test run's process group spares it.
        var useSetsid = File.Exists("/usr/bin/setsid") || File.Exists("/bin/setsid");
        var startInfo = new ProcessStartInfo(useSetsid ? "setsid" : arguments[0])
        {
            UseShellExecute = false,
            // Redirected (and never read) so the watchdog does not hold on to the test runner's own pipes.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in useSetsid ? arguments : arguments.Skip(1))
        {
            startInfo.ArgumentList.Add(argument);
        }

        try
        {
            using var watchdog = Process.Start(startInfo);
        }
        catch (Win32Exception e)
        {
            Console.Error.WriteLine($"Could not start the cleanup watchdog for {root}; a killed test run will leave it behind: {e.Message}");
        }
    }
}
