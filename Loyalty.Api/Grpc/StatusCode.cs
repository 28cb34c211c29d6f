namespace Loyalty.Api.Grpc;

/// <summary>The gRPC status codes (grpc/doc/statuscodes.md); the numbers are the wire values.</summary>
public enum StatusCode
{
    OK = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// <summary>
/// Ends a call with a status other than OK. The message goes to the client as it is, so it must be a
/// full sentence that is safe to show: no secrets, no stack traces.
/// </summary>
public sealed class RpcException(StatusCode status, string message) : Exception(message)
{
    public StatusCode Status { get; } = status;
}
