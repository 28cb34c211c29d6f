using System.Buffers.Binary;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Health.V1;
using Loyalty.Protos.V1;

namespace Loyalty.Fuzz;

/// <summary>
/// The hostile-input scenarios. Each sends only what its settings bound, records every answer as an
/// outcome, and marks as unexpected what a sound server must never answer: INTERNAL or UNKNOWN for
/// bad input, no answer at all, or a limit that does not hold.
/// </summary>
public sealed class Scenarios(FuzzTarget target, FuzzSettings settings, ScenarioResult result, Random random, TextWriter progress)
{
    private const string GetCardPath = "/loyalty.v1.Cards/GetCard";
    /// <summary>The server's largest request message (LoyaltyApi.MaxMessageBytes).</summary>
    private const int MaxMessageBytes = 4 * 1024 * 1024;
    /// <summary>Frame-fuzz connections opened at most, whatever the time allows.</summary>
    private const int MaxFrameConnections = 5_000;
    /// <summary>Mutated requests sent at most.</summary>
    private const int MaxMutatedRequests = 200_000;
    /// <summary>How long a connection that was sent garbage is given to answer a PING.</summary>
    private static readonly TimeSpan ProbeWait = TimeSpan.FromSeconds(1);
    /// <summary>How long a refused request is given to be answered (a status, a reset or a closed connection).</summary>
    private static readonly TimeSpan AnswerWait = TimeSpan.FromSeconds(5);

    private TimeSpan Duration => TimeSpan.FromSeconds(settings.Seconds);

    /// <summary>A gRPC answer that a server must never give to a bad request.</summary>
    private static bool IsServerFault(string outcome) =>
        outcome is "grpc INTERNAL" or "grpc UNKNOWN" or "no answer" or "silent" || outcome.Contains("INTERNAL_ERROR", StringComparison.Ordinal);

    // ---------------------------------------------------------------- random frames

    /// <summary>
    /// Connections that send the preface, then random frames (any type, flags, stream id, payload,
    /// sometimes a length that lies) or raw random bytes; then a PING. The server may answer with
    /// GOAWAY, close, or stay alive; it must not fail internally, and must serve others afterwards.
    /// </summary>
    public async Task RandomFramesAsync(CancellationToken cancellationToken)
    {
        var until = Stopwatch.StartNew();
        var opened = 0;
        await Parallel.ForAsync(0, settings.Workers, cancellationToken, async (worker, ct) =>
        {
            var rng = new Random(settings.Seed * 7919 + worker);
            while (until.Elapsed < Duration && Interlocked.Increment(ref opened) <= MaxFrameConnections)
            {
                await using var connection = await Http2Connection.OpenAsync(target.Endpoint, ct);
                var frames = rng.Next(1, 20);
                var description = new List<string>();
                try
                {
                    for (var i = 0; i < frames && !connection.IsClosed; i++)
                        description.Add(await SendRandomFrameAsync(connection, rng, ct));
                }
                catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException)
                {
                    // The server closed the connection while we were still writing: an answer like any other.
                }
                result.CountSent(frames);
                var outcome = await connection.ProbeAsync(ProbeWait, ct);
                // A frame whose length lies upward leaves the server waiting for bytes that never come: "silent" is right then.
                var expected = !outcome.Contains("INTERNAL_ERROR", StringComparison.Ordinal);
                result.Record(outcome, expected, string.Join(" ", description));
            }
        });
    }

    private static async Task<string> SendRandomFrameAsync(Http2Connection connection, Random rng, CancellationToken cancellationToken)
    {
        if (rng.Next(20) == 0)
        {
            var garbage = new byte[rng.Next(1, 200)];
            rng.NextBytes(garbage);
            await connection.SendRawAsync(garbage, cancellationToken);
            return $"raw[{garbage.Length}]";
        }
        var type = (FrameType)rng.Next(0, 12);
        var flags = (byte)rng.Next(256);
        var streamId = rng.Next(4) switch { 0 => 0, 1 => 1, 2 => rng.Next(1, 100) | 1, _ => rng.Next() };
        var payload = new byte[rng.Next(0, 65)];
        rng.NextBytes(payload);
        int? lie = rng.Next(10) == 0 ? rng.Next(0, 20_000) : null;
        await connection.SendFrameAsync(type, flags, streamId, payload, cancellationToken, lie);
        return $"{type}/0x{flags:x2}/s{streamId}/{payload.Length}{(lie is { } l ? $"(says {l})" : "")}";
    }

    // ---------------------------------------------------------------- mutated requests

    /// <summary>
    /// Valid requests of every Cards method (and Admin ones with a register's key), each mutated:
    /// bits flipped, cut short, a length prefix that lies either way, the compressed flag, a declared
    /// size over the limit, random bytes, two messages, none. Any proper status is fine (a flipped bit
    /// may well make another valid request); UNKNOWN, resets and silence are not, nor INTERNAL except
    /// for a broken frame (a lying length prefix, two messages or none in a unary call, a compressed
    /// flag without grpc-encoding), where gRPC's statuscodes.md has the library answer INTERNAL.
    /// </summary>
    public async Task MutatedRequestsAsync(CancellationToken cancellationToken)
    {
        var until = Stopwatch.StartNew();
        var sent = 0;
        await Parallel.ForAsync(0, settings.Workers, cancellationToken, async (worker, ct) =>
        {
            var rng = new Random(settings.Seed * 104_729 + worker);
            using var caller = new GrpcCaller(target.GrpcAddress);
            while (until.Elapsed < Duration && Interlocked.Increment(ref sent) <= MaxMutatedRequests)
            {
                var (path, message) = ValidRequest(rng);
                var (mutation, body) = Mutate(message.ToByteArray(), rng);
                var reply = await caller.SendAsync(path, body, target.PosKey(worker), cancellationToken: ct);
                result.CountSent();
                var expected = reply.GrpcStatus is { } s
                    && (!IsServerFault(reply.Outcome) || IsFramingMutation(mutation) && s == (int)StatusCode.Internal)
                    && ExpectedForMutation(mutation, s);
                result.Record(reply.Outcome, expected, $"{mutation} of {path}: {reply.GrpcMessage}");
            }
        });
    }

    private static bool IsFramingMutation(string mutation) =>
        mutation is "compressed flag" or "length prefix bigger" or "cut short" or "two messages" or "no message" or "length prefix smaller";

    private static bool ExpectedForMutation(string mutation, int status) => mutation switch
    {
        // The flag set without a grpc-encoding header: a protocol error (Grpc.AspNetCore: INTERNAL).
        "compressed flag" => status == (int)StatusCode.Internal,
        "declared over the limit" => status == (int)StatusCode.ResourceExhausted,
        "length prefix bigger" or "cut short" or "two messages" or "no message" or "length prefix smaller"
            => status is (int)StatusCode.InvalidArgument or (int)StatusCode.ResourceExhausted or (int)StatusCode.Internal,
        _ => true,
    };

    private (string Path, IMessage Message) ValidRequest(Random rng)
    {
        var receipt = Receipt(rng.Next(1, 1_000_000), rng.Next(1, 5));
        var operation = $"fz-{rng.Next():x}";
        return rng.Next(9) switch
        {
            0 => (GetCardPath, new GetCardRequest { CardNumber = target.Card }),
            1 => ("/loyalty.v1.Cards/Quote", new QuoteRequest { CardNumber = target.Card, Receipt = receipt, RequestedRedeem = 100 }),
            2 => ("/loyalty.v1.Cards/Redeem", new RedeemRequest { OperationId = operation, CardNumber = target.Card, Receipt = receipt, Amount = 1 }),
            3 => ("/loyalty.v1.Cards/Commit", new CommitRequest { OperationId = operation, CardNumber = target.Card, Receipt = receipt }),
            4 => ("/loyalty.v1.Cards/Cancel", new CancelRequest { OperationId = operation, HoldId = $"h{rng.Next()}" }),
            5 => ("/loyalty.v1.Cards/Refund", new RefundRequest
            {
                OperationId = operation, CardNumber = target.Card, Original = receipt.Ref,
                Lines = { new ReturnedLine { Sku = "A", QuantityMilli = 1000 } },
            }),
            6 => ("/loyalty.v1.Admin/Adjust", new AdjustRequest { OperationId = operation, CardNumber = target.Card, Amount = 1, Reason = "fuzz" }),
            7 => ("/loyalty.v1.Admin/GetStatement", new GetStatementRequest { CardNumber = target.Card, PageSize = 10 }),
            _ => ("/grpc.health.v1.Health/Check", new HealthCheckRequest()),
        };
    }

    private Receipt Receipt(long number, int lines, long amount = 10_000)
    {
        var receipt = new Receipt { Ref = new ReceiptRef { StoreId = target.StoreId, RegisterId = "R1", ShiftNumber = 1, ReceiptNumber = number } };
        for (var i = 0; i < lines; i++)
            receipt.Lines.Add(new ReceiptLine { Sku = $"SKU{i}", Category = "food", Name = $"item {i}", QuantityMilli = 1000, Price = amount, Amount = amount });
        return receipt;
    }

    private static (string Mutation, byte[] Body) Mutate(byte[] payload, Random rng)
    {
        switch (rng.Next(9))
        {
            case 0:
            {
                var flipped = (byte[])payload.Clone();
                for (var i = rng.Next(1, 5); i > 0 && flipped.Length > 0; i--)
                    flipped[rng.Next(flipped.Length)] ^= (byte)(1 << rng.Next(8));
                return ("bits flipped", GrpcCaller.Frame(flipped));
            }
            case 1:
            {
                var framed = GrpcCaller.Frame(payload);
                return ("cut short", framed[..rng.Next(1, framed.Length)]);
            }
            case 2:
                return ("length prefix bigger", GrpcCaller.Frame(payload, declaredLength: payload.Length + rng.Next(1, 1_000)));
            case 3 when payload.Length > 0:
                return ("length prefix smaller", GrpcCaller.Frame(payload, declaredLength: rng.Next(0, payload.Length)));
            case 4:
                return ("compressed flag", GrpcCaller.Frame(payload, compressed: true));
            case 5:
                return ("declared over the limit", GrpcCaller.Frame(payload, declaredLength: MaxMessageBytes + 1L + rng.Next(0, int.MaxValue)));
            case 6:
            {
                var noise = new byte[rng.Next(0, 300)];
                rng.NextBytes(noise);
                return ("random bytes", GrpcCaller.Frame(noise));
            }
            case 7:
                return ("two messages", [.. GrpcCaller.Frame(payload), .. GrpcCaller.Frame(payload)]);
            default:
                return ("no message", []);
        }
    }

    // ---------------------------------------------------------------- request contents

    /// <summary>
    /// Requests that are well framed but whose contents are hostile: extreme numbers, empty and 1 MB
    /// strings, invalid UTF-8, 100,000-line receipts, deep nesting, broken protobuf. Each must get
    /// INVALID_ARGUMENT (RESOURCE_EXHAUSTED when over the size limit) and change nothing on the card.
    /// </summary>
    public async Task HostileContentsAsync(CancellationToken cancellationToken)
    {
        using var caller = new GrpcCaller(target.GrpcAddress);
        var before = await CardAsync(caller, cancellationToken);
        foreach (var (name, path, payload, key, allowed) in ContentCases())
        {
            if (cancellationToken.IsCancellationRequested) break;
            var reply = await caller.SendAsync(path, GrpcCaller.Frame(payload), key ?? target.PosKey(0), cancellationToken: cancellationToken);
            result.CountSent();
            var expected = reply.GrpcStatus is { } status && allowed.Contains((StatusCode)status);
            result.Record(reply.Outcome, expected, $"{name}: {reply.GrpcMessage}");
            progress.WriteLine($"[contents] {name}: {reply.Outcome}");
        }
        var after = await CardAsync(caller, cancellationToken);
        var unchanged = before.Balance == after.Balance && before.Held == after.Held && before.Available == after.Available && before.Version == after.Version;
        result.Record(unchanged ? "card unchanged" : "CARD CHANGED", unchanged,
            $"before: balance {before.Balance}, held {before.Held}, version {before.Version}; after: balance {after.Balance}, held {after.Held}, version {after.Version}");
    }

    private async Task<Card> CardAsync(GrpcCaller caller, CancellationToken cancellationToken) =>
        (await caller.CallAsync(GetCardPath, new GetCardRequest { CardNumber = target.Card }, target.OtherPosKey, cancellationToken)).Message(Card.Parser);

    private IEnumerable<(string Name, string Path, byte[] Payload, string? Key, StatusCode[] Allowed)> ContentCases()
    {
        StatusCode[] invalid = [StatusCode.InvalidArgument];
        StatusCode[] oversize = [StatusCode.InvalidArgument, StatusCode.ResourceExhausted];
        const string redeem = "/loyalty.v1.Cards/Redeem";
        var megabyte = new string('9', 1_000_000);
        RedeemRequest Redeem(long amount = 100, Receipt? receipt = null, string? operation = null, string? card = null) => new()
        {
            OperationId = operation ?? $"fz-c-{random.Next():x}", CardNumber = card ?? target.Card, Receipt = receipt ?? Receipt(random.Next(), 1), Amount = amount,
        };
        Receipt WithLine(Action<ReceiptLine> change)
        {
            var receipt = Receipt(random.Next(), 1);
            change(receipt.Lines[0]);
            return receipt;
        }

        yield return ("redeem of long.MinValue", redeem, Redeem(long.MinValue).ToByteArray(), null, invalid);
        yield return ("redeem of long.MaxValue", redeem, Redeem(long.MaxValue).ToByteArray(), null, invalid);
        yield return ("redeem of -1", redeem, Redeem(-1).ToByteArray(), null, invalid);
        yield return ("quote asking long.MinValue", "/loyalty.v1.Cards/Quote",
            new QuoteRequest { CardNumber = target.Card, Receipt = Receipt(1, 1), RequestedRedeem = long.MinValue }.ToByteArray(), null, invalid);
        yield return ("a line price of long.MaxValue", redeem, Redeem(receipt: WithLine(l => l.Price = long.MaxValue)).ToByteArray(), null, invalid);
        yield return ("a line amount of long.MinValue", redeem, Redeem(receipt: WithLine(l => l.Amount = long.MinValue)).ToByteArray(), null, invalid);
        yield return ("a line quantity of long.MinValue", redeem, Redeem(receipt: WithLine(l => l.QuantityMilli = long.MinValue)).ToByteArray(), null, invalid);
        yield return ("a receipt number of long.MinValue", redeem, Redeem(receipt: Receipt(long.MinValue, 1)).ToByteArray(), null, invalid);
        yield return ("adjust by long.MaxValue", "/loyalty.v1.Admin/Adjust",
            new AdjustRequest { OperationId = "fz-adj-max", CardNumber = target.Card, Amount = long.MaxValue, Reason = "fuzz" }.ToByteArray(), target.AdminKey, invalid);
        yield return ("adjust by long.MinValue", "/loyalty.v1.Admin/Adjust",
            new AdjustRequest { OperationId = "fz-adj-min", CardNumber = target.Card, Amount = long.MinValue, Reason = "fuzz" }.ToByteArray(), target.AdminKey, invalid);
        yield return ("a statement page of int.MinValue", "/loyalty.v1.Admin/GetStatement",
            new GetStatementRequest { CardNumber = target.Card, PageSize = int.MinValue }.ToByteArray(), target.AdminKey, invalid);
        yield return ("an empty card number", GetCardPath, new GetCardRequest { CardNumber = "" }.ToByteArray(), null, invalid);
        yield return ("a card number of 1 MB", GetCardPath, new GetCardRequest { CardNumber = megabyte }.ToByteArray(), null, invalid);
        yield return ("an operation id of 1 MB", redeem, Redeem(operation: megabyte).ToByteArray(), null, invalid);
        yield return ("an empty operation id", redeem, Redeem(operation: "").ToByteArray(), null, invalid);
        yield return ("a SKU of 1 MB", redeem, Redeem(receipt: WithLine(l => l.Sku = megabyte)).ToByteArray(), null, invalid);
        yield return ("an item name of 1 MB", redeem, Redeem(receipt: WithLine(l => l.Name = megabyte)).ToByteArray(), null, invalid);
        yield return ("a phone of 1 MB on a new card", "/loyalty.v1.Admin/IssueCard",
            new IssueCardRequest { CardNumber = "FZ" + random.Next(), Phone = megabyte }.ToByteArray(), target.AdminKey, invalid);
        yield return ("a card number with NUL", GetCardPath, new GetCardRequest { CardNumber = "12\03" }.ToByteArray(), null, invalid);
        yield return ("a card number that is invalid UTF-8", GetCardPath, [0x0A, 0x04, 0x31, 0xC3, 0x28, 0x32], null, invalid);
        yield return ("an operation id that is a lone UTF-8 continuation byte", redeem,
            WithRawString(Redeem(), fieldNumber: 1, [0x80]), null, invalid);
        yield return ("a SKU that is an overlong UTF-8 NUL", redeem,
            InvalidSku([0xC0, 0x80]), null, invalid);
        yield return ("a receipt of 100,000 lines", redeem, Redeem(receipt: Receipt(random.Next(), 100_000)).ToByteArray(), null, oversize);
        yield return ("a receipt of 200,000 lines (over 4 MiB)", redeem, Redeem(receipt: Receipt(random.Next(), 200_000)).ToByteArray(), null, oversize);
        // The original receipt is looked up before the returned lines are counted; either refusal is right.
        yield return ("a refund of 100,000 lines", "/loyalty.v1.Cards/Refund", RefundOfManyLines(100_000), null, [.. oversize, StatusCode.NotFound]);
        yield return ("10,000 nested groups of an unknown field", GetCardPath, NestedGroups(10_000), null, invalid);
        yield return ("100 nested unknown messages", GetCardPath, NestedUnknown(100), null, invalid);
        yield return ("a varint of 11 bytes", GetCardPath, [0x10, .. Enumerable.Repeat((byte)0xFF, 10), 0x01], null, invalid);
        yield return ("a string longer than the message", GetCardPath, [0x0A, 0x64, 0x31, 0x32], null, invalid);
        yield return ("a field number 0", GetCardPath, [0x02, 0x01, 0x31], null, invalid);
        yield return ("an end-group with no start", GetCardPath, [0x0C], null, invalid);
    }

    /// <summary>A message with string field <paramref name="fieldNumber"/> replaced by raw bytes (protobuf: the last value of a field wins).</summary>
    private static byte[] WithRawString(IMessage message, int fieldNumber, byte[] raw) =>
        [.. message.ToByteArray(), (byte)(fieldNumber << 3 | 2), (byte)raw.Length, .. raw];

    private byte[] InvalidSku(byte[] raw)
    {
        // The line is a message inside the receipt inside the request: the bytes are placed two levels down.
        var line = new ReceiptLine { Category = "food", Name = "x", QuantityMilli = 1000, Price = 100, Amount = 100 }.ToByteArray();
        byte[] badLine = [.. line, 0x0A, (byte)raw.Length, .. raw];
        var reference = new ReceiptRef { StoreId = target.StoreId, RegisterId = "R1", ShiftNumber = 1, ReceiptNumber = random.Next() }.ToByteArray();
        byte[] receipt = [0x0A, (byte)reference.Length, .. reference, 0x12, (byte)badLine.Length, .. badLine];
        var head = new RedeemRequest { OperationId = $"fz-u-{random.Next():x}", CardNumber = target.Card, Amount = 100 }.ToByteArray();
        return [.. head, 0x1A, (byte)receipt.Length, .. receipt];
    }

    private byte[] RefundOfManyLines(int lines)
    {
        var refund = new RefundRequest
        {
            OperationId = $"fz-r-{random.Next():x}", CardNumber = target.Card,
            Original = new ReceiptRef { StoreId = target.StoreId, RegisterId = "R1", ShiftNumber = 1, ReceiptNumber = 1 },
        };
        for (var i = 0; i < lines; i++) refund.Lines.Add(new ReturnedLine { Sku = $"S{i}", QuantityMilli = 1 });
        return refund.ToByteArray();
    }

    /// <summary>Field 15 as start-group, <paramref name="depth"/> deep, then the matching end-groups.</summary>
    private static byte[] NestedGroups(int depth) =>
        [.. Enumerable.Repeat((byte)(15 << 3 | 3), depth), .. Enumerable.Repeat((byte)(15 << 3 | 4), depth)];

    /// <summary>An unknown length-delimited field 15 holding itself <paramref name="depth"/> times, then an invalid byte at the bottom.</summary>
    private static byte[] NestedUnknown(int depth)
    {
        byte[] inner = [0xFF];
        for (var i = 0; i < depth; i++)
        {
            inner = [(byte)(15 << 3 | 2), .. Varint(inner.Length), .. inner];
        }
        return inner;
    }

    private static byte[] Varint(int value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        bytes.Add((byte)value);
        return [.. bytes];
    }

    // ---------------------------------------------------------------- huge headers

    /// <summary>
    /// Requests with headers over the limits (one 1 MiB value, 5,000 small headers, one just over the
    /// field limit, a header block that never ends) must be refused on their own connection, while a
    /// request with honest headers near the limit and other clients are served.
    /// </summary>
    public async Task HugeHeadersAsync(CancellationToken cancellationToken)
    {
        var until = Stopwatch.StartNew();
        var unfinished = settings.UnfinishedHeaderBlock ? UnfinishedHeaderBlockAsync(cancellationToken) : Task.CompletedTask;
        var round = 0;
        using var other = new GrpcCaller(target.GrpcAddress);
        while (until.Elapsed < Duration && round++ < 100)
        {
            await OversizeHeadersAsync("a 1 MiB header value", [("x-big", new string('a', 1 << 20))], cancellationToken);
            await OversizeHeadersAsync("5,000 headers", Enumerable.Range(0, 5_000).Select(i => ($"x-h{i}", "v")), cancellationToken);
            await OversizeHeadersAsync("a 9 KiB header value", [("x-big", new string('b', 9 * 1024))], cancellationToken);
            await HonestHeadersAsync(cancellationToken);
            var served = await other.CallAsync(GetCardPath, new GetCardRequest { CardNumber = target.Card }, target.OtherPosKey, cancellationToken);
            result.Record($"other client meanwhile: {served.Outcome}", served.IsOk, served.GrpcMessage);
        }
        await unfinished;
    }

    private async Task OversizeHeadersAsync(string what, IEnumerable<(string, string)> extra, CancellationToken cancellationToken)
    {
        await using var connection = await Http2Connection.OpenAsync(target.Endpoint, cancellationToken);
        string outcome;
        try
        {
            var stream = await connection.StartCallAsync(GetCardPath, target.PosKey(0), extra, endStream: false, cancellationToken);
            await connection.SendDataAsync(stream, GrpcCaller.Frame(new GetCardRequest { CardNumber = target.Card }.ToByteArray()), endStream: true, cancellationToken);
            outcome = (await connection.WaitForEndAsync(stream, AnswerWait)).Outcome;
        }
        catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException)
        {
            outcome = "connection closed while sending";
        }
        result.CountSent();
        // Refused means: an HTTP error status, a stream reset, or the connection ended; never a served call.
        var refused = !outcome.StartsWith("grpc", StringComparison.Ordinal) && outcome != "silent" && !outcome.Contains("INTERNAL_ERROR", StringComparison.Ordinal);
        result.Record($"{what}: {outcome}", refused);
    }

    private async Task HonestHeadersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Http2Connection.OpenAsync(target.Endpoint, cancellationToken);
        var stream = await connection.StartCallAsync(GetCardPath, target.PosKey(0),
            [("x-trace", new string('t', 4 * 1024)), .. Enumerable.Range(0, 40).Select(i => ($"x-m{i}", "value"))], endStream: false, cancellationToken);
        await connection.SendDataAsync(stream, GrpcCaller.Frame(new GetCardRequest { CardNumber = target.Card }.ToByteArray()), endStream: true, cancellationToken);
        var end = await connection.WaitForEndAsync(stream, AnswerWait);
        result.CountSent();
        result.Record($"a 4 KiB header and 40 more: {end.Outcome}", end.GrpcStatus == 0, end.GrpcMessage);
    }

    /// <summary>HEADERS without END_HEADERS, then nothing: the server must close the connection (its request headers timeout).</summary>
    private async Task UnfinishedHeaderBlockAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Http2Connection.OpenAsync(target.Endpoint, cancellationToken);
        var block = new List<byte>();
        foreach (var (name, value) in connection.GrpcHeaders(GetCardPath, target.PosKey(0))) Hpack.AppendLiteral(block, name, value);
        // Our SETTINGS acknowledgement must not fall inside the open header block: that would be a protocol error of ours.
        await connection.SettingsAcknowledged.WaitAsync(AnswerWait, cancellationToken);
        var clock = Stopwatch.StartNew();
        await connection.SendHeaderBlockAsync(connection.NextStreamId(), [.. block], endStream: true, cancellationToken, endHeaders: false);
        result.CountSent();
        var wait = TimeSpan.FromSeconds(30);
        var closed = await Task.WhenAny(connection.Closed, Task.Delay(wait, cancellationToken));
        var outcome = closed == connection.Closed ? await connection.Closed : "silent";
        // Kestrel ends such a connection with GOAWAY INTERNAL_ERROR when its request headers timeout passes: expected here.
        result.Record($"a header block that never ends: {outcome}", outcome != "silent");
        result.Notes.Add(outcome == "silent"
            ? $"a header block that never ends was still open after {wait.TotalSeconds:0} s"
            : $"a header block that never ends: connection ended ({outcome}) after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    // ---------------------------------------------------------------- slow clients

    /// <summary>
    /// Streams that send their headers and part of a message, then either stall or trickle the rest
    /// at 300 bytes/s (above Kestrel's minimum data rate, so only the server's own bound stops it).
    /// Each must be ended by the server, soon after its request body timeout.
    /// </summary>
    public async Task SlowClientsAsync(CancellationToken cancellationToken)
    {
        const int streamsPerConnection = 20;
        var wait = settings.RequestBodyTimeout + FuzzSettings.SlowGrace;
        var connections = new List<Http2Connection>();
        try
        {
            var ends = new List<Task<(string Kind, StreamEnd End)>>();
            for (var i = 0; i < settings.SlowStreams; i++)
            {
                if (i % streamsPerConnection == 0) connections.Add(await Http2Connection.OpenAsync(target.Endpoint, cancellationToken));
                var connection = connections[^1];
                var kind = i % 2 == 0 ? "stalled" : "trickling";
                ends.Add(SlowStreamAsync(connection, kind, wait, cancellationToken));
            }
            using var other = new GrpcCaller(target.GrpcAddress);
            var served = await other.CallAsync(GetCardPath, new GetCardRequest { CardNumber = target.Card }, target.OtherPosKey, cancellationToken);
            result.Record($"other client meanwhile: {served.Outcome}", served.IsOk, served.GrpcMessage);
            progress.WriteLine($"[slow] {settings.SlowStreams} streams hold part of a message; waiting up to {wait.TotalSeconds:0} s for the server to end them");
            foreach (var group in (await Task.WhenAll(ends)).GroupBy(e => e.Kind))
            {
                foreach (var (kind, end) in group)
                    result.Record($"{kind}: {end.Outcome}", !IsServerFault(end.Outcome), end.GrpcMessage);
                var times = group.Where(e => e.End.Outcome != "silent").Select(e => e.End.After.TotalSeconds).ToList();
                result.Notes.Add(times.Count == 0
                    ? $"{group.Key} streams: none ended within {wait.TotalSeconds:0} s"
                    : $"{group.Key} streams: {times.Count} of {group.Count()} ended by the server after {times.Min():0.0}-{times.Max():0.0} s");
            }
        }
        finally
        {
            foreach (var connection in connections) await connection.DisposeAsync();
        }
    }

    private async Task<(string Kind, StreamEnd End)> SlowStreamAsync(Http2Connection connection, string kind, TimeSpan wait, CancellationToken cancellationToken)
    {
        var stream = await connection.StartCallAsync(GetCardPath, target.PosKey(1), endStream: false, cancellationToken: cancellationToken);
        result.CountSent();
        var declared = kind == "stalled" ? 200 : 100_000;
        var start = new byte[5 + 20];
        BinaryPrimitives.WriteInt32BigEndian(start.AsSpan(1), declared);
        await connection.SendDataAsync(stream, start, endStream: false, cancellationToken);
        var ended = connection.WaitForEndAsync(stream, wait);
        if (kind == "trickling")
        {
            // 30 bytes every 100 ms: 300 bytes/s, for as long as the stream is open.
            var chunk = new byte[30];
            var sent = 0;
            while (!ended.IsCompleted && sent < declared - chunk.Length)
            {
                try
                {
                    await connection.SendDataAsync(stream, chunk, endStream: false, cancellationToken);
                }
                catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException)
                {
                    break;
                }
                sent += chunk.Length;
                await Task.WhenAny(ended, Task.Delay(100, cancellationToken));
            }
        }
        return (kind, await ended);
    }

    // ---------------------------------------------------------------- idle connections

    /// <summary>
    /// Thousands of connections that send the preface and SETTINGS, then nothing. Meanwhile a client
    /// keeps calling GetCard; its latency is the figure. The memory the idle connections take is read
    /// at the peak and after they are closed.
    /// </summary>
    public async Task IdleConnectionsAsync(CancellationToken cancellationToken)
    {
        const int concurrentConnects = 64;
        var connections = new System.Collections.Concurrent.ConcurrentBag<Http2Connection>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var latencies = new List<double>();
        var probe = ProbeLatencyAsync(latencies, stop.Token);
        var clock = Stopwatch.StartNew();
        try
        {
            var failures = 0;
            await Parallel.ForAsync(0, settings.IdleConnections, new ParallelOptions { MaxDegreeOfParallelism = concurrentConnects, CancellationToken = cancellationToken }, async (_, ct) =>
            {
                try
                {
                    connections.Add(await Http2Connection.OpenAsync(target.Endpoint, ct));
                    result.CountSent();
                }
                catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException)
                {
                    Interlocked.Increment(ref failures);
                }
            });
            result.Notes.Add($"{connections.Count:N0} idle connections opened in {clock.Elapsed.TotalSeconds:0.0} s ({failures} failed); server RSS then {Rss() / 1024:N0} MiB");
            progress.WriteLine($"[idle] {connections.Count:N0} idle connections open; holding them {settings.Seconds:0.#} s");
            await Task.Delay(Duration, cancellationToken);
            var sample = connections.Take(100).ToList();
            var answers = await Task.WhenAll(sample.Select(c => c.ProbeAsync(TimeSpan.FromSeconds(5), cancellationToken)));
            foreach (var answer in answers) result.Record($"idle connection after {settings.Seconds:0.#} s: {answer}", answer is "alive" or "goaway NO_ERROR");
            result.Notes.Add($"with them open: server RSS {Rss() / 1024:N0} MiB");
        }
        finally
        {
            await stop.CancelAsync();
            await probe;
            foreach (var connection in connections) await connection.DisposeAsync();
        }
        if (latencies.Count > 0)
        {
            latencies.Sort();
            result.Notes.Add($"GetCard by another client during the flood: {latencies.Count} calls, p50 {latencies[latencies.Count / 2]:0.0} ms, max {latencies[^1]:0.0} ms");
        }
    }

    private async Task ProbeLatencyAsync(List<double> latencies, CancellationToken cancellationToken)
    {
        using var caller = new GrpcCaller(target.GrpcAddress);
        while (!cancellationToken.IsCancellationRequested)
        {
            var clock = Stopwatch.StartNew();
            CallOutcome reply;
            try
            {
                reply = await caller.CallAsync(GetCardPath, new GetCardRequest { CardNumber = target.Card }, target.OtherPosKey, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            latencies.Add(clock.Elapsed.TotalMilliseconds);
            result.Record($"other client meanwhile: {reply.Outcome}", reply.IsOk, reply.GrpcMessage);
            try
            {
                await Task.Delay(100, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private long Rss() => target.ServerProcessId is { } id ? Memory.Read(id).RssKb : 0;

    // ---------------------------------------------------------------- rate limit

    /// <summary>
    /// One key hammers GetCard from all workers; another key calls at a modest pace meanwhile. The first
    /// must get RESOURCE_EXHAUSTED for what is over its rate, the second nothing but answers.
    /// </summary>
    public async Task RateLimitAsync(CancellationToken cancellationToken)
    {
        var until = Stopwatch.StartNew();
        var hammerKey = target.PosKey(settings.Workers + 1);
        var okCount = 0;
        var refused = 0;
        var hammer = Parallel.ForAsync(0, settings.Workers * 2, cancellationToken, async (_, ct) =>
        {
            using var caller = new GrpcCaller(target.GrpcAddress);
            while (until.Elapsed < Duration)
            {
                var reply = await caller.CallAsync(GetCardPath, new GetCardRequest { CardNumber = target.Card }, hammerKey, ct);
                result.CountSent();
                if (reply.IsOk) Interlocked.Increment(ref okCount);
                if (reply.GrpcStatus == (int)StatusCode.ResourceExhausted) Interlocked.Increment(ref refused);
                result.Record($"hammering key: {reply.Outcome}", reply.GrpcStatus is 0 or (int)StatusCode.ResourceExhausted, reply.GrpcMessage);
            }
        });
        using (var caller = new GrpcCaller(target.GrpcAddress))
        {
            while (until.Elapsed < Duration)
            {
                var reply = await caller.CallAsync(GetCardPath, new GetCardRequest { CardNumber = target.Card }, target.OtherPosKey, cancellationToken);
                result.CountSent();
                result.Record($"other key meanwhile: {reply.Outcome}", reply.IsOk, reply.GrpcMessage);
                await Task.Delay(50, cancellationToken);
            }
        }
        await hammer;
        var seconds = until.Elapsed.TotalSeconds;
        var total = okCount + refused;
        result.Notes.Add($"hammering key: {total / seconds:N0} calls/s offered, {okCount / seconds:N0}/s answered OK, {refused * 100.0 / Math.Max(1, total):0.0} % RESOURCE_EXHAUSTED" +
            (settings.RatePerKey > 0 ? $" (server's rate {settings.RatePerKey}/s, burst {settings.RateBurst})" : " (server's rate limit off)"));
        if (settings.RatePerKey > 0)
        {
            // Allowed: the burst plus the rate over the time, and a margin for calls in flight at the edges.
            var allowed = settings.RateBurst + settings.RatePerKey * seconds * 1.1 + settings.Workers * 2;
            result.Record(okCount <= allowed ? "rate held" : "RATE NOT HELD", okCount <= allowed,
                $"{okCount} answered OK in {seconds:0.0} s; at most {allowed:0} allowed");
        }
    }
}
