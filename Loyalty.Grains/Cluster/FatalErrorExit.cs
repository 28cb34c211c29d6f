using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Loyalty.Grains.Cluster;

/// <summary>
/// What a server does when its silo cannot go on, most often because the cluster declared it dead
/// (it missed its probes: a long pause, a cut network) while it was still running: it says why on
/// standard error and in the log, then ends the process at once with a non-zero code, so a supervisor
/// (systemd, the chaos harness) restarts it and it joins again as a new member. Staying up would be
/// worse: the others have already re-activated its cards. Orleans' own handler also fails fast; this
/// one writes a sentence an operator can act on first.
/// </summary>
public sealed class FatalErrorExit(ILogger<FatalErrorExit> logger) : IFatalErrorHandler
{
    public bool IsUnexpected(Exception exception) => true;

    public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
    {
        var why = $"This server's cluster member stops now: {context ?? "a fatal error in the silo"}" +
            $"{(exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})")}. If the cluster declared it dead " +
            "(missed probes after a long pause or a network cut), its cards are already served by the other servers; start it again and it joins as a new member.";
        logger.LogCritical(exception, "{Why}", why);
        // Written synchronously: the logger's queue may not be flushed before the process ends.
        Console.Error.WriteLine(why);
        Console.Error.Flush();
        Environment.FailFast(why);
    }
}
