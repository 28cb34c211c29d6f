using System.Diagnostics;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

public sealed class CrashTests : EngineTestBase
{
    [Fact]
    public async Task A_server_process_killed_mid_flight_loses_no_acknowledged_operation_and_leaves_the_books_balanced()
    {
        string[] numbers = ["6000001", "6000002", "6000003", "6000004"];
        foreach (var n in numbers) await IssueWithBalanceAsync(n, 50_00);
        var client = Path.Combine(AppContext.BaseDirectory, "Loyalty.CrashClient.dll");
        var acknowledged = new List<string>();

        for (var round = 0; round < 2; round++)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { client, ConnectionString, string.Join(',', numbers), $"crash{round}" }) start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            _ = process.StandardError.ReadToEndAsync();
            var seen = 0;
            // Bounded: a client that hangs fails the test instead of stalling the suite.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            // Kill after a few hundred acknowledgements, while writes are surely queued and in flight.
            while (await process.StandardOutput.ReadLineAsync(deadline.Token) is { } line)
            {
                if (!line.StartsWith("ACK ", StringComparison.Ordinal)) continue;
                acknowledged.Add(line[4..]);
                if (++seen == 300) { process.Kill(); break; }
            }
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync(deadline.Token);
        }

        Assert.True(acknowledged.Count >= 600, $"only {acknowledged.Count} operations were acknowledged before the kills");
        await AssertStoredExactlyOnceAsync(acknowledged);
        await AssertInvariantsHoldAsync();

        // This process's activations were never told about the other process's writes; they must
        // notice the newer versions and still answer correctly.
        foreach (var n in numbers)
        {
            var view = await Cards.Card(n).AdjustAsync($"after-crash-{n}", 1_00, "after", "test");
            Assert.Equal(await ScalarAsync($"SELECT balance FROM cards WHERE number = '{n}'"), view.BalanceKopecks);
        }
        await AssertInvariantsHoldAsync();
    }
}
