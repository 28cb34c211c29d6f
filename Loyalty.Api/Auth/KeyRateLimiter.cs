using System.Collections.Concurrent;
using Loyalty.Api.Grpc;

namespace Loyalty.Api.Auth;

/// <summary>
/// The request rate each API key may use: a token bucket per key id, filled at
/// <see cref="CallsPerSecond"/> up to <see cref="Burst"/> tokens, one token per call. A call over the
/// rate is refused with RESOURCE_EXHAUSTED at once, before any work of the engine or the database,
/// so one runaway register (a retry loop, a script) cannot take the server from the others.
/// </summary>
/// <remarks>
/// A call is charged after its key is verified (from the key cache, no database round trip), so
/// someone who knows only a key's id, which is not secret, cannot use up that key's budget.
/// The rate is per server process: with several servers a key gets the rate on each.
/// </remarks>
public sealed class KeyRateLimiter
{
    /// <summary>
    /// Buckets kept in memory. Only verified keys get one, so this is reached only with as many keys
    /// in force; past it the buckets start afresh (full), which lets each key one extra burst.
    /// </summary>
    public const int MaxTrackedKeys = 10_000;

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    /// <param name="callsPerSecond">The sustained rate per key; 0 turns the limit off.</param>
    /// <param name="burst">Calls a key may make at once after being quiet; at least 1 when the limit is on.</param>
    public KeyRateLimiter(int callsPerSecond, int burst, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(callsPerSecond);
        if (callsPerSecond > 0) ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        CallsPerSecond = callsPerSecond;
        Burst = burst;
        _time = time;
    }

    public static KeyRateLimiter Off { get; } = new(0, 0, TimeProvider.System);

    public int CallsPerSecond { get; }
    public int Burst { get; }
    public bool IsOn => CallsPerSecond > 0;

    /// <summary>Takes one token from the caller's bucket, or refuses the call with RESOURCE_EXHAUSTED.</summary>
    public void Charge(Caller caller)
    {
        if (!IsOn) return;
        var now = _time.GetTimestamp();
        if (!_buckets.TryGetValue(caller.KeyId, out var bucket))
        {
            if (_buckets.Count >= MaxTrackedKeys) _buckets.Clear();
            bucket = _buckets.GetOrAdd(caller.KeyId, _ => new Bucket(Burst, now));
        }
        var wait = bucket.TryTake(now, CallsPerSecond, Burst, _time.TimestampFrequency);
        if (wait > TimeSpan.Zero)
            throw Rpc.Error(StatusCode.ResourceExhausted,
                $"The API key {caller.KeyId} ({caller.Name}) is over its rate of {CallsPerSecond:N0} calls per second (bursts of {Burst:N0}); " +
                $"retry in {Math.Ceiling(wait.TotalMilliseconds):N0} ms.");
    }

    private sealed class Bucket(double tokens, long filledAt)
    {
        private readonly Lock _lock = new();
        private double _tokens = tokens;
        private long _filledAt = filledAt;

        /// <summary>Zero when a token was taken; otherwise how long until one is there.</summary>
        public TimeSpan TryTake(long now, int perSecond, int burst, long frequency)
        {
            lock (_lock)
            {
                if (now > _filledAt)
                {
                    _tokens = Math.Min(burst, _tokens + (double)(now - _filledAt) / frequency * perSecond);
                    _filledAt = now;
                }
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return TimeSpan.Zero;
                }
                return TimeSpan.FromSeconds((1 - _tokens) / perSecond);
            }
        }
    }
}
