using System.Diagnostics;
using System.Globalization;
using Loyalty.Cluster.Tests.Support;
using Loyalty.Cluster.TestSilo;
using Loyalty.Grains.Cluster;
using Orleans;
using Xunit.Abstractions;

namespace Loyalty.Cluster.Tests;

/// <summary>
/// kill -9 of a real silo process: the survivor (in-process) must declare it dead in our membership table
/// and serve its grains from new activations within <see cref="ClusterTimings.FailoverBound"/>. This is the
/// failover figure issue 10 asks for; it is printed per kill.
/// </summary>
public sealed class SiloFailoverTests(ITestOutputHelper output)
{
    /// <summary>3 kills by default (about 30 s); LOYALTY_FAILOVER_KILLS raises it for a measurement run.</summary>
    private static readonly int Kills = int.TryParse(Environment.GetEnvironmentVariable("LOYALTY_FAILOVER_KILLS"), out var kills) ? Math.Clamp(kills, 1, 20) : 3;
    private const int DeadStatus = 6;
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan WaitBound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_silo_killed_with_sigkill_is_declared_dead_and_its_grain_is_served_by_the_survivor_within_five_seconds()
    {
        await using var database = await ClusterDatabase.CreateMigratedAsync("orleans_failover");
        var clusterId = "failover-" + Guid.NewGuid().ToString("N")[..8];
        await using var survivor = await InProcessSilo.StartAsync(database.ConnectionString, clusterId, "survivor");
        var failovers = new List<TimeSpan>();

        for (var kill = 1; kill <= Kills; kill++)
        {
            using var victim = await ChildSilo.StartAsync(database.ConnectionString, clusterId, $"victim-{kill}", StartBound);
            Assert.True(
                await ClusterDatabase.WaitUntilAsync(() => Task.FromResult(survivor.ActiveMembersSeen == 2), WaitBound),
                $"The survivor never saw victim {kill} join.");

            // A key whose activation lives on the victim (random placement: about every second key).
            IProbeGrain? grain = null;
            ProbeAnswer? before = null;
            for (var attempt = 0; attempt < 64 && grain is null; attempt++)
            {
                var candidate = survivor.Grains.GetGrain<IProbeGrain>($"card-{kill}-{attempt}");
                var answer = await candidate.Who().WaitAsync(WaitBound);
                if (answer.Silo == victim.SiloAddress)
                {
                    (grain, before) = (candidate, answer);
                }
            }

            Assert.NotNull(grain);
            var clock = Stopwatch.StartNew();
            victim.KillHard();

            ProbeAnswer? after = null;
            var failedCalls = 0;
            while (after is null && clock.Elapsed < WaitBound)
            {
                try
                {
                    // Bounded per call: a call in flight to the dead silo can hang until it is declared dead.
                    after = await grain.Who().WaitAsync(TimeSpan.FromSeconds(1));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failedCalls++;
                    await Task.Delay(50);
                }
            }

            var served = clock.Elapsed;
            Assert.NotNull(after);
            Assert.Equal(survivor.SiloAddress, after.Silo);
            Assert.NotEqual(before!.ActivationId, after.ActivationId);
            Assert.Equal(1, after.Calls); // a new activation; in-memory state is not migrated
            Assert.True(
                await ClusterDatabase.WaitUntilAsync(
                    async () => (await database.MembersAsync(clusterId)).Any(m => m.Port == victim.SiloPort && m.Status == DeadStatus),
                    WaitBound),
                $"Victim {kill} was not marked dead (status 6) in orleans_silo.");
            var declaredDead = clock.Elapsed;

            failovers.Add(served);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"kill {kill}: grain served again by the survivor after {served.TotalSeconds:0.00} s ({failedCalls} failed calls meanwhile); dead in orleans_silo by {declaredDead.TotalSeconds:0.00} s"));
        }

        var sorted = failovers.Order().ToArray();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"failover after kill -9 with ProbeTimeout {ClusterTimings.ProbeTimeout.TotalSeconds} s, NumMissedProbesLimit {ClusterTimings.NumMissedProbesLimit}: " +
            $"median {sorted[sorted.Length / 2].TotalSeconds:0.00} s, min {sorted[0].TotalSeconds:0.00} s, max {sorted[^1].TotalSeconds:0.00} s over {sorted.Length} kills"));
        Assert.All(failovers, f => Assert.True(f <= ClusterTimings.FailoverBound, $"{f.TotalSeconds:0.00} s > {ClusterTimings.FailoverBound.TotalSeconds} s"));
        // Only the victims died: the survivor was never evicted.
        var members = await database.MembersAsync(clusterId);
        Assert.Equal(3, members.Single(m => m.SiloName == "survivor").Status);
    }
}
