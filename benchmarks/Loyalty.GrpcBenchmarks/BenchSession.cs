using System.Diagnostics;
using Loyalty.Protos.V1;

namespace Loyalty.GrpcBenchmarks;

/// <summary>What every part of the run shares: the client, the method addresses, the keys and the cards.</summary>
public sealed class BenchSession(BenchGrpcClient client, string adminKey, string posKey, IReadOnlyList<string> cards)
{
    /// <summary>The store the pos key is bound to; every receipt is of this store.</summary>
    public const string StoreId = "B1";
    /// <summary>Each card gets this much (1,000,000.00), enough for a million receipts of 1.00: no run drains a card.</summary>
    public const long FundKopecks = 100_000_000;
    /// <summary>Cards issued and funded at once while setting up.</summary>
    public const int SetupConcurrency = 64;

    public BenchGrpcClient Client => client;
    public string AdminAuthorization { get; } = $"Bearer {adminKey}";
    public string PosAuthorization { get; } = $"Bearer {posKey}";
    public IReadOnlyList<string> Cards => cards;

    public Grpc.Core.Method<byte[], byte[]> Redeem { get; } = BenchGrpcClient.Method("loyalty.v1.Cards", "Redeem");
    public Grpc.Core.Method<byte[], byte[]> Commit { get; } = BenchGrpcClient.Method("loyalty.v1.Cards", "Commit");
    public Grpc.Core.Method<byte[], byte[]> IssueCard { get; } = BenchGrpcClient.Method("loyalty.v1.Admin", "IssueCard");
    public Grpc.Core.Method<byte[], byte[]> Adjust { get; } = BenchGrpcClient.Method("loyalty.v1.Admin", "Adjust");

    public static string CardNumber(int index) => $"77{index:D8}";

    /// <summary>Creates the register key of store <see cref="StoreId"/> with the admin key.</summary>
    public static async Task<string> CreatePosKeyAsync(BenchGrpcClient client, string adminKey, CancellationToken cancellationToken)
    {
        var request = new CreateApiKeyRequest { Role = "pos", StoreId = StoreId, Name = "grpc benchmark register" };
        var result = await client.CallAsync(0, BenchGrpcClient.Method("loyalty.v1.Admin", "CreateApiKey"), BenchGrpcClient.Encode(request), $"Bearer {adminKey}", cancellationToken);
        if (!result.Ok)
            throw new InvalidOperationException($"Admin/CreateApiKey for a pos key of store {StoreId} failed: {GrpcStatusNames.Describe(result)}.");
        return CreateApiKeyReply.Parser.ParseFrom(result.Message.Span).ApiKey;
    }

    /// <summary>Issues and funds every card through the API, <see cref="SetupConcurrency"/> at a time, with progress each second.</summary>
    public async Task IssueAndFundCardsAsync(CancellationToken cancellationToken)
    {
        var next = -1;
        var done = 0;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        string? failure = null;

        async Task Worker(int worker)
        {
            while (!failed.IsCancellationRequested)
            {
                var index = Interlocked.Increment(ref next);
                if (index >= cards.Count) return;
                var card = cards[index];
                var issue = await client.CallAsync(worker, IssueCard, BenchGrpcClient.Encode(new IssueCardRequest { CardNumber = card }), AdminAuthorization, failed.Token);
                var fund = issue.Ok
                    ? await client.CallAsync(worker, Adjust, BenchGrpcClient.Encode(new AdjustRequest
                    {
                        OperationId = $"fund-{card}", CardNumber = card, Amount = FundKopecks, Reason = "gRPC benchmark funding",
                    }), AdminAuthorization, failed.Token)
                    : issue;
                if (!fund.Ok)
                {
                    Interlocked.CompareExchange(ref failure,
                        $"{(issue.Ok ? "Admin/Adjust" : "Admin/IssueCard")} of card {card} failed: {GrpcStatusNames.Describe(fund)}.", null);
                    await failed.CancelAsync();
                    return;
                }
                Interlocked.Increment(ref done);
            }
        }

        var started = Stopwatch.StartNew();
        var workers = Task.WhenAll(Enumerable.Range(0, Math.Min(SetupConcurrency, cards.Count)).Select(Worker));
        while (!workers.IsCompleted)
        {
            await Task.WhenAny(workers, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            Console.Error.WriteLine($"cards: {Volatile.Read(ref done)} of {cards.Count} issued and funded ({started.Elapsed.TotalSeconds:0} s)");
        }
        try
        {
            await workers;
        }
        catch (OperationCanceledException) when (failure is not null)
        {
            // The other workers stopped because one failed; its message says why.
        }
        if (failure is not null) throw new InvalidOperationException(failure);
    }
}
