using System.Runtime.InteropServices;
using Loyalty.Silo;

// Until the web host has installed its own handlers, a stop request (SIGTERM, Ctrl+C) during start-up
// cancels the start, which stops whatever had started (the embedded PostgreSQL included), instead of
// the default action of ending the process on the spot.
using var stopRequested = new CancellationTokenSource();
LoyaltyServer server;
using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop))
using (PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop))
{
    try
    {
        server = await LoyaltyServer.StartAsync(args, null, stopRequested.Token);
    }
    catch (OperationCanceledException) when (stopRequested.IsCancellationRequested)
    {
        Console.Error.WriteLine("Stopped during start-up, as asked.");
        return 0;
    }
    catch (Exception error) when (error is InvalidOperationException or Npgsql.NpgsqlException or TimeoutException or IOException or ArgumentException)
    {
        // A server that cannot start says why in one line, not with a stack trace and an abort.
        Console.Error.WriteLine($"The server did not start: {error.Message}");
        return 1;
    }
}
await using (server)
{
    // A stop asked for in the instant between the start and the host's own handlers taking over.
    if (!stopRequested.IsCancellationRequested)
        await server.WaitForShutdownAsync();
}
return 0;

void RequestStop(PosixSignalContext context)
{
    context.Cancel = true;
    stopRequested.Cancel();
}
