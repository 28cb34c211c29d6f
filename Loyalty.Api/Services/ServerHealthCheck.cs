using Loyalty.Grains;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Loyalty.Api.Services;

/// <summary>
/// What grpc.health.v1 reports (through Grpc.AspNetCore.HealthChecks): SERVING while the server is
/// not stopping and its database answers; NOT_SERVING otherwise. The health service needs no key,
/// so the database is asked at most once per <see cref="DatabaseProbeInterval"/> whatever the number
/// of probes, and a probe waits at most <see cref="DatabaseProbeTimeout"/>.
/// </summary>
public sealed class ServerHealthCheck(LoyaltyEngine engine) : IHealthCheck
{
    /// <summary>How long one database answer is reused; probes are cheap and a flood of them costs one query a second.</summary>
    public static readonly TimeSpan DatabaseProbeInterval = TimeSpan.FromSeconds(1);
    /// <summary>A database that does not answer in this time is reported down rather than hang the probe.</summary>
    public static readonly TimeSpan DatabaseProbeTimeout = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private Task<bool>? _probe;
    private long _probedAt;
    private volatile bool _stopping;

    /// <summary>From now on the server reports NOT_SERVING (a stop has begun; load balancers should move on).</summary>
    public void ShutDown() => _stopping = true;

    public bool IsStopping => _stopping;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_stopping) return HealthCheckResult.Unhealthy("The server is stopping.");
        var databaseUp = await DatabaseProbe().WaitAsync(cancellationToken);
        if (_stopping) return HealthCheckResult.Unhealthy("The server is stopping.");
        return databaseUp ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("The database does not answer.");
    }

    private Task<bool> DatabaseProbe()
    {
        lock (_lock)
        {
            var now = Environment.TickCount64;
            if (_probe is null || (_probe.IsCompleted && now - _probedAt >= DatabaseProbeInterval.TotalMilliseconds))
            {
                _probedAt = now;
                _probe = DatabaseAnswersAsync();
            }
            return _probe;
        }
    }

    private async Task<bool> DatabaseAnswersAsync()
    {
        using var timeout = new CancellationTokenSource(DatabaseProbeTimeout);
        try
        {
            await using var command = engine.DataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return true;
        }
        catch (Exception error) when (error is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }
}
