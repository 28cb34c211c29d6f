using System.Diagnostics;
using Loyalty.Chaos;
using Loyalty.Grains.Cluster;
using Loyalty.Grains.Storage;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;
using Xunit.Abstractions;

namespace Loyalty.Silo.Tests;

/// <summary>Two real server processes on one database are one Orleans cluster.</summary>
public sealed class ClusterProcessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_server_processes_form_one_cluster_a_write_through_one_is_read_through_the_other_at_once_and_a_killed_servers_card_is_served_by_the_other_within_the_failover_bound()
    {
        var runDirectory = Path.Combine(Path.GetTempPath(), $"loyalty-cluster-{Guid.NewGuid():N}");
        Directory.CreateDirectory(runDirectory);
        try
        {
            await using var cluster = await ChaosCluster.StartAsync(new ChaosOptions { Servers = 2 }, runDirectory, output.WriteLine, CancellationToken.None);
            var (one, two) = (cluster.Servers[0], cluster.Servers[1]);
            using var clientOne = LoyaltyClient.Create(one.GrpcAddress.ToString(), cluster.AdminKey);
            using var clientTwo = LoyaltyClient.Create(two.GrpcAddress.ToString(), cluster.AdminKey);

            await using (var data = Npgsql.NpgsqlDataSource.Create(cluster.ConnectionString))
            await using (var command = data.CreateCommand("SELECT count(*) FROM orleans_silo WHERE status = 3"))
                Assert.Equal(2L, Convert.ToInt64(await command.ExecuteScalarAsync()));

            // The card activates on the first server (placed where it is first called).
            await clientOne.IssueCardAsync(new IssueCardRequest { CardNumber = "3300001" });
            for (var i = 0; i < 10; i++)
            {
                var (writer, reader) = i % 2 == 0 ? (clientOne, clientTwo) : (clientTwo, clientOne);
                var written = await writer.AdjustAsync(new AdjustRequest { OperationId = $"procs-{i}", CardNumber = "3300001", Amount = 1_00, Reason = "two processes" });
                Assert.Equal(written.Balance, (await reader.GetCardAsync("3300001")).Balance);
            }

            var clock = Stopwatch.StartNew();
            one.Kill();
            Card? served = null;
            while (served is null && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                try { served = await clientTwo.GetCardAsync("3300001"); }
                catch (RpcException) { await Task.Delay(50); }
            }
            output.WriteLine($"the killed server's card was served by the other {clock.Elapsed.TotalSeconds:0.00} s after kill -9");
            Assert.NotNull(served);
            Assert.Equal(10_00, served.Balance);
            Assert.True(clock.Elapsed <= ClusterTimings.FailoverBound, $"served again only after {clock.Elapsed.TotalSeconds:0.00} s");
            await using var books = Npgsql.NpgsqlDataSource.Create(cluster.ConnectionString);
            Assert.Empty(await InvariantChecker.CheckAsync(books));
        }
        finally
        {
            try { Directory.Delete(runDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
