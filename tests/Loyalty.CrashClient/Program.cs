// Runs an engine on the given database and hammers the given cards with adjustments and
// redeem+commit pairs from many concurrent callers, printing "ACK <operation id>" once each
// operation is acknowledged. The crash test kills this process with SIGKILL mid-flight and then
// checks that every acknowledged operation is in the ledger exactly once.
using Loyalty.Grains;
using Loyalty.Grains.Domain;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Loyalty.CrashClient <connection string> <card number,card number,...> <run tag>");
    return 2;
}
var cards = args[1].Split(',');
var tag = args[2];
// A cluster of its own (named by the run tag): this process hosts the activations and the writer of
// what it writes, so a kill takes writes in flight with it; the test's own silo keeps stale activations
// of the same cards, which must notice the newer versions.
await using var engine = await LoyaltyEngine.StartAsync(args[0], new EngineOptions { Silo = Loyalty.Grains.Cluster.SiloEndpoint.Local(tag) });
var output = Console.Out;
var gate = new object();
Console.WriteLine("READY");

// Bounded: stops by itself after this many operations per caller even if nobody kills it.
const int Callers = 16, OperationsPerCaller = 2_000;
var callers = Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
{
    for (var i = 0; i < OperationsPerCaller; i++)
    {
        var number = cards[(caller + i) % cards.Length];
        var card = engine.Cards.Card(number);
        var id = $"{tag}-{caller}-{i}";
        try
        {
            if (i % 2 == 0)
            {
                await card.AdjustAsync(id, 1_00, "crash test", "crash-client");
                Ack(id);
            }
            else
            {
                var receipt = new Receipt(new ReceiptRef("crash", tag, caller + 1, i + 1), [new ReceiptLine("sku", "food", "item", 1000, 10_00, 10_00)]);
                var hold = await card.RedeemAsync(id + "-h", receipt, 1_00);
                Ack(id + "-h");
                await card.CommitAsync(id + "-c", receipt, hold.HoldId);
                Ack(id + "-c");
            }
        }
        catch (CardException e) when (e.Code is CardErrorCode.InsufficientBonuses or CardErrorCode.Overloaded)
        {
        }
    }
}));
await Task.WhenAll(callers);
return 0;

void Ack(string id)
{
    lock (gate) { output.WriteLine($"ACK {id}"); output.Flush(); }
}
