using Grpc.Core.Interceptors;
using Loyalty.Api.Auth;
using Microsoft.Extensions.Logging;

namespace Loyalty.Api.Grpc;

/// <summary>
/// The outermost interceptor: turns what a handler (or an inner interceptor) throws into a status
/// through <see cref="LoyaltyApi.MapException"/>, so a refusal keeps its code and its <c>loyalty-*</c>
/// trailers; a deadline that passed before or during the handler answers DEADLINE_EXCEEDED without a
/// reply; anything unexpected is logged once and answered INTERNAL with a sentence (never UNKNOWN).
/// </summary>
public sealed class ErrorMappingInterceptor(ILogger<ErrorMappingInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ThrowIfDeadlinePassed(context);
        TResponse reply;
        try
        {
            reply = await continuation(request, context);
        }
        catch (Exception error) when (Map(error, context) is { } mapped)
        {
            throw mapped;
        }
        // A reply after the deadline is not sent: the client has given up and reports DEADLINE_EXCEEDED,
        // and the server says the same. A write that did complete is found again by its operation id.
        ThrowIfDeadlinePassed(context);
        return reply;
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception error) when (Map(error, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception error) when (Map(error, context) is { } mapped)
        {
            throw mapped;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception error) when (Map(error, context) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>Null leaves the exception to Grpc.AspNetCore: a status already, or the call's own cancellation (the client left or the deadline passed).</summary>
    private RpcException? Map(Exception error, ServerCallContext context)
    {
        if (error is RpcException) return null;
        if (error is OperationCanceledException or IOException && context.CancellationToken.IsCancellationRequested)
            return context.Deadline <= DateTime.UtcNow ? DeadlinePassed(context) : null;
        if (LoyaltyApi.MapException(error) is { } mapped) return mapped;
        logger.LogError(error, "The gRPC method {Method} failed unexpectedly.", context.Method);
        return Rpc.Error(StatusCode.Internal, "The server failed to process the call; the failure has been logged.");
    }

    private static void ThrowIfDeadlinePassed(ServerCallContext context)
    {
        if (context.Deadline <= DateTime.UtcNow) throw DeadlinePassed(context);
    }

    private static RpcException DeadlinePassed(ServerCallContext context) =>
        Rpc.Error(StatusCode.DeadlineExceeded, $"The call's deadline passed before {context.Method} finished.");
}

/// <summary>
/// Authenticates every call to a <c>loyalty.v1</c> service and charges it to its key's request rate
/// before the handler runs; the caller is then in <see cref="ServerCallContext.UserState"/> for
/// <see cref="Access"/>'s role and store checks. Health and reflection need no key, so probes and tools work.
/// A refusal is an <see cref="RpcException"/> (UNAUTHENTICATED, RESOURCE_EXHAUSTED), never an HTTP
/// 401 or 429: stock clients map a 429 to UNAVAILABLE, which reads as "outcome unknown".
/// </summary>
public sealed class AuthInterceptor(Access access) : Interceptor
{
    private const string KeyedServicesPrefix = "/loyalty.v1.";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (context.Method.StartsWith(KeyedServicesPrefix, StringComparison.Ordinal)) await access.AuthenticateAsync(context);
        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (context.Method.StartsWith(KeyedServicesPrefix, StringComparison.Ordinal)) await access.AuthenticateAsync(context);
        await continuation(request, responseStream, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (context.Method.StartsWith(KeyedServicesPrefix, StringComparison.Ordinal)) await access.AuthenticateAsync(context);
        return await continuation(requestStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (context.Method.StartsWith(KeyedServicesPrefix, StringComparison.Ordinal)) await access.AuthenticateAsync(context);
        await continuation(requestStream, responseStream, context);
    }
}
