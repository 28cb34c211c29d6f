using System.Diagnostics;
using Grpc.Health.V1;
using Loyalty.Protos.V1;

namespace Loyalty.Fuzz;

/// <summary>
/// Runs the scenarios one after another against a running server. After each, the server must still
/// answer a health check and a real GetCard; its memory is sampled throughout. Every scenario is
/// bounded in time and count and stops by itself.
/// </summary>
public sealed class FuzzRun(FuzzTarget target, FuzzSettings settings, TextWriter progress)
{
    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(CancellationToken cancellationToken)
    {
        var results = new List<ScenarioResult>();
        foreach (var name in settings.Scenarios)
        {
            var result = new ScenarioResult(name);
            var random = new Random(HashCode.Combine(settings.Seed, name.Length, name[0]));
            progress.WriteLine($"[{name}] started (seed {settings.Seed}, {settings.Seconds:0.#} s)");
            result.RssBeforeKb = Rss();
            var clock = Stopwatch.StartNew();
            await using (var sampler = new MemorySampler(target.ServerProcessId))
            {
                var scenarios = new Scenarios(target, settings, result, random, progress);
                await (name switch
                {
                    "frames" => scenarios.RandomFramesAsync(cancellationToken),
                    "mutated" => scenarios.MutatedRequestsAsync(cancellationToken),
                    "contents" => scenarios.HostileContentsAsync(cancellationToken),
                    "headers" => scenarios.HugeHeadersAsync(cancellationToken),
                    "slow" => scenarios.SlowClientsAsync(cancellationToken),
                    "idle" => scenarios.IdleConnectionsAsync(cancellationToken),
                    "rate" => scenarios.RateLimitAsync(cancellationToken),
                    _ => throw new ArgumentException($"There is no scenario \"{name}\"; the scenarios are {string.Join(", ", FuzzSettings.AllScenarios)}."),
                });
                result.Duration = clock.Elapsed;
                // Connections the scenario dropped are closed by now; a moment lets the server release them.
                await Task.Delay(settings.Settle, cancellationToken);
                result.RssPeakKb = Math.Max(sampler.PeakKb, result.RssBeforeKb);
            }
            (result.ServerAlive, result.AliveDetail) = await CheckAliveAsync(cancellationToken);
            result.RssAfterKb = Rss();
            progress.WriteLine($"[{name}] done in {result.Duration.TotalSeconds:0.0} s: {result.Sent:N0} sent; {result.OutcomeSummary}; " +
                $"server {(result.ServerAlive ? "alive" : "NOT ALIVE")} ({result.AliveDetail}); unexpected {result.UnexpectedCount}");
            foreach (var note in result.Notes) progress.WriteLine($"[{name}]   {note}");
            foreach (var sample in result.UnexpectedSamples) progress.WriteLine($"[{name}]   UNEXPECTED {sample}");
            results.Add(result);
            if (!result.ServerAlive) break;
        }
        return results;
    }

    private long Rss() => target.ServerProcessId is { } id ? Memory.Read(id).RssKb : 0;

    /// <summary>The server is alive when a fresh connection gets SERVING from the health check and the card from GetCard.</summary>
    public async Task<(bool Alive, string Detail)> CheckAliveAsync(CancellationToken cancellationToken)
    {
        using var caller = new GrpcCaller(target.GrpcAddress);
        var health = await caller.CallAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), null, cancellationToken);
        if (!health.IsOk || health.Message(HealthCheckResponse.Parser).Status != HealthCheckResponse.Types.ServingStatus.Serving)
            return (false, $"health check: {health.Outcome} {health.GrpcMessage}");
        var card = await caller.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = target.Card }, target.OtherPosKey, cancellationToken);
        if (!card.IsOk) return (false, $"GetCard: {card.Outcome} {card.GrpcMessage}");
        return (true, $"health SERVING, GetCard balance {card.Message(Card.Parser).Balance}");
    }
}

/// <summary>What a run needs on the server: a funded card and register keys of one store, made with the admin key.</summary>
public static class FuzzSetup
{
    public const string StoreId = "S1";
    /// <summary>Opening balance of the fuzz card, in kopecks; the contents scenario checks it does not move.</summary>
    public const long OpeningBalance = 1_000_000;

    public static async Task<FuzzTarget> PrepareAsync(Uri grpcAddress, string adminKey, int? serverProcessId, int workers, int seed, CancellationToken cancellationToken)
    {
        using var caller = new GrpcCaller(grpcAddress);
        var card = $"77{seed:D4}{Random.Shared.Next(1_000_000):D6}";
        await Expect(caller.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = card }, adminKey, cancellationToken), "issue the fuzz card");
        await Expect(caller.CallAsync("/loyalty.v1.Admin/Adjust",
            new AdjustRequest { OperationId = $"fuzz-open-{card}", CardNumber = card, Amount = OpeningBalance, Reason = "fuzz opening balance" }, adminKey, cancellationToken), "fund the fuzz card");
        var keys = new List<string>();
        // One key per worker and two more (the rate scenario's hammering key and the "other" key).
        for (var i = 0; i < workers + 3; i++)
        {
            var reply = await Expect(caller.CallAsync("/loyalty.v1.Admin/CreateApiKey",
                new CreateApiKeyRequest { Role = "pos", StoreId = StoreId, Name = $"fuzz register {i}" }, adminKey, cancellationToken), "create a register key");
            keys.Add(reply.Message(CreateApiKeyReply.Parser).ApiKey);
        }
        return new FuzzTarget(grpcAddress, adminKey, keys[..^1], keys[^1], StoreId, card, serverProcessId);
    }

    private static async Task<CallOutcome> Expect(Task<CallOutcome> call, string what)
    {
        var reply = await call;
        if (!reply.IsOk) throw new InvalidOperationException($"Could not {what}: {reply.Outcome} {reply.GrpcMessage}");
        return reply;
    }
}
