namespace Loyalty.Api.Grpc;

/// <summary>
/// Ends a call with a status other than OK. The message goes to the client as it is, so it must be a
/// full sentence that is safe to show: no secrets, no stack traces.
/// </summary>
public sealed class RpcException(StatusCode status, string message) : Exception(message)
{
    public StatusCode Status { get; } = status;
}
