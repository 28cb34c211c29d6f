using Grpc.AspNetCore.Server.Model;
using Loyalty.Api.Auth;
using Loyalty.Api.Grpc;
using Loyalty.Api.Services;
using Loyalty.Grains;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Loyalty.Api;

/// <summary>
/// The loyalty gRPC services on Grpc.AspNetCore: Cards and Admin (generated bases), grpc.health.v1
/// and server reflection v1/v1alpha, the interceptors (error mapping outermost, then keys and rates)
/// and the one mapping of domain refusals to status codes.
/// </summary>
public sealed class LoyaltyApi
{
    /// <summary>The gRPC default; both stock clients refuse larger replies unless told otherwise. Requests over it (decompressed) get RESOURCE_EXHAUSTED.</summary>
    public const int MaxMessageBytes = 4 * 1024 * 1024;

    private readonly LoyaltyEngine _engine;

    private LoyaltyApi(LoyaltyEngine engine, ApiKeyStore keys, Access access)
    {
        _engine = engine;
        Keys = keys;
        Access = access;
        Health = new ServerHealthCheck(engine);
        PrintQueues = new PrintQueues(new Grains.Storage.PrintJobStore(engine.DataSource), engine.Cards);
    }

    /// <summary>The office registers' print queues (issue 13), shared by the Fiscal service and the receipt pages.</summary>
    public PrintQueues PrintQueues { get; }

    public ApiKeyStore Keys { get; }
    public Access Access { get; }
    /// <summary>The state grpc.health.v1 reports; <see cref="ServerHealthCheck.ShutDown"/> turns it NOT_SERVING.</summary>
    public ServerHealthCheck Health { get; }

    /// <param name="rate">The request rate per API key; none when null.</param>
    public static LoyaltyApi Create(LoyaltyEngine engine, TimeProvider time, KeyRateLimiter? rate = null)
    {
        var keys = new ApiKeyStore(engine.DataSource, time);
        return new LoyaltyApi(engine, keys, new Access(keys, rate ?? KeyRateLimiter.Off));
    }

    /// <summary>Registers Grpc.AspNetCore with our bounds, marshallers, interceptors, health and reflection.</summary>
    public void AddServices(IServiceCollection services, GrpcCallGuardOptions guard)
    {
        services.AddSingleton(this);
        services.AddSingleton(_engine.Cards);
        services.AddSingleton(Keys);
        services.AddSingleton(Access);
        services.AddSingleton(new GrpcCallGuard(guard));
        // One instance each: they hold no per-call state, so a call need not allocate its service.
        services.AddSingleton<CardsService>();
        services.AddSingleton<AdminService>();
        services.AddSingleton<ExchangeService>();
        services.AddSingleton<ReconciliationService>();
        services.AddSingleton(PrintQueues);
        services.AddSingleton(sp => new Web.ReceiptNotifier(Web.ReceiptNotifierOptions.From(sp.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()), new HttpClient()));
        services.AddSingleton<FiscalService>();
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = MaxMessageBytes;
            o.MaxSendMessageSize = MaxMessageBytes;
            // Exception texts never reach clients; our statuses carry sentences written for them.
            o.EnableDetailedErrors = false;
            // Only our gzip: it bounds what a message decompresses to. Other encodings get UNIMPLEMENTED.
            o.CompressionProviders = [new BoundedGzipCompressionProvider(MaxMessageBytes)];
            o.Interceptors.Add<ErrorMappingInterceptor>();
            o.Interceptors.Add<AuthInterceptor>();
        });
        // Our binder instead of Grpc.AspNetCore's: the same generated methods, with parse failures as INVALID_ARGUMENT.
        services.RemoveAll(typeof(IServiceMethodProvider<>));
        services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IServiceMethodProvider<>), typeof(CheckedMethodProvider<>)));
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(o =>
        {
            o.Services.Clear();
            foreach (var name in ServedNames) o.Services.Map(name, _ => true);
        }).AddCheck("server", Health);
    }

    /// <summary>The names grpc.health.v1 answers for: "" is the whole server, then each service.</summary>
    public static readonly string[] ServedNames =
        ["", CardsService.Name, AdminService.Name, ExchangeService.Name, ReconciliationService.Name, FiscalService.Name, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

    /// <summary>Maps the services and puts <see cref="GrpcCallGuard"/> in front of them (call after routing).</summary>
    public static void MapServices(WebApplication app)
    {
        var guard = app.Services.GetRequiredService<GrpcCallGuard>();
        app.Use((http, next) => guard.InvokeAsync(http, next));
        app.MapGrpcService<CardsService>();
        app.MapGrpcService<AdminService>();
        app.MapGrpcService<ExchangeService>();
        app.MapGrpcService<ReconciliationService>();
        app.MapGrpcService<FiscalService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
    }

    /// <summary>Trailing metadata names of a refusal's details: <c>loyalty-receipt-stage</c>, <c>loyalty-hold-id</c>, <c>loyalty-operation-id</c>.</summary>
    public const string RefusalMetadataPrefix = "loyalty-";

    /// <summary>design.md's table: what the caller did wrong, what is missing, what the state forbids, what is busy. Null: not a refusal we know.</summary>
    public static RpcException? MapException(Exception error) => error switch
    {
        CardException e => new RpcException(new Status(e.Code switch
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
        }, e.Message), Trailers(e)),
        // The database refused a connection or went away mid-call: the POS falls back to offline.
        Npgsql.NpgsqlException outage when Grains.Storage.GroupCommitWriter.IsConnectionFailure(outage) => Rpc.Error(StatusCode.Unavailable,
            "The database cannot be reached just now; retry with the same operation id, or work offline."),
        _ => null,
    };

    /// <summary>The ids a till needs to recover (the open hold, the committing operation), by name.</summary>
    private static Metadata Trailers(CardException e)
    {
        var trailers = new Metadata();
        foreach (var (name, value) in e.Details) trailers.Add(RefusalMetadataPrefix + name, value);
        return trailers;
    }
}
