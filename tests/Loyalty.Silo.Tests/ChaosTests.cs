using Loyalty.Chaos;
using Loyalty.Grains;
using Loyalty.Grains.Storage;
using Xunit.Abstractions;

namespace Loyalty.Silo.Tests;

/// <summary>
/// The chaos harness in short (fixed seed, seconds rather than minutes), so every ./test.sh run kills a
/// server, restarts and crashes PostgreSQL and checks the books; and a check that the checks can fail.
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_short_chaos_run_with_every_fault_keeps_every_acknowledged_operation_exactly_once()
    {
        // A short retry budget leaves some outcomes unknown through a fault, so resolving them after the run is exercised too.
        var options = new ChaosOptions { Seconds = 20, Seed = 1, Terminals = 12, Cards = 12, FaultEverySeconds = 4, RetrySeconds = 2 };
        var report = await ChaosRun.RunAsync(options, line => output.WriteLine(line));
        var table = new StringWriter();
        Report.WriteTable(report, table);
        output.WriteLine(table.ToString());

        Assert.True(report.AllHold, table.ToString());
        Assert.All(Enum.GetValues<FaultKind>(), kind => Assert.Contains(report.Faults, f => f.Kind == kind));
        Assert.Contains(report.Operations, o => o.Outcome == Outcome.Acknowledged && o.Kind == OpKind.Commit);
        Assert.Contains(report.Operations, o => o.Outcome == Outcome.Refused);
        Assert.True(report.History.AbandonedCalls > 0, "No call was abandoned mid-flight.");
    }

    /// <summary>
    /// Found by the chaos harness with small bounds: a retry refused for overload, after an attempt
    /// that had in fact been stored, was taken as "not stored". Abandoned calls make outcomes unknown,
    /// a mailbox of 2 and a low per-key rate make the retries meet RESOURCE_EXHAUSTED.
    /// </summary>
    [Fact]
    public async Task Under_overload_refusals_a_retry_refused_for_overload_never_hides_a_stored_first_attempt()
    {
        var options = new ChaosOptions
        {
            Seconds = 10, Seed = 2, Terminals = 24, Cards = 6, FaultEverySeconds = 0, RetrySeconds = 2, AbandonRate = 0.2, HotCardShare = 0.5,
            ServerSettings = new Dictionary<string, string> { ["LOYALTY_MAILBOX_CAPACITY"] = "2", ["LOYALTY_RATE_PER_KEY"] = "100", ["LOYALTY_RATE_BURST"] = "20" },
        };
        var report = await ChaosRun.RunAsync(options, line => output.WriteLine(line));
        var table = new StringWriter();
        Report.WriteTable(report, table);
        output.WriteLine(table.ToString());

        Assert.True(report.AllHold, table.ToString());
        Assert.True(report.History.AttemptsByStatus.GetValueOrDefault("RESOURCE_EXHAUSTED") > 0, "Nothing was refused for overload.");
        Assert.True(report.History.AbandonedCalls > 0, "No call was abandoned mid-flight.");
    }

    [Fact]
    public async Task The_checks_report_an_acknowledged_operation_that_is_missing_and_a_refused_one_that_was_stored()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"loyalty-checks-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        try
        {
            await using var postgres = await EmbeddedPostgres.StartAsync(Path.Combine(directory, "pg"));
            var connectionString = await postgres.CreateDatabaseAsync("checks");
            await using (var engine = await LoyaltyEngine.StartAsync(connectionString))
            {
                await engine.Cards.Card("5001").IssueAsync("default", null, null);
                await engine.Cards.Card("5001").AdjustAsync("stored-but-refused", 500, "test", "tester");
            }
            var history = new History();
            Task<(Effect, long)> NoSend(PosAdapter.Client.LoyaltyClient _, CancellationToken __) => throw new InvalidOperationException();
            history.Add(new OpRecord("issue-5001", OpKind.Issue, "5001", -1, NoSend) { Outcome = Outcome.Acknowledged, VersionAfter = 1 });
            history.Add(new OpRecord("stored-but-refused", OpKind.Adjust, "5001", 0, NoSend) { Outcome = Outcome.Refused, RefusedWith = Protos.StatusCode.FailedPrecondition });
            history.Add(new OpRecord("acknowledged-but-lost", OpKind.Adjust, "5001", 0, NoSend) { Outcome = Outcome.Acknowledged, Effect = new Effect(700, 0), VersionAfter = 3 });

            var (results, _) = await Checks.RunAsync(connectionString, history, new ChaosOptions());

            string Finding(string invariant) => string.Join(" ", results.Single(r => r.Name.StartsWith(invariant, StringComparison.Ordinal)).Violations);
            Assert.Contains("acknowledged-but-lost", Finding("every acknowledged operation"));
            Assert.Contains("stored-but-refused", Finding("no operation that was refused"));
            Assert.Contains("Card 5001", Finding("each card holds what the terminals were told"));
            Assert.True(results.Single(r => r.Name.StartsWith("each card's balance", StringComparison.Ordinal)).Holds);
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
