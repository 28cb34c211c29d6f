using System.Diagnostics;
using Loyalty.Grains.Storage;

namespace Loyalty.Chaos;

/// <summary>A private PostgreSQL cluster and the server processes on its one database.</summary>
public sealed class ChaosCluster : IAsyncDisposable
{
    private ChaosCluster(EmbeddedPostgres postgres, string connectionString, IReadOnlyList<SiloProcess> servers)
    {
        Postgres = postgres;
        ConnectionString = connectionString;
        Servers = servers;
    }

    public EmbeddedPostgres Postgres { get; }
    public string ConnectionString { get; }
    public IReadOnlyList<SiloProcess> Servers { get; }
    public string AdminKey => File.ReadAllText(Servers[0].AdminKeyPath).Trim();

    public static async Task<ChaosCluster> StartAsync(ChaosOptions options, string runDirectory, Action<string> progress, CancellationToken cancellationToken)
    {
        var postgres = await EmbeddedPostgres.StartAsync(Path.Combine(runDirectory, "pgdata"), line => progress($"postgres: {line}"), cancellationToken);
        var servers = new List<SiloProcess>();
        try
        {
            var connectionString = await postgres.CreateDatabaseAsync("chaos", cancellationToken);
            for (var i = 0; i < options.Servers; i++) servers.Add(new SiloProcess(i, connectionString, runDirectory, options.ServerSettings));
            // The first server migrates the schema and writes the admin key; the others then start side by side.
            await servers[0].StartAsync(cancellationToken);
            await Task.WhenAll(servers.Skip(1).Select(s => s.StartAsync(cancellationToken)));
            progress($"{servers.Count} servers up: {string.Join(", ", servers.Select(s => s.GrpcAddress))}");
            return new ChaosCluster(postgres, connectionString, servers);
        }
        catch
        {
            foreach (var server in servers) server.Dispose();
            await postgres.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops every server with SIGTERM (a graceful stop must work after all that) and returns their exit codes.</summary>
    public async Task<int[]> StopServersAsync() => await Task.WhenAll(Servers.Select(s => s.StopAsync()));

    public async ValueTask DisposeAsync()
    {
        foreach (var server in Servers) server.Dispose();
        await Postgres.DisposeAsync();
    }
}

public enum FaultKind { KillServer, PostgresFastRestart, PostgresCrash, ServerRestartDuringDatabaseOutage, PostgresFreeze }

/// <summary>One fault injected; <paramref name="Error"/> says what did not come back, if anything.</summary>
/// <param name="CardsServedAfterSeconds">For a server killed: from the kill until every card answered through a surviving server (its cards re-activated elsewhere).</param>
public sealed record FaultRecord(FaultKind Kind, string Target, double AtSeconds, double DownSeconds, double RecoveredAfterSeconds, string? Error = null, double? CardsServedAfterSeconds = null);

/// <summary>
/// Injects one fault every few seconds, in turn: a server killed with SIGKILL and started again, PostgreSQL
/// stopped "fast" (sessions terminated, checkpoint) and started again, PostgreSQL stopped "immediate"
/// (a crash: recovery replays the WAL), and a server killed and started again while PostgreSQL is
/// down (as after a power cut, when the server may come up before its database), and PostgreSQL frozen
/// with SIGSTOP for longer than a call's deadline (a hung host or a network black hole: connections
/// stay open but nothing answers, so writes time out at the client and commit later). A fault under way is always finished, so the cluster is whole
/// when the run ends.
/// </summary>
public sealed class FaultInjector(ChaosCluster cluster, ChaosOptions options, Action<string> progress, IReadOnlyList<string> cards, string adminKey)
{
    /// <summary>How long the per-kill probe waits for the killed server's cards before it reports them unserved.</summary>
    public static readonly TimeSpan CardsServedTimeout = TimeSpan.FromSeconds(30);
    private double? _cardsServedAfter;

    private static readonly FaultKind[] Rotation = [FaultKind.KillServer, FaultKind.PostgresFastRestart, FaultKind.PostgresCrash, FaultKind.ServerRestartDuringDatabaseOutage, FaultKind.PostgresFreeze];
    private readonly List<FaultRecord> _injected = [];

    public IReadOnlyList<FaultRecord> Injected => _injected;
    /// <summary>Every kind of fault was injected at least once (or faults are off).</summary>
    public bool RotationDone => options.FaultEverySeconds == 0 || Volatile.Read(ref _count) >= Rotation.Length;
    public int Count => Volatile.Read(ref _count);
    private int _count;

    public async Task RunAsync(Stopwatch clock, CancellationToken stop)
    {
        if (options.FaultEverySeconds == 0) return;
        var rng = new Random(unchecked(options.Seed * 31 + 7));
        for (var n = 0; ; n++)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(options.FaultEverySeconds * (0.75 + 0.5 * rng.NextDouble())), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var kind = Rotation[n % Rotation.Length];
            var down = TimeSpan.FromMilliseconds(rng.Next(1_000, 3_000));
            var at = clock.Elapsed.TotalSeconds;
            var watch = Stopwatch.StartNew();
            var target = "";
            string? error = null;
            try
            {
                target = await InjectAsync(kind, rng, down);
            }
            catch (Exception failure) when (failure is InvalidOperationException or TimeoutException or IOException)
            {
                // A fault the cluster did not recover from is a finding, not the end of the run: it is
                // reported as a violation, and everything is brought back so the books can be checked.
                error = failure.Message;
                progress($"fault: {kind} was not recovered from: {failure.Message}");
                await BringBackAsync();
            }
            _injected.Add(new FaultRecord(kind, target, at, down.TotalSeconds, watch.Elapsed.TotalSeconds, error, _cardsServedAfter));
            _cardsServedAfter = null;
            Interlocked.Increment(ref _count);
            progress($"fault: {target} back after {watch.Elapsed.TotalSeconds:0.0} s");
        }
    }

    /// <summary>Injects one fault and waits until what it took down is back; returns what was hit.</summary>
    private async Task<string> InjectAsync(FaultKind kind, Random rng, TimeSpan down)
    {
        var server = cluster.Servers[rng.Next(cluster.Servers.Count)];
        switch (kind)
        {
            case FaultKind.KillServer:
                progress($"fault: kill -9 {server.Name}");
                var killedAt = Stopwatch.StartNew();
                server.Kill();
                var served = CardsServedAgainAsync(server, killedAt);
                await Task.Delay(down, CancellationToken.None);
                // The survivors must serve the killed server's cards before it comes back (the failover bound).
                _cardsServedAfter = await served;
                progress(_cardsServedAfter is { } after ? $"fault: every card served again {after:0.00} s after the kill" : "fault: some cards were not served again within the probe's timeout");
                await server.StartAsync(CancellationToken.None);
                return server.Name;
            case FaultKind.ServerRestartDuringDatabaseOutage:
                progress($"fault: PostgreSQL stop -m immediate, kill -9 {server.Name}, start {server.Name} before PostgreSQL");
                await cluster.Postgres.InterruptAsync("immediate");
                server.Kill();
                var starting = server.StartAsync(CancellationToken.None);
                await Task.Delay(down, CancellationToken.None);
                await cluster.Postgres.StartAgainAsync(CancellationToken.None);
                await starting;
                return $"{server.Name} and postgres";
            case FaultKind.PostgresFreeze:
                // Longer than a call's deadline, so some writes are answered DEADLINE_EXCEEDED and commit afterwards.
                var frozenFor = Workload.CallTimeout + TimeSpan.FromMilliseconds(rng.Next(0, 3_000));
                progress($"fault: PostgreSQL frozen (SIGSTOP) for {frozenFor.TotalSeconds:0.0} s");
                await cluster.Postgres.FreezeAsync(() => Task.Delay(frozenFor, CancellationToken.None));
                return "postgres";
            default:
                var mode = kind == FaultKind.PostgresFastRestart ? "fast" : "immediate";
                progress($"fault: PostgreSQL stop -m {mode}");
                await cluster.Postgres.InterruptAsync(mode);
                await Task.Delay(down, CancellationToken.None);
                await cluster.Postgres.StartAgainAsync(CancellationToken.None);
                return "postgres";
        }
    }

    /// <summary>
    /// Asks a surviving server for every card, again and again, until each has answered once: the
    /// cards the killed server held answer only once the cluster has declared it dead and re-activated
    /// them. Returns the seconds from the kill to the last card's first answer (null past the timeout).
    /// </summary>
    private async Task<double?> CardsServedAgainAsync(SiloProcess killed, Stopwatch sinceKill)
    {
        var survivor = cluster.Servers.First(s => s != killed);
        using var client = Loyalty.PosAdapter.Client.LoyaltyClient.Create(survivor.GrpcAddress.ToString(), adminKey, TimeSpan.FromSeconds(2));
        var waiting = new HashSet<string>(cards, StringComparer.Ordinal);
        while (waiting.Count > 0 && sinceKill.Elapsed < CardsServedTimeout)
        {
            var answers = await Task.WhenAll(waiting.Select(async card =>
            {
                try
                {
                    await client.GetCardAsync(card);
                    return card;
                }
                catch (Loyalty.PosAdapter.Client.RpcException)
                {
                    return null;
                }
            }));
            foreach (var card in answers) if (card is not null) waiting.Remove(card);
            if (waiting.Count > 0) await Task.Delay(50, CancellationToken.None);
        }
        return waiting.Count == 0 ? sinceKill.Elapsed.TotalSeconds : null;
    }

    /// <summary>After a fault that did not heal: PostgreSQL and every server started again, whatever state they are in.</summary>
    private async Task BringBackAsync()
    {
        try
        {
            await cluster.Postgres.StartAgainAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // It was running.
        }
        foreach (var server in cluster.Servers.Where(s => !s.IsRunning))
        {
            try
            {
                await server.StartAsync(CancellationToken.None);
            }
            catch (Exception failure) when (failure is InvalidOperationException or TimeoutException)
            {
                progress($"{server.Name} could not be started again: {failure.Message}");
            }
        }
    }
}
