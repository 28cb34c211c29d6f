using System.Net;
using System.Net.Sockets;
using Grpc.Health.V1;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;
using Microsoft.AspNetCore.Http;

namespace Loyalty.PosAdapter.Tests;

/// <summary>
/// What the client must still do now that Grpc.Net.Client frames the calls: deadlines, keys and
/// metadata sent; failures reported with the status a terminal acts on; refusal details read from
/// the trailers; retries that keep the operation id. Against <see cref="GrpcStandIn"/>.
/// </summary>
public class LoyaltyClientTests
{
    private static LoyaltyClient Client(GrpcStandIn standIn, string? apiKey = "test-key", TimeSpan? defaultTimeout = null) =>
        LoyaltyClient.Create(standIn.Address.ToString(), apiKey, defaultTimeout ?? TimeSpan.FromSeconds(10));

    [Fact]
    public async Task A_call_goes_to_the_method_path_with_the_key_as_a_bearer_token_and_the_default_deadline()
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, _) => GrpcStandIn.ReplyAsync(context, new Card { CardNumber = "1001", Balance = 12_345 }));
        using var client = Client(standIn, defaultTimeout: TimeSpan.FromSeconds(7));

        var card = await client.GetCardAsync("1001");

        Assert.Equal(12_345, card.Balance);
        var call = Assert.Single(standIn.Calls);
        Assert.Equal("/loyalty.v1.Cards/GetCard", call.Path);
        Assert.Equal("Bearer test-key", call.Headers["authorization"]);
        Assert.Equal("1001", GetCardRequest.Parser.ParseFrom(call.Message).CardNumber);
        // The wire value is the remaining time, so at most the default and not much less.
        Assert.InRange(ParseTimeout(call.Headers["grpc-timeout"]), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(7));
    }

    [Fact]
    public async Task Custom_metadata_and_a_per_call_key_are_sent_and_no_key_sends_no_authorization()
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, _) => GrpcStandIn.ReplyAsync(context, new Card()));
        using var keyless = Client(standIn, apiKey: null);

        await keyless.GetCardAsync("1");
        await keyless.GetCardAsync("2", new CallOptions
        {
            ApiKey = "store-7",
            Timeout = TimeSpan.FromSeconds(3),
            Metadata = [new("x-terminal", "till-3"), new("x-trace-bin", Convert.ToBase64String([1, 2, 3]))],
        });

        var calls = standIn.Calls.ToArray();
        Assert.False(calls[0].Headers.ContainsKey("authorization"));
        Assert.Equal("Bearer store-7", calls[1].Headers["authorization"]);
        Assert.Equal("till-3", calls[1].Headers["x-terminal"]);
        Assert.Equal(Convert.ToBase64String([1, 2, 3]).TrimEnd('='), calls[1].Headers["x-trace-bin"].TrimEnd('='));
        Assert.InRange(ParseTimeout(calls[1].Headers["grpc-timeout"]), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));
    }

    [Theory]
    [InlineData("grpc-timeout")]
    [InlineData("authorization")]
    [InlineData("te")]
    [InlineData("X-Upper")]
    public async Task Metadata_names_the_protocol_or_the_client_reserve_are_refused_before_sending(string name)
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, _) => GrpcStandIn.ReplyAsync(context, new Card()));
        using var client = Client(standIn);

        await Assert.ThrowsAsync<ArgumentException>(() => client.GetCardAsync("1", new CallOptions { Metadata = [new(name, "x")] }));
        Assert.Empty(standIn.Calls);
    }

    [Fact]
    public void A_key_that_cannot_travel_in_a_header_is_refused_without_repeating_it()
    {
        var error = Assert.Throws<ArgumentException>(() => LoyaltyClient.Create("http://127.0.0.1:1", "secret key\n"));
        Assert.DoesNotContain("secret", error.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_refusal_keeps_its_status_message_and_the_loyalty_details_from_the_trailers(bool trailersOnly)
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, _) => GrpcStandIn.RefuseAsync(context, StatusCode.FailedPrecondition,
            "Receipt 7 is held; commit or cancel hold h-42. ₽", trailersOnly, ("loyalty-receipt-stage", "held"), ("loyalty-hold-id", "h-42")));
        using var client = Client(standIn);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.RedeemAsync(new RedeemRequest { OperationId = "op-1", CardNumber = "1001", Amount = 100 }));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Equal("Receipt 7 is held; commit or cancel hold h-42. ₽", error.Message);
        Assert.Equal("held", error.Details["receipt-stage"]);
        Assert.Equal("h-42", error.Details["hold-id"]);
        Assert.Equal(2, error.Details.Count);
        Assert.False(error.IsRetryable);
    }

    [Fact]
    public async Task A_call_that_outlives_its_deadline_is_deadline_exceeded_and_retryable()
    {
        await using var standIn = await GrpcStandIn.StartAsync(async (context, _, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        using var client = Client(standIn);
        var started = DateTime.UtcNow;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1", new CallOptions { Timeout = TimeSpan.FromMilliseconds(300) }));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(error.IsRetryable);
        Assert.Contains("same operation id", error.Message);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task A_deadline_already_passed_fails_without_sending()
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, _) => GrpcStandIn.ReplyAsync(context, new Card()));
        using var client = Client(standIn);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1", new CallOptions { Deadline = DateTimeOffset.UtcNow.AddSeconds(-1) }));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Empty(standIn.Calls);
    }

    [Fact]
    public async Task A_timeout_over_a_day_is_refused_as_a_mistake()
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, _) => GrpcStandIn.ReplyAsync(context, new Card()));
        using var client = Client(standIn);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetCardAsync("1", new CallOptions { Timeout = TimeSpan.FromDays(2) }));
    }

    [Fact]
    public async Task A_call_cancelled_by_the_caller_is_cancelled()
    {
        await using var standIn = await GrpcStandIn.StartAsync(async (context, _, _) =>
            await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default));
        using var client = Client(standIn);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1", null, cancellation.Token));

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
    }

    [Fact]
    public async Task A_refused_connection_is_unavailable_and_says_where()
    {
        using var client = LoyaltyClient.Create($"http://127.0.0.1:{ClosedPort()}", "k");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1"));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.True(error.IsRetryable);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_connection_closed_by_the_server_before_any_answer_is_unavailable()
    {
        // Not a gRPC server at all: takes the connection and the request, then hangs up. Repeated,
        // since where the close lands (preface, SETTINGS, request) varies from run to run.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var hangUp = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var socket = await listener.AcceptSocketAsync(stop.Token);
                await socket.ReceiveAsync(new byte[4096], SocketFlags.None);
            }
        });
        var failures = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            using var client = LoyaltyClient.Create($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}", "k");
            var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1", new CallOptions { Timeout = TimeSpan.FromSeconds(5) }));
            if (error.StatusCode != StatusCode.Unavailable || !error.IsRetryable) failures.Add($"{error} | {error.InnerException}");
        }
        await stop.CancelAsync();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Theory]
    [InlineData(0x7, StatusCode.Unavailable)]       // REFUSED_STREAM: nothing was processed, safe to repeat
    [InlineData(0x8, StatusCode.Cancelled)]         // CANCEL
    [InlineData(0xB, StatusCode.ResourceExhausted)] // ENHANCE_YOUR_CALM
    [InlineData(0x2, StatusCode.Internal)]          // INTERNAL_ERROR
    public async Task A_stream_reset_by_the_server_maps_by_its_http2_error_code(int errorCode, StatusCode expected)
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, _) => GrpcStandIn.ResetAsync(context, errorCode));
        using var client = Client(standIn);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1"));

        Assert.Equal(expected, error.StatusCode);
    }

    [Fact]
    public async Task Retries_through_the_client_send_the_same_operation_id_until_the_server_answers()
    {
        await using var standIn = await GrpcStandIn.StartAsync((context, _, attempt) => attempt switch
        {
            1 => GrpcStandIn.RefuseAsync(context, StatusCode.Unavailable, "The database is unreachable."),
            2 => GrpcStandIn.ResetAsync(context, 0x7),
            _ => GrpcStandIn.ReplyAsync(context, new RedeemReply { HoldId = "h-1", Amount = 10_000 }),
        });
        using var client = Client(standIn);
        var request = new RedeemRequest { OperationId = OperationId.New(), CardNumber = "1001", Amount = 10_000 };
        var policy = new RetryPolicy { InitialBackoff = TimeSpan.FromMilliseconds(10) };

        var reply = await policy.ExecuteAsync(request, (sent, token) => client.RedeemAsync(sent, null, token));

        Assert.Equal("h-1", reply.HoldId);
        var sentIds = standIn.Calls.Select(call => RedeemRequest.Parser.ParseFrom(call.Message)).ToList();
        Assert.Equal(3, sentIds.Count);
        Assert.All(sentIds, sent => Assert.Equal(request, sent));
    }

    [Fact]
    public async Task Overload_after_an_attempt_lost_to_the_deadline_ends_as_unavailable_through_the_client()
    {
        await using var standIn = await GrpcStandIn.StartAsync(async (context, _, attempt) =>
        {
            if (attempt == 1)
            {
                await Task.Delay(TimeSpan.FromSeconds(3), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }
            await GrpcStandIn.RefuseAsync(context, StatusCode.ResourceExhausted, "The server is busy; nothing was stored.");
        });
        using var client = Client(standIn, defaultTimeout: TimeSpan.FromMilliseconds(300));
        var policy = new RetryPolicy { MaxAttempts = 3, InitialBackoff = TimeSpan.FromMilliseconds(10) };
        var request = new AdjustRequest { OperationId = OperationId.New(), CardNumber = "1001", Amount = 500, Reason = "goodwill" };

        var error = await Assert.ThrowsAsync<RpcException>(() => policy.ExecuteAsync(request, (sent, token) => client.AdjustAsync(sent, null, token)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("may or may not have been stored", error.Message);
        Assert.Equal(3, standIn.Calls.Count);
    }

    [Fact]
    public async Task A_health_watch_yields_each_status_then_ends_when_the_server_ends_the_stream()
    {
        await using var standIn = await GrpcStandIn.StartAsync(async (context, _, _) =>
        {
            await GrpcStandIn.WriteMessageAsync(context, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
            await GrpcStandIn.WriteMessageAsync(context, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.NotServing });
            context.Response.AppendTrailer("grpc-status", "0");
        });
        using var client = Client(standIn);

        var seen = new List<HealthCheckResponse.Types.ServingStatus>();
        await foreach (var status in client.WatchHealthAsync()) seen.Add(status.Status);

        Assert.Equal([HealthCheckResponse.Types.ServingStatus.Serving, HealthCheckResponse.Types.ServingStatus.NotServing], seen);
        Assert.Equal("/grpc.health.v1.Health/Watch", Assert.Single(standIn.Calls).Path);
    }

    [Fact]
    public async Task A_health_watch_ending_with_an_error_throws_it_after_the_messages()
    {
        await using var standIn = await GrpcStandIn.StartAsync(async (context, _, _) =>
        {
            await GrpcStandIn.WriteMessageAsync(context, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
            context.Response.AppendTrailer("grpc-status", "14");
            context.Response.AppendTrailer("grpc-message", "stopping");
        });
        using var client = Client(standIn);

        var seen = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in client.WatchHealthAsync()) seen++;
        });

        Assert.Equal(1, seen);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal("stopping", error.Message);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>grpc-timeout as PROTOCOL-HTTP2.md writes it: up to 8 digits and a unit.</summary>
    private static TimeSpan ParseTimeout(string value)
    {
        var amount = long.Parse(value[..^1], System.Globalization.CultureInfo.InvariantCulture);
        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => throw new FormatException(value),
        };
    }
}
