using Google.Protobuf.Reflection;
using Grpc.Reflection.V1;
using Loyalty.Api.Tests.Support;

namespace Loyalty.Api.Tests;

/// <summary>Server reflection over one duplex stream, read straight off HTTP/2.</summary>
public class ReflectionTests(ServerFixture server) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly RawGrpc _grpc = new(server.GrpcAddress);

    public void Dispose() => _grpc.Dispose();

    private async Task<List<ServerReflectionResponse>> AskAsync(string service, params ServerReflectionRequest[] requests)
    {
        var body = requests.SelectMany(RawGrpc.Frame).ToArray();
        var reply = await _grpc.SendAsync($"/{service}/ServerReflectionInfo", body);
        Assert.Equal(0, reply.GrpcStatus);
        var replies = new List<ServerReflectionResponse>();
        for (var offset = 0; offset < reply.Body.Length;)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(reply.Body.AsSpan(offset + 1, 4));
            replies.Add(ServerReflectionResponse.Parser.ParseFrom(reply.Body.AsSpan(offset + 5, length)));
            offset += 5 + length;
        }
        return replies;
    }

    [Theory]
    [InlineData("grpc.reflection.v1.ServerReflection")]
    [InlineData("grpc.reflection.v1alpha.ServerReflection")]
    public async Task Reflection_lists_the_services_and_gives_each_file_with_its_dependencies(string service)
    {
        var replies = await AskAsync(service,
            new ServerReflectionRequest { ListServices = "" },
            new ServerReflectionRequest { FileContainingSymbol = "loyalty.v1.RedeemRequest" },
            // The health messages come from Grpc.HealthCheck, whose descriptor carries the package's own file name.
            new ServerReflectionRequest { FileByFilename = global::Grpc.Health.V1.HealthReflection.Descriptor.Name });

        Assert.Equal(3, replies.Count);
        var services = replies[0].ListServicesResponse.Service.Select(s => s.Name).ToArray();
        Assert.Contains("loyalty.v1.Cards", services);
        Assert.Contains("loyalty.v1.Admin", services);
        Assert.Contains("grpc.health.v1.Health", services);
        Assert.Contains(service, services);

        var files = replies[1].FileDescriptorResponse.FileDescriptorProto.Select(b => FileDescriptorProto.Parser.ParseFrom(b)).ToArray();
        Assert.Equal("loyalty/v1/cards.proto", files[0].Name);
        Assert.Contains(files[0].MessageType, m => m.Name == "RedeemRequest");
        Assert.Equal(["google/protobuf/timestamp.proto", "loyalty/v1/common.proto"], files.Skip(1).Select(f => f.Name).Order());
        var health = FileDescriptorProto.Parser.ParseFrom(replies[2].FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Equal(global::Grpc.Health.V1.HealthReflection.Descriptor.Name, health.Name);
        Assert.Equal("grpc.health.v1", health.Package);
        Assert.Contains(health.Service, s => s.Name == "Health");
    }

    [Fact]
    public async Task An_unknown_symbol_is_answered_with_not_found_inside_the_stream_which_goes_on()
    {
        var replies = await AskAsync("grpc.reflection.v1.ServerReflection",
            new ServerReflectionRequest { FileContainingSymbol = "no.such.Thing" },
            new ServerReflectionRequest { FileContainingSymbol = "loyalty.v1.Cards.Redeem" },
            new ServerReflectionRequest());
        Assert.Equal(5, replies[0].ErrorResponse.ErrorCode);
        Assert.Equal("loyalty/v1/cards.proto", FileDescriptorProto.Parser.ParseFrom(replies[1].FileDescriptorResponse.FileDescriptorProto[0]).Name);
        // A request that asks nothing: Grpc.Reflection answers UNIMPLEMENTED inside the stream.
        Assert.Equal(12, replies[2].ErrorResponse.ErrorCode);
    }
}
