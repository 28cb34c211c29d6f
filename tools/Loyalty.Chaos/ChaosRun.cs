using System.Diagnostics;
using System.Security.Cryptography;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.Chaos;

/// <summary>Everything a run found, for the report and for tests.</summary>
public sealed record ChaosReport(
    ChaosOptions Options,
    TimeSpan LoadDuration,
    IReadOnlyList<OpRecord> Operations,
    History History,
    IReadOnlyList<FaultRecord> Faults,
    IReadOnlyList<InvariantResult> Invariants,
    Totals Totals,
    IReadOnlyList<int> ServerExitCodes,
    IReadOnlyList<long> ServerPeakMemoryKb,
    string RunDirectory)
{
    public bool AllHold => Invariants.All(i => i.Holds);
}

/// <summary>
/// One chaos run: cluster up, cards issued and credited, the workload through every server while the
/// fault injector works, then every unknown outcome resolved, the servers stopped gracefully, and the
/// database checked against the answers.
/// </summary>
public static class ChaosRun
{
    /// <summary>How long resolving the unknown outcomes after the run may take in all.</summary>
    private static readonly TimeSpan ResolutionBudget = TimeSpan.FromMinutes(2);
    /// <summary>Operations resolved at once after the run.</summary>
    private const int ResolutionParallelism = 16;
    /// <summary>
    /// A short run goes on past its seconds until every kind of fault was injected once, so even a few
    /// seconds test them all; but never longer than this many times its seconds.
    /// </summary>
    private const int MaxOvertime = 4;

    public static async Task<ChaosReport> RunAsync(ChaosOptions options, Action<string> progress, CancellationToken cancellationToken = default)
    {
        var runDirectory = CreateRunDirectory();
        progress($"run directory (server and PostgreSQL logs): {runDirectory}");
        var history = new History();
        var cluster = await ChaosCluster.StartAsync(options, runDirectory, progress, cancellationToken);
        ChaosReport report;
        try
        {
            report = await RunOnAsync(cluster, options, history, runDirectory, progress, cancellationToken);
        }
        finally
        {
            // PostgreSQL and every server are stopped before the run directory may be deleted.
            await cluster.DisposeAsync();
        }
        if (report.AllHold && !options.Keep) TryDelete(runDirectory);
        return report;
    }

    private static async Task<ChaosReport> RunOnAsync(ChaosCluster cluster, ChaosOptions options, History history, string runDirectory, Action<string> progress, CancellationToken cancellationToken)
    {
        var servers = cluster.Servers.Select(s => s.GrpcAddress).ToList();
        var adminKey = cluster.AdminKey;

        var (cards, posKeys) = await SetUpAsync(options, servers[0], adminKey, history, progress, cancellationToken);
        var workload = new Workload(options, servers, cards, posKeys, adminKey, history);
        var faults = new FaultInjector(cluster, options, progress, cards, adminKey);

        progress($"load: {options.Terminals} terminals of {options.Stores} stores on {options.Cards} cards through {servers.Count} servers for {options.Seconds} s; a fault every ~{options.FaultEverySeconds} s");
        var clock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var load = workload.RunAsync(stop.Token);
        var injecting = faults.RunAsync(clock, stop.Token);
        var lastProgress = TimeSpan.Zero;
        while (!load.IsCompleted)
        {
            await Task.WhenAny(load, Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None));
            if (!stop.IsCancellationRequested && clock.Elapsed >= TimeSpan.FromSeconds(options.Seconds) && (faults.RotationDone || clock.Elapsed >= TimeSpan.FromSeconds(options.Seconds * MaxOvertime)))
                stop.Cancel();
            if (clock.Elapsed - lastProgress < TimeSpan.FromSeconds(5) && !load.IsCompleted) continue;
            lastProgress = clock.Elapsed;
            progress($"t={clock.Elapsed.TotalSeconds:0}s operations {workload.Started:N0}: acknowledged {workload.Acknowledged:N0}, refused {workload.Refused:N0}, unknown {workload.Unknown:N0}; attempts {history.Attempts:N0}, faults {faults.Count}"
                + (stop.IsCancellationRequested ? " (finishing operations under way)" : ""));
        }
        await load;
        await injecting;
        var loadDuration = clock.Elapsed;

        var unknown = history.Operations.Where(o => o.Outcome == Outcome.Unknown).ToList();
        if (unknown.Count > 0)
        {
            progress($"resolving {unknown.Count} operations whose outcome is unknown, by retrying each with its id");
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            budget.CancelAfter(ResolutionBudget);
            await Parallel.ForEachAsync(unknown, new ParallelOptions { MaxDegreeOfParallelism = ResolutionParallelism, CancellationToken = CancellationToken.None },
                async (op, _) => await workload.ResolveAsync(op, ResolutionBudget, budget.Token));
        }

        // Memory under all that: each server's peak since its last start (a killed one started afresh).
        var peakMemoryKb = cluster.Servers.Select(s => s.PeakMemoryKb() ?? 0).ToList();
        progress("stopping the servers with SIGTERM");
        var exitCodes = await cluster.StopServersAsync();
        progress("checking the ledger against every answer");
        var (checks, totals) = await Checks.RunAsync(cluster.ConnectionString, history, options);
        var invariants = checks.Append(new InvariantResult("every server and PostgreSQL came back after every fault", faults.Injected.Count,
                [.. faults.Injected.Where(f => f.Error is not null).Select(f => $"{f.Kind} at {f.AtSeconds:0} s: {f.Error}")]))
            .Append(new InvariantResult("every server stopped cleanly on SIGTERM after the run", exitCodes.Length,
                [.. exitCodes.Select((code, i) => code == 0 ? null : $"{cluster.Servers[i].Name} exited with {code}; see {cluster.Servers[i].LogPath}.").OfType<string>()]))
            .ToList();
        return new ChaosReport(options, loadDuration, history.Operations.ToList(), history, faults.Injected, invariants, totals, exitCodes, peakMemoryKb, runDirectory);
    }

    /// <summary>POS keys for every store, the cards, and their opening balances (recorded like any operation).</summary>
    private static async Task<(IReadOnlyList<string> Cards, IReadOnlyDictionary<string, string> PosKeys)> SetUpAsync(
        ChaosOptions options, Uri server, string adminKey, History history, Action<string> progress, CancellationToken cancellationToken)
    {
        using var admin = LoyaltyClient.Create(server.ToString(), adminKey, TimeSpan.FromSeconds(30));
        var posKeys = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var s = 0; s < options.Stores; s++)
        {
            var store = Workload.StoreOf(s, options.Stores);
            var key = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = store, Name = $"chaos terminals of {store}" }, null, cancellationToken);
            posKeys[store] = key.ApiKey;
        }
        var cards = Enumerable.Range(1, options.Cards).Select(i => $"77{options.Seed % 1000:000}{i:000000}").ToList();
        foreach (var card in cards)
        {
            var issued = await admin.IssueCardAsync(new IssueCardRequest { CardNumber = card }, null, cancellationToken);
            // Issuing takes no operation id from the caller; the server records it as "issue-<number>".
            history.Add(new OpRecord($"issue-{card}", OpKind.Issue, card, -1, (_, _) => throw new InvalidOperationException("Issuing is not retried."))
            {
                Outcome = Outcome.Acknowledged,
                Attempts = 1,
                VersionAfter = issued.Version,
            });
            var id = $"chaos-{options.Seed}-open-{card}";
            var opening = new OpRecord(id, OpKind.OpeningCredit, card, -1, async (client, ct) =>
            {
                var reply = await client.AdjustAsync(new AdjustRequest { OperationId = id, CardNumber = card, Amount = options.OpeningBalanceKopecks, Reason = "chaos: opening balance" }, null, ct);
                return (new Effect(options.OpeningBalanceKopecks, 0), reply.Version);
            });
            var (effect, version) = await opening.Send(admin, cancellationToken);
            (opening.Effect, opening.VersionAfter, opening.Outcome, opening.Attempts) = (effect, version, Outcome.Acknowledged, 1);
            history.Add(opening);
        }
        progress($"{cards.Count} cards issued with {options.OpeningBalanceKopecks / 100} roubles each; POS keys for {posKeys.Count} stores");
        return (cards, posKeys);
    }

    /// <summary>A directory the postgres user can traverse when we run as root (the cluster lives in it).</summary>
    private static string CreateRunDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), $"loyalty-chaos-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return path;
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // Left for the temp cleaner; it holds only this run's logs and database.
        }
    }
}
