using Loyalty.Api.Auth;
using Loyalty.Api.Grpc;
using Loyalty.Api.Services;
using Loyalty.Grains;
using Loyalty.Grains.Domain;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace Loyalty.Api;

/// <summary>The loyalty services on one gRPC method table, with the one mapping of domain refusals to status codes.</summary>
public sealed class LoyaltyApi
{
    private LoyaltyApi(GrpcMethodTable methods, HealthService health, ApiKeyStore keys)
    {
        Methods = methods;
        Health = health;
        Keys = keys;
    }

    public GrpcMethodTable Methods { get; }
    public HealthService Health { get; }
    public ApiKeyStore Keys { get; }

    /// <param name="rate">The request rate per API key; none when null.</param>
    public static LoyaltyApi Create(LoyaltyEngine engine, TimeProvider time, KeyRateLimiter? rate = null)
    {
        var keys = new ApiKeyStore(engine.DataSource, time);
        var access = new Access(keys, rate ?? KeyRateLimiter.Off);
        var health = new HealthService();
        var methods = new GrpcMethodTable();
        new CardsService(engine.Runtime, access).Map(methods);
        new AdminService(engine.Runtime, keys, access).Map(methods);
        health.Map(methods);
        new ReflectionService(
            [Protos.V1.CardsReflection.Descriptor, Protos.V1.AdminReflection.Descriptor, global::Grpc.Health.V1.HealthReflection.Descriptor, global::Grpc.Reflection.V1.ReflectionReflection.Descriptor],
            () => methods.Services).Map(methods);
        health.SetStatus("", ServingStatus.Serving);
        foreach (var service in methods.Services) health.SetStatus(service, ServingStatus.Serving);
        return new LoyaltyApi(methods, health, keys);
    }

    /// <summary>Trailing metadata names of a refusal's details: <c>loyalty-receipt-stage</c>, <c>loyalty-hold-id</c>, <c>loyalty-operation-id</c>.</summary>
    public const string RefusalMetadataPrefix = "loyalty-";

    /// <summary>design.md's table: what the caller did wrong, what is missing, what the state forbids, what is busy.</summary>
    public static RpcException? MapException(Exception error) => error switch
    {
        CardException e => new RpcException(e.Code switch
        {
            CardErrorCode.InvalidArgument => StatusCode.InvalidArgument,
            CardErrorCode.NotFound => StatusCode.NotFound,
            CardErrorCode.CardExists => StatusCode.AlreadyExists,
            CardErrorCode.OperationExistsWithDifferentPayload => StatusCode.AlreadyExists,
            CardErrorCode.CardNotActive or CardErrorCode.InsufficientBonuses or CardErrorCode.LimitExceeded or CardErrorCode.AlreadyResolved
                => StatusCode.FailedPrecondition,
            CardErrorCode.Forbidden => StatusCode.PermissionDenied,
            CardErrorCode.Overloaded => StatusCode.ResourceExhausted,
            CardErrorCode.Unavailable => StatusCode.Unavailable,
            _ => StatusCode.Internal,
        }, e.Message)
        {
            // The ids a till needs to recover (the open hold, the committing operation), by name.
            Trailers = e.Details.ToDictionary(d => RefusalMetadataPrefix + d.Key, d => d.Value),
        },
        // The database refused a connection or went away mid-call: the POS falls back to offline.
        Npgsql.NpgsqlException { IsTransient: true } => new RpcException(StatusCode.Unavailable,
            "The database cannot be reached just now; retry with the same operation id, or work offline."),
        _ => null,
    };
}
