using Loyalty.Cluster.TestSilo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace Loyalty.Cluster.Tests.Support;

/// <summary>A test silo hosted in the test process (Host.CreateApplicationBuilder + UseOrleans).</summary>
public sealed class InProcessSilo : IAsyncDisposable
{
    private readonly IHost _host;

    private InProcessSilo(IHost host) => _host = host;

    /// <summary>This silo's own grain factory: calls made through it start at this silo.</summary>
    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The silo's address as Orleans prints it.</summary>
    public string SiloAddress => _host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString();

    /// <summary>Active members in this silo's current view of the cluster.</summary>
    public int ActiveMembersSeen =>
        _host.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);

    /// <summary>Starts a silo on free loopback ports; Orleans' own log is kept to errors.</summary>
    public static async Task<InProcessSilo> StartAsync(string connectionString, string clusterId, string siloName)
    {
        var settings = new TestSiloSettings(connectionString, clusterId, ClusterDatabase.FreePort(), ClusterDatabase.FreePort(), siloName, TimeSpan.FromSeconds(1));
        var host = TestSiloHost.Build(settings, LogLevel.Error);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StartAsync(timeout.Token);
        return new InProcessSilo(host);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
