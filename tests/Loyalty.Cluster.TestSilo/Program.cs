using System.Globalization;
using Loyalty.Cluster.TestSilo;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

// A test silo in its own process, so that a test can kill it with SIGKILL.
// Usage: Loyalty.Cluster.TestSilo <connection-string> <cluster-id> <silo-port> <gateway-port> <silo-name>
// Prints "READY <silo address>" on stdout once the silo is active in the cluster, then runs until killed
// or until its stdin closes (so an abandoned child does not outlive the test run).
if (args.Length != 5)
{
    Console.Error.WriteLine("Usage: Loyalty.Cluster.TestSilo <connection-string> <cluster-id> <silo-port> <gateway-port> <silo-name>");
    return 2;
}

var settings = new TestSiloSettings(
    args[0], args[1],
    int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture),
    args[4], TimeSpan.FromSeconds(1));
using var host = TestSiloHost.Build(settings, LogLevel.Warning);
await host.StartAsync();
var silo = (ILocalSiloDetails)host.Services.GetService(typeof(ILocalSiloDetails))!;
Console.Out.WriteLine($"READY {silo.SiloAddress}");
Console.Out.Flush();

// stdin closes when the parent dies: stop gracefully then.
await Task.Run(() => Console.In.ReadToEnd());
await host.StopAsync();
return 0;
