using Loyalty.GrpcBenchmarks;
using System.Globalization;
using System.Security.Cryptography;
using Loyalty.Fuzz;
using Loyalty.Grains.Storage;
using Npgsql;

const string usage =
    """
    Usage: fuzz.sh [options]

    Starts the real server (Loyalty.Silo) as a separate process on loopback ports with a database of its
    own, makes a funded card and register keys with the admin key, then sends it hostile input, scenario
    by scenario: random HTTP/2 frames, mutated gRPC requests, hostile request contents, huge headers,
    slow clients, thousands of idle connections, one key over its rate. After each scenario the server
    must answer a health check and a real GetCard. Prints a table (stdout) of what was sent, the answers
    by gRPC status / HTTP status / reset, whether the server was alive and its memory (RSS) before, at
    the peak and after. Progress goes to stderr.

    Options:
      --seed N              seed of every random choice (default 1)
      --seconds N           seconds of traffic per scenario (default 10); the slow scenario waits for the
                            server's request body timeout besides
      --workers N           concurrent senders (default 8)
      --idle-connections N  connections opened and left idle (default 3000)
      --slow-streams N      streams that stall or trickle mid-message (default 40)
      --rate N              the server's LOYALTY_RATE_PER_KEY (and burst) for the run, 0 = off (default 200)
      --body-timeout N      the server's LOYALTY_REQUEST_BODY_TIMEOUT in seconds (default 30, its default)
      --scenarios LIST      comma-separated, from: frames,mutated,contents,headers,slow,idle,rate (default all)
      --max-rss-mb N        the server's resident memory may not exceed this at any point (default 1024)
      --csv PATH            also write the table as CSV to PATH
      --html PATH           also write the table as a web page to PATH
      -h, --help            show this text

    Database: the connection string in LOYALTY_DB if set (a fresh database is created there and dropped at
    the end); otherwise a temporary PostgreSQL cluster is started under the temp directory and deleted.
    Exit code: 0 when the server survived everything with proper answers and bounded memory; 1 when it
    died, gave an unexpected answer (INTERNAL, UNKNOWN, none) or its memory went over the bound; 2 on bad
    arguments or a failure of the tool itself.
    """;

FuzzSettings settings;
string? csvPath, htmlPath;
int rate, bodyTimeout;
try
{
    (settings, csvPath, htmlPath, rate, bodyTimeout) = Parse(args);
}
catch (ArgumentException error)
{
    Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine("Run with --help for the options.");
    return 2;
}
if (settings is null)
{
    Console.WriteLine(usage);
    return 0;
}

using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    interrupt.Cancel();
};
var cancellationToken = interrupt.Token;
var log = (string line) => Console.Error.WriteLine(line);
var temporary = Path.Combine(Path.GetTempPath(), $"loyalty-fuzz-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
Directory.CreateDirectory(temporary);
// The embedded cluster may run as the postgres user (when we are root), which must pass through.
if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temporary, (UnixFileMode)0b111_101_101);
EmbeddedPostgres? cluster = null;
var external = Environment.GetEnvironmentVariable("LOYALTY_DB");
var databaseName = $"loyalty_fuzz_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
ServerProcess? server = null;
try
{
    string database;
    if (string.IsNullOrWhiteSpace(external))
    {
        cluster = await EmbeddedPostgres.StartAsync(Path.Combine(temporary, "pgdata"), log, cancellationToken);
        database = await cluster.CreateDatabaseAsync("fuzz", cancellationToken);
    }
    else
    {
        await EmbeddedPostgres.CreateDatabaseIfMissingAsync(external, databaseName, cancellationToken);
        database = new NpgsqlConnectionStringBuilder(external) { Database = databaseName }.ConnectionString;
    }
    var dataDirectory = Path.Combine(temporary, "server");
    Directory.CreateDirectory(dataDirectory);
    server = ServerProcess.Start(database, dataDirectory, new Dictionary<string, string>
    {
        ["LOYALTY_RATE_PER_KEY"] = rate.ToString(CultureInfo.InvariantCulture),
        ["LOYALTY_RATE_BURST"] = Math.Max(1, rate).ToString(CultureInfo.InvariantCulture),
        ["LOYALTY_REQUEST_BODY_TIMEOUT"] = bodyTimeout.ToString(CultureInfo.InvariantCulture),
    });
    var (grpc, adminKeyPath) = await server.WaitUntilReadyAsync(cancellationToken);
    var adminKey = (await File.ReadAllTextAsync(adminKeyPath, cancellationToken)).Trim();
    var target = await FuzzSetup.PrepareAsync(grpc, adminKey, server.Id, settings.Workers, settings.Seed, cancellationToken);
    var startRss = Memory.Read(server.Id).RssKb;
    log($"server pid {server.Id} on {grpc}, RSS {startRss / 1024:N0} MiB after start-up; card {target.Card}; {target.PosKeys.Count + 1} register keys");

    var results = await new FuzzRun(target, settings, Console.Error).RunAsync(cancellationToken);
    var (_, peakKb) = Memory.Read(server.Id);
    var died = server.HasExited || results.Any(r => !r.ServerAlive);
    var unexpected = results.Sum(r => r.UnexpectedCount);
    var overMemory = settings.MaxRssMegabytes is { } max && peakKb > max * 1024;
    var errorLines = server.ErrorLines;

    FuzzReport.WriteTable(Console.Out, results);
    Console.WriteLine();
    Console.WriteLine($"seed {settings.Seed}, {settings.Seconds:0.#} s per scenario, {settings.Workers} workers; server rate per key {(rate == 0 ? "off" : $"{rate}/s")}, request body timeout {bodyTimeout} s");
    Console.WriteLine($"server RSS after start-up {startRss / 1024:N0} MiB, highest ever (VmHWM) {peakKb / 1024:N0} MiB, bound {(settings.MaxRssMegabytes is { } m ? $"{m:N0} MiB" : "none")}; error lines in its log: {errorLines}");
    foreach (var r in results)
        foreach (var note in r.Notes) Console.WriteLine($"  {r.Name}: {note}");
    if (csvPath is not null) await FuzzReport.WriteCsvAsync(csvPath, results);
    if (htmlPath is not null) await FuzzReport.WriteHtmlAsync(htmlPath, results);

    var verdict = died ? "FAILED: the server died or stopped answering"
        : unexpected > 0 ? $"FAILED: {unexpected} unexpected answers (see the UNEXPECTED lines above)"
        : overMemory ? $"FAILED: the server's memory peaked at {peakKb / 1024:N0} MiB, over the bound of {settings.MaxRssMegabytes:N0} MiB"
        : "PASSED: the server stayed up, answered every hostile input properly and its memory stayed bounded";
    Console.WriteLine(verdict);
    var stopped = await server.StopAsync();
    if (stopped != 0) Console.WriteLine($"The server exited with code {stopped} on SIGTERM.");
    return died || unexpected > 0 || overMemory ? 1 : 0;
}
catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
{
    Console.Error.WriteLine("Interrupted.");
    return 2;
}
catch (Exception error) when (error is InvalidOperationException or TimeoutException or NpgsqlException or IOException)
{
    Console.Error.WriteLine($"The fuzz run failed: {error.Message}");
    if (server is not null) Console.Error.WriteLine($"The server's last lines:{Environment.NewLine}{server.Tail}");
    return 2;
}
finally
{
    server?.Dispose();
    if (cluster is not null) await cluster.StopAsync();
    else if (!string.IsNullOrWhiteSpace(external)) await DropAsync(external, databaseName);
    try
    {
        Directory.Delete(temporary, recursive: true);
    }
    catch (Exception error) when (error is IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"could not delete {temporary}: {error.Message}");
    }
}

static async Task DropAsync(string external, string name)
{
    try
    {
        await using var connection = new NpgsqlConnection(external);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
    catch (NpgsqlException error)
    {
        Console.Error.WriteLine($"could not drop the fuzz database {name}: {error.Message}");
    }
}

static (FuzzSettings Settings, string? Csv, string? Html, int Rate, int BodyTimeout) Parse(string[] args)
{
    var settings = new FuzzSettings { MaxRssMegabytes = 1024 };
    string? csv = null, html = null;
    var rate = 200;
    var bodyTimeout = 30;
    for (var i = 0; i < args.Length; i++)
    {
        var name = args[i];
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
        int Number(int min, int max)
        {
            var text = Value();
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                ? n : throw new ArgumentException($"{name} must be a whole number from {min} to {max}; \"{text}\" was given.");
        }
        switch (name)
        {
            case "-h" or "--help": return (null!, null, null, 0, 0);
            case "--seed": settings = settings with { Seed = Number(0, int.MaxValue) }; break;
            case "--seconds": settings = settings with { Seconds = Number(1, 600) }; break;
            case "--workers": settings = settings with { Workers = Number(1, 64) }; break;
            case "--idle-connections": settings = settings with { IdleConnections = Number(0, 15_000) }; break;
            case "--slow-streams": settings = settings with { SlowStreams = Number(1, 1_000) }; break;
            case "--rate": rate = Number(0, 1_000_000); break;
            case "--body-timeout": bodyTimeout = Number(1, 600); break;
            case "--max-rss-mb": settings = settings with { MaxRssMegabytes = Number(64, 1_000_000) }; break;
            case "--csv": csv = Value(); break;
            case "--html": html = Value(); break;
            case "--scenarios":
                var list = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                foreach (var scenario in list)
                    if (!FuzzSettings.AllScenarios.Contains(scenario))
                        throw new ArgumentException($"There is no scenario \"{scenario}\"; choose from {string.Join(",", FuzzSettings.AllScenarios)}.");
                settings = settings with { Scenarios = list };
                break;
            default: throw new ArgumentException($"Unknown option \"{name}\".");
        }
    }
    settings = settings with { RatePerKey = rate, RateBurst = Math.Max(1, rate), RequestBodyTimeout = TimeSpan.FromSeconds(bodyTimeout) };
    return (settings, csv, html, rate, bodyTimeout);
}
