namespace Loyalty.GrpcBenchmarks;

/// <summary>gRPC status codes by name, for error tables people read.</summary>
public static class GrpcStatusNames
{
    public static string Name(int status) => status switch
    {
        BenchGrpcClient.TransportFailure => "transport failure",
        >= (int)StatusCode.Ok and <= (int)StatusCode.Unauthenticated => ((StatusCode)status).ToWireName(),
        _ => $"status {status}",
    };

    public static string Describe(CallResult result) =>
        result.Error is null ? Name(result.Status) : $"{Name(result.Status)} ({result.Error})";
}
