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
        time ??= TimeProvider.System;
        loggers ??= NullLoggerFactory.Instance;
        var builder = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = options.MaxDatabaseConnections,
        }.ConnectionString);
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
