using System.Collections.Concurrent;
using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;
using Npgsql;

namespace Loyalty.Api.Tests;

/// <summary>
/// Many registers at once through the .NET client, the way stores use it: holds, commits, cancels
/// and refunds on a few shared cards, every write retried with its operation id after a lost reply.
/// </summary>
public class TerminalsEndToEndTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const int Terminals = 64;
    private const int Cards = 16;
    private const int Stores = 4;
    private const int ReceiptsPerTerminal = 12;
    private const long OpeningKopecks = 1_000_000;

    [Fact]
    public async Task Sixty_four_terminals_on_sixteen_cards_with_retries_lose_and_double_nothing()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        var run = Guid.NewGuid().ToString("N")[..8];
        var cards = Enumerable.Range(0, Cards).Select(i => $"T{run}{i:D2}").ToArray();
        foreach (var card in cards)
        {
            await admin.IssueCardAsync(new IssueCardRequest { CardNumber = card });
            await admin.AdjustAsync(new AdjustRequest { OperationId = $"open-{card}", CardNumber = card, Amount = OpeningKopecks, Reason = "opening balance" });
        }
        var storeKeys = new string[Stores];
        for (var s = 0; s < Stores; s++)
            storeKeys[s] = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = $"S{run}{s}", Name = $"store {s}" })).ApiKey;

        var acknowledged = new ConcurrentBag<string>();
        var refusals = new ConcurrentDictionary<StatusCode, int>();
        await Task.WhenAll(Enumerable.Range(0, Terminals).Select(t => Task.Run(() =>
            TerminalAsync(t, run, cards, $"S{run}{t % Stores}", storeKeys[t % Stores], acknowledged, refusals))));

        // Refusals are the programme saying no (not enough bonuses), never the server failing.
        Assert.All(refusals.Keys, code => Assert.Equal(StatusCode.FailedPrecondition, code));
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
        await AssertEachStoredOnceAsync(acknowledged.ToArray());
        var total = 0L;
        foreach (var card in cards) total += (await admin.GetCardAsync(card)).Balance;
        Assert.True(total > 0);
    }

    private async Task TerminalAsync(int terminal, string run, string[] cards, string store, string key,
        ConcurrentBag<string> acknowledged, ConcurrentDictionary<StatusCode, int> refusals)
    {
        using var client = LoyaltyClient.Create(server.GrpcAddress.ToString(), key, TimeSpan.FromSeconds(30));
        var random = new Random(terminal);
        var retry = new RetryPolicy { MaxAttempts = 5, InitialBackoff = TimeSpan.FromMilliseconds(20) };

        // Each write is sent, then sent again with the same operation id as if the first reply had been
        // lost; both answers must be the same, and the ledger must hold it once. One in four first
        // attempts is abandoned by the terminal after a few milliseconds, mid-call.
        async Task<TReply> TwiceAsync<TRequest, TReply>(TRequest request, Func<TRequest, CancellationToken, Task<TReply>> call, string operationId)
            where TReply : Google.Protobuf.IMessage<TReply>
        {
            if (random.Next(4) == 0)
            {
                using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(random.Next(4)));
                try
                {
                    await call(request, giveUp.Token);
                }
                catch (OperationCanceledException)
                {
                }
                catch (RpcException error) when (error.StatusCode is StatusCode.Cancelled or StatusCode.DeadlineExceeded)
                {
                }
            }
            var first = await retry.ExecuteAsync(request, call);
            var again = await retry.ExecuteAsync(request, call);
            Assert.Equal(first, again);
            acknowledged.Add(operationId);
            return first;
        }

        for (var r = 0; r < ReceiptsPerTerminal; r++)
        {
            var card = cards[random.Next(cards.Length)];
            var receipt = Receipts.Of(store, terminal * 1_000 + r + 1, 10_000 + random.Next(90_000), 5_000 + random.Next(20_000));
            receipt.Ref.RegisterId = $"R{terminal}";
            string holdId = "";
            var redeem = new RedeemRequest { OperationId = $"{run}-{terminal}-{r}-redeem", CardNumber = card, Receipt = receipt, Amount = 1_000 + random.Next(10_000) };
            try
            {
                holdId = (await TwiceAsync(redeem, (q, c) => client.RedeemAsync(q, null, c), redeem.OperationId)).HoldId;
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.FailedPrecondition)
            {
                refusals.AddOrUpdate(error.StatusCode, 1, (_, n) => n + 1);
            }

            if (holdId != "" && random.Next(5) == 0)
            {
                var cancel = new CancelRequest { OperationId = $"{run}-{terminal}-{r}-cancel", HoldId = holdId };
                await TwiceAsync(cancel, (q, c) => client.CancelAsync(q, null, c), cancel.OperationId);
                continue;
            }
            var commit = new CommitRequest { OperationId = $"{run}-{terminal}-{r}-commit", CardNumber = card, Receipt = receipt, HoldId = holdId };
            await TwiceAsync(commit, (q, c) => client.CommitAsync(q, null, c), commit.OperationId);

            if (random.Next(4) == 0)
            {
                var refund = new RefundRequest { OperationId = $"{run}-{terminal}-{r}-refund", CardNumber = card, Original = receipt.Ref };
                refund.Lines.Add(new ReturnedLine { Sku = "A", QuantityMilli = 1_000 });
                await TwiceAsync(refund, (q, c) => client.RefundAsync(q, null, c), refund.OperationId);
            }
        }
    }

    private async Task AssertEachStoredOnceAsync(string[] operationIds)
    {
        await using var command = server.Server.Engine.DataSource.CreateCommand(
            "SELECT o.operation_id, count(*) FROM unnest($1::text[]) AS o(operation_id) LEFT JOIN operations p USING (operation_id) WHERE p.operation_id IS NOT NULL GROUP BY o.operation_id");
        command.Parameters.AddWithValue(operationIds);
        var found = 0;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            Assert.Equal(1L, reader.GetInt64(1));
            found++;
        }
        Assert.Equal(operationIds.Length, found);
    }
}
