using System.Globalization;
using System.Net.Http.Headers;

namespace Loyalty.PosAdapter.Client;

/// <summary>How a call's status is read from the response, and how HTTP-level failures become statuses.</summary>
public static class GrpcStatus
{
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";

    /// <summary>
    /// The status in <paramref name="headers"/> (the trailers, or the headers of a Trailers-Only
    /// reply), or null when there is no grpc-status. A number that is not a known code is UNKNOWN,
    /// as grpc/doc/statuscodes.md asks of clients.
    /// </summary>
    public static RpcException? ReadStatus(HttpHeaders headers)
    {
        if (!headers.NonValidated.TryGetValues(StatusHeader, out var statusValues)) return null;
        var statusText = statusValues.ToString();
        var message = headers.NonValidated.TryGetValues(MessageHeader, out var messageValues)
            ? GrpcMessageText.Decode(messageValues.ToString())
            : "";
        if (!int.TryParse(statusText, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return new RpcException(StatusCode.Unknown, $"The server sent an unreadable grpc-status '{statusText}'. {message}".TrimEnd());
        }
        if (number is < (int)StatusCode.Ok or > (int)StatusCode.Unauthenticated)
        {
            return new RpcException(StatusCode.Unknown, message.Length > 0 ? message : $"The server sent the unknown grpc-status {number}.");
        }
        var details = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in headers.NonValidated)
            if (name.StartsWith(DetailPrefix, StringComparison.OrdinalIgnoreCase))
                details[name[DetailPrefix.Length..].ToLowerInvariant()] = values.ToString();
        return new RpcException((StatusCode)number, message) { Details = details };
    }

    /// <summary>The server's prefix for a refusal's details in trailing metadata.</summary>
    private const string DetailPrefix = "loyalty-";

    /// <summary>
    /// A response whose HTTP status is not 200 did not come from a gRPC server that took the call
    /// (a proxy, a wrong port): grpc/doc/http-grpc-status-mapping.md.
    /// </summary>
    public static StatusCode FromHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>An RST_STREAM from the server, by its HTTP/2 error code (PROTOCOL-HTTP2.md "Errors").</summary>
    public static StatusCode FromHttp2ErrorCode(long errorCode) => errorCode switch
    {
        Http2RefusedStream => StatusCode.Unavailable,
        Http2Cancel => StatusCode.Cancelled,
        Http2EnhanceYourCalm => StatusCode.ResourceExhausted,
        Http2InadequateSecurity => StatusCode.PermissionDenied,
        _ => StatusCode.Internal,
    };

    private const long Http2RefusedStream = 0x7;
    private const long Http2Cancel = 0x8;
    private const long Http2EnhanceYourCalm = 0xB;
    private const long Http2InadequateSecurity = 0xC;
}
