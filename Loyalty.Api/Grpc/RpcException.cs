namespace Loyalty.Api.Grpc;

/// <summary>
/// Ends a call with a status other than OK. The message goes to the client as it is, so it must be a
/// full sentence that is safe to show: no secrets, no stack traces. <see cref="Trailers"/> go with
/// the status as ASCII metadata (names lower case, values printable), for programs to act on.
/// </summary>
public sealed class RpcException(StatusCode status, string message) : Exception(message)
{
    public StatusCode Status { get; } = status;

    public IReadOnlyDictionary<string, string> Trailers { get; init; } = new Dictionary<string, string>();
}
