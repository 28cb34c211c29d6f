using Polly;
using Polly.Retry;

namespace Loyalty.PosAdapter.Client;

/// <summary>
/// What a terminal does when the outcome of a call is unknown: send the very same request again —
/// same operation id, same payload — a bounded number of times with growing pauses. The server
/// applies an operation id once, so a write that did land the first time is answered, not repeated.
/// Refusals (NOT_FOUND, FAILED_PRECONDITION...) are answers and are never retried. RESOURCE_EXHAUSTED
/// (the server or the key is over a bound; nothing of that attempt was stored) is asked again after
/// the pause, like the server says; but it is no answer about an earlier attempt whose outcome was
/// unknown, so such a run of attempts ends as unknown, never as "nothing stored".
/// The attempts and pauses run in a Polly <see cref="ResiliencePipeline"/>; the rules above are ours,
/// since gRPC's own retries can retry neither DEADLINE_EXCEEDED nor tell "unknown" from "busy".
/// </summary>
public sealed class RetryPolicy
{
    public const int DefaultMaxAttempts = 4;

    /// <summary>Bounds a misconfigured policy: more attempts than this only hide an outage.</summary>
    public const int MaxAllowedAttempts = 20;

    public static RetryPolicy Default { get; } = new();

    /// <summary>Attempts in all, the first one included.</summary>
    public int MaxAttempts { get; init; } = DefaultMaxAttempts;

    /// <summary>The pause before the second attempt; each later pause doubles, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// UNAVAILABLE (server or database unreachable, connection lost) and DEADLINE_EXCEEDED (no answer
    /// in time) leave the outcome unknown; every other status is the server's decision.
    /// </summary>
    public static bool IsRetryable(StatusCode code) => code is StatusCode.Unavailable or StatusCode.DeadlineExceeded;

    /// <summary>
    /// RESOURCE_EXHAUSTED: refused before the operation id was even looked at (a full mailbox or
    /// writer queue, the key's rate), so it says nothing was stored by this attempt and nothing else.
    /// </summary>
    public static bool IsBusy(StatusCode code) => code is StatusCode.ResourceExhausted;

    /// <summary>
    /// Calls <paramref name="call"/> with <paramref name="request"/> until it answers, refuses, or the
    /// attempts run out (the last failure is thrown). The request object is passed unchanged to every
    /// attempt, so its operation id stays the same. Cancelling <paramref name="cancellationToken"/>
    /// while waiting to retry ends the run with CANCELLED.
    /// </summary>
    public async Task<TReply> ExecuteAsync<TRequest, TReply>(
        TRequest request,
        Func<TRequest, CancellationToken, Task<TReply>> call,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        var pipeline = Pipeline;

        // Per run, not per policy: one policy serves every call of a terminal at once.
        var outcomeUnknown = false;
        try
        {
            return await pipeline.ExecuteAsync(async token =>
            {
                try
                {
                    return await call(request, token).ConfigureAwait(false);
                }
                catch (RpcException error) when (IsRetryable(error.StatusCode))
                {
                    outcomeUnknown = true;
                    throw;
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException error) when (IsBusy(error.StatusCode) && outcomeUnknown)
        {
            // Found by the chaos harness: a retry refused for overload after an attempt that may
            // have been stored was read as "not done", though the first attempt had landed.
            throw new RpcException(StatusCode.Unavailable,
                "An earlier attempt may or may not have been stored and the server is still too busy to say; " +
                "repeat with the same operation id later, or work offline.", error);
        }
        catch (OperationCanceledException error) when (cancellationToken.IsCancellationRequested)
        {
            // Polly's pause ends with OperationCanceledException; callers catch RpcException only.
            throw new RpcException(StatusCode.Cancelled, "The call was cancelled by the caller while waiting to retry.", error);
        }
    }

    /// <summary>
    /// Built once per policy on first use (the knobs are init-only, so they cannot change after):
    /// Polly's retry strategy with our predicate and our backoff.
    /// </summary>
    private ResiliencePipeline Pipeline => _pipeline ??= BuildPipeline();

    private ResiliencePipeline? _pipeline;

    private ResiliencePipeline BuildPipeline()
    {
        if (MaxAttempts < 1 || MaxAttempts > MaxAllowedAttempts)
        {
            throw new InvalidOperationException($"MaxAttempts is {MaxAttempts}; it must be between 1 and {MaxAllowedAttempts}.");
        }
        if (InitialBackoff < TimeSpan.Zero || MaxBackoff < TimeSpan.Zero)
        {
            throw new InvalidOperationException("InitialBackoff and MaxBackoff may not be negative.");
        }
        // Polly takes at least one retry; a single attempt needs no strategy at all.
        if (MaxAttempts == 1) return ResiliencePipeline.Empty;
        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = MaxAttempts - 1,
                // Unknown outcomes and "busy"; a refusal is an answer. Not after the caller gave up.
                ShouldHandle = arguments => ValueTask.FromResult(
                    arguments.Outcome.Exception is RpcException error
                    && (IsRetryable(error.StatusCode) || IsBusy(error.StatusCode))
                    && !arguments.Context.CancellationToken.IsCancellationRequested),
                // AttemptNumber is 0 for the pause after the first attempt; BackoffAfter counts from 1.
                DelayGenerator = arguments => ValueTask.FromResult<TimeSpan?>(Jittered(BackoffAfter(arguments.AttemptNumber + 1))),
                // The delay generator owns the jitter; Polly's own would apply on top of ours.
                UseJitter = false,
            })
            .Build();
    }

    /// <summary>The pause after a failed attempt (1-based), before jitter.</summary>
    public TimeSpan BackoffAfter(int attempt)
    {
        var backoff = InitialBackoff;
        for (var doubling = 1; doubling < attempt && backoff < MaxBackoff; doubling++)
        {
            backoff *= 2;
        }
        return backoff < MaxBackoff ? backoff : MaxBackoff;
    }

    /// <summary>
    /// Between 50 % and 100 % of the backoff, so terminals that lost the server at the same moment do
    /// not all come back at the same moment.
    /// </summary>
    private static TimeSpan Jittered(TimeSpan backoff) =>
        backoff <= TimeSpan.Zero ? TimeSpan.Zero : backoff * (0.5 + Random.Shared.NextDouble() / 2);
}
