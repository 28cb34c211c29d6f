using System.Net.Http.Headers;
using Loyalty.PosAdapter.Client;

namespace Loyalty.PosAdapter.Tests;

public class GrpcStatusTests
{
    [Fact]
    public void A_trailer_with_status_zero_is_ok()
    {
        var status = GrpcStatus.ReadStatus(Trailers(("grpc-status", "0")));
        Assert.NotNull(status);
        Assert.Equal(StatusCode.Ok, status.StatusCode);
    }

    [Fact]
    public void A_trailer_status_carries_its_decoded_message()
    {
        var status = GrpcStatus.ReadStatus(Trailers(("grpc-status", "5"), ("grpc-message", "Card 9999 does not exist. %E2%82%BD")));
        Assert.NotNull(status);
        Assert.Equal(StatusCode.NotFound, status.StatusCode);
        Assert.Equal("Card 9999 does not exist. ₽", status.Message);
    }

    [Theory]
    [InlineData("3", StatusCode.InvalidArgument)]
    [InlineData("6", StatusCode.AlreadyExists)]
    [InlineData("9", StatusCode.FailedPrecondition)]
    [InlineData("14", StatusCode.Unavailable)]
    [InlineData("16", StatusCode.Unauthenticated)]
    public void Every_known_code_maps_to_its_status(string wire, StatusCode expected)
    {
        Assert.Equal(expected, GrpcStatus.ReadStatus(Trailers(("grpc-status", wire)))!.StatusCode);
    }

    [Theory]
    [InlineData("17")]
    [InlineData("99")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("")]
    public void An_unknown_or_unreadable_code_is_unknown(string wire)
    {
        Assert.Equal(StatusCode.Unknown, GrpcStatus.ReadStatus(Trailers(("grpc-status", wire)))!.StatusCode);
    }

    [Fact]
    public void No_grpc_status_gives_no_status()
    {
        Assert.Null(GrpcStatus.ReadStatus(Trailers(("grpc-message", "lost"))));
    }

    [Theory]
    [InlineData(400, StatusCode.Internal)]
    [InlineData(401, StatusCode.Unauthenticated)]
    [InlineData(403, StatusCode.PermissionDenied)]
    [InlineData(404, StatusCode.Unimplemented)]
    [InlineData(429, StatusCode.Unavailable)]
    [InlineData(502, StatusCode.Unavailable)]
    [InlineData(503, StatusCode.Unavailable)]
    [InlineData(504, StatusCode.Unavailable)]
    [InlineData(415, StatusCode.Unknown)]
    [InlineData(500, StatusCode.Unknown)]
    public void A_non_200_http_status_maps_as_grpc_documents_it(int httpStatus, StatusCode expected)
    {
        Assert.Equal(expected, GrpcStatus.FromHttpStatus(httpStatus));
    }

    [Theory]
    [InlineData(0x7, StatusCode.Unavailable)]
    [InlineData(0x8, StatusCode.Cancelled)]
    [InlineData(0xB, StatusCode.ResourceExhausted)]
    [InlineData(0xC, StatusCode.PermissionDenied)]
    [InlineData(0x2, StatusCode.Internal)]
    [InlineData(0x0, StatusCode.Internal)]
    public void A_stream_reset_maps_by_its_http2_error_code(long errorCode, StatusCode expected)
    {
        Assert.Equal(expected, GrpcStatus.FromHttp2ErrorCode(errorCode));
    }

    [Fact]
    public void Status_names_are_the_ones_other_grpc_tools_print()
    {
        Assert.Equal("NOT_FOUND", StatusCode.NotFound.ToWireName());
        Assert.Equal("FAILED_PRECONDITION", StatusCode.FailedPrecondition.ToWireName());
        Assert.Equal("UNAUTHENTICATED", StatusCode.Unauthenticated.ToWireName());
        Assert.Equal("DEADLINE_EXCEEDED", StatusCode.DeadlineExceeded.ToWireName());
    }

    private static HttpResponseHeaders Trailers(params (string Name, string Value)[] values)
    {
        var response = new HttpResponseMessage();
        foreach (var (name, value) in values) response.TrailingHeaders.TryAddWithoutValidation(name, value);
        return response.TrailingHeaders;
    }
}
