using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;

namespace Loyalty.Api.Grpc;

/// <summary>
/// Binds every gRPC service (ours, health, reflection) the way Grpc.AspNetCore's own binder does —
/// through the generated <c>BindService(ServiceBinderBase, TBase)</c> named by
/// <see cref="BindServiceMethodAttribute"/> — but with a request marshaller that refuses bytes it
/// cannot parse as <c>INVALID_ARGUMENT</c> with a sentence. The stock marshaller lets
/// <see cref="InvalidProtocolBufferException"/> escape, which Grpc.AspNetCore answers as UNKNOWN
/// "Exception was thrown by handler." and logs at Error, once per request: a hostile client could
/// fill the log, and a caller could not tell its own mistake from a server fault.
/// </summary>
/// <remarks>Registered in place of Grpc.AspNetCore's <c>BinderServiceMethodProvider&lt;&gt;</c>, never beside it (the routes would be mapped twice).</remarks>
public sealed class CheckedMethodProvider<TService> : IServiceMethodProvider<TService> where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var bind = FindBindMethod(typeof(TService));
        if (bind is null) return;
        bind.Invoke(null, [new Binder(context), null]);
    }

    private static MethodInfo? FindBindMethod(Type service)
    {
        for (var type = service; type is not null; type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is not { } attribute) continue;
            return attribute.BindType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .FirstOrDefault(m => m.Name == attribute.BindMethodName && m.GetParameters() is [{ ParameterType: var first }, _] && first == typeof(ServiceBinderBase));
        }
        return null;
    }

    /// <summary>Receives the generated methods (handlers are null: Grpc.AspNetCore makes a service per call) and adds each with the checked marshaller.</summary>
    private sealed class Binder(ServiceMethodProviderContext<TService> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            context.AddUnaryMethod(Checked(method), [], Invoker<UnaryServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(ServerCallContext)));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddServerStreamingMethod(Checked(method), [],
                Invoker<ServerStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddClientStreamingMethod(Checked(method), [],
                Invoker<ClientStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext)));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddDuplexStreamingMethod(Checked(method), [],
                Invoker<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)));

        /// <summary>An open-instance delegate to the service's override, so each call dispatches to the instance Grpc.AspNetCore activates.</summary>
        private static TDelegate Invoker<TDelegate>(string name, params Type[] parameters) where TDelegate : Delegate
        {
            var target = typeof(TService).GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters)
                ?? throw new InvalidOperationException($"The gRPC service {typeof(TService).Name} has no public method {name} with the generated signature.");
            return (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), target);
        }
    }

    private static Method<TRequest, TResponse> Checked<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class where TResponse : class =>
        new(method.Type, method.ServiceName, method.Name, CheckedRequests<TRequest>.Marshaller(method.RequestMarshaller), method.ResponseMarshaller);
}

/// <summary>Parses request messages of one type and turns every parse failure into INVALID_ARGUMENT naming the message (and the string field, when its bytes are not UTF-8).</summary>
internal static class CheckedRequests<TRequest> where TRequest : class
{
    private static readonly MessageDescriptorAndParser Message = MessageDescriptorAndParser.For(typeof(TRequest));

    public static Marshaller<TRequest> Marshaller(Marshaller<TRequest> generated) =>
        Marshallers.Create(generated.ContextualSerializer, Parse);

    private static TRequest Parse(DeserializationContext context)
    {
        var payload = context.PayloadAsReadOnlySequence();
        IMessage message;
        try
        {
            message = Message.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException error)
        {
            // Google.Protobuf 3.36 refuses invalid UTF-8 itself but does not say which field; the walk
            // (bounded, safe on any bytes) finds it, so the caller learns what to fix.
            if (ProtobufUtf8.FindInvalidString(payload, Message.Descriptor) is { } field)
                throw InvalidUtf8(field);
            throw Rpc.Error(StatusCode.InvalidArgument, $"The request is not a valid {Message.Descriptor.FullName} message: {error.Message}");
        }
        catch (Exception error) when (error is not RpcException)
        {
            throw Rpc.Error(StatusCode.InvalidArgument, $"The request is not a valid {Message.Descriptor.FullName} message; it could not be parsed.");
        }
        // No second walk after a successful parse: Google.Protobuf 3.36 (pinned centrally) refuses
        // invalid UTF-8 while parsing, and HostileInputTests fail if a version that reads bad bytes as
        // U+FFFD (as 3.25 did, making two operation ids one) ever comes back.
        return (TRequest)message;
    }

    private static RpcException InvalidUtf8(string field) =>
        Rpc.Error(StatusCode.InvalidArgument, $"The request's field {field} is not valid UTF-8; protobuf strings must be UTF-8, so this is not a valid {Message.Descriptor.FullName} message.");
}

/// <summary>A generated message type's descriptor and untyped parser.</summary>
internal sealed record MessageDescriptorAndParser(Google.Protobuf.Reflection.MessageDescriptor Descriptor, MessageParser Parser)
{
    public static MessageDescriptorAndParser For(Type type)
    {
        var prototype = Activator.CreateInstance(type) as IMessage
            ?? throw new InvalidOperationException($"The gRPC request type {type.FullName} is not a protobuf message.");
        return new(prototype.Descriptor, prototype.Descriptor.Parser);
    }
}
