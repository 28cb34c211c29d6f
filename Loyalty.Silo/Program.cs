using Loyalty.Silo;

await using var server = await LoyaltyServer.StartAsync(args);
await server.WaitForShutdownAsync();
