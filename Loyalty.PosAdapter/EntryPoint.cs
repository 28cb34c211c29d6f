using System.CommandLine;
using Loyalty.PosAdapter.Cli;

namespace Loyalty.PosAdapter;

internal static class EntryPoint
{
    public static Task<int> Main(string[] args) => LoyaltyCommandLine.RunAsync(args, new InvocationConfiguration());
}
