using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Loyalty.Grains;

public sealed class EngineOptions
{
    public GroupCommitOptions GroupCommit { get; init; } = new();
    public GrainRuntimeOptions Runtime { get; init; } = new();

    /// <summary>Database connections this process may hold. The writer needs one; readers share the rest.</summary>
    public int MaxDatabaseConnections { get; init; } = 64;

    /// <summary>
    /// How long opening a database connection may take. On loopback or a LAN it takes milliseconds; a
    /// database host that accepts TCP but never answers (hung, or behind a black hole) must not hold
    /// callers longer than this before they hear UNAVAILABLE. Npgsql's own default is 15 s.
    /// </summary>
    public TimeSpan DatabaseConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long one statement (the writer's whole batch is one) may run. A batch takes milliseconds;
    /// past this the database is taken as hung: the statement is cancelled, its connection dropped and
    /// its callers told UNAVAILABLE ("may or may not have been stored"), so the writer moves on instead
    /// of waiting as long as the database does. Migrations run under it too, hence not tighter.
    /// </summary>
    public TimeSpan DatabaseCommandTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The card engine on one database, composed in one place: connection pool, migrations, default
/// programme, the ledger writer and the grain runtime. Disposing it finishes every queued write.
/// </summary>
public sealed class LoyaltyEngine : IAsyncDisposable
{
    private LoyaltyEngine(NpgsqlDataSource dataSource, GroupCommitWriter writer, GrainRuntime runtime)
    {
        DataSource = dataSource;
        Writer = writer;
        Runtime = runtime;
    }

    public NpgsqlDataSource DataSource { get; }
    public GroupCommitWriter Writer { get; }
    public GrainRuntime Runtime { get; }

    public static async Task<LoyaltyEngine> StartAsync(string connectionString, EngineOptions? options = null, TimeProvider? time = null,
        ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        options ??= new EngineOptions();
        // Settings are checked before anything is started, so a bad one leaves nothing running.
        options.GroupCommit.Validate();
        options.Runtime.Validate();
        if (options.MaxDatabaseConnections is < 2 or > 1_000)
            throw new ArgumentOutOfRangeException(nameof(options.MaxDatabaseConnections), options.MaxDatabaseConnections, "MaxDatabaseConnections must be between 2 and 1000.");
        if (options.DatabaseConnectTimeout < TimeSpan.FromSeconds(1) || options.DatabaseConnectTimeout > TimeSpan.FromMinutes(5))
            throw new ArgumentOutOfRangeException(nameof(options.DatabaseConnectTimeout), options.DatabaseConnectTimeout, "DatabaseConnectTimeout must be between 1 second and 5 minutes.");
        if (options.DatabaseCommandTimeout < TimeSpan.FromSeconds(1) || options.DatabaseCommandTimeout > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(options.DatabaseCommandTimeout), options.DatabaseCommandTimeout, "DatabaseCommandTimeout must be between 1 second and 1 hour.");
        time ??= TimeProvider.System;
        loggers ??= NullLoggerFactory.Instance;
        var settings = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = options.MaxDatabaseConnections };
        // A connection string that names its own timeouts (LOYALTY_DB) keeps them: the operator chose.
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!given.ContainsKey("Timeout")) settings.Timeout = (int)options.DatabaseConnectTimeout.TotalSeconds;
        if (!given.ContainsKey("Command Timeout") && !given.ContainsKey("CommandTimeout")) settings.CommandTimeout = (int)options.DatabaseCommandTimeout.TotalSeconds;
        var builder = new NpgsqlDataSourceBuilder(settings.ConnectionString);
        builder.UseLoggerFactory(loggers);
        var dataSource = builder.Build();
        try
        {
            await Migrator.ApplyAsync(dataSource, cancellationToken);
            var programs = new ProgramCatalog(dataSource, time);
            await programs.EnsureDefaultAsync();
            var writer = new GroupCommitWriter(dataSource, options.GroupCommit, loggers.CreateLogger<GroupCommitWriter>());
            var runtime = new GrainRuntime(new CardStore(dataSource), writer, programs, time, options.Runtime, loggers.CreateLogger<GrainRuntime>());
            return new LoyaltyEngine(dataSource, writer, runtime);
        }
        catch
        {
            await dataSource.DisposeAsync();
            throw;
        }
    }

    public Task<IReadOnlyList<string>> CheckInvariantsAsync(CancellationToken cancellationToken = default) =>
        InvariantChecker.CheckAsync(DataSource, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Runtime.DisposeAsync();
        await Writer.DisposeAsync();
        await DataSource.DisposeAsync();
    }
}
