using System.Net;
using System.Security.Cryptography.X509Certificates;
using Loyalty.Api;
using Loyalty.Api.Auth;
using Loyalty.Api.Grpc;
using Loyalty.Grains;
using Loyalty.Grains.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Loyalty.Silo;

/// <summary>
/// The server process, composed in one place and started in dependency order: database, engine,
/// API keys, then Kestrel. It stops in the reverse order: health goes NOT_SERVING, Kestrel stops
/// accepting and finishes in-flight calls, the ledger writer flushes, the embedded database stops.
/// </summary>
public sealed class LoyaltyServer : IAsyncDisposable
{
    private const string GrpcConnectionMarker = "loyalty.grpc";

    /// <summary>
    /// The largest request header (name and value, HPACK-decoded) accepted. gRPC metadata here is an
    /// API key of ~70 bytes, a deadline, a user agent and maybe a trace id; 8 KiB leaves room for any
    /// proxy's additions while a client cannot make the server decode and hold megabytes of headers.
    /// </summary>
    public const int MaxRequestHeaderFieldBytes = 8 * 1024;
    /// <summary>All request headers of one call together, for the same reason.</summary>
    public const int MaxRequestHeadersTotalBytes = 32 * 1024;
    /// <summary>Headers per call: a gRPC call sends about ten.</summary>
    public const int MaxRequestHeaderCount = 100;
    /// <summary>Time to receive a request's headers once they began (HEADERS, then CONTINUATIONs); a client that stalls inside them is cut off.</summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(10);
    /// <summary>How long in-flight calls get to finish once a stop is asked for.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    private readonly WebApplication _app;
    private readonly EngineHost _engine;
    private readonly LoyaltyApi _api;
    private readonly ILoggerFactory _engineLoggers;
    private readonly ILogger _logger;
    private int _disposed;

    private LoyaltyServer(WebApplication app, EngineHost engine, LoyaltyApi api, SiloOptions options, Uri grpcAddress, Uri httpAddress, ILoggerFactory engineLoggers)
    {
        _engineLoggers = engineLoggers;
        _logger = engineLoggers.CreateLogger<LoyaltyServer>();
        _app = app;
        _engine = engine;
        _api = api;
        Options = options;
        GrpcAddress = grpcAddress;
        HttpAddress = httpAddress;
    }

    public SiloOptions Options { get; }
    /// <summary>Where gRPC is served, with the port actually bound (settings may ask for port 0).</summary>
    public Uri GrpcAddress { get; }
    public Uri HttpAddress { get; }
    public LoyaltyEngine Engine => _engine.Engine;
    public LoyaltyApi Api => _api;
    /// <summary>The web host's services (the tests read the logging configuration through them).</summary>
    public IServiceProvider Services => _app.Services;

    /// <param name="args">--NAME=value flags; they override the environment.</param>
    /// <param name="overrides">Settings that override both (tests use them).</param>
    public static async Task<LoyaltyServer> StartAsync(string[] args, IReadOnlyDictionary<string, string?>? overrides = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        // Npgsql logs every command at Information, Kestrel every connection event; only their warnings matter to an operator.
        builder.Logging.AddFilter("Npgsql", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // Grpc.AspNetCore logs every refused call at Information (a status raised, a message it could not
        // read); a hostile client would fill the log with one line per request. Its warnings and errors
        // stay; our handlers' failures are logged by ErrorMappingInterceptor.
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        var options = SiloOptions.From(builder.Configuration);

        // The engine is started before the web host is even built, so no call can arrive before it is ready.
        // The engine's own loggers live as long as the engine, which outlives the web host.
        var engineLoggers = LoggerFactory.Create(l => l.AddConfiguration(builder.Configuration.GetSection("Logging"))
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }).AddFilter("Npgsql", LogLevel.Warning)
            // Orleans narrates every start-up stage and membership step at Information; its warnings (a
            // suspected or evicted silo, a slow turn) are what an operator needs. The membership service's
            // own lines (who joined, who was declared dead) stay at Information.
            .AddFilter("Orleans", LogLevel.Warning).AddFilter("Microsoft.Orleans", LogLevel.Warning)
            .AddFilter("Orleans.Runtime.MembershipService", LogLevel.Information)
            // Calls to a silo that was just killed fail and are retried by Orleans' placement (Polly), each
            // logged with a stack trace; that is the expected path after a crash, not news.
            .AddFilter("Polly", LogLevel.Error));
        var logger = engineLoggers.CreateLogger<LoyaltyServer>();
        var engine = new EngineHost(options, engineLoggers, engineLoggers.CreateLogger<EngineHost>());
        try
        {
            await engine.StartAsync(cancellationToken);
        }
        catch
        {
            engineLoggers.Dispose();
            throw;
        }
        try
        {
            var rate = options.RatePerKey == 0 ? KeyRateLimiter.Off : new KeyRateLimiter(options.RatePerKey, options.RateBurst, TimeProvider.System);
            var api = LoyaltyApi.Create(engine.Engine, TimeProvider.System, rate);
            if (await api.Keys.EnsureFirstAdminKeyAsync(options.AdminKeyPath, cancellationToken))
                logger.LogInformation("Created the first admin key; it is in {Path} (readable by this user only).", options.AdminKeyPath);
            else
                logger.LogInformation("Admin keys exist already; the first one was written to {Path} when this database was new.", options.AdminKeyPath);

            api.AddServices(builder.Services, new GrpcCallGuardOptions { RequestMessageTimeout = options.RequestBodyTimeout, MaxCallsInProgress = options.MaxCallsInProgress });
            ListenOptions? grpcListener = null, httpListener = null;
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
                kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
                // Set explicitly rather than left to Kestrel's defaults, so the bounds are ours and written down.
                kestrel.Limits.KeepAliveTimeout = options.IdleConnectionTimeout;
                kestrel.Limits.RequestHeadersTimeout = RequestHeadersTimeout;
                kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadersTotalBytes;
                kestrel.Limits.MaxRequestHeaderCount = MaxRequestHeaderCount;
                kestrel.Limits.Http2.MaxRequestHeaderFieldSize = MaxRequestHeaderFieldBytes;
                // The gRPC port speaks HTTP/2 only: stock clients open with the HTTP/2 preface (prior knowledge), no Upgrade.
                grpcListener = Listen(kestrel, options.GrpcUrl, HttpProtocols.Http2, listener =>
                {
                    if (options.GrpcUrl.Scheme == Uri.UriSchemeHttps)
                        listener.UseHttps(X509Certificate2.CreateFromPemFile(options.TlsCertificatePath!, options.TlsKeyPath));
                    listener.Use(next => connection =>
                    {
                        connection.Items[GrpcConnectionMarker] = true;
                        return next(connection);
                    });
                });
                httpListener = Listen(kestrel, options.HttpUrl, HttpProtocols.Http1, _ => { });
            });
            var app = builder.Build();
            var web = new WebEndpoints(engine.Engine);
            app.UseRouting();
            // The plain-HTTP port serves /healthz (and later the web pages), never gRPC; the gRPC port nothing else.
            app.Use((http, next) => IsGrpcConnection(http) ? next(http) : web.HandleAsync(http));
            LoyaltyApi.MapServices(app);
            app.Lifetime.ApplicationStopping.Register(api.Health.ShutDown);
            await app.StartAsync(cancellationToken);

            var grpcAddress = Bound(options.GrpcUrl, grpcListener!);
            var httpAddress = Bound(options.HttpUrl, httpListener!);
            logger.LogInformation("Serving gRPC on {GrpcAddress} and HTTP on {HttpAddress} (/healthz). Admin key: {Path}.",
                grpcAddress, httpAddress, options.AdminKeyPath);
            return new LoyaltyServer(app, engine, api, options, grpcAddress, httpAddress, engineLoggers);
        }
        catch
        {
            await engine.StopAsync(CancellationToken.None);
            engineLoggers.Dispose();
            throw;
        }
    }

    /// <summary>Returns once a stop was asked for (SIGTERM, Ctrl+C) and Kestrel has finished its in-flight calls.</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _api.Health.ShutDown();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _engine.StopAsync(CancellationToken.None);
        _logger.LogInformation("Server stopped.");
        _engineLoggers.Dispose();
    }

    private static bool IsGrpcConnection(HttpContext http) =>
        http.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(GrpcConnectionMarker) == true;

    private static ListenOptions Listen(KestrelServerOptions kestrel, Uri url, HttpProtocols protocols, Action<ListenOptions> configure)
    {
        ListenOptions? captured = null;
        void Configure(ListenOptions listener)
        {
            listener.Protocols = protocols;
            configure(listener);
            captured = listener;
        }
        if (url.Host is "localhost")
            kestrel.ListenLocalhost(url.Port, Configure);
        else if (url.Host is "*" or "+" or "0.0.0.0")
            kestrel.ListenAnyIP(url.Port, Configure);
        else if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address))
            kestrel.Listen(address, url.Port, Configure);
        else
            throw new InvalidOperationException($"Cannot listen on \"{url.Host}\": give an IP address, localhost or 0.0.0.0.");
        return captured!;
    }

    /// <summary>The address with the port the system gave, when port 0 was asked for.</summary>
    private static Uri Bound(Uri configured, ListenOptions listener) =>
        listener.EndPoint is IPEndPoint endpoint && configured.Port == 0
            ? new UriBuilder(configured) { Port = endpoint.Port }.Uri
            : configured;
}
