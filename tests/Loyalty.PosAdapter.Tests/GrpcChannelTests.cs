using System.Net;
using System.Net.Sockets;
using Grpc.Health.V1;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Tests;

public class GrpcChannelTests
{
    private static readonly Card SomeCard = new() { CardNumber = "1001", Balance = 10000, Available = 10000 };

    [Fact]
    public async Task A_call_is_an_http2_post_to_the_method_path_with_the_grpc_headers()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(SomeCard)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler, apiKey: "secret-key"));

        await client.GetCardAsync("1001", new CallOptions { Timeout = TimeSpan.FromMilliseconds(1500) });

        var request = Assert.Single(handler.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(HttpVersion.Version20, request.Version);
        Assert.Equal(HttpVersionPolicy.RequestVersionExact, request.VersionPolicy);
        Assert.Equal("http://loyalty.test:5080/loyalty.v1.Cards/GetCard", request.RequestUri!.ToString());
        Assert.Equal("trailers", Header(request.Headers, "te"));
        Assert.Equal("1500m", Header(request.Headers, "grpc-timeout"));
        Assert.Equal("Bearer secret-key", Header(request.Headers, "authorization"));
        Assert.Equal("application/grpc", Header(request.Content!.Headers, "content-type"));
    }

    [Fact]
    public async Task The_request_body_is_one_length_prefixed_message()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(SomeCard)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        await client.GetCardAsync("1001");

        using var body = new MemoryStream(Assert.Single(handler.RequestBodies));
        var sent = await GrpcFrame.ReadMessageAsync(body, GetCardRequest.Parser, int.MaxValue, default);
        Assert.Equal(new GetCardRequest { CardNumber = "1001" }, sent);
        Assert.Null(await GrpcFrame.ReadMessageAsync(body, GetCardRequest.Parser, int.MaxValue, default));
    }

    [Fact]
    public async Task Without_a_deadline_of_its_own_a_call_sends_the_channels_default()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(SomeCard)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler, defaultTimeout: TimeSpan.FromSeconds(3)));

        await client.GetCardAsync("1001");

        Assert.Equal("3000m", Header(Assert.Single(handler.Requests).Headers, "grpc-timeout"));
    }

    [Fact]
    public async Task Without_a_key_no_authorization_header_is_sent()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(new HealthCheckResponse())));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler, apiKey: null));

        await client.CheckHealthAsync();

        Assert.False(Assert.Single(handler.Requests).Headers.Contains("authorization"));
    }

    [Fact]
    public async Task Custom_metadata_and_a_per_call_key_are_sent()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(SomeCard)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler, apiKey: "channel-key"));

        await client.GetCardAsync("1001", new CallOptions
        {
            ApiKey = "call-key",
            Metadata = [new("x-register-id", "R1")],
        });

        var request = Assert.Single(handler.Requests);
        Assert.Equal("Bearer call-key", Header(request.Headers, "authorization"));
        Assert.Equal("R1", Header(request.Headers, "x-register-id"));
    }

    [Theory]
    [InlineData("grpc-status")]
    [InlineData("Upper-Case")]
    [InlineData("authorization")]
    [InlineData("")]
    public async Task Metadata_names_the_protocol_reserves_are_refused(string name)
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(SomeCard)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        await Assert.ThrowsAsync<ArgumentException>(() => client.GetCardAsync("1001", new CallOptions { Metadata = [new(name, "x")] }));
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task The_reply_message_is_returned_when_the_trailers_say_ok()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(SomeCard)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        Assert.Equal(SomeCard, await client.GetCardAsync("1001"));
    }

    [Fact]
    public async Task A_status_in_the_trailers_becomes_an_rpc_exception_with_its_message()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply([], status: 5, message: "Card 9999 does not exist.")));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("9999"));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("Card 9999 does not exist.", error.Message);
    }

    [Fact]
    public async Task A_trailers_only_reply_gives_its_status()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.TrailersOnly(16, "The API key is not valid.")));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal("The API key is not valid.", error.Message);
    }

    [Fact]
    public async Task Ok_without_a_message_is_internal()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply([])));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task A_reply_without_grpc_status_is_internal()
    {
        var handler = new FakeGrpcHandler((_, _) =>
        {
            var response = FakeGrpcHandler.Reply(SomeCard);
            response.TrailingHeaders.Clear();
            return Task.FromResult(response);
        });
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task Two_messages_for_a_unary_call_are_internal()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply([SomeCard, SomeCard])));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task A_non_200_http_answer_is_mapped_from_its_http_status()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("503", error.Message);
    }

    [Fact]
    public async Task A_200_that_is_not_grpc_is_internal()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>") }));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task A_reply_over_the_receive_limit_is_resource_exhausted()
    {
        var big = new GetStatementReply();
        big.Entries.Add(new LedgerEntry { CardNumber = "1001", Reason = new string('x', GrpcChannelOptions.DefaultMaxReceiveMessageBytes) });
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(big)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetStatementAsync(new GetStatementRequest { CardNumber = "1001" }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task A_refused_connection_is_unavailable()
    {
        var handler = new FakeGrpcHandler((_, _) =>
            throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (loyalty.test:5080)", new SocketException((int)SocketError.ConnectionRefused)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.True(error.IsRetryable);
    }

    [Fact]
    public async Task A_real_refused_connection_is_unavailable()
    {
        // A port that was free a moment ago: nothing listens there, so the connection is refused.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = LoyaltyClient.Create($"http://127.0.0.1:{port}", "secret-key");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.DoesNotContain("secret-key", error.Message);
    }

    [Fact]
    public async Task A_connection_lost_while_reading_the_reply_is_unavailable()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StreamContent(new FailingStream(new IOException("Connection reset by peer"))) { Headers = { { "content-type", "application/grpc" } } },
        }));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    [Theory]
    [InlineData(0x7, StatusCode.Unavailable)]
    [InlineData(0x8, StatusCode.Cancelled)]
    [InlineData(0x2, StatusCode.Internal)]
    public async Task A_stream_reset_by_the_server_maps_by_its_error_code(long errorCode, StatusCode expected)
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StreamContent(new FailingStream(new HttpProtocolException(errorCode, "reset", null))) { Headers = { { "content-type", "application/grpc" } } },
        }));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001"));
        Assert.Equal(expected, error.StatusCode);
    }

    [Fact]
    public async Task A_call_that_outlives_its_deadline_is_deadline_exceeded()
    {
        var handler = new FakeGrpcHandler(async (_, cancellationToken) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            throw new InvalidOperationException("unreachable");
        });
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001", new CallOptions { Timeout = TimeSpan.FromMilliseconds(100) }));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task A_deadline_already_passed_fails_without_sending()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(SomeCard)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001", new CallOptions { Deadline = DateTimeOffset.UtcNow.AddSeconds(-1) }));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task A_call_cancelled_by_the_caller_is_cancelled()
    {
        var handler = new FakeGrpcHandler(async (_, cancellationToken) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            throw new InvalidOperationException("unreachable");
        });
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1001", null, cancellation.Token));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
    }

    [Fact]
    public async Task A_server_stream_yields_every_message_then_ends_on_ok()
    {
        HealthCheckResponse[] statuses =
        [
            new() { Status = HealthCheckResponse.Types.ServingStatus.Serving },
            new() { Status = HealthCheckResponse.Types.ServingStatus.NotServing },
        ];
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(statuses)));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var received = new List<HealthCheckResponse>();
        await foreach (var status in client.WatchHealthAsync()) received.Add(status);

        Assert.Equal(statuses, received);
        var request = Assert.Single(handler.Requests);
        Assert.Equal("/grpc.health.v1.Health/Watch", request.RequestUri!.AbsolutePath);
        Assert.False(request.Headers.Contains("grpc-timeout"));
    }

    [Fact]
    public async Task A_server_stream_ending_with_an_error_throws_it_after_the_messages()
    {
        var handler = new FakeGrpcHandler((_, _) => Task.FromResult(FakeGrpcHandler.Reply(
            [new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }], status: 14, message: "Shutting down.")));
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in client.WatchHealthAsync()) received++;
        });
        Assert.Equal(1, received);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal("Shutting down.", error.Message);
    }

    [Fact]
    public async Task Many_concurrent_calls_each_get_their_own_reply()
    {
        var handler = new FakeGrpcHandler(async (request, cancellationToken) =>
        {
            var body = await request.Content!.ReadAsStreamAsync(cancellationToken);
            var asked = await GrpcFrame.ReadMessageAsync(body, GetCardRequest.Parser, int.MaxValue, cancellationToken);
            await Task.Yield();
            return FakeGrpcHandler.Reply(new Card { CardNumber = asked!.CardNumber });
        });
        using var client = new LoyaltyClient(FakeGrpcHandler.Channel(handler));

        var numbers = Enumerable.Range(0, 256).Select(index => index.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var cards = await Task.WhenAll(numbers.Select(number => client.GetCardAsync(number)));

        Assert.Equal(numbers, cards.Select(card => card.CardNumber));
    }

    private static string? Header(System.Net.Http.Headers.HttpHeaders headers, string name) =>
        headers.NonValidated.TryGetValues(name, out var values) ? values.ToString() : null;

    private sealed class FailingStream(Exception failure) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw failure;
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromException<int>(failure);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromException<int>(failure);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
