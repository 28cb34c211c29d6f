using System.Net;
using System.Net.Sockets;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Serialization;

namespace Loyalty.Grains.Cluster;

/// <summary>Where one silo runs and which cluster it joins.</summary>
/// <param name="ClusterId">Silos with the same id on the same database form one cluster (Orleans' ClusterId).</param>
/// <param name="SiloPort">Silo-to-silo port on <paramref name="Address"/>; 0 picks a free one.</param>
/// <param name="Address">The address the silo listens on and advertises in the membership table (others dial it).</param>
public sealed record SiloEndpoint(string ClusterId, int SiloPort, IPAddress Address)
{
    public const string DefaultClusterId = "loyalty";
    public const int DefaultSiloPort = 11111;

    /// <summary>Loopback, a free port, the default cluster: one process alone, or tests.</summary>
    public static SiloEndpoint Local(string clusterId = DefaultClusterId) => new(clusterId, 0, IPAddress.Loopback);
}

/// <summary>
/// The one Orleans configuration of a Loyalty silo, used by the server, the tests and the tools:
/// clustering, reminders and grain state on our PostgreSQL schema (migration 0006) through the
/// engine's data source; <see cref="ClusterTimings"/>; the card bounds mapped onto Orleans' own; and
/// domain records carried as the JSON the ledger already stores them in.
/// </summary>
public static class SiloSetup
{
    /// <summary>The grain storage name of the small non-money state (programmes, shifts, print queues).</summary>
    public const string StorageName = "loyalty";

    /// <summary>The ADO.NET invariant; the providers validate it even when given our data source.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>The service id: reminders and grain state are keyed by it, so it stays fixed across clusters.</summary>
    public const string ServiceId = "loyalty";

    /// <summary>A silo of a Loyalty server: its endpoint and ADO.NET clustering, then <see cref="ConfigureGrains"/>.</summary>
    public static void Configure(ISiloBuilder silo, NpgsqlDataSource dataSource, SiloEndpoint endpoint, EngineOptions options)
    {
        var port = endpoint.SiloPort == 0 ? FreePort(endpoint.Address) : endpoint.SiloPort;
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = endpoint.ClusterId;
            o.ServiceId = ServiceId;
        });
        // No gateway: nothing outside the silos calls grains (clients speak gRPC to Kestrel).
        silo.ConfigureEndpoints(endpoint.Address, port, gatewayPort: 0, listenOnAnyHostAddress: false);
        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = Invariant;
            o.DataSource = dataSource;
        });
        silo.Configure<ClusterMembershipOptions>(ApplyTimings);
        ConfigureGrains(silo, dataSource, options);
    }

    /// <summary>
    /// Everything but where the silo listens and how it finds the others (a test cluster sets those):
    /// reminders and grain state on our schema, the card bounds mapped onto Orleans' own, Orleans'
    /// failures mapped to our refusals, and domain records carried as JSON.
    /// </summary>
    public static void ConfigureGrains(ISiloBuilder silo, NpgsqlDataSource dataSource, EngineOptions options)
    {
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = Invariant;
            o.DataSource = dataSource;
        });
        silo.AddAdoNetGrainStorage(StorageName, o =>
        {
            o.Invariant = Invariant;
            o.DataSource = dataSource;
        });
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = options.MinimumReminderPeriod);
        silo.Configure<SiloMessagingOptions>(o =>
        {
            // The card's mailbox bound: over it Orleans refuses at once (LimitExceededException →
            // RESOURCE_EXHAUSTED) instead of queueing without end (its default is 0 = unbounded).
            o.MaxEnqueuedRequestsHardLimit = options.Cards.MailboxCapacity;
            o.MaxEnqueuedRequestsSoftLimit = 0;
            o.ResponseTimeout = options.GrainResponseTimeout;
            o.SystemResponseTimeout = options.GrainResponseTimeout;
        });
        silo.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.GrainResponseTimeout);
        silo.Configure<GrainCollectionOptions>(o =>
        {
            o.ClassSpecificCollectionAge[typeof(CardGrain).FullName!] = options.Cards.IdleTimeout;
        });
        silo.AddOutgoingGrainCallFilter<GrainCallFailures>();
        silo.AddIncomingGrainCallFilter<GrainDatabaseFailures>();
        silo.Services.AddSingleton(options.Cards);
        silo.Services.AddSerializer(serializer => serializer.AddJsonSerializer(IsCarriedAsJson, Json.Options));
    }

    /// <summary>
    /// Domain and storage records cross grain boundaries as JSON: they are immutable records with
    /// read-only lists, the same shape the ledger stores replies in, so every reply type already
    /// round-trips. The ones passed on every card call are also marked <c>[Orleans.Immutable]</c>, so a
    /// call within one silo passes them by reference instead of copying them through JSON. Exceptions are not: <see cref="Domain.CardException"/> has its own generated
    /// codec, so its code survives a call that crosses silos.
    /// </summary>
    public static bool IsCarriedAsJson(Type type) =>
        type.Assembly == typeof(SiloSetup).Assembly
        && !typeof(Exception).IsAssignableFrom(type)
        && type.Namespace is "Loyalty.Grains.Domain" or "Loyalty.Grains.Storage" or "Loyalty.Grains.Runtime";

    /// <summary>Copies <see cref="ClusterTimings"/> onto Orleans' options (the one place they are set).</summary>
    public static void ApplyTimings(ClusterMembershipOptions options)
    {
        options.ProbeTimeout = ClusterTimings.ProbeTimeout;
        options.NumMissedProbesLimit = ClusterTimings.NumMissedProbesLimit;
        options.NumVotesForDeathDeclaration = ClusterTimings.NumVotesForDeathDeclaration;
        options.DeathVoteExpirationTimeout = ClusterTimings.DeathVoteExpirationTimeout;
        options.IAmAliveTablePublishTimeout = ClusterTimings.IAmAliveTablePublishTimeout;
        options.NumMissedTableIAmAliveLimit = ClusterTimings.NumMissedTableIAmAliveLimit;
        options.TableRefreshTimeout = ClusterTimings.TableRefreshTimeout;
        options.DefunctSiloExpiration = ClusterTimings.DefunctSiloExpiration;
        options.DefunctSiloCleanupPeriod = ClusterTimings.DefunctSiloCleanupPeriod;
        options.EnableConnectionLivenessCheck = ClusterTimings.EnableConnectionLivenessCheck;
        options.ExtendProbeTimeoutDuringDegradation = ClusterTimings.ExtendProbeTimeoutDuringDegradation;
    }

    /// <summary>A port free on <paramref name="address"/> now (asked of the OS, then released for the silo to take).</summary>
    public static int FreePort(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
