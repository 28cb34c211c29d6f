using Loyalty.Silo;

LoyaltyServer server;
try
{
    server = await LoyaltyServer.StartAsync(args);
}
catch (Exception error) when (error is InvalidOperationException or Npgsql.NpgsqlException or TimeoutException or IOException or ArgumentException)
{
    // A server that cannot start says why in one line, not with a stack trace and an abort.
    Console.Error.WriteLine($"The server did not start: {error.Message}");
    return 1;
}
await using (server)
    await server.WaitForShutdownAsync();
return 0;
