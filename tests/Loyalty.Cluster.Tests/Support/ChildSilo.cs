using System.Diagnostics;
using System.Text;
using Loyalty.Cluster.TestSilo;

namespace Loyalty.Cluster.Tests.Support;

/// <summary>
/// A test silo in its own process (Loyalty.Cluster.TestSilo run with `dotnet`), so that it can be killed
/// with SIGKILL: an in-process host cannot die without running its shutdown.
/// </summary>
public sealed class ChildSilo : IDisposable
{
    private readonly Process _process;

    private ChildSilo(Process process, int siloPort, string siloAddress)
    {
        _process = process;
        SiloPort = siloPort;
        SiloAddress = siloAddress;
    }

    /// <summary>The silo-to-silo port.</summary>
    public int SiloPort { get; }

    /// <summary>The silo's address as Orleans prints it (ip:port@generation).</summary>
    public string SiloAddress { get; }

    /// <summary>Starts the process and waits until it prints READY (the silo is active), at most <paramref name="timeout"/>.</summary>
    public static async Task<ChildSilo> StartAsync(string connectionString, string clusterId, string siloName, TimeSpan timeout)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, typeof(TestSiloHost).Assembly.GetName().Name + ".dll");
        var siloPort = ClusterDatabase.FreePort();
        var startInfo = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            // stdin stays open while we live; the child stops when it closes (we crashed or forgot it).
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { dll, connectionString, clusterId, siloPort.ToString(), ClusterDatabase.FreePort().ToString(), siloName })
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("dotnet did not start.");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(cancel.Token)
                    ?? throw new InvalidOperationException($"The test silo exited ({ExitCode(process)}) before it was ready: {Text(stderr)}");
                if (line.StartsWith("READY ", StringComparison.Ordinal))
                {
                    var silo = new ChildSilo(process, siloPort, line["READY ".Length..]);
                    // Keep draining stdout so the child never blocks on a full pipe.
                    _ = Task.Run(() => process.StandardOutput.ReadToEndAsync());
                    return silo;
                }
            }
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw new TimeoutException($"The test silo was not ready within {timeout.TotalSeconds:0} s: {Text(stderr)}");
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: no shutdown, no goodbye to the cluster, the sockets just vanish.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit(5000);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }

    private static string ExitCode(Process process) => process.HasExited ? $"exit code {process.ExitCode}" : "still running";

    private static string Text(StringBuilder builder)
    {
        lock (builder)
        {
            return builder.ToString();
        }
    }
}
