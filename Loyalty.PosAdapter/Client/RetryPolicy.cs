namespace Loyalty.PosAdapter.Client;

/// <summary>
/// What a terminal does when the outcome of a call is unknown: send the very same request again —
/// same operation id, same payload — a bounded number of times with growing pauses. The server
/// applies an operation id once, so a write that did land the first time is answered, not repeated.
/// Refusals (NOT_FOUND, FAILED_PRECONDITION...) are answers and are never retried. RESOURCE_EXHAUSTED
/// (the server or the key is over a bound; nothing of that attempt was stored) is asked again after
/// the pause, like the server says; but it is no answer about an earlier attempt whose outcome was
/// unknown, so such a run of attempts ends as unknown, never as "nothing stored".
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
    /// attempt, so its operation id stays the same.
    /// </summary>
    public async Task<TReply> ExecuteAsync<TRequest, TReply>(
        TRequest request,
        Func<TRequest, CancellationToken, Task<TReply>> call,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (MaxAttempts < 1 || MaxAttempts > MaxAllowedAttempts)
        {
            throw new InvalidOperationException($"MaxAttempts is {MaxAttempts}; it must be between 1 and {MaxAllowedAttempts}.");
        }

        var outcomeUnknown = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call(request, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException error) when ((IsRetryable(error.StatusCode) || IsBusy(error.StatusCode)) && attempt < MaxAttempts && !cancellationToken.IsCancellationRequested)
            {
                outcomeUnknown |= IsRetryable(error.StatusCode);
                await PauseAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException error) when (IsBusy(error.StatusCode) && outcomeUnknown)
            {
                // Found by the chaos harness: a retry refused for overload after an attempt that may
                // have been stored was read as "not done", though the first attempt had landed.
                throw new RpcException(StatusCode.Unavailable,
                    "An earlier attempt may or may not have been stored and the server is still too busy to say; " +
                    "repeat with the same operation id later, or work offline.", error);
            }
        }
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

    private async Task PauseAsync(int attempt, CancellationToken cancellationToken)
    {
        // Jitter between 50 % and 100 % of the backoff, so terminals that lost the server at the same
        // moment do not all come back at the same moment.
        var backoff = BackoffAfter(attempt);
        if (backoff <= TimeSpan.Zero) return;
        var jittered = backoff * (0.5 + Random.Shared.NextDouble() / 2);
        try
        {
            await Task.Delay(jittered, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new RpcException(StatusCode.Cancelled, "The call was cancelled by the caller while waiting to retry.");
        }
    }
}
