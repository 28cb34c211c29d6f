using System.Diagnostics;
using Loyalty.Grains;
using Loyalty.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace Loyalty.Silo;

/// <summary>
/// Starts the database (a private cluster under the data directory when no connection string is
/// configured), then the engine; stops them in the reverse order so every queued write is flushed
/// before the database goes down.
/// </summary>
public sealed class EngineHost(SiloOptions options, ILoggerFactory loggers, ILogger<EngineHost> logger)
{
    public const string DatabaseName = "loyalty";

    private EmbeddedPostgres? _postgres;

    public LoyaltyEngine Engine { get; private set; } = null!;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.DataDirectory);
        var connectionString = options.ConnectionString;
        if (connectionString is null)
        {
            var clusterDirectory = Path.Combine(options.DataDirectory, "postgres");
            _postgres = await EmbeddedPostgres.StartAsync(clusterDirectory, line => logger.LogInformation("{Line}", line), cancellationToken);
            connectionString = await _postgres.CreateDatabaseAsync(DatabaseName, cancellationToken);
            logger.LogInformation("Using the embedded PostgreSQL cluster in {Directory} (127.0.0.1:{Port}); its password is in {PasswordFile}.",
                clusterDirectory, _postgres.Port, Path.Combine(clusterDirectory, "password"));
        }
        else
        {
            logger.LogInformation("Using the PostgreSQL database configured in {Variable}.", SiloOptions.DatabaseVariable);
        }
        try
        {
            Engine = await StartEngineWhenDatabaseIsUpAsync(connectionString, new EngineOptions
            {
                Cards = new() { MailboxCapacity = options.MailboxCapacity },
                Silo = options.Silo,
                ExitOnFatalError = true,
                GroupCommit = new() { MaxQueuedWrites = options.MaxQueuedWrites },
            }, cancellationToken);
        }
        catch
        {
            if (_postgres is not null) await _postgres.StopAsync();
            throw;
        }
        logger.LogInformation("Loyalty engine ready: schema migrated, ledger writer running. Data directory: {Directory}.", options.DataDirectory);
    }

    /// <summary>
    /// Starts the engine, waiting for the database while it is unreachable or still recovering, up to
    /// <see cref="SiloOptions.DatabaseWait"/> (LOYALTY_DB_WAIT_SECONDS). After a power cut or a database crash the server often comes
    /// up before PostgreSQL does; exiting then (as it once did, found by the chaos harness) would leave
    /// the stores without their server until someone restarted it. Errors that waiting cannot cure
    /// (wrong password, no such database) fail at once.
    /// </summary>
    private async Task<LoyaltyEngine> StartEngineWhenDatabaseIsUpAsync(string connectionString, EngineOptions engineOptions, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await LoyaltyEngine.StartAsync(connectionString, engineOptions, TimeProvider.System, loggers, cancellationToken);
            }
            catch (Exception error) when (GroupCommitWriter.IsConnectionFailure(error) && waited.Elapsed < options.DatabaseWait)
            {
                var pause = TimeSpan.FromMilliseconds(Math.Min(5_000, 250 << Math.Min(attempt, 5)));
                logger.LogWarning("PostgreSQL is not reachable yet ({Reason}); trying again in {Pause:0.#} s (attempt {Attempt}, waiting up to {Limit:0} s in all).",
                    error.Message, pause.TotalSeconds, attempt, options.DatabaseWait.TotalSeconds);
                await Task.Delay(pause, cancellationToken);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Engine is not null)
        {
            await Engine.DisposeAsync();
            logger.LogInformation("Ledger writer flushed and stopped.");
        }
        if (_postgres is not null)
        {
            await _postgres.StopAsync();
            logger.LogInformation("Embedded PostgreSQL stopped.");
        }
    }
}
