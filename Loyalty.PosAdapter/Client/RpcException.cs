namespace Loyalty.PosAdapter.Client;

/// <summary>
/// A call that ended with a status other than OK, whether the server said so or the client decided
/// it (connection lost, deadline passed). Catch one kind with a filter:
/// <c>catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)</c>.
/// Made by <see cref="LoyaltyClient"/> from Grpc.Net.Client's <c>Grpc.Core.RpcException</c> (kept as
/// <see cref="Exception.InnerException"/>), so callers see one type with our status enum and details.
/// </summary>
public class RpcException : Exception
{
    public RpcException(StatusCode statusCode, string message)
        : base(message)
    {
        StatusCode = statusCode;
    }

    public RpcException(StatusCode statusCode, string message, Exception? innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
    }

    public StatusCode StatusCode { get; }

    /// <summary>
    /// The refusal's details the server sent as trailing metadata, by name without the
    /// <c>loyalty-</c> prefix: <c>receipt-stage</c> (held, committed, partly_returned, fully_returned),
    /// <c>hold-id</c> (the receipt's open hold, to commit or cancel), <c>operation-id</c> (the operation
    /// that committed the receipt). Empty when there are none.
    /// </summary>
    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// True when the outcome is unknown rather than refused (the server may or may not have applied a
    /// write): repeat the call with the same operation id, which applies it at most once.
    /// </summary>
    public bool IsRetryable => RetryPolicy.IsRetryable(StatusCode);

    public override string ToString() => $"{StatusCode.ToWireName()}: {Message}";
}
