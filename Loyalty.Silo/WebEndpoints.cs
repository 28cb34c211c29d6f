using Loyalty.Api.Auth;
using Loyalty.Api.Web;
using Loyalty.Grains;
using Microsoft.AspNetCore.Http;

namespace Loyalty.Silo;

/// <summary>The plain-HTTP side: /healthz for probes and humans, and the accountant's pages (<see cref="AccountantPages"/>).</summary>
public sealed class WebEndpoints(LoyaltyEngine engine, ApiKeyStore keys)
{
    private readonly AccountantPages _pages = new(engine.Cards, keys, TimeProvider.System);

    /// <summary>A probe that cannot reach the database in this time reports it as down rather than hang.</summary>
    private static readonly TimeSpan DatabaseProbeTimeout = TimeSpan.FromSeconds(2);

    private readonly Api.Web.FiscalWebEndpoints _fiscal = new(new Grains.Storage.PrintJobStore(engine.DataSource));

    public async Task HandleAsync(HttpContext http)
    {
        if (http.Request.Path == "/healthz" && (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method)))
        {
            var databaseUp = await DatabaseAnswersAsync(http.RequestAborted);
            http.Response.StatusCode = databaseUp ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(databaseUp
                ? "{\"status\":\"serving\",\"database\":\"up\"}\n"
                : "{\"status\":\"not_serving\",\"database\":\"down\"}\n", http.RequestAborted);
            return;
        }
        if (AccountantPages.Serves(http.Request.Path))
        {
            await _pages.HandleAsync(http);
            return;
        }
        if (await _fiscal.TryHandleAsync(http)) return;
        http.Response.StatusCode = StatusCodes.Status404NotFound;
    }

    private async Task<bool> DatabaseAnswersAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DatabaseProbeTimeout);
        try
        {
            await using var command = engine.DataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return true;
        }
        catch (Exception error) when (error is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return false;
        }
    }
}
