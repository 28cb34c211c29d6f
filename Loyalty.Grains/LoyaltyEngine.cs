using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Loyalty.Grains;

public sealed class EngineOptions
{
    public GroupCommitOptions GroupCommit { get; init; } = new();
    public CardGrainOptions Cards { get; init; } = new();

    /// <summary>Database connections this process may hold. The writer needs one; readers and Orleans' providers share the rest.</summary>
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

    /// <summary>
    /// How long a grain call may take before Orleans gives up on it (its ResponseTimeout, default 30 s).
    /// It must exceed the longest a card write can legitimately take, or a caller would hear "timed
    /// out" while its write still commits (orleans.md §4): a hung statement (<see cref="DatabaseCommandTimeout"/>)
    /// plus Npgsql's cancel request and a reconnect (each up to <see cref="DatabaseConnectTimeout"/>),
    /// and the wait in the card's queue. Null: that sum plus 10 s.
    /// </summary>
    public TimeSpan? ResponseTimeout { get; init; }

    /// <summary>The grain response timeout in force (see <see cref="ResponseTimeout"/>).</summary>
    public TimeSpan GrainResponseTimeout => ResponseTimeout ?? DatabaseCommandTimeout + 2 * DatabaseConnectTimeout + TimeSpan.FromSeconds(10);

    /// <summary>Which cluster this process's silo joins and on which port (LOYALTY_CLUSTER_ID, LOYALTY_SILO_PORT).</summary>
    public SiloEndpoint Silo { get; init; } = SiloEndpoint.Local();

    /// <summary>How often the sweeper writes the time-driven changes that fell due on cards nobody touched.</summary>
    public TimeSpan SweepPeriod { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A server process ends itself on a fatal silo error, saying why (<see cref="FatalErrorExit"/>);
    /// engines hosted inside a test process keep Orleans' own handler.
    /// </summary>
    public bool ExitOnFatalError { get; init; }

    /// <summary>The shortest reminder period Orleans accepts (its default 1 min); tests lower it.</summary>
    public TimeSpan MinimumReminderPeriod { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The card engine on one database, composed in one place: connection pool, migrations, default
/// programme, the ledger writer, and this process's Orleans silo hosting the grains, which joins the
/// cluster of every other silo on the same database with the same cluster id. Disposing it leaves the
/// cluster (the cards move to the other silos) and finishes every queued write.
/// </summary>
public sealed class LoyaltyEngine : IAsyncDisposable
{
    private readonly IHost _silo;

    private LoyaltyEngine(NpgsqlDataSource dataSource, GroupCommitWriter writer, IHost silo, CardDirectory cards)
    {
        DataSource = dataSource;
        Writer = writer;
        _silo = silo;
        Cards = cards;
    }

    public NpgsqlDataSource DataSource { get; }
    public GroupCommitWriter Writer { get; }
    /// <summary>The cards, through this silo's grain factory.</summary>
    public CardDirectory Cards { get; }
    /// <summary>This silo's grain factory, for grains other than cards.</summary>
    public IGrainFactory Grains => _silo.Services.GetRequiredService<IGrainFactory>();
    /// <summary>The silo's services (Orleans' own included).</summary>
    public IServiceProvider SiloServices => _silo.Services;

    public static async Task<LoyaltyEngine> StartAsync(string connectionString, EngineOptions? options = null, TimeProvider? time = null,
        ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        options ??= new EngineOptions();
        // Settings are checked before anything is started, so a bad one leaves nothing running.
        options.GroupCommit.Validate();
        options.Cards.Validate();
        if (options.MaxDatabaseConnections is < 4 or > 1_000)
            throw new ArgumentOutOfRangeException(nameof(options.MaxDatabaseConnections), options.MaxDatabaseConnections, "MaxDatabaseConnections must be between 4 and 1000.");
        if (options.DatabaseConnectTimeout < TimeSpan.FromSeconds(1) || options.DatabaseConnectTimeout > TimeSpan.FromMinutes(5))
            throw new ArgumentOutOfRangeException(nameof(options.DatabaseConnectTimeout), options.DatabaseConnectTimeout, "DatabaseConnectTimeout must be between 1 second and 5 minutes.");
        if (options.DatabaseCommandTimeout < TimeSpan.FromSeconds(1) || options.DatabaseCommandTimeout > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(options.DatabaseCommandTimeout), options.DatabaseCommandTimeout, "DatabaseCommandTimeout must be between 1 second and 1 hour.");
        if (options.SweepPeriod < options.MinimumReminderPeriod)
            throw new ArgumentOutOfRangeException(nameof(options.SweepPeriod), options.SweepPeriod, $"SweepPeriod must be at least the minimum reminder period ({options.MinimumReminderPeriod}).");
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
        GroupCommitWriter? writer = null;
        IHost? silo = null;
        try
        {
            await Migrator.ApplyAsync(dataSource, cancellationToken);
            var programs = new ProgramCatalog(dataSource, time);
            await programs.EnsureDefaultAsync();
            // Created and started before the silo, outside any grain turn, so its loop never runs on a
            // grain's scheduler (orleans.md §4, pitfall 2).
            writer = new GroupCommitWriter(dataSource, options.GroupCommit, loggers.CreateLogger<GroupCommitWriter>());
            var store = new CardStore(dataSource);
            var services = new CardGrainServices(store, writer, programs, time, options.Cards);

            var host = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            host.Services.AddSingleton(loggers);
            host.Services.AddSingleton(services);
            host.Services.AddSingleton(store);
            host.Services.AddSingleton(programs);
            host.Services.AddSingleton<ILedgerWriter>(writer);
            // The engine's clock reaches the grains through CardGrainServices only: registered as
            // TimeProvider it would become Orleans' own clock too (membership, timers, reminders).
            host.Services.AddSingleton(dataSource);
            host.UseOrleans(s => SiloSetup.Configure(s, dataSource, options.Silo, options));
            if (options.ExitOnFatalError) host.Services.AddSingleton<Orleans.Runtime.IFatalErrorHandler, FatalErrorExit>();
            silo = host.Build();
            await silo.StartAsync(cancellationToken);
            var grains = silo.Services.GetRequiredService<IGrainFactory>();
            programs.UseGrains(grains);
            await grains.GetGrain<ICardSweeperGrain>(0).StartAsync(options.SweepPeriod);
            var cards = new CardDirectory(grains, store, programs, time);
            return new LoyaltyEngine(dataSource, writer, silo, cards);
        }
        catch
        {
            if (silo is not null)
            {
                try { await silo.StopAsync(CancellationToken.None); } catch (Exception) { /* already failing; the first error is the one to report */ }
                silo.Dispose();
            }
            if (writer is not null) await writer.DisposeAsync();
            await dataSource.DisposeAsync();
            throw;
        }
    }

    public Task<IReadOnlyList<string>> CheckInvariantsAsync(CancellationToken cancellationToken = default) =>
        InvariantChecker.CheckAsync(DataSource, cancellationToken);

    /// <summary>Deactivates every card activation of the whole cluster idle now (tests use it to drop what is in memory).</summary>
    public Task DeactivateIdleCardsAsync() =>
        Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

    /// <summary>Leaves the cluster gracefully (this silo's cards re-activate elsewhere on their next call), then flushes the writer.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _silo.StopAsync(timeout.Token);
        }
        finally
        {
            _silo.Dispose();
            await Writer.DisposeAsync();
            await DataSource.DisposeAsync();
        }
    }
}
