using System.Threading.Channels;
using Grpc.Health.V1;
using Loyalty.Api.Grpc;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace Loyalty.Api.Services;

/// <summary>
/// grpc.health.v1.Health: "" is the whole server; each served service is listed by name. Needs no
/// key, so load balancers and probes can call it. Watch sends the status at once and then every change.
/// </summary>
public sealed class HealthService
{
    public const string Name = "grpc.health.v1.Health";
    /// <summary>Status changes queued per watcher; a watcher that does not read gets only the newest.</summary>
    private const int WatcherQueueCapacity = 4;
    /// <summary>Open Watch streams; more are refused with RESOURCE_EXHAUSTED.</summary>
    public const int MaxWatchers = 1_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal);
    private readonly HashSet<(string Service, Channel<ServingStatus> Queue)> _watchers = [];

    public void Map(GrpcMethodTable methods) => methods
        .MapUnary<HealthCheckRequest, HealthCheckResponse>(Name, "Check", Check)
        .MapServerStreaming<HealthCheckRequest, HealthCheckResponse>(Name, "Watch", Watch);

    /// <summary>Sets the status of a service ("" for the whole server) and tells its watchers.</summary>
    public void SetStatus(string service, ServingStatus status)
    {
        lock (_lock)
        {
            _statuses[service] = status;
            foreach (var (watched, queue) in _watchers)
                if (watched == service) queue.Writer.TryWrite(status);
        }
    }

    /// <summary>Every service goes NOT_SERVING and every Watch stream ends, so a graceful shutdown is not held up by watchers.</summary>
    public void ShutDown()
    {
        lock (_lock)
        {
            foreach (var service in _statuses.Keys.ToArray()) _statuses[service] = ServingStatus.NotServing;
            foreach (var (_, queue) in _watchers)
            {
                queue.Writer.TryWrite(ServingStatus.NotServing);
                queue.Writer.TryComplete();
            }
        }
    }

    private Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        lock (_lock)
        {
            return _statuses.TryGetValue(request.Service, out var status)
                ? Task.FromResult(new HealthCheckResponse { Status = status })
                : throw new RpcException(StatusCode.NotFound, $"This server has no service named \"{request.Service}\".");
        }
    }

    private async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> stream, ServerCallContext context)
    {
        var queue = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(WatcherQueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest });
        var watcher = (request.Service, queue);
        lock (_lock)
        {
            if (_watchers.Count >= MaxWatchers)
                throw new RpcException(StatusCode.ResourceExhausted, $"This server already has {MaxWatchers} health watchers, its limit.");
            queue.Writer.TryWrite(_statuses.GetValueOrDefault(request.Service, ServingStatus.ServiceUnknown));
            _watchers.Add(watcher);
        }
        try
        {
            // A Watch has no deadline of its own; it ends when the client leaves or the server stops.
            await foreach (var status in queue.Reader.ReadAllAsync(context.CancellationToken))
                await stream.WriteAsync(new HealthCheckResponse { Status = status }, context.CancellationToken);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw;
        }
        finally
        {
            lock (_lock) _watchers.Remove(watcher);
        }
    }
}
