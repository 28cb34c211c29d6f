using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Tests;

public class RetryPolicyTests
{
    private static readonly RetryPolicy Immediate = new() { MaxAttempts = 4, InitialBackoff = TimeSpan.Zero };

    [Fact]
    public async Task Every_retry_carries_the_same_operation_id()
    {
        var request = new RedeemRequest { OperationId = OperationId.New(), CardNumber = "1001", Amount = 10000 };
        var seen = new List<string>();

        var reply = await Immediate.ExecuteAsync(request, (sent, _) =>
        {
            seen.Add(sent.OperationId);
            return seen.Count < 3
                ? Task.FromException<RedeemReply>(new RpcException(seen.Count == 1 ? StatusCode.Unavailable : StatusCode.DeadlineExceeded, "lost"))
                : Task.FromResult(new RedeemReply { HoldId = "h1" });
        });

        Assert.Equal("h1", reply.HoldId);
        Assert.Equal(3, seen.Count);
        Assert.All(seen, operationId => Assert.Equal(request.OperationId, operationId));
    }

    [Fact]
    public async Task Every_retry_sends_the_same_payload()
    {
        var request = new AdjustRequest { OperationId = "op-1", CardNumber = "1001", Amount = 500, Reason = "goodwill" };
        var payloads = new List<AdjustRequest>();

        await Immediate.ExecuteAsync(request, (sent, _) =>
        {
            payloads.Add(sent.Clone());
            return payloads.Count == 1
                ? Task.FromException<Card>(new RpcException(StatusCode.Unavailable, "lost"))
                : Task.FromResult(new Card());
        });

        Assert.Equal(2, payloads.Count);
        Assert.Equal(payloads[0], payloads[1]);
    }

    [Theory]
    [InlineData(StatusCode.NotFound)]
    [InlineData(StatusCode.FailedPrecondition)]
    [InlineData(StatusCode.AlreadyExists)]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.Unauthenticated)]
    [InlineData(StatusCode.PermissionDenied)]
    [InlineData(StatusCode.Internal)]
    public async Task A_refusal_is_an_answer_and_is_not_retried(StatusCode refusal)
    {
        var attempts = 0;
        var error = await Assert.ThrowsAsync<RpcException>(() => Immediate.ExecuteAsync("1001", (_, _) =>
        {
            attempts++;
            return Task.FromException<Card>(new RpcException(refusal, "refused"));
        }));

        Assert.Equal(1, attempts);
        Assert.Equal(refusal, error.StatusCode);
    }

    [Fact]
    public async Task An_overloaded_server_is_asked_again_after_a_pause()
    {
        var attempts = 0;
        var card = await Immediate.ExecuteAsync("1001", (_, _) => ++attempts < 3
            ? Task.FromException<Card>(new RpcException(StatusCode.ResourceExhausted, "busy"))
            : Task.FromResult(new Card { CardNumber = "1001" }));

        Assert.Equal(3, attempts);
        Assert.Equal("1001", card.CardNumber);
    }

    [Fact]
    public async Task Attempts_all_refused_for_overload_end_with_resource_exhausted_since_nothing_was_stored()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Immediate.ExecuteAsync("1001", (_, _) =>
            Task.FromException<Card>(new RpcException(StatusCode.ResourceExhausted, "busy"))));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    /// <summary>Found by the chaos harness: the first attempt had landed, the retry was refused for overload, and the terminal took it as not done.</summary>
    [Fact]
    public async Task Overload_after_an_attempt_with_unknown_outcome_ends_as_unknown_not_as_nothing_stored()
    {
        var attempts = 0;
        var error = await Assert.ThrowsAsync<RpcException>(() => Immediate.ExecuteAsync("1001", (_, _) =>
            Task.FromException<Card>(++attempts == 1
                ? new RpcException(StatusCode.DeadlineExceeded, "no answer in time")
                : new RpcException(StatusCode.ResourceExhausted, "busy"))));

        Assert.Equal(Immediate.MaxAttempts, attempts);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.True(error.IsRetryable);
        Assert.Contains("may or may not have been stored", error.Message);
    }

    [Fact]
    public async Task Attempts_are_bounded_and_the_last_failure_is_thrown()
    {
        var attempts = 0;
        var error = await Assert.ThrowsAsync<RpcException>(() => Immediate.ExecuteAsync("1001", (_, _) =>
        {
            attempts++;
            return Task.FromException<Card>(new RpcException(StatusCode.Unavailable, $"attempt {attempts}"));
        }));

        Assert.Equal(Immediate.MaxAttempts, attempts);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal($"attempt {Immediate.MaxAttempts}", error.Message);
    }

    [Fact]
    public void Backoff_doubles_up_to_its_maximum()
    {
        var policy = new RetryPolicy { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(500) };

        Assert.Equal(TimeSpan.FromMilliseconds(100), policy.BackoffAfter(1));
        Assert.Equal(TimeSpan.FromMilliseconds(200), policy.BackoffAfter(2));
        Assert.Equal(TimeSpan.FromMilliseconds(400), policy.BackoffAfter(3));
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.BackoffAfter(4));
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.BackoffAfter(100));
    }

    [Fact]
    public async Task Cancelling_while_waiting_to_retry_stops_retrying()
    {
        var policy = new RetryPolicy { MaxAttempts = 4, InitialBackoff = TimeSpan.FromSeconds(30), MaxBackoff = TimeSpan.FromSeconds(30) };
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var attempts = 0;

        var error = await Assert.ThrowsAsync<RpcException>(() => policy.ExecuteAsync("1001", (_, _) =>
        {
            attempts++;
            return Task.FromException<Card>(new RpcException(StatusCode.Unavailable, "lost"));
        }, cancellation.Token));

        Assert.Equal(1, attempts);
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
    }

    [Fact]
    public async Task Only_unknown_outcomes_are_retryable()
    {
        Assert.True(RetryPolicy.IsRetryable(StatusCode.Unavailable));
        Assert.True(RetryPolicy.IsRetryable(StatusCode.DeadlineExceeded));
        Assert.False(RetryPolicy.IsRetryable(StatusCode.ResourceExhausted));
        Assert.False(RetryPolicy.IsRetryable(StatusCode.Ok));
        await Task.CompletedTask;
    }
}
