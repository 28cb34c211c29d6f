using Loyalty.Grains.Domain;
using Npgsql;
using Orleans;

namespace Loyalty.Grains.Cluster;

/// <summary>
/// Turns a database outage inside one of our grains (PostgreSQL stopping, restarting, unreachable, or
/// a connection cut mid-statement) into the refusal every caller already understands:
/// <see cref="CardErrorCode.Unavailable"/>, "may or may not have been stored; retry with the same
/// operation id". Done where the grain runs, as an incoming call filter of every silo, because
/// Npgsql's exceptions cannot cross silos: Orleans has no codec for them, so a caller on another
/// server got a serialization error and answered INTERNAL (seen in the chaos run: a shift report
/// uploaded through one server while the shift's grain on another met the database restart).
/// </summary>
public sealed class GrainDatabaseFailures : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception error) when (IsOurs(context) && IsOutage(error))
        {
            throw new CardException(CardErrorCode.Unavailable,
                "The database cannot be reached just now; if this was a write, it may or may not have been stored. Retry with the same operation id, or work offline.");
        }
    }

    /// <summary>
    /// A database failure that says nothing about the request: a connection that could not be made or
    /// broke (no SQL state, or class 08), the server shutting down or not accepting connections yet
    /// (57P01–57P03), or what Npgsql itself calls transient. A refused statement (a constraint, a
    /// syntax error) is not one: that is a defect, and stays an error.
    /// </summary>
    public static bool IsOutage(Exception error) => error switch
    {
        PostgresException postgres => postgres.IsTransient || postgres.SqlState.StartsWith("08", StringComparison.Ordinal) || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal),
        NpgsqlException npgsql => true,
        _ => false,
    };

    private static bool IsOurs(IIncomingGrainCallContext context) =>
        context.InterfaceMethod?.DeclaringType?.Namespace?.StartsWith("Loyalty.", StringComparison.Ordinal) == true;
}
