using System.Diagnostics;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.Chaos;

/// <summary>
/// Terminals of several stores ringing up sales on shared cards through all servers at once: sales
/// with bonuses held then committed (or the hold cancelled), plain sales that earn bonuses, refunds of
/// earlier receipts, and back-office adjustments. Each operation keeps its id and request across
/// retries; a terminal retries what got no definite answer on the next server, as a POS would fall
/// over, and now and then walks away from a call mid-flight (stream reset or connection closed).
/// </summary>
public sealed class Workload(ChaosOptions options, IReadOnlyList<Uri> servers, IReadOnlyList<string> cards,
    IReadOnlyDictionary<string, string> posKeys, string adminKey, History history)
{
    /// <summary>Deadline of one call; a server that takes longer is treated as down for this attempt.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    /// <summary>Receipts a terminal remembers for later refunds.</summary>
    private const int MaxRememberedReceipts = 32;

    private long _started, _acknowledged, _refused, _unknown;
    public long Started => Interlocked.Read(ref _started);
    public long Acknowledged => Interlocked.Read(ref _acknowledged);
    public long Refused => Interlocked.Read(ref _refused);
    public long Unknown => Interlocked.Read(ref _unknown);

    public static string StoreOf(int terminal, int stores) => $"S{terminal % stores + 1}";

    /// <summary>Runs every terminal until <paramref name="stop"/>; an operation under way is finished (with its retries) first.</summary>
    public Task RunAsync(CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, options.Terminals).Select(t => Task.Run(() => TerminalAsync(t, stop))));

    /// <summary>
    /// Sends an operation whose outcome stayed unknown again, with its id and request, until a server
    /// answers definitely: then it counts as what that answer says.
    /// </summary>
    public async Task ResolveAsync(OpRecord op, TimeSpan retryFor, CancellationToken cancellationToken)
    {
        var key = op.Kind is OpKind.Adjust or OpKind.OpeningCredit ? adminKey : posKeys[StoreOf(op.Terminal, options.Stores)];
        var clients = servers.Select(s => LoyaltyClient.Create(s.ToString(), key, CallTimeout)).ToArray();
        try
        {
            op.ResolvedAfterRun = true;
            await ExecuteAsync(op, new Random(op.GetHashCode()), clients, key, allowAbandon: false, retryFor, cancellationToken);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    private async Task TerminalAsync(int terminal, CancellationToken stop)
    {
        var rng = new Random(unchecked(options.Seed * 7919 + terminal));
        var store = StoreOf(terminal, options.Stores);
        var register = $"R{terminal + 1}";
        var posKey = posKeys[store];
        var pos = servers.Select(s => LoyaltyClient.Create(s.ToString(), posKey, CallTimeout)).ToArray();
        var office = servers.Select(s => LoyaltyClient.Create(s.ToString(), adminKey, CallTimeout)).ToArray();
        var committed = new List<(string Card, Receipt Receipt, HashSet<string> Returned)>();
        long receiptNumber = 0, sequence = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var card = rng.NextDouble() < options.HotCardShare ? cards[0] : cards[rng.Next(cards.Count)];
                var roll = rng.NextDouble();
                if (roll < 0.45)
                {
                    var receipt = NewReceipt(rng, store, register, ++receiptNumber);
                    var total = receipt.Lines.Sum(l => l.Amount);
                    // Now and then a cashier asks for more than any card holds: a refusal that must change nothing.
                    var amount = rng.NextDouble() < 0.05 ? 100_000_000 + rng.NextInt64(0, 1_000)
                        : rng.NextInt64(100, Math.Max(101, Math.Min(total * 3 / 10, 30_000)));
                    string? holdId = null;
                    long holdAmount = 0;
                    var redeem = NewOp(OpKind.Redeem, card, terminal, ++sequence, async (client, ct, id) =>
                    {
                        var reply = await client.RedeemAsync(new RedeemRequest { OperationId = id, CardNumber = card, Receipt = receipt, Amount = amount }, null, ct);
                        (holdId, holdAmount) = (reply.HoldId, reply.Amount);
                        return (new Effect(0, reply.Amount), reply.Card.Version);
                    });
                    if (!await ExecuteAsync(redeem, rng, pos, posKey, allowAbandon: true, TimeSpan.FromSeconds(options.RetrySeconds), CancellationToken.None)) continue;
                    var hold = holdId!;
                    var held = holdAmount;
                    if (rng.NextDouble() < 0.85)
                    {
                        var commit = NewOp(OpKind.Commit, card, terminal, ++sequence, async (client, ct, id) =>
                        {
                            var reply = await client.CommitAsync(new CommitRequest { OperationId = id, CardNumber = card, Receipt = receipt, HoldId = hold }, null, ct);
                            return (new Effect(reply.Accrued - reply.Redeemed, -held), reply.Card.Version);
                        });
                        if (await ExecuteAsync(commit, rng, pos, posKey, allowAbandon: true, TimeSpan.FromSeconds(options.RetrySeconds), CancellationToken.None))
                            Remember(committed, card, receipt);
                    }
                    else
                    {
                        var cancel = NewOp(OpKind.Cancel, card, terminal, ++sequence, async (client, ct, id) =>
                        {
                            var reply = await client.CancelAsync(new CancelRequest { OperationId = id, HoldId = hold }, null, ct);
                            return (new Effect(0, -reply.Released), reply.Card.Version);
                        });
                        await ExecuteAsync(cancel, rng, pos, posKey, allowAbandon: true, TimeSpan.FromSeconds(options.RetrySeconds), CancellationToken.None);
                    }
                }
                else if (roll < 0.75 || (roll < 0.90 && committed.Count == 0))
                {
                    var receipt = NewReceipt(rng, store, register, ++receiptNumber);
                    var commit = NewOp(OpKind.Commit, card, terminal, ++sequence, async (client, ct, id) =>
                    {
                        var reply = await client.CommitAsync(new CommitRequest { OperationId = id, CardNumber = card, Receipt = receipt }, null, ct);
                        return (new Effect(reply.Accrued - reply.Redeemed, 0), reply.Card.Version);
                    });
                    if (await ExecuteAsync(commit, rng, pos, posKey, allowAbandon: true, TimeSpan.FromSeconds(options.RetrySeconds), CancellationToken.None))
                        Remember(committed, card, receipt);
                }
                else if (roll < 0.90)
                {
                    var (soldTo, original, returned) = committed[rng.Next(committed.Count)];
                    var line = original.Lines[rng.Next(original.Lines.Count)];
                    // A line returned twice is refused the second time; a few repeats test exactly that.
                    if (!returned.Add(line.Sku) && rng.NextDouble() < 0.8) continue;
                    var refund = NewOp(OpKind.Refund, soldTo, terminal, ++sequence, async (client, ct, id) =>
                    {
                        var request = new RefundRequest { OperationId = id, CardNumber = soldTo, Original = original.Ref };
                        request.Lines.Add(new ReturnedLine { Sku = line.Sku, QuantityMilli = line.QuantityMilli });
                        var reply = await client.RefundAsync(request, null, ct);
                        return (new Effect(reply.RedeemRestored - reply.AccrualReversed, 0), reply.Card.Version);
                    });
                    await ExecuteAsync(refund, rng, pos, posKey, allowAbandon: true, TimeSpan.FromSeconds(options.RetrySeconds), CancellationToken.None);
                }
                else
                {
                    // Mostly credits, sometimes a debit that may exceed what is available (then refused).
                    var amount = rng.NextDouble() < 0.6 ? rng.NextInt64(100, 5_000) : -rng.NextInt64(100, 8_000_000);
                    var adjust = NewOp(OpKind.Adjust, card, terminal, ++sequence, async (client, ct, id) =>
                    {
                        var reply = await client.AdjustAsync(new AdjustRequest { OperationId = id, CardNumber = card, Amount = amount, Reason = "chaos: goodwill or correction" }, null, ct);
                        return (new Effect(amount, 0), reply.Version);
                    });
                    await ExecuteAsync(adjust, rng, office, adminKey, allowAbandon: true, TimeSpan.FromSeconds(options.RetrySeconds), CancellationToken.None);
                }
            }
        }
        finally
        {
            foreach (var client in pos.Concat(office)) client.Dispose();
        }
    }

    /// <summary>A new operation of <paramref name="terminal"/>, recorded in the history; its id is the terminal's and the sequence's.</summary>
    internal OpRecord NewOp(OpKind kind, string card, int terminal, long sequence, Func<LoyaltyClient, CancellationToken, string, Task<(Effect, long)>> send)
    {
        var id = $"chaos-{options.Seed}-{terminal}-{sequence}";
        var op = new OpRecord(id, kind, card, terminal, (client, ct) => send(client, ct, id)) { Sequence = sequence };
        history.Add(op);
        Interlocked.Increment(ref _started);
        return op;
    }

    /// <summary>
    /// Sends until a definite answer or the retry budget runs out. Returns true if acknowledged.
    /// Outcomes are recorded on <paramref name="op"/>.
    /// </summary>
    internal async Task<bool> ExecuteAsync(OpRecord op, Random rng, LoyaltyClient[] clients, string apiKey, bool allowAbandon, TimeSpan retryFor, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var server = rng.Next(clients.Length);
        op.Outcome = Outcome.InFlight;
        // Whether some attempt may have been stored: then only an answer that looked the operation id
        // up settles the operation, and a refusal for overload does not.
        var outcomeUnknown = false;
        RpcException? busy = null;
        for (var attempt = 0; ; attempt++)
        {
            op.Attempts++;
            try
            {
                var abandon = allowAbandon && rng.NextDouble() < options.AbandonRate;
                var (effect, version) = abandon
                    ? await SendAndWalkAwayAsync(op, rng, clients[server], servers[server], apiKey)
                    : await op.Send(clients[server], cancellationToken);
                history.CountAttempt("OK", attempt > 0);
                op.Effect = effect;
                op.VersionAfter = version;
                op.Outcome = Outcome.Acknowledged;
                Interlocked.Increment(ref _acknowledged);
                return true;
            }
            catch (RpcException error) when (IsDefinite(error.StatusCode))
            {
                history.CountAttempt(error.StatusCode.ToWireName(), attempt > 0);
                op.Outcome = Outcome.Refused;
                op.RefusedWith = error.StatusCode;
                op.RefusalMessage = error.Message;
                Interlocked.Increment(ref _refused);
                return false;
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.ResourceExhausted)
            {
                // Nothing of this attempt was stored; asked again after the pause, as the server says.
                history.CountAttempt(error.StatusCode.ToWireName(), attempt > 0);
                busy = error;
            }
            catch (RpcException error)
            {
                history.CountAttempt(error.StatusCode.ToWireName(), attempt > 0);
                (outcomeUnknown, busy) = (true, null);
            }
            catch (WalkedAwayException)
            {
                history.CountAttempt("ABANDONED", attempt > 0);
                history.CountAbandoned();
                (outcomeUnknown, busy) = (true, null);
            }
            if (Stopwatch.GetElapsedTime(started) > retryFor || cancellationToken.IsCancellationRequested)
            {
                if (busy is not null && !outcomeUnknown)
                {
                    // Every attempt was refused for overload: certainly nothing stored.
                    op.Outcome = Outcome.Refused;
                    op.RefusedWith = busy.StatusCode;
                    op.RefusalMessage = busy.Message;
                    Interlocked.Increment(ref _refused);
                    return false;
                }
                op.Outcome = Outcome.Unknown;
                Interlocked.Increment(ref _unknown);
                return false;
            }
            // Exponential backoff with jitter, then the next server: what a POS does when one is down.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1_000, 25 << Math.Min(attempt, 6)) * (0.5 + rng.NextDouble())), CancellationToken.None);
            server = (server + 1) % clients.Length;
        }
    }

    private sealed class WalkedAwayException(Exception inner) : Exception("The terminal walked away from the call.", inner);

    /// <summary>
    /// A terminal that gives up on a call mid-flight: either it cancels the call (the stream is reset)
    /// or its connection is closed under it. A definite answer that arrived first still counts.
    /// </summary>
    private static async Task<(Effect, long)> SendAndWalkAwayAsync(OpRecord op, Random rng, LoyaltyClient shared, Uri server, string apiKey)
    {
        var after = TimeSpan.FromMilliseconds(rng.Next(0, 15));
        if (rng.NextDouble() < 0.5)
        {
            using var cancel = new CancellationTokenSource(after);
            try
            {
                return await op.Send(shared, cancel.Token);
            }
            catch (Exception error) when (cancel.IsCancellationRequested && !(error is RpcException answer && IsDefinite(answer.StatusCode)))
            {
                throw new WalkedAwayException(error);
            }
        }
        var own = LoyaltyClient.Create(server.ToString(), apiKey, CallTimeout);
        var call = op.Send(own, CancellationToken.None);
        var finished = await Task.WhenAny(call, Task.Delay(after));
        if (finished != call) own.Dispose(); // closes the connection under the call
        try
        {
            return await call;
        }
        catch (Exception error) when (finished != call && !(error is RpcException answer && IsDefinite(answer.StatusCode)))
        {
            throw new WalkedAwayException(error);
        }
        finally
        {
            own.Dispose();
        }
    }

    /// <summary>
    /// Answers that settle an operation: the server looked its id up and refused it, so nothing of it
    /// is stored. RESOURCE_EXHAUSTED is not one: it refuses only the attempt, before the id is looked
    /// at. Everything else (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, a reset, INTERNAL) leaves the
    /// outcome open.
    /// </summary>
    public static bool IsDefinite(StatusCode status) => status is StatusCode.InvalidArgument or StatusCode.NotFound
        or StatusCode.AlreadyExists or StatusCode.PermissionDenied or StatusCode.FailedPrecondition
        or StatusCode.OutOfRange or StatusCode.Unauthenticated or StatusCode.Unimplemented;

    private static Receipt NewReceipt(Random rng, string store, string register, long number)
    {
        var receipt = new Receipt { Ref = new ReceiptRef { StoreId = store, RegisterId = register, ShiftNumber = 1, ReceiptNumber = number } };
        var lines = rng.Next(1, 5);
        for (var i = 0; i < lines; i++)
        {
            var price = rng.NextInt64(5_000, 300_000);
            receipt.Lines.Add(new ReceiptLine { Sku = $"SKU{i + 1}", Category = "food", Name = $"item {i + 1}", QuantityMilli = 1000, Price = price, Amount = price });
        }
        return receipt;
    }

    private static void Remember(List<(string, Receipt, HashSet<string>)> committed, string card, Receipt receipt)
    {
        committed.Add((card, receipt, new HashSet<string>(StringComparer.Ordinal)));
        if (committed.Count > MaxRememberedReceipts) committed.RemoveAt(0);
    }
}
