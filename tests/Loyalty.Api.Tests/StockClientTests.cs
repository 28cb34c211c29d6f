using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>
/// The POS client (Grpc.Net.Client and the generated stubs) against the real server and its
/// hand-made gRPC layer: statuses, messages, retried writes and health as a terminal sees them.
/// Faults the server cannot be made to show are in Loyalty.PosAdapter.Tests (LoyaltyClientTests).
/// </summary>
public sealed class StockClientTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private LoyaltyClient Client(string? key) => LoyaltyClient.Create(server.GrpcAddress.ToString(), key, TimeSpan.FromSeconds(30));

    private static string Run() => Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_write_retried_with_the_same_operation_id_is_applied_once_and_answered_each_time()
    {
        using var client = Client(server.AdminKey);
        var card = $"S{Run()}";
        await client.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        var request = new AdjustRequest { OperationId = OperationId.New(), CardNumber = card, Amount = 123_45, Reason = "welcome" };
        var attempts = 0;

        // The first answer is "lost" on the client's side, as a dropped reply would be; the policy repeats the same request.
        var reply = await new RetryPolicy { InitialBackoff = TimeSpan.FromMilliseconds(10) }.ExecuteAsync(request, async (sent, token) =>
        {
            var answer = await client.AdjustAsync(sent, null, token);
            if (++attempts == 1) throw new RpcException(StatusCode.Unavailable, "The reply was lost on the way back.");
            return answer;
        });

        Assert.Equal(2, attempts);
        Assert.Equal(123_45, reply.Balance);
        Assert.Equal(123_45, (await client.GetCardAsync(card)).Balance);
    }

    [Fact]
    public async Task A_refusal_from_the_server_keeps_its_code_and_its_sentence()
    {
        using var client = Client(server.AdminKey);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync($"N{Run()}"));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.False(error.IsRetryable);
        Assert.EndsWith(".", error.Message);
        Assert.DoesNotContain("Status(", error.Message);
    }

    [Fact]
    public async Task A_call_without_a_key_is_unauthenticated_and_health_needs_no_key()
    {
        using var client = Client(key: null);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetCardAsync("1"));
        var health = await client.CheckHealthAsync();

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public async Task A_deadline_already_passed_is_deadline_exceeded_and_stores_nothing()
    {
        using var client = Client(server.AdminKey);
        var card = $"D{Run()}";
        await client.IssueCardAsync(new IssueCardRequest { CardNumber = card });

        var error = await Assert.ThrowsAsync<RpcException>(() => client.AdjustAsync(
            new AdjustRequest { OperationId = OperationId.New(), CardNumber = card, Amount = 1_00, Reason = "late" },
            new CallOptions { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(-1) }));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Equal(0, (await client.GetCardAsync(card)).Balance);
    }

    [Fact]
    public async Task A_health_watch_through_the_stock_client_starts_with_the_current_status()
    {
        using var client = Client(key: null);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await using var watch = client.WatchHealthAsync(cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);

        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, watch.Current.Status);
    }
}
