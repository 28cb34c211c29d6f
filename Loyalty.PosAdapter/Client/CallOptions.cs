namespace Loyalty.PosAdapter.Client;

/// <summary>Per-call settings; every one is optional.</summary>
public sealed record CallOptions
{
    /// <summary>Longer waits are refused: a POS call that may take a day is a mistake, not a wish.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(1);

    /// <summary>How long this call may take; instead of the channel's default.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// An absolute deadline; wins over <see cref="Timeout"/>. One deadline given to every retry bounds
    /// the whole operation rather than each attempt.
    /// </summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Instead of the channel's key, e.g. a terminal acting for several stores.</summary>
    public string? ApiKey { get; init; }

    /// <summary>
    /// Custom metadata: lower-case names, not starting with "grpc-"; a name ending in "-bin" must carry
    /// a base64 value.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Metadata { get; init; }
}
