using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Reflection.V1;
using Loyalty.Api.Grpc;

namespace Loyalty.Api.Services;

/// <summary>
/// gRPC server reflection, so grpcurl, Postman and other tools list and describe the services
/// without .proto files. Answers come from the descriptors compiled into the generated messages,
/// so they can never disagree with what the server parses. Served under grpc.reflection.v1 and
/// v1alpha (tools try one, then the other); both carry the same messages on the wire.
/// </summary>
public sealed class ReflectionService
{
    public const string V1 = "grpc.reflection.v1.ServerReflection";
    public const string V1Alpha = "grpc.reflection.v1alpha.ServerReflection";

    private readonly Func<IReadOnlyCollection<string>> _services;
    private readonly Dictionary<string, FileDescriptor> _filesByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FileDescriptor> _filesBySymbol = new(StringComparer.Ordinal);

    /// <param name="files">The files whose services are served; their dependencies are found from them.</param>
    /// <param name="services">The served services' full names, read when asked (the table is complete by then).</param>
    public ReflectionService(IEnumerable<FileDescriptor> files, Func<IReadOnlyCollection<string>> services)
    {
        _services = services;
        foreach (var file in files) Index(file);
    }

    public void Map(GrpcMethodTable methods) => methods
        .MapDuplexStreaming<ServerReflectionRequest, ServerReflectionResponse>(V1, "ServerReflectionInfo", InfoAsync)
        .MapDuplexStreaming<ServerReflectionRequest, ServerReflectionResponse>(V1Alpha, "ServerReflectionInfo", InfoAsync);

    private async Task InfoAsync(IAsyncEnumerable<ServerReflectionRequest> requests, IServerStreamWriter<ServerReflectionResponse> replies, ServerCallContext context)
    {
        await foreach (var request in requests.WithCancellation(context.CancellationToken))
            await replies.WriteAsync(Answer(request), context.CancellationToken);
    }

    private ServerReflectionResponse Answer(ServerReflectionRequest request)
    {
        var reply = new ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
        switch (request.MessageRequestCase)
        {
            case ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                reply.ListServicesResponse = new ListServiceResponse();
                reply.ListServicesResponse.Service.AddRange(_services().Order(StringComparer.Ordinal).Select(name => new ServiceResponse { Name = name }));
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                Files(reply, _filesByName.GetValueOrDefault(request.FileByFilename), $"No file named \"{request.FileByFilename}\" is known here.");
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                Files(reply, _filesBySymbol.GetValueOrDefault(request.FileContainingSymbol), $"No symbol named \"{request.FileContainingSymbol}\" is known here.");
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.AllExtensionNumbersOfType:
                // proto3 has no extensions: a known type has none, an unknown one is not found.
                if (_filesBySymbol.ContainsKey(request.AllExtensionNumbersOfType))
                    reply.AllExtensionNumbersResponse = new ExtensionNumberResponse { BaseTypeName = request.AllExtensionNumbersOfType };
                else
                    Error(reply, StatusCode.NotFound, $"No type named \"{request.AllExtensionNumbersOfType}\" is known here.");
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingExtension:
                Error(reply, StatusCode.NotFound, "This server's files define no extensions.");
                break;
            default:
                Error(reply, StatusCode.InvalidArgument, "The reflection request asks for nothing: set one of its message_request fields.");
                break;
        }
        return reply;
    }

    /// <summary>The file first, then every file it depends on, each once.</summary>
    private static void Files(ServerReflectionResponse reply, FileDescriptor? file, string notFound)
    {
        if (file is null)
        {
            Error(reply, StatusCode.NotFound, notFound);
            return;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<FileDescriptor>();
        void Visit(FileDescriptor f)
        {
            if (!seen.Add(f.Name)) return;
            order.Add(f);
            foreach (var dependency in f.Dependencies) Visit(dependency);
        }
        Visit(file);
        reply.FileDescriptorResponse = new FileDescriptorResponse();
        reply.FileDescriptorResponse.FileDescriptorProto.AddRange(order.Select(f => f.SerializedData));
    }

    private static void Error(ServerReflectionResponse reply, StatusCode status, string message) =>
        reply.ErrorResponse = new ErrorResponse { ErrorCode = (int)status, ErrorMessage = message };

    private void Index(FileDescriptor file)
    {
        if (!_filesByName.TryAdd(file.Name, file)) return;
        foreach (var service in file.Services)
        {
            _filesBySymbol[service.FullName] = file;
            foreach (var method in service.Methods) _filesBySymbol[$"{service.FullName}.{method.Name}"] = file;
        }
        foreach (var message in file.MessageTypes) IndexMessage(message, file);
        foreach (var enumeration in file.EnumTypes) _filesBySymbol[enumeration.FullName] = file;
        foreach (var dependency in file.Dependencies) Index(dependency);
    }

    private void IndexMessage(MessageDescriptor message, FileDescriptor file)
    {
        _filesBySymbol[message.FullName] = file;
        foreach (var nested in message.NestedTypes) IndexMessage(nested, file);
        foreach (var enumeration in message.EnumTypes) _filesBySymbol[enumeration.FullName] = file;
    }
}
