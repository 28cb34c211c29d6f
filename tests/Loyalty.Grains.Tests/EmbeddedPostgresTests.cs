using System.Diagnostics;
using System.Runtime.Versioning;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;
using Npgsql;

namespace Loyalty.Grains.Tests;

/// <summary>
/// Behaviour of the embedded PostgreSQL cluster. Tests that only read share one cluster (a start costs
/// a couple of seconds); tests about starting and stopping get a cluster of their own.
/// </summary>
[UnsupportedOSPlatform("windows")] // PostgreSQL is run from Unix binaries and file modes are Unix modes.
public sealed class EmbeddedPostgresTests(EmbeddedPostgresTests.SharedCluster shared) : IClassFixture<EmbeddedPostgresTests.SharedCluster>
{
    private readonly EmbeddedPostgres _cluster = shared.Cluster;

    [Fact]
    public async Task A_started_cluster_accepts_connections_with_its_password()
    {
        await using var connection = new NpgsqlConnection(_cluster.ConnectionString);
        await connection.OpenAsync();

        Assert.Equal("loyalty", await ScalarAsync<string>(connection, "SELECT current_user"));
        Assert.Equal("postgres", await ScalarAsync<string>(connection, "SELECT current_database()"));
        Assert.Equal(1, await ScalarAsync<int>(connection, "SELECT 1"));
        Assert.Equal(_cluster.Port, new NpgsqlConnectionStringBuilder(_cluster.ConnectionString).Port);
        Assert.True(File.Exists(Path.Combine(_cluster.BinDirectory, "pg_ctl")));
    }

    [Fact]
    public async Task The_cluster_listens_only_on_loopback_and_keeps_durability_on()
    {
        await using var connection = new NpgsqlConnection(_cluster.ConnectionString);
        await connection.OpenAsync();

        Assert.Equal("127.0.0.1", await ScalarAsync<string>(connection, "SHOW listen_addresses"));
        Assert.Equal("", await ScalarAsync<string>(connection, "SHOW unix_socket_directories"));
        Assert.Equal("on", await ScalarAsync<string>(connection, "SHOW fsync"));
        Assert.Equal("on", await ScalarAsync<string>(connection, "SHOW synchronous_commit"));
        Assert.Equal("300", await ScalarAsync<string>(connection, "SHOW max_connections"));
        Assert.Equal("256MB", await ScalarAsync<string>(connection, "SHOW shared_buffers"));
    }

    [Fact]
    public async Task Connecting_without_the_password_is_refused()
    {
        var withoutPassword = new NpgsqlConnectionStringBuilder(_cluster.ConnectionString) { Password = null, Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(withoutPassword);

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => connection.OpenAsync());
    }

    [Fact]
    public async Task Connecting_with_a_wrong_password_is_refused()
    {
        var wrongPassword = new NpgsqlConnectionStringBuilder(_cluster.ConnectionString) { Password = "not-the-password", Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(wrongPassword);

        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
        Assert.Equal(PostgresErrorCodes.InvalidPassword, error.SqlState);
    }

    [Fact]
    public async Task The_password_file_is_readable_only_by_its_owner_the_invoking_user()
    {
        var passwordFile = Path.Combine(_cluster.Directory, "password");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(passwordFile));
        Assert.Equal(await RunAsync("id", "-u"), await RunAsync("stat", "-c", "%u", passwordFile));
        Assert.Equal(64, (await File.ReadAllTextAsync(passwordFile)).Trim().Length); // 32 random bytes, hex
    }

    [Fact]
    public async Task Creating_the_same_database_twice_is_harmless()
    {
        var name = TestDatabase.UniqueName("twice");

        var first = await _cluster.CreateDatabaseAsync(name);
        var second = await _cluster.CreateDatabaseAsync(name);

        Assert.Equal(first, second);
        await using var connection = new NpgsqlConnection(second);
        await connection.OpenAsync();
        Assert.Equal(name, await ScalarAsync<string>(connection, "SELECT current_database()"));
    }

    [Fact]
    public async Task Data_survives_a_stop_and_a_restart_on_the_same_directory()
    {
        var root = TestDatabase.CreateTempDirectory();
        try
        {
            var directory = Path.Combine(root, "cluster");
            var progress = new List<string>();
            var first = await EmbeddedPostgres.StartAsync(directory, progress.Add);
            Assert.Contains(progress, line => line.StartsWith($"initialising PostgreSQL cluster in {directory}", StringComparison.Ordinal));
            Assert.Contains(progress, line => line.StartsWith($"PostgreSQL listening on 127.0.0.1:{first.Port}", StringComparison.Ordinal));
            await ExecuteAsync(first.ConnectionString, "CREATE TABLE kept (id int PRIMARY KEY, note text); INSERT INTO kept VALUES (1, 'still here');");
            await first.StopAsync();
            await first.StopAsync(); // idempotent

            await using var second = await EmbeddedPostgres.StartAsync(directory);
            await using var connection = new NpgsqlConnection(second.ConnectionString);
            await connection.OpenAsync();
            Assert.Equal("still here", await ScalarAsync<string>(connection, "SELECT note FROM kept WHERE id = 1"));
        }
        finally
        {
            await DeleteClusterDirectoryAsync(root);
        }
    }

    [Fact]
    public async Task Starting_over_a_server_left_running_by_an_earlier_run_replaces_it()
    {
        var root = TestDatabase.CreateTempDirectory();
        try
        {
            var directory = Path.Combine(root, "cluster");
            var abandoned = await EmbeddedPostgres.StartAsync(directory); // never stopped, like a crashed host

            await using var replacement = await EmbeddedPostgres.StartAsync(directory);

            await ExecuteAsync(replacement.ConnectionString, "SELECT 1");
            var oldServer = new NpgsqlConnectionStringBuilder(abandoned.ConnectionString) { Pooling = false, Timeout = 2 }.ConnectionString;
            if (abandoned.Port != replacement.Port)
            {
                await Assert.ThrowsAnyAsync<NpgsqlException>(() => ExecuteAsync(oldServer, "SELECT 1"));
            }
        }
        finally
        {
            await DeleteClusterDirectoryAsync(root);
        }
    }

    [Fact]
    public async Task A_stale_pid_file_from_a_killed_run_does_not_prevent_a_start()
    {
        var root = TestDatabase.CreateTempDirectory();
        try
        {
            var directory = Path.Combine(root, "cluster");
            var pidFile = Path.Combine(directory, "postmaster.pid");
            var first = await EmbeddedPostgres.StartAsync(directory);
            var pidFileOfLiveServer = await File.ReadAllBytesAsync(pidFile);
            await first.StopAsync();
            await File.WriteAllBytesAsync(pidFile, pidFileOfLiveServer); // what a SIGKILL would have left behind

            await using var second = await EmbeddedPostgres.StartAsync(directory);

            await ExecuteAsync(second.ConnectionString, "SELECT 1");
        }
        finally
        {
            await DeleteClusterDirectoryAsync(root);
        }
    }

    [Fact]
    public async Task A_non_empty_directory_that_is_not_a_cluster_is_refused()
    {
        var root = TestDatabase.CreateTempDirectory();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, "precious.txt"), "do not overwrite");

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => EmbeddedPostgres.StartAsync(root));

            Assert.Contains("not empty", error.Message);
            Assert.True(File.Exists(Path.Combine(root, "precious.txt")));
        }
        finally
        {
            await DeleteClusterDirectoryAsync(root);
        }
    }

    [Fact]
    public async Task As_root_a_directory_the_postgres_user_cannot_traverse_is_reported_by_name()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return; // Only root hands the cluster to another user.
        }

        var root = TestDatabase.CreateTempDirectory();
        try
        {
            var closed = Path.Combine(root, "closed");
            Directory.CreateDirectory(closed);
            File.SetUnixFileMode(closed, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => EmbeddedPostgres.StartAsync(Path.Combine(closed, "cluster")));

            Assert.Contains($"'{closed}'", error.Message);
        }
        finally
        {
            await DeleteClusterDirectoryAsync(root);
        }
    }

    [Fact]
    public async Task Test_databases_from_the_shared_helper_are_separate_and_empty()
    {
        var first = await TestDatabase.CreateAsync("EmbeddedPostgres Tests");
        var second = await TestDatabase.CreateAsync("EmbeddedPostgres Tests");

        var firstName = new NpgsqlConnectionStringBuilder(first).Database;
        var secondName = new NpgsqlConnectionStringBuilder(second).Database;
        Assert.NotEqual(firstName, secondName);
        Assert.Matches("^embeddedpostgres_tests_[0-9a-f]{8}$", firstName);

        await ExecuteAsync(first, "CREATE TABLE only_in_first (id int)");
        await using var connection = new NpgsqlConnection(second);
        await connection.OpenAsync();
        Assert.Equal(0L, await ScalarAsync<long>(connection, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_first'"));
    }

    [Theory]
    [InlineData("Orders", "^orders_[0-9a-f]{8}$")]
    [InlineData("9 lives/x", "^t_9_lives_x_[0-9a-f]{8}$")]
    [InlineData("", "^t__[0-9a-f]{8}$")]
    public void Test_database_names_are_lower_case_identifiers_with_a_random_suffix(string prefix, string pattern)
    {
        Assert.Matches(pattern, TestDatabase.UniqueName(prefix));
        Assert.True(TestDatabase.UniqueName(new string('x', 200)).Length <= 63);
    }

    /// <summary>
    /// Stops whatever server a failed test may have left running in <paramref name="root"/>/cluster before
    /// deleting it; deleting the directory under a running postmaster would leave that process behind.
    /// </summary>
    private static async Task DeleteClusterDirectoryAsync(string root)
    {
        var directory = Path.Combine(root, "cluster");
        if (File.Exists(Path.Combine(directory, "postmaster.pid")))
        {
            await EmbeddedPostgres.StopLeftoverServerAsync(directory, log: null, CancellationToken.None);
        }

        TestDatabase.DeleteTempDirectory(root);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string> RunAsync(string fileName, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(fileName, arguments) { RedirectStandardOutput = true };
        using var process = Process.Start(startInfo)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Trim();
    }

    /// <summary>One cluster for the tests in this class that do not start or stop servers themselves.</summary>
    public sealed class SharedCluster : IAsyncLifetime
    {
        private string? _root;
        private EmbeddedPostgres? _cluster;

        public EmbeddedPostgres Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not been started.");

        public async Task InitializeAsync()
        {
            _root = TestDatabase.CreateTempDirectory();
            _cluster = await EmbeddedPostgres.StartAsync(Path.Combine(_root, "cluster"));
        }

        public async Task DisposeAsync()
        {
            if (_cluster is not null)
            {
                await _cluster.StopAsync();
            }

            if (_root is not null)
            {
                TestDatabase.DeleteTempDirectory(_root);
            }
        }
    }
}
