using System.Net;
using Loyalty.Grains.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Loyalty.Cluster.TestSilo;

/// <summary>Where and how one test silo runs.</summary>
/// <param name="ConnectionString">The PostgreSQL database holding our Orleans tables (migration 0006).</param>
/// <param name="ClusterId">Silos with the same id on the same database form one cluster.</param>
/// <param name="SiloPort">Silo-to-silo port on 127.0.0.1.</param>
/// <param name="GatewayPort">Client gateway port on 127.0.0.1.</param>
/// <param name="SiloName">Name in the membership table.</param>
/// <param name="MinimumReminderPeriod">Orleans refuses reminders with a shorter period (default 1 min); tests lower it.</param>
public sealed record TestSiloSettings(
    string ConnectionString,
    string ClusterId,
    int SiloPort,
    int GatewayPort,
    string SiloName,
    TimeSpan MinimumReminderPeriod);

/// <summary>
/// Builds an Orleans silo on our schema: ADO.NET clustering, reminders and grain storage, all through one
/// NpgsqlDataSource, with <see cref="ClusterTimings"/> applied. The same code runs in-process in tests and
/// as a child process (Program.cs) that a test can kill -9.
/// </summary>
public static class TestSiloHost
{
    /// <summary>The grain storage name the test grains use.</summary>
    public const string StorageName = "loyalty";

    /// <summary>
    /// The ADO.NET invariant. Required by the providers even with a DataSource (they validate it); with
    /// the DataSource they do not load a provider factory by this name.
    /// </summary>
    public const string Invariant = "Npgsql";

    /// <summary>The service id: reminders and grain state are keyed by it, so it stays fixed across clusters.</summary>
    public const string ServiceId = "loyalty";

    /// <summary>A host, not started. Its data source is disposed when the host has stopped.</summary>
    public static IHost Build(TestSiloSettings settings, LogLevel minimumLogLevel)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(minimumLogLevel).AddSimpleConsole(o => o.SingleLine = true);
        // Calls to a silo that was just killed fail and are retried by Orleans' placement (Polly) and
        // messaging, each logged with a full stack trace; in these tests that is the expected path, not news.
        builder.Logging.AddFilter("Polly", LogLevel.Critical).AddFilter("Orleans.Messaging", LogLevel.Critical);

        // One pool for the three providers. Handed to them directly (not through DI), so the host does not
        // own it: it is disposed once the host has stopped, after the providers' last query.
        var dataSource = NpgsqlDataSource.Create(settings.ConnectionString);

        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = ServiceId;
            });
            silo.Configure<SiloOptions>(o => o.SiloName = settings.SiloName);
            // Loopback only, and advertised as 127.0.0.1: the membership table holds the address others dial.
            silo.ConfigureEndpoints(IPAddress.Loopback, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false);
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = Invariant;
                o.DataSource = dataSource;
            });
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
            silo.Configure<ClusterMembershipOptions>(ApplyTimings);
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = settings.MinimumReminderPeriod);
        });
        var host = builder.Build();
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(dataSource.Dispose);
        return host;
    }

    /// <summary>The timings every Loyalty silo applies (<see cref="SiloSetup.ApplyTimings"/>).</summary>
    public static void ApplyTimings(ClusterMembershipOptions options) => SiloSetup.ApplyTimings(options);
}
