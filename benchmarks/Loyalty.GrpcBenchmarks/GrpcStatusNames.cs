namespace Loyalty.GrpcBenchmarks;

/// <summary>gRPC status codes by name, for error tables people read.</summary>
public static class GrpcStatusNames
{
    private static readonly string[] Names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    public static string Name(int status) => status switch
    {
        RawGrpcClient.TransportFailure => "transport failure",
        RawGrpcClient.MalformedReply => "malformed reply",
        >= 0 when status < Names.Length => Names[status],
        _ => $"status {status}",
    };

    public static string Describe(CallResult result) =>
        result.Error is null ? Name(result.Status) : $"{Name(result.Status)} ({result.Error})";
}
