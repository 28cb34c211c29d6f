global using Grpc.Core;

namespace Loyalty.Api.Grpc;

/// <summary>Shorthands for ending a call with a status other than OK.</summary>
public static class Rpc
{
    /// <summary>
    /// A refusal: <paramref name="message"/> goes to the client as <c>grpc-message</c>, so it must be a
    /// full sentence that is safe to show (no secrets, no stack traces).
    /// </summary>
    public static RpcException Error(StatusCode status, string message) => new(new Status(status, message));
}
