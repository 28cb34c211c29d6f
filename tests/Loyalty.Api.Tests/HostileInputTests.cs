using System.Buffers.Binary;
using System.Diagnostics;
using Google.Protobuf;
using Loyalty.Api.Auth;
using Loyalty.Api.Tests.Support;
using Loyalty.Fuzz;
using Loyalty.Protos.V1;
using Loyalty.Silo;
using Microsoft.Extensions.Configuration;

namespace Loyalty.Api.Tests;

/// <summary>A server with small limits, so that the tests see them hold within a second or two.</summary>
public sealed class LimitedServerFixture : ServerFixture
{
    public const int RatePerKey = 20;
    public const int RequestBodyTimeoutSeconds = 1;

    protected override IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        [SiloOptions.RatePerKeyVariable] = RatePerKey.ToString(),
        [SiloOptions.RateBurstVariable] = RatePerKey.ToString(),
        [SiloOptions.RequestBodyTimeoutVariable] = RequestBodyTimeoutSeconds.ToString(),
    };
}

/// <summary>Hostile clients and the limits that protect the server from them: each is refused on its own, and others are still served.</summary>
public class HostileInputTests(LimitedServerFixture server) : IClassFixture<LimitedServerFixture>, IAsyncLifetime
{
    private const string GetCard = "/loyalty.v1.Cards/GetCard";
    private readonly RawGrpc _grpc = new(server.GrpcAddress);
    private readonly string _card = "H" + Guid.NewGuid().ToString("N")[..12];

    public async Task InitializeAsync()
    {
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = _card }, server.AdminKey)).GrpcStatus);
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Admin/Adjust", new AdjustRequest { OperationId = $"open-{_card}", CardNumber = _card, Amount = 100_000, Reason = "opening" }, server.AdminKey)).GrpcStatus);
    }

    public Task DisposeAsync()
    {
        _grpc.Dispose();
        return Task.CompletedTask;
    }

    private async Task<string> PosKeyAsync(string name)
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Admin/CreateApiKey", new CreateApiKeyRequest { Role = "pos", StoreId = "S1", Name = name }, server.AdminKey);
        return reply.Message(CreateApiKeyReply.Parser).ApiKey;
    }

    private async Task<Card> CardAsync() =>
        (await _grpc.CallAsync(GetCard, new GetCardRequest { CardNumber = _card }, server.AdminKey)).Message(Card.Parser);

    [Fact]
    public async Task A_key_over_its_rate_gets_RESOURCE_EXHAUSTED_at_once_while_another_key_is_still_served()
    {
        var hammering = await PosKeyAsync("hammering register");
        var other = await PosKeyAsync("quiet register");
        var replies = await Task.WhenAll(Enumerable.Range(0, 3 * LimitedServerFixture.RatePerKey)
            .Select(_ => _grpc.CallAsync(GetCard, new GetCardRequest { CardNumber = _card }, hammering)));

        var refused = replies.Where(r => r.GrpcStatus == (int)StatusCode.ResourceExhausted).ToList();
        Assert.All(replies, r => Assert.Contains(r.GrpcStatus, new int?[] { 0, (int)StatusCode.ResourceExhausted }));
        Assert.InRange(replies.Count(r => r.GrpcStatus == 0), LimitedServerFixture.RatePerKey, 2 * LimitedServerFixture.RatePerKey);
        Assert.NotEmpty(refused);
        Assert.Contains("calls per second", refused[0].GrpcMessage);
        Assert.Equal(0, (await _grpc.CallAsync(GetCard, new GetCardRequest { CardNumber = _card }, other)).GrpcStatus);
    }

    [Fact]
    public void The_rate_limiter_refills_at_its_rate_and_never_holds_more_than_its_burst()
    {
        var time = new ManualTime();
        var limiter = new KeyRateLimiter(callsPerSecond: 10, burst: 3, time);
        var caller = new Caller("0123456789abcdef", "register", Auth.Role.Pos, "S1");
        for (var i = 0; i < 3; i++) limiter.Charge(caller);
        var refused = Assert.Throws<global::Grpc.Core.RpcException>(() => limiter.Charge(caller));
        Assert.Equal(global::Grpc.Core.StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("retry in 100 ms", refused.Status.Detail);

        time.Advance(TimeSpan.FromMilliseconds(100));
        limiter.Charge(caller);
        Assert.Throws<global::Grpc.Core.RpcException>(() => limiter.Charge(caller));

        time.Advance(TimeSpan.FromHours(1));
        for (var i = 0; i < 3; i++) limiter.Charge(caller);
        Assert.Throws<global::Grpc.Core.RpcException>(() => limiter.Charge(caller));
    }

    [Fact]
    public void Limit_settings_that_are_not_whole_numbers_in_range_are_refused_at_start_up_naming_the_setting()
    {
        foreach (var (name, value) in new[] { (SiloOptions.RatePerKeyVariable, "-1"), (SiloOptions.RateBurstVariable, "0"), (SiloOptions.RequestBodyTimeoutVariable, "soon") })
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [name] = value }).Build();
            var error = Assert.Throws<InvalidOperationException>(() => SiloOptions.From(configuration));
            Assert.Contains(name, error.Message);
        }
        var defaults = SiloOptions.From(new ConfigurationBuilder().Build());
        Assert.Equal((1_000, 2_000, TimeSpan.FromSeconds(30)), (defaults.RatePerKey, defaults.RateBurst, defaults.RequestBodyTimeout));
    }

    [Fact]
    public async Task A_slow_client_that_never_finishes_its_message_is_cut_off_after_the_request_body_timeout()
    {
        await using var connection = await Http2Connection.OpenAsync(Endpoint, default);
        var stream = await connection.StartCallAsync(GetCard, server.AdminKey);
        var clock = Stopwatch.StartNew();
        await connection.SendDataAsync(stream, PartOfAMessage(declared: 200, sent: 20), endStream: false, default);

        var end = await connection.WaitForEndAsync(stream, TimeSpan.FromSeconds(8));

        Assert.Equal("grpc DEADLINE_EXCEEDED", end.Outcome);
        Assert.Contains("did not arrive in full within 1 s", end.GrpcMessage);
        Assert.InRange(clock.Elapsed.TotalSeconds, LimitedServerFixture.RequestBodyTimeoutSeconds * 0.9, LimitedServerFixture.RequestBodyTimeoutSeconds + 3);
        Assert.Equal("alive", await connection.ProbeAsync(TimeSpan.FromSeconds(2), default));
    }

    [Fact]
    public async Task A_reflection_stream_may_idle_between_messages_but_not_stall_inside_one()
    {
        await using var connection = await Http2Connection.OpenAsync(Endpoint, default);
        var stream = await connection.StartCallAsync("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", null);
        await Task.Delay(TimeSpan.FromSeconds(LimitedServerFixture.RequestBodyTimeoutSeconds * 1.5));
        Assert.Equal("silent", (await connection.WaitForEndAsync(stream, TimeSpan.Zero)).Outcome);

        await connection.SendDataAsync(stream, PartOfAMessage(declared: 50, sent: 3), endStream: false, default);
        var end = await connection.WaitForEndAsync(stream, TimeSpan.FromSeconds(8));

        Assert.Equal("grpc DEADLINE_EXCEEDED", end.Outcome);
    }

    [Fact]
    public async Task A_header_of_1_MiB_is_refused_on_its_own_connection_and_other_clients_are_still_served()
    {
        await using var connection = await Http2Connection.OpenAsync(Endpoint, default);
        try
        {
            var stream = await connection.StartCallAsync(GetCard, server.AdminKey, [("x-big", new string('a', 1 << 20))], endStream: true);
            Assert.DoesNotContain("grpc", (await connection.WaitForEndAsync(stream, TimeSpan.FromSeconds(5))).Outcome);
        }
        catch (IOException)
        {
            // The server closed the connection while the header was still being sent: refused just the same.
        }
        Assert.StartsWith("goaway", await connection.Closed.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, (await _grpc.CallAsync(GetCard, new GetCardRequest { CardNumber = _card }, server.AdminKey)).GrpcStatus);
    }

    [Fact]
    public async Task Honest_metadata_of_a_few_KiB_is_still_accepted_under_the_header_limits()
    {
        await using var connection = await Http2Connection.OpenAsync(Endpoint, default);
        var stream = await connection.StartCallAsync(GetCard, server.AdminKey,
            [("traceparent", new string('t', 4 * 1024)), .. Enumerable.Range(0, 40).Select(i => ($"x-m{i}", "value"))]);
        await connection.SendDataAsync(stream, RawGrpc.Frame(new GetCardRequest { CardNumber = _card }), endStream: true, default);
        Assert.Equal("grpc OK", (await connection.WaitForEndAsync(stream, TimeSpan.FromSeconds(5))).Outcome);
    }

    [Fact]
    public async Task A_length_prefix_shorter_than_the_data_sent_is_an_invalid_argument()
    {
        var frame = RawGrpc.Frame(new GetCardRequest { CardNumber = _card });
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), 2);
        var reply = await _grpc.SendAsync(GetCard, frame, server.AdminKey);
        // The declared two bytes are a truncated message, refused before the rest is looked at.
        Assert.Equal((int)StatusCode.InvalidArgument, reply.GrpcStatus);
        Assert.Contains("not a valid loyalty.v1.GetCardRequest message", reply.GrpcMessage);
    }

    [Fact]
    public async Task A_string_field_of_invalid_UTF8_was_read_as_U_FFFD_and_let_a_redeem_through_now_it_is_refused()
    {
        // Found by the fuzz: operation id 0x80 arrived as "\uFFFD", so 0x80 and 0x81 were one operation, and the redeem held bonuses.
        var before = await CardAsync();
        var redeem = new RedeemRequest { OperationId = "placeholder", CardNumber = _card, Receipt = Receipts.Of("S1", 1, 50_000), Amount = 100 }.ToByteArray();
        byte[] payload = [.. redeem, 0x0A, 0x01, 0x80];

        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/Redeem", RawGrpc.Frame(payload), server.AdminKey);

        Assert.Equal((int)StatusCode.InvalidArgument, reply.GrpcStatus);
        Assert.Contains("loyalty.v1.RedeemRequest.operation_id is not valid UTF-8", reply.GrpcMessage);
        Assert.Equal(before, await CardAsync());
    }

    [Fact]
    public async Task Refused_requests_cannot_fill_the_log_since_grpc_logs_only_its_warnings_and_errors_and_none_is_unknown()
    {
        // Grpc.AspNetCore logs each refused call at Information and each non-RpcException at Error;
        // the checked marshaller and the guard leave it no Error to log for bad input.
        var loggers = (Microsoft.Extensions.Logging.ILoggerFactory)server.Server.Services.GetService(typeof(Microsoft.Extensions.Logging.ILoggerFactory))!;
        var grpcLog = loggers.CreateLogger("Grpc.AspNetCore.Server.ServerCallHandler");
        Assert.False(grpcLog.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Information));
        Assert.True(grpcLog.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Warning));

        foreach (var bad in new byte[][] { [0xFF, 0xFF, 0xFF], [0x0A, 0x01, 0x80], [0x0A, 0x05, 0x61] })
        {
            var reply = await _grpc.SendAsync(GetCard, RawGrpc.Frame(bad), server.AdminKey);
            Assert.Equal((int)StatusCode.InvalidArgument, reply.GrpcStatus);
            Assert.Contains("not a valid loyalty.v1.GetCardRequest message", reply.GrpcMessage);
        }
    }

    [Fact]
    public async Task Invalid_UTF8_in_a_string_two_messages_down_is_refused_and_valid_multibyte_text_is_not()
    {
        var line = new ReceiptLine { Sku = "A", Category = "food", QuantityMilli = 1000, Price = 50_000, Amount = 50_000 }.ToByteArray();
        byte[] badName = [.. line, 0x1A, 0x02, 0xC0, 0x80];
        var reference = new ReceiptRef { StoreId = "S1", RegisterId = "R1", ShiftNumber = 1, ReceiptNumber = 7 }.ToByteArray();
        byte[] receipt = [0x0A, (byte)reference.Length, .. reference, 0x12, (byte)badName.Length, .. badName];
        byte[] quote = [.. new QuoteRequest { CardNumber = _card }.ToByteArray(), 0x12, (byte)receipt.Length, .. receipt];

        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/Quote", RawGrpc.Frame(quote), server.AdminKey);
        Assert.Equal((int)StatusCode.InvalidArgument, reply.GrpcStatus);
        Assert.Contains("loyalty.v1.ReceiptLine.name", reply.GrpcMessage);

        var cyrillic = Receipts.Of("S1", 8, 50_000);
        cyrillic.Lines[0].Name = "Молоко 3,2 % — 1 л";
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Cards/Quote", new QuoteRequest { CardNumber = _card, Receipt = cyrillic }, server.AdminKey)).GrpcStatus);
    }

    [Fact]
    public async Task Strings_of_1_MB_and_receipts_of_100_000_lines_are_invalid_arguments_that_change_nothing()
    {
        var before = await CardAsync();
        var megabyte = new string('7', 1_000_000);
        var huge = Receipts.Of("S1", 9, Enumerable.Repeat(100L, 100_000).ToArray());
        foreach (var request in new IMessage[]
        {
            new RedeemRequest { OperationId = megabyte, CardNumber = _card, Receipt = Receipts.Of("S1", 10, 50_000), Amount = 100 },
            new RedeemRequest { OperationId = "huge-receipt", CardNumber = _card, Receipt = huge, Amount = 100 },
        })
        {
            var reply = await _grpc.CallAsync("/loyalty.v1.Cards/Redeem", request, server.AdminKey);
            Assert.Equal((int)StatusCode.InvalidArgument, reply.GrpcStatus);
        }
        Assert.Equal(before, await CardAsync());
    }

    [Fact]
    public async Task Ten_thousand_nested_groups_are_an_invalid_argument_not_a_stack_overflow()
    {
        byte[] nested = [.. Enumerable.Repeat((byte)(15 << 3 | 3), 10_000), .. Enumerable.Repeat((byte)(15 << 3 | 4), 10_000)];
        var reply = await _grpc.SendAsync(GetCard, RawGrpc.Frame(nested), server.AdminKey);
        Assert.Equal((int)StatusCode.InvalidArgument, reply.GrpcStatus);
        Assert.Contains("recursion", reply.GrpcMessage, StringComparison.OrdinalIgnoreCase);
    }

    private System.Net.IPEndPoint Endpoint => new(System.Net.IPAddress.Loopback, server.GrpcAddress.Port);

    private static byte[] PartOfAMessage(int declared, int sent)
    {
        var bytes = new byte[5 + sent];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), declared);
        return bytes;
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1_000_000;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}

/// <summary>Short runs of the fuzz tool's scenarios against an in-process server, so ./test.sh exercises the fuzzer too.</summary>
public class FuzzRunTests(FuzzServerFixture server) : IClassFixture<FuzzServerFixture>
{
    private static FuzzSettings Short(params string[] scenarios) => new()
    {
        Seed = 7,
        Seconds = 1,
        Workers = 4,
        IdleConnections = 200,
        SlowStreams = 6,
        RequestBodyTimeout = TimeSpan.FromSeconds(FuzzServerFixture.RequestBodyTimeoutSeconds),
        Settle = TimeSpan.Zero,
        UnfinishedHeaderBlock = false,
        Scenarios = scenarios,
    };

    private async Task RunAsync(FuzzSettings settings)
    {
        var target = await FuzzSetup.PrepareAsync(server.GrpcAddress, server.AdminKey, serverProcessId: null, settings.Workers, settings.Seed, default);
        var progress = new StringWriter();
        var results = await new FuzzRun(target, settings, progress).RunAsync(default);
        Assert.Equal(settings.Scenarios.Count, results.Count);
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: {r.OutcomeSummary}; alive: {r.AliveDetail}{Environment.NewLine}{progress}"));
    }

    [Fact]
    public Task A_short_fuzz_of_random_frames_mutated_requests_and_hostile_contents_gets_proper_answers_and_leaves_the_server_serving() =>
        RunAsync(Short("frames", "mutated", "contents"));

    [Fact]
    public Task A_short_fuzz_of_huge_headers_slow_and_idle_clients_and_one_hammering_key_leaves_the_server_serving() =>
        RunAsync(Short("headers", "slow", "idle", "rate"));
}

public sealed class FuzzServerFixture : ServerFixture
{
    public const int RequestBodyTimeoutSeconds = 1;

    protected override IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        [SiloOptions.RequestBodyTimeoutVariable] = RequestBodyTimeoutSeconds.ToString(),
    };
}

/// <summary>A server that takes two calls at a time, with a short request body timeout to free them.</summary>
public sealed class TwoCallsServerFixture : ServerFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        [SiloOptions.MaxCallsInProgressVariable] = "2",
        [SiloOptions.RequestBodyTimeoutVariable] = "1",
    };
}

public class CallsInProgressTests(TwoCallsServerFixture server) : IClassFixture<TwoCallsServerFixture>
{
    [Fact]
    public async Task A_call_over_the_process_limit_of_calls_in_progress_is_refused_at_once_and_served_once_a_place_frees()
    {
        await using var connection = await Http2Connection.OpenAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, server.GrpcAddress.Port), default);
        // Two calls that never send their message hold both places until the request body timeout ends them.
        var stalled = new[] { await connection.StartCallAsync("/loyalty.v1.Cards/GetCard", server.AdminKey), await connection.StartCallAsync("/loyalty.v1.Cards/GetCard", server.AdminKey) };
        await Task.Delay(200);
        using var grpc = new RawGrpc(server.GrpcAddress);
        var clock = Stopwatch.StartNew();

        var refused = await grpc.CallAsync("/grpc.health.v1.Health/Check", new global::Grpc.Health.V1.HealthCheckRequest());

        Assert.Equal((int)StatusCode.ResourceExhausted, refused.GrpcStatus);
        Assert.Contains("2 calls in progress", refused.GrpcMessage);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"The refusal took {clock.Elapsed.TotalMilliseconds:N0} ms.");
        foreach (var stream in stalled)
            Assert.Equal("grpc DEADLINE_EXCEEDED", (await connection.WaitForEndAsync(stream, TimeSpan.FromSeconds(5))).Outcome);
        Assert.Equal(0, (await grpc.CallAsync("/grpc.health.v1.Health/Check", new global::Grpc.Health.V1.HealthCheckRequest())).GrpcStatus);
    }
}
