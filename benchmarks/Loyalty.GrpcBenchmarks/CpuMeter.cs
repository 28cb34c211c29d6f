using System.Diagnostics;
using System.Globalization;

namespace Loyalty.GrpcBenchmarks;

/// <summary>
/// CPU used so far by this client, the server process, the local PostgreSQL (postmaster, its live children,
/// and the children it has already reaped — pgbench's backends end before the window does) and the whole
/// machine, read from /proc, so a run shows where the cores went. Unknown figures are -1.
/// </summary>
public readonly record struct CpuSample(long Timestamp, TimeSpan Client, long ServerTicks, long PostgresTicks, long MachineBusyTicks, long MachineTotalTicks)
{
    /// <summary>USER_HZ: the unit of /proc/stat and /proc/[pid]/stat times; 100 on every mainstream Linux.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>As <see cref="Take(int?, int?)"/>, with the server's share summed over several server processes.</summary>
    public static CpuSample Take(IReadOnlyList<int> serverPids, int? postmasterPid)
    {
        var sample = Take((int?)null, postmasterPid);
        return sample with { ServerTicks = serverPids.Sum(pid => ReadProcess(pid, withReapedChildren: false)) };
    }

    public static CpuSample Take(int? serverPid, int? postmasterPid)
    {
        using var self = Process.GetCurrentProcess();
        var (busy, total) = Loyalty.Benchmarks.CpuSnapshot.ReadProcStat();
        return new CpuSample(
            Stopwatch.GetTimestamp(),
            self.TotalProcessorTime,
            serverPid is { } server ? ReadProcess(server, withReapedChildren: false) : -1,
            postmasterPid is { } postmaster ? ReadPostgres(postmaster) : -1,
            busy,
            total);
    }

    /// <summary>Cores' worth of CPU (1.0 = one core busy) each party used between two samples.</summary>
    public static (double Client, double Server, double Postgres, double Machine) Cores(CpuSample from, CpuSample to)
    {
        var wall = Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp).TotalSeconds;
        if (wall <= 0) return (double.NaN, double.NaN, double.NaN, double.NaN);
        double Ticks(long a, long b) => a < 0 || b < 0 ? double.NaN : (b - a) / TicksPerSecond / wall;
        var machineTotal = to.MachineTotalTicks - from.MachineTotalTicks;
        var machine = machineTotal > 0
            ? (double)(to.MachineBusyTicks - from.MachineBusyTicks) / machineTotal * Environment.ProcessorCount
            : double.NaN;
        return ((to.Client - from.Client).TotalSeconds / wall, Ticks(from.ServerTicks, to.ServerTicks), Ticks(from.PostgresTicks, to.PostgresTicks), machine);
    }

    /// <summary>utime + stime of one process, plus cutime + cstime (its children that ended and were waited for) if asked.</summary>
    private static long ReadProcess(int pid, bool withReapedChildren)
    {
        var fields = StatFields(pid);
        if (fields is null) return -1;
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        if (withReapedChildren) ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
        return ticks;
    }

    /// <summary>The postmaster with its reaped children, plus every live direct child (backends, WAL writer, checkpointer...).</summary>
    private static long ReadPostgres(int postmasterPid)
    {
        var sum = ReadProcess(postmasterPid, withReapedChildren: true);
        if (sum < 0) return -1;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || !int.TryParse(name, CultureInfo.InvariantCulture, out var pid)) continue;
            var fields = StatFields(pid);
            if (fields is null || int.Parse(fields[1], CultureInfo.InvariantCulture) != postmasterPid) continue;
            sum += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        return sum;
    }

    /// <summary>The fields of /proc/[pid]/stat after "pid (comm) "; null if the process is gone or unreadable.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // comm may hold spaces and parentheses, so split after the last ')': state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length >= 15 ? fields : null;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
