using Google.Protobuf;
using System.Net;
using Grpc.Health.V1;
using Loyalty.Api.Tests.Support;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>What the server puts on the wire, seen through plain HTTP/2 with no gRPC library in between.</summary>
public class WireProtocolTests(ServerFixture server) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly RawGrpc _grpc = new(server.GrpcAddress);

    public void Dispose() => _grpc.Dispose();

    [Fact]
    public async Task A_successful_call_ends_with_grpc_status_0_in_trailers_after_one_framed_message()
    {
        var reply = await _grpc.CallAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest());
        Assert.Equal(HttpStatusCode.OK, reply.HttpStatus);
        Assert.Equal("application/grpc", reply.ContentType);
        Assert.False(reply.TrailersOnly);
        Assert.Equal(0, reply.GrpcStatus);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Message(HealthCheckResponse.Parser).Status);
    }

    [Fact]
    public async Task Every_served_service_reports_serving_and_an_unknown_one_is_not_found()
    {
        foreach (var service in new[] { "", "loyalty.v1.Cards", "loyalty.v1.Admin", "grpc.health.v1.Health" })
        {
            var reply = await _grpc.CallAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest { Service = service });
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Message(HealthCheckResponse.Parser).Status);
        }
        var unknown = await _grpc.CallAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest { Service = "no.such.Service" });
        Assert.Equal(5, unknown.GrpcStatus);
    }

    [Fact]
    public async Task An_immediate_error_is_a_Trailers_Only_reply_with_status_200_and_the_grpc_content_type()
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = "1" });
        Assert.Equal(HttpStatusCode.OK, reply.HttpStatus);
        Assert.Equal("application/grpc", reply.ContentType);
        Assert.True(reply.TrailersOnly);
        Assert.Empty(reply.Body);
        Assert.Equal(16, reply.GrpcStatus);
        Assert.Contains("authorization: Bearer", reply.GrpcMessage);
    }

    [Fact]
    public async Task An_unknown_method_is_unimplemented()
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Cards/NoSuchMethod", new GetCardRequest(), server.AdminKey);
        Assert.Equal(12, reply.GrpcStatus);
        Assert.Contains("/loyalty.v1.Cards/NoSuchMethod", reply.GrpcMessage);
    }

    [Fact]
    public async Task Bytes_that_are_not_the_request_message_are_an_invalid_argument_naming_the_message_type()
    {
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", RawGrpc.Frame([0xFF, 0xFF, 0xFF]), server.AdminKey);
        Assert.Equal(3, reply.GrpcStatus);
        Assert.Contains("loyalty.v1.GetCardRequest", reply.GrpcMessage);
    }

    [Fact]
    public async Task A_length_prefix_longer_than_the_data_sent_is_internal_as_statuscodes_md_allows_never_unknown()
    {
        var frame = RawGrpc.Frame(new GetCardRequest { CardNumber = "1001" });
        frame[4] += 10;
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", frame, server.AdminKey);
        // Grpc.AspNetCore's own answer to a framing error (issue 10 allows INTERNAL here; UNKNOWN never).
        Assert.Equal(13, reply.GrpcStatus);
        Assert.Contains("Incomplete", reply.GrpcMessage);
    }

    [Fact]
    public async Task A_unary_call_with_two_messages_or_none_is_internal_as_statuscodes_md_allows_never_unknown()
    {
        var one = RawGrpc.Frame(new GetCardRequest { CardNumber = "1001" });
        var two = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", [.. one, .. one], server.AdminKey);
        Assert.Equal(13, two.GrpcStatus);
        Assert.Contains("Additional data", two.GrpcMessage);
        var none = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", [], server.AdminKey);
        Assert.Equal(13, none.GrpcStatus);
    }

    [Fact]
    public async Task A_message_over_4_MiB_is_refused_with_resource_exhausted_before_it_is_read()
    {
        var header = new byte[5];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), 4 * 1024 * 1024 + 1);
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", [.. header, .. new byte[64 * 1024]], server.AdminKey);
        Assert.Equal(8, reply.GrpcStatus);
        Assert.Contains("4,194,304", reply.GrpcMessage);
    }

    [Fact]
    public async Task A_compressed_frame_without_a_grpc_encoding_header_is_internal()
    {
        var frame = RawGrpc.Frame(new GetCardRequest { CardNumber = "1001" });
        frame[0] = 1;
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", frame, server.AdminKey);
        Assert.Equal(13, reply.GrpcStatus);
    }

    [Fact]
    public async Task A_gzip_compressed_request_is_accepted()
    {
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard",
            RawGrpc.GzipFrame(new GetCardRequest { CardNumber = "999999999" }.ToByteArray()), server.AdminKey, encoding: "gzip");
        // The card does not exist: the message was decompressed, parsed and served.
        Assert.Equal(5, reply.GrpcStatus);
    }

    [Fact]
    public async Task A_zip_bomb_is_refused_with_resource_exhausted_by_its_decompressed_size()
    {
        // 64 MiB of zeros compress to about 64 KiB, far under the 4 MiB limit on the wire.
        var bomb = RawGrpc.GzipFrame(new byte[64 * 1024 * 1024]);
        Assert.True(bomb.Length < 1024 * 1024);
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", bomb, server.AdminKey, encoding: "gzip");
        Assert.Equal(8, reply.GrpcStatus);
        Assert.Contains("decompresses to more than 4,194,304 bytes", reply.GrpcMessage);
    }

    [Fact]
    public async Task Bytes_marked_gzip_that_are_not_gzip_are_internal_never_unknown()
    {
        var frame = RawGrpc.Frame([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
        frame[0] = 1;
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", frame, server.AdminKey, encoding: "gzip");
        Assert.Equal(13, reply.GrpcStatus);
        Assert.Contains("not valid gzip", reply.GrpcMessage);
    }

    [Fact]
    public async Task A_frame_with_a_compressed_flag_other_than_0_or_1_is_internal_never_unknown()
    {
        var frame = RawGrpc.Frame(new GetCardRequest { CardNumber = "1001" });
        frame[0] = 7;
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", frame, server.AdminKey);
        Assert.Equal(13, reply.GrpcStatus);
        Assert.Contains("compressed flag 7", reply.GrpcMessage);
    }

    [Fact]
    public async Task A_content_type_other_than_grpc_gets_HTTP_415()
    {
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", RawGrpc.Frame(new GetCardRequest()), server.AdminKey, contentType: "application/json");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, reply.HttpStatus);
    }

    [Fact]
    public async Task A_deadline_that_has_passed_is_answered_with_deadline_exceeded()
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = "1001" }, server.AdminKey, timeout: "1n");
        Assert.Equal(4, reply.GrpcStatus);
    }

    [Fact]
    public async Task A_domain_message_in_cyrillic_arrives_percent_encoded_and_decodes_intact()
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = "карта" }, server.AdminKey);
        Assert.Equal(3, reply.GrpcStatus);
        Assert.Contains("Latin letters or digits", reply.GrpcMessage);
    }

    [Fact]
    public async Task The_http_port_answers_healthz_with_the_database_state()
    {
        using var http = new HttpClient { BaseAddress = server.Server.HttpAddress };
        var response = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"database\":\"up\"", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/nothing-here")).StatusCode);
    }
}
