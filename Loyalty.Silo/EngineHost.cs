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
            Engine = await LoyaltyEngine.StartAsync(connectionString, new EngineOptions
            {
                Runtime = new() { MailboxCapacity = options.MailboxCapacity },
                GroupCommit = new() { MaxQueuedWrites = options.MaxQueuedWrites },
            }, TimeProvider.System, loggers, cancellationToken);
        }
        catch
        {
            if (_postgres is not null) await _postgres.StopAsync();
            throw;
        }
        logger.LogInformation("Loyalty engine ready: schema migrated, ledger writer running. Data directory: {Directory}.", options.DataDirectory);
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
