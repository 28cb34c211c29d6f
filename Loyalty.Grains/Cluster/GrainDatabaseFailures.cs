using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Orleans;

namespace Loyalty.Grains.Cluster;

/// <summary>
/// Turns a database outage inside one of our grains (PostgreSQL stopping, restarting, unreachable, or
/// a connection cut mid-statement; <see cref="GroupCommitWriter.IsConnectionFailure"/>) into the
/// refusal every caller already understands, the card grain's own Unavailable ("may or may not have
/// been stored; retry with the same operation id"). Done where the grain runs, as an incoming call
/// filter of every silo, because Npgsql's exceptions cannot cross silos: Orleans has no codec for
/// them, so a caller on another server got a serialization error and answered INTERNAL (seen in the
/// chaos run: a shift report uploaded through one server while the shift's grain on another met the
/// database restart).
/// </summary>
public sealed class GrainDatabaseFailures : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception error) when (IsOurs(context) && GroupCommitWriter.IsConnectionFailure(error))
        {
            throw CardGrain.Unavailable();
        }
    }

    private static bool IsOurs(IIncomingGrainCallContext context) =>
        context.InterfaceMethod?.DeclaringType?.Namespace?.StartsWith("Loyalty.", StringComparison.Ordinal) == true;
}
