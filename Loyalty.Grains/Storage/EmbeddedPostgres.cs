using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Loyalty.Grains.Storage;

/// <summary>
/// A private PostgreSQL cluster run from the machine's PostgreSQL binaries, for development, tests and
/// benchmarks. The cluster lives entirely in one directory, listens only on 127.0.0.1 on a port chosen
/// at each start, and requires a password (SCRAM) that is kept in <c>&lt;directory&gt;/password</c>.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root. When this process is root the binaries are run as the OS user
/// <c>postgres</c> through <c>runuser</c>, which means the cluster directory is owned by that user and
/// every directory above it must be traversable by other users.
/// </remarks>
public sealed class EmbeddedPostgres : IAsyncDisposable
{
    /// <summary>The superuser created by initdb. Not "postgres" so nothing relies on the default name.</summary>
    private const string SuperUser = "loyalty";

    /// <summary>OS account that runs the server when this process is root.</summary>
    private const string ServiceUser = "postgres";

    private const string PasswordFileName = "password";

    /// <summary>How long a start may take before we give up and report the server log.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Settings written once into postgresql.conf by initialisation. Durability settings are spelled out
    /// (even though they are PostgreSQL's defaults) so that nobody "tunes" them away later without noticing:
    /// the storage layer relies on a committed transaction surviving a crash.
    /// </summary>
    private static readonly string[] InitialSettings =
    [
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        "max_connections = 300",
        "shared_buffers = 256MB",
        "fsync = on",
        "synchronous_commit = on",
        "full_page_writes = on",
    ];

    /// <summary>Connection strings handed out, so their (now useless) pools can be cleared on stop.</summary>
    private readonly ConcurrentDictionary<string, byte> _issuedConnectionStrings = new();
    private readonly SemaphoreSlim _stopLock = new(1, 1);
    private readonly Action<string>? _log;
    private readonly bool _runAsServiceUser;
    private readonly string _password;
    private bool _stopped;

    private EmbeddedPostgres(string directory, string binDirectory, int port, string password, bool runAsServiceUser, Action<string>? log)
    {
        Directory = directory;
        BinDirectory = binDirectory;
        Port = port;
        _password = password;
        _runAsServiceUser = runAsServiceUser;
        _log = log;
        ConnectionString = ConnectionStringFor("postgres");
    }

    /// <summary>Connection string for database <c>postgres</c> as the cluster's superuser, including the password.</summary>
    public string ConnectionString { get; }

    /// <summary>The TCP port on 127.0.0.1 the server listens on (chosen afresh at every start).</summary>
    public int Port { get; }

    /// <summary>The cluster (data) directory.</summary>
    public string Directory { get; }

    /// <summary>The PostgreSQL bin directory in use, where pgbench, psql etc. can be found for benchmarks.</summary>
    public string BinDirectory { get; }

    /// <summary>
    /// Creates the cluster if <paramref name="directory"/> does not contain one yet (no <c>PG_VERSION</c>),
    /// starts it on a free port on 127.0.0.1 and waits until it accepts connections.
    /// </summary>
    /// <param name="directory">Cluster directory; created if missing. Must be empty or an existing cluster made by this class.</param>
    /// <param name="log">Receives human-readable progress lines.</param>
    /// <param name="cancellationToken">Cancels the start; a half-started server is stopped again.</param>
    /// <exception cref="InvalidOperationException">The cluster cannot be created or started; the message says why (including the tail of the server log where relevant).</exception>
    public static async Task<EmbeddedPostgres> StartAsync(string directory, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("EmbeddedPostgres needs a Unix-like OS with PostgreSQL installed.");
        }

        var dataDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        System.IO.Directory.CreateDirectory(dataDirectory);

        // IsPrivilegedProcess is geteuid() == 0 on Unix: exactly the case in which postgres refuses to run.
        var asServiceUser = Environment.IsPrivilegedProcess;
        if (asServiceUser)
        {
            await EnsureServiceUserCanReachAsync(dataDirectory, cancellationToken).ConfigureAwait(false);
        }

        var versionFile = Path.Combine(dataDirectory, "PG_VERSION");
        var existingVersion = File.Exists(versionFile) ? (await File.ReadAllTextAsync(versionFile, cancellationToken).ConfigureAwait(false)).Trim() : null;
        var binDirectory = FindBinDirectory(existingVersion);

        var password = existingVersion is null
            ? await InitialiseAsync(dataDirectory, binDirectory, asServiceUser, log, cancellationToken).ConfigureAwait(false)
            : ReadPassword(dataDirectory);
        var clusterVersion = existingVersion ?? (await File.ReadAllTextAsync(versionFile, cancellationToken).ConfigureAwait(false)).Trim();

        var logDirectory = Path.Combine(dataDirectory, "log");
        System.IO.Directory.CreateDirectory(logDirectory);
        if (asServiceUser)
        {
            await HandOverToServiceUserAsync(dataDirectory, cancellationToken).ConfigureAwait(false);
        }

        await StopLeftoverServerAsync(dataDirectory, log, cancellationToken).ConfigureAwait(false);

        var logFile = Path.Combine(logDirectory, "server.log");
        var startClock = Stopwatch.StartNew();

        // The free port is found by binding and releasing it, so another process can grab it before the
        // postmaster binds it. That race is rare but real on busy CI machines, hence a few attempts.
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var port = FindFreePort();
            var logOffset = File.Exists(logFile) ? new FileInfo(logFile).Length : 0;
            log?.Invoke($"starting PostgreSQL {clusterVersion} from {binDirectory} on 127.0.0.1:{port}");

            var result = await PgCtlStartAsync(binDirectory, dataDirectory, logFile, port, asServiceUser, cancellationToken).ConfigureAwait(false);

            if (result.ExitCode != 0)
            {
                var tail = ReadLogTail(logFile, logOffset);
                await TryStopAsync(dataDirectory, binDirectory, asServiceUser).ConfigureAwait(false);
                if (attempt < attempts && tail.Contains("could not bind", StringComparison.OrdinalIgnoreCase))
                {
                    log?.Invoke($"port {port} was taken before PostgreSQL could bind it; retrying with another port");
                    continue;
                }

                throw new InvalidOperationException(
                    $"PostgreSQL did not start in {dataDirectory} (pg_ctl exit code {result.ExitCode}).{Environment.NewLine}" +
                    $"{result.Output}{Environment.NewLine}Last lines of {logFile}:{Environment.NewLine}{tail}");
            }

            var server = new EmbeddedPostgres(dataDirectory, binDirectory, port, password, asServiceUser, log);
            try
            {
                await WaitUntilAcceptingAsync(server.ConnectionString, StartTimeout - startClock.Elapsed, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await TryStopAsync(dataDirectory, binDirectory, asServiceUser).ConfigureAwait(false);
                if (e is OperationCanceledException)
                {
                    throw;
                }

                throw new InvalidOperationException(
                    $"PostgreSQL in {dataDirectory} did not accept connections on 127.0.0.1:{port}: {e.Message}{Environment.NewLine}" +
                    $"Last lines of {logFile}:{Environment.NewLine}{ReadLogTail(logFile, logOffset)}", e);
            }

            log?.Invoke($"PostgreSQL listening on 127.0.0.1:{port} (data in {dataDirectory})");
            return server;
        }
    }

    /// <summary>Connection string for <paramref name="database"/> on this cluster, as the superuser with password.</summary>
    public string ConnectionStringFor(string database)
    {
        ArgumentException.ThrowIfNullOrEmpty(database);
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = SuperUser,
            Password = _password,
            Database = database,
        }.ConnectionString;
        _issuedConnectionStrings.TryAdd(connectionString, 0);
        return connectionString;
    }

    /// <summary>Creates database <paramref name="name"/> unless it already exists, and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        await CreateDatabaseIfMissingAsync(ConnectionString, name, ct).ConfigureAwait(false);
        return ConnectionStringFor(name);
    }

    /// <summary>
    /// Stops the server with <c>pg_ctl stop -m fast</c> (open sessions are terminated, a shutdown checkpoint is
    /// written) and waits for it to exit. Calling it again does nothing.
    /// </summary>
    public async Task StopAsync()
    {
        await _stopLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }

            _log?.Invoke($"stopping PostgreSQL in {Directory}");
            var result = await RunAsync(
                Path.Combine(BinDirectory, "pg_ctl"),
                ["stop", "-D", Directory, "-m", "fast", "-w", "-t", ((int)StartTimeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)],
                _runAsServiceUser,
                CancellationToken.None).ConfigureAwait(false);

            // Exit code 1 with no postmaster.pid means someone else already stopped it; that is the state we want.
            if (result.ExitCode != 0 && File.Exists(Path.Combine(Directory, "postmaster.pid")))
            {
                throw new InvalidOperationException($"pg_ctl stop failed for {Directory} (exit code {result.ExitCode}): {result.Output}");
            }

            _stopped = true;

            // Pooled connections point at a server that no longer exists; a later start may even get the same
            // port, in which case the pool would hand out dead connections.
            foreach (var connectionString in _issuedConnectionStrings.Keys)
            {
                using var connection = new NpgsqlConnection(connectionString);
                NpgsqlConnection.ClearPool(connection);
            }
        }
        finally
        {
            _stopLock.Release();
        }
    }

    /// <summary>
    /// Fault injection for the chaos harness: takes the server down with <c>pg_ctl stop -m</c>
    /// <paramref name="mode"/>, either "fast" (sessions are terminated, a shutdown checkpoint is
    /// written) or "immediate" (no checkpoint: the next start replays the WAL, as after a power cut).
    /// The cluster is not forgotten: <see cref="StartAgainAsync"/> brings it back on the same port,
    /// so connection strings handed out stay valid.
    /// </summary>
    public async Task InterruptAsync(string mode)
    {
        if (mode is not ("fast" or "immediate"))
            throw new ArgumentException("A PostgreSQL interruption is \"fast\" or \"immediate\".", nameof(mode));
        ObjectDisposedException.ThrowIf(_stopped, this);
        _log?.Invoke($"stopping PostgreSQL in {Directory} ({mode})");
        var result = await RunAsync(
            Path.Combine(BinDirectory, "pg_ctl"),
            ["stop", "-D", Directory, "-m", mode, "-w", "-t", ((int)StartTimeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)],
            _runAsServiceUser,
            CancellationToken.None).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"pg_ctl stop -m {mode} failed for {Directory} (exit code {result.ExitCode}): {result.Output}");
    }

    /// <summary>Starts the server again after <see cref="InterruptAsync"/>, on the port it had, and waits until it accepts connections.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        var logFile = Path.Combine(Directory, "log", "server.log");
        _log?.Invoke($"starting PostgreSQL again on 127.0.0.1:{Port}");
        var result = await PgCtlStartAsync(BinDirectory, Directory, logFile, Port, _runAsServiceUser, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"PostgreSQL did not start again in {Directory} (pg_ctl exit code {result.ExitCode}): {result.Output}");
        await WaitUntilAcceptingAsync(ConnectionString, StartTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// An outage on purpose, for overload tests and benchmarks: <see cref="InterruptAsync"/>, then
    /// <paramref name="whileDown"/>, then <see cref="StartAgainAsync"/> whatever happened meanwhile, so a
    /// test that failed in between does not leave the cluster stopped for its own cleanup.
    /// </summary>
    public async Task RestartAsync(string mode, Func<Task> whileDown, CancellationToken cancellationToken = default)
    {
        await InterruptAsync(mode).ConfigureAwait(false);
        try
        {
            await whileDown().ConfigureAwait(false);
        }
        finally
        {
            // Not cancellable: a cancelled caller must still get its cluster back.
            await StartAgainAsync(CancellationToken.None).ConfigureAwait(false);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary><c>pg_ctl start</c>, waiting until the server is up, with the network settings every start must pass.</summary>
    private static Task<ProcessResult> PgCtlStartAsync(string binDirectory, string dataDirectory, string logFile, int port, bool asServiceUser, CancellationToken cancellationToken) =>
        RunAsync(
            Path.Combine(binDirectory, "pg_ctl"),
            [
                "start", "-D", dataDirectory, "-l", logFile, "-w", "-t", ((int)StartTimeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
                // Network settings are passed at every start (not only written at init) because they
                // define who can reach the server: loopback TCP only, no unix socket. pg_ctl hands this
                // string to /bin/sh, hence the shell quoting of the empty value.
                "-o", $"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
            ],
            asServiceUser,
            cancellationToken);

    /// <summary>
    /// A hung database on purpose, for tests and the chaos harness: SIGSTOP to the postmaster and every
    /// backend, <paramref name="whileFrozen"/>, then SIGCONT whatever happened. Connections stay open
    /// but nothing answers, as with a hung host or a network black hole.
    /// </summary>
    public async Task FreezeAsync(Func<Task> whileFrozen)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        var processes = ServerProcesses();
        _log?.Invoke($"freezing PostgreSQL in {Directory} (SIGSTOP to {processes.Count} processes)");
        await SignalAsync("STOP", processes).ConfigureAwait(false);
        try
        {
            await whileFrozen().ConfigureAwait(false);
        }
        finally
        {
            await SignalAsync("CONT", processes).ConfigureAwait(false);
            _log?.Invoke($"PostgreSQL in {Directory} resumed (SIGCONT)");
        }
    }

    /// <summary>The postmaster (first line of postmaster.pid) and its children, found in /proc.</summary>
    private List<int> ServerProcesses()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(Directory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        var processes = new List<int> { postmaster };
        foreach (var stat in System.IO.Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "stat")))
        {
            try
            {
                // "pid (comm) state ppid ...": comm may hold spaces, so the fields are read after its ')'.
                var text = File.ReadAllText(stat);
                var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == postmaster)
                    processes.Add(int.Parse(text[..text.IndexOf(' ')], System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
            {
                // Not a process directory, or the process has just gone.
            }
        }
        return processes;
    }

    private static async Task SignalAsync(string signal, IReadOnlyList<int> processes)
    {
        var result = await RunAsync("kill", [$"-{signal}", .. processes.Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            asServiceUser: false, CancellationToken.None).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"kill -{signal} of the PostgreSQL processes failed (exit code {result.ExitCode}): {result.Output}");
    }

    /// <summary>Same as <see cref="StopAsync"/>.</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>
    /// Creates <paramref name="name"/> on the server reached by <paramref name="adminConnectionString"/> unless it exists.
    /// Shared with test helpers that use an external server.
    /// </summary>
    public static async Task CreateDatabaseIfMissingAsync(string adminConnectionString, string name, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('\0', StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(name) > 63)
        {
            throw new ArgumentException("A database name must be at most 63 bytes and contain no NUL characters.", nameof(name));
        }

        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);

        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = name });
            if (await exists.ExecuteScalarAsync(ct).ConfigureAwait(false) is not null)
            {
                return;
            }
        }

        try
        {
            // CREATE DATABASE takes no parameters, so the identifier is quoted by hand.
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Someone created it between our check and our CREATE: the outcome is what the caller asked for.
        }
    }

    /// <summary>
    /// Deals with a postmaster.pid left in <paramref name="dataDirectory"/> by an earlier run.
    /// Policy: a server from an earlier run that is still alive is stopped (not reused), because its port
    /// and settings are unknown to us and a fresh start gives this run a known state. A pid file whose
    /// PID is dead is left to PostgreSQL, which removes it itself; a pid file whose PID now belongs to
    /// some other program (PID reuse, common in containers) is deleted, because PostgreSQL would
    /// otherwise refuse to start when that program runs as the same user.
    /// </summary>
    internal static async Task StopLeftoverServerAsync(string dataDirectory, Action<string>? log, CancellationToken ct)
    {
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        string? firstLine;
        try
        {
            firstLine = File.ReadLines(pidFile).FirstOrDefault();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return;
        }

        if (!int.TryParse(firstLine, out var pid) || pid <= 0)
        {
            return;
        }

        string processName;
        try
        {
            using var process = Process.GetProcessById(pid);
            processName = process.ProcessName;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return; // Not running: PostgreSQL treats the pid file as stale by itself.
        }

        if (!string.Equals(processName, "postgres", StringComparison.Ordinal) && !string.Equals(processName, "postmaster", StringComparison.Ordinal))
        {
            log?.Invoke($"removing stale {pidFile}: PID {pid} now belongs to '{processName}'");
            File.Delete(pidFile);
            return;
        }

        var versionFile = Path.Combine(dataDirectory, "PG_VERSION");
        var version = File.Exists(versionFile) ? File.ReadAllText(versionFile).Trim() : null;
        var binDirectory = FindBinDirectory(version);
        log?.Invoke($"a PostgreSQL server from an earlier run (PID {pid}) is still running on {dataDirectory}; stopping it first");
        var result = await RunAsync(
            Path.Combine(binDirectory, "pg_ctl"),
            ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "60"],
            Environment.IsPrivilegedProcess,
            ct).ConfigureAwait(false);
        if (result.ExitCode != 0 && File.Exists(pidFile))
        {
            log?.Invoke($"pg_ctl stop of the earlier server failed (exit code {result.ExitCode}): {result.Output.Trim()}");
        }
    }

    /// <summary>
    /// Runs initdb with SCRAM authentication and a fresh random password, stores the password
    /// (owner-only) and writes the fixed settings. Returns the password.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    private static async Task<string> InitialiseAsync(string dataDirectory, string binDirectory, bool asServiceUser, Action<string>? log, CancellationToken ct)
    {
        if (System.IO.Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new InvalidOperationException(
                $"{dataDirectory} is not empty but holds no PostgreSQL cluster (no PG_VERSION); refusing to initialise a cluster over its contents.");
        }

        log?.Invoke($"initialising PostgreSQL cluster in {dataDirectory}");
        if (asServiceUser)
        {
            await RunCheckedAsync("chown", [ServiceUser + ":", dataDirectory], asServiceUser: false, ct).ConfigureAwait(false);
        }

        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

        // initdb only takes the password from a file. When we are root it runs as postgres, so the file must
        // be in a directory postgres can reach (the cluster's parent, already checked) and be owned by postgres;
        // it is never readable by anybody else and is deleted as soon as initdb is done.
        var pwDirectory = asServiceUser ? Path.GetDirectoryName(dataDirectory)! : Path.GetTempPath();
        var pwFile = Path.Combine(pwDirectory, $".loyalty-pg-initpw-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}");
        try
        {
            WriteOwnerOnlyFile(pwFile, password);
            if (asServiceUser)
            {
                await RunCheckedAsync("chown", [ServiceUser + ":", pwFile], asServiceUser: false, ct).ConfigureAwait(false);
            }

            string[] common = ["-D", dataDirectory, "--auth=scram-sha-256", $"--username={SuperUser}", $"--pwfile={pwFile}", "-E", "UTF8"];
            var initdb = Path.Combine(binDirectory, "initdb");
            var result = await RunAsync(initdb, [.. common, "--locale=C.UTF-8"], asServiceUser, ct).ConfigureAwait(false);
            if (result.ExitCode != 0 && result.Output.Contains("locale", StringComparison.OrdinalIgnoreCase))
            {
                // Some systems lack C.UTF-8; the plain C locale behaves the same for our purposes (byte-order collation).
                log?.Invoke("locale C.UTF-8 is not available; initialising with --no-locale");
                result = await RunAsync(initdb, [.. common, "--no-locale"], asServiceUser, ct).ConfigureAwait(false);
            }

            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed for {dataDirectory} (exit code {result.ExitCode}):{Environment.NewLine}{result.Output}");
            }
        }
        finally
        {
            File.Delete(pwFile);
        }

        // Written by this process, so it is owned by the invoking user even when the cluster belongs to postgres.
        // If we die between initdb and this line the cluster is unusable and has to be deleted; that window is tiny
        // and initdb insists on an empty directory, so the file cannot be written earlier.
        WriteOwnerOnlyFile(Path.Combine(dataDirectory, PasswordFileName), password);

        var settings = new StringBuilder()
            .AppendLine()
            .AppendLine("# Written by Loyalty EmbeddedPostgres when the cluster was created.")
            .AppendLine("# fsync and synchronous_commit must stay on: committed data has to survive a crash.");
        foreach (var line in InitialSettings)
        {
            settings.AppendLine(line);
        }

        await File.AppendAllTextAsync(Path.Combine(dataDirectory, "postgresql.conf"), settings.ToString(), ct).ConfigureAwait(false);
        return password;
    }

    [UnsupportedOSPlatform("windows")]
    private static string ReadPassword(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, PasswordFileName);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"{dataDirectory} holds a PostgreSQL cluster but no {PasswordFileName} file, so its superuser password is unknown. " +
                "Delete the directory to have a new cluster created.");
        }

        // Re-tighten in case the file was copied around with a looser mode.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return File.ReadAllText(path).Trim();
    }

    [UnsupportedOSPlatform("windows")]
    private static void WriteOwnerOnlyFile(string path, string content)
    {
        // The mode is set at creation so the content is never readable by others, not even briefly.
        using (var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            stream.Write(Encoding.UTF8.GetBytes(content));
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>
    /// As root we hand the cluster to the postgres user. Every directory above it must let that user pass,
    /// otherwise initdb/postgres fail later with a far less helpful "permission denied".
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    private static async Task EnsureServiceUserCanReachAsync(string dataDirectory, CancellationToken ct)
    {
        var id = await RunAsync("id", ["-u", ServiceUser], asServiceUser: false, ct).ConfigureAwait(false);
        if (id.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"This process runs as root, and PostgreSQL refuses to run as root, so it has to run as the OS user '{ServiceUser}', which does not exist: {id.Output.Trim()}");
        }

        for (var parent = Path.GetDirectoryName(dataDirectory); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
        {
            var mode = File.GetUnixFileMode(parent);
            if ((mode & UnixFileMode.OtherExecute) == 0)
            {
                throw new InvalidOperationException(
                    $"Cannot run PostgreSQL in {dataDirectory}: this process is root, so the server runs as the OS user '{ServiceUser}', " +
                    $"but the directory '{parent}' is not traversable by other users (mode {Convert.ToString((int)mode, 8)}). " +
                    $"Use a directory under a world-traversable path such as {Path.GetTempPath()}, or run 'chmod o+x {parent}'.");
            }
        }
    }

    /// <summary>
    /// Gives everything in the cluster directory to the postgres user, except the password file, which stays
    /// owner-only for the invoking user. Only files not already owned by postgres are touched, so this is
    /// cheap on restarts.
    /// </summary>
    private static Task HandOverToServiceUserAsync(string dataDirectory, CancellationToken ct) =>
        RunCheckedAsync(
            "find",
            [".", "!", "-path", "./" + PasswordFileName, "!", "-user", ServiceUser, "-exec", "chown", "-h", ServiceUser + ":", "{}", "+"],
            asServiceUser: false,
            ct,
            workingDirectory: dataDirectory);

    /// <summary>
    /// Picks the bin directory of the PostgreSQL version that created the cluster when that version is installed,
    /// else the newest installed version (Debian layout /usr/lib/postgresql/&lt;version&gt;/bin), else pg_ctl on PATH.
    /// </summary>
    private static string FindBinDirectory(string? clusterVersion)
    {
        var installed = new List<(Version Version, string Name, string Bin)>();
        const string root = "/usr/lib/postgresql";
        if (System.IO.Directory.Exists(root))
        {
            foreach (var versionDirectory in System.IO.Directory.EnumerateDirectories(root))
            {
                var name = Path.GetFileName(versionDirectory);
                var bin = Path.Combine(versionDirectory, "bin");
                if (File.Exists(Path.Combine(bin, "pg_ctl")) && Version.TryParse(name.Contains('.', StringComparison.Ordinal) ? name : name + ".0", out var version))
                {
                    installed.Add((version, name, bin));
                }
            }
        }

        var sameVersion = installed.FindIndex(v => v.Name == clusterVersion);
        if (sameVersion >= 0)
        {
            return installed[sameVersion].Bin;
        }

        if (installed.Count > 0)
        {
            return installed.MaxBy(v => v.Version).Bin;
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(directory, "pg_ctl")) && File.Exists(Path.Combine(directory, "initdb")))
            {
                return directory;
            }
        }

        throw new InvalidOperationException($"No PostgreSQL installation found (looked in {root}/*/bin and on PATH for pg_ctl and initdb).");
    }

    private static int FindFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static async Task WaitUntilAcceptingAsync(string connectionString, TimeSpan budget, CancellationToken ct)
    {
        // No pooling: a probe connection made while the server is still starting must not linger in the pool.
        var probe = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 5 }.ConnectionString;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(probe);
                await connection.OpenAsync(ct).ConfigureAwait(false);
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification)
            {
                throw new InvalidOperationException($"the server rejected the stored password ({e.MessageText}); the password file does not belong to this cluster", e);
            }
            catch (Exception e) when (e is NpgsqlException or SocketException or IOException or TimeoutException)
            {
                if (clock.Elapsed >= budget)
                {
                    throw new TimeoutException($"no successful 'SELECT 1' within {StartTimeout.TotalSeconds:0} s; last error: {e.Message}", e);
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), ct).ConfigureAwait(false);
        }
    }

    private static async Task TryStopAsync(string dataDirectory, string binDirectory, bool asServiceUser)
    {
        try
        {
            await RunAsync(Path.Combine(binDirectory, "pg_ctl"), ["stop", "-D", dataDirectory, "-m", "immediate", "-w"], asServiceUser, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            // Best effort on an error path; the original error is what the caller needs to see.
        }
    }

    private static string ReadLogTail(string logFile, long offset, int lines = 40)
    {
        try
        {
            using var stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Seek(offset <= stream.Length ? offset : 0, SeekOrigin.Begin);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return all.Length == 0 ? "(server log is empty)" : string.Join(Environment.NewLine, all.TakeLast(lines));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"(could not read server log: {e.Message})";
        }
    }

    private static async Task RunCheckedAsync(string fileName, IReadOnlyList<string> arguments, bool asServiceUser, CancellationToken ct, string? workingDirectory = null)
    {
        var result = await RunAsync(fileName, arguments, asServiceUser, ct, workingDirectory).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{fileName} {string.Join(' ', arguments)}' failed (exit code {result.ExitCode}): {result.Output.Trim()}");
        }
    }

    /// <summary>
    /// Runs a program without a shell. With <paramref name="asServiceUser"/> it runs as the postgres user through
    /// runuser. The working directory defaults to "/" so a root-only current directory cannot trip up the
    /// PostgreSQL tools when they run as postgres.
    /// </summary>
    private static async Task<ProcessResult> RunAsync(string fileName, IReadOnlyList<string> arguments, bool asServiceUser, CancellationToken ct, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "/",
        };
        if (asServiceUser)
        {
            startInfo.FileName = "runuser";
            startInfo.ArgumentList.Add("-u");
            startInfo.ArgumentList.Add(ServiceUser);
            startInfo.ArgumentList.Add("--");
            startInfo.ArgumentList.Add(fileName);
        }
        else
        {
            startInfo.FileName = fileName;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"Could not run '{startInfo.FileName}': {e.Message}", e);
        }

        // Both streams are drained concurrently so a chatty tool cannot block on a full pipe.
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }

            throw;
        }

        var output = (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false));
        return new ProcessResult(process.ExitCode, output);
    }

    private readonly record struct ProcessResult(int ExitCode, string Output);
}
