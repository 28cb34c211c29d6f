using System.Collections.Concurrent;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

public sealed class MixedWorkloadTests : EngineTestBase
{
    /// <summary>
    /// Jepsen's bank test in small: many callers, two server processes, every kind of command,
    /// retries with the same operation id, a fixed seed. Afterwards every acknowledged operation is
    /// in the ledger exactly once, no refused one is, and the books balance.
    /// </summary>
    [Fact]
    public async Task A_random_mixed_workload_through_two_processes_keeps_every_acknowledged_operation_exactly_once()
    {
        var numbers = Enumerable.Range(0, 6).Select(i => $"80000{i}").ToArray();
        foreach (var n in numbers) await IssueWithBalanceAsync(n, 300_00);
        var second = await StartEngineAsync();
        CardDirectory[] runtimes = [Cards, second.Cards];
        var acknowledged = new ConcurrentDictionary<string, bool>();
        var refused = new ConcurrentDictionary<string, CardErrorCode>();

        async Task Caller(int caller)
        {
            var random = new Random(1000 + caller);
            for (var step = 0; step < 60; step++)
            {
                var runtime = runtimes[random.Next(2)];
                var number = numbers[random.Next(numbers.Length)];
                var card = runtime.Card(number);
                var receipt = new Receipt(new ReceiptRef("mix", $"c{caller}", 1, step + 1),
                [
                    new ReceiptLine("a", "food", "A", 1000 + random.Next(3000), 50_00, 10_00 + random.Next(90_00)),
                    new ReceiptLine("b", "drink", "B", 1000, 30_00, 5_00 + random.Next(30_00)),
                ]);
                var id = $"mix-{caller}-{step}";
                async Task Try(string operationId, Func<Task> call, bool retry)
                {
                    try
                    {
                        await call();
                        acknowledged[operationId] = true;
                        // A client that lost the answer asks again, possibly through the other process.
                        if (retry) await call();
                    }
                    catch (CardException e) when (e.Code is CardErrorCode.InsufficientBonuses or CardErrorCode.LimitExceeded or CardErrorCode.AlreadyResolved)
                    {
                        refused[operationId] = e.Code;
                    }
                }

                // Amounts are drawn before the call, so a retry repeats exactly the same request.
                var adjustment = random.Next(-20_00, 40_00) is var a && a != 0 ? a : 1;
                var redemption = 1_00 + random.Next(15_00);
                switch (random.Next(4))
                {
                    case 0:
                        await Try(id, () => card.AdjustAsync(id, adjustment, "mix", "test"), random.Next(3) == 0);
                        break;
                    case 1:
                        await Try(id, () => card.CommitAsync(id, receipt, null), random.Next(3) == 0);
                        break;
                    default:
                        HoldResult? hold = null;
                        await Try(id + "-h", async () => hold = await card.RedeemAsync(id + "-h", receipt, redemption), random.Next(3) == 0);
                        if (hold is null) break;
                        if (random.Next(3) == 0)
                        {
                            var via = runtimes[random.Next(2)];
                            await Try(id + "-x", () => via.CancelHoldAsync(id + "-x", hold.HoldId), random.Next(3) == 0);
                        }
                        else
                        {
                            await Try(id + "-c", () => card.CommitAsync(id + "-c", receipt, hold.HoldId), random.Next(3) == 0);
                            if (acknowledged.ContainsKey(id + "-c") && random.Next(2) == 0)
                                await Try(id + "-r", () => card.RefundAsync(id + "-r", receipt.Ref, [new ReturnedLine("a", 1000)]), random.Next(3) == 0);
                        }
                        break;
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 16).Select(c => Task.Run(() => Caller(c))));

        Assert.True(acknowledged.Count > 500, $"only {acknowledged.Count} operations were acknowledged");
        await AssertStoredExactlyOnceAsync(acknowledged.Keys.ToArray());
        Assert.Equal(0, await CountWhereOperationInAsync("ledger", refused.Keys.Except(acknowledged.Keys)));
        await AssertInvariantsHoldAsync();
    }
}
