using System.Diagnostics;
using System.Globalization;

namespace Loyalty.Benchmarks;

/// <summary>
/// CPU time used so far by this process, by the local PostgreSQL server (the postmaster and its
/// children, when its pid is known) and by the whole machine (from /proc where available), so a run
/// can tell how the cores were shared between the client, the database and anything else.
/// </summary>
public readonly record struct CpuSnapshot(long Timestamp, TimeSpan ProcessCpu, long MachineBusyTicks, long MachineTotalTicks, long PostgresTicks)
{
    /// <summary>USER_HZ: the unit of /proc/stat and /proc/[pid]/stat times; 100 on every mainstream Linux.</summary>
    private const double TicksPerSecond = 100;

    public static CpuSnapshot Take(int? postmasterPid = null)
    {
        using var self = Process.GetCurrentProcess();
        var (busy, total) = ReadProcStat();
        var postgres = postmasterPid is { } pid ? ReadServerTicks(pid) : -1;
        return new CpuSnapshot(Stopwatch.GetTimestamp(), self.TotalProcessorTime, busy, total, postgres);
    }

    /// <summary>Cores' worth of CPU the PostgreSQL server used between the snapshots; NaN when unknown.</summary>
    public static double PostgresCores(CpuSnapshot from, CpuSnapshot to)
    {
        var wall = Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp).TotalSeconds;
        if (from.PostgresTicks < 0 || to.PostgresTicks < 0 || wall <= 0) return double.NaN;
        return (to.PostgresTicks - from.PostgresTicks) / TicksPerSecond / wall;
    }

    /// <summary>The pid of the server whose data directory this is, from its postmaster.pid; null if none.</summary>
    public static int? PostmasterPid(string dataDirectory)
    {
        try
        {
            var first = File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).FirstOrDefault();
            return int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>utime + stime of the postmaster and its direct children (backends, WAL writer, checkpointer...).</summary>
    private static long ReadServerTicks(int postmasterPid)
    {
        long sum = 0;
        try
        {
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                var name = Path.GetFileName(directory);
                if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
                string stat;
                try
                {
                    stat = File.ReadAllText(Path.Combine(directory, "stat"));
                }
                catch (Exception error) when (error is IOException or UnauthorizedAccessException)
                {
                    continue; // the process ended meanwhile
                }
                // pid (comm) state ppid ... utime(14) stime(15); comm may hold spaces, so split after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length < 13) continue;
                var pid = int.Parse(name, CultureInfo.InvariantCulture);
                var ppid = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (pid != postmasterPid && ppid != postmasterPid) continue;
                sum += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            return sum;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }

    /// <summary>Cores' worth of CPU this process used between the snapshots (1.0 = one core fully busy).</summary>
    public static double ProcessCores(CpuSnapshot from, CpuSnapshot to)
    {
        var wall = Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp).TotalSeconds;
        return wall > 0 ? (to.ProcessCpu - from.ProcessCpu).TotalSeconds / wall : 0;
    }

    /// <summary>Cores' worth of CPU the whole machine used between the snapshots; NaN when /proc/stat is not there.</summary>
    public static double MachineCores(CpuSnapshot from, CpuSnapshot to)
    {
        var total = to.MachineTotalTicks - from.MachineTotalTicks;
        if (total <= 0) return double.NaN;
        return (double)(to.MachineBusyTicks - from.MachineBusyTicks) / total * Environment.ProcessorCount;
    }

    /// <summary>Busy and total ticks of the whole machine since boot, from /proc/stat; zeros where it cannot be read.</summary>
    public static (long Busy, long Total) ReadProcStat()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var line = reader.ReadLine();
            if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal)) return (0, 0);
            // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Take(Math.Min(fields.Length, 8)).Sum();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            return (total - idle, total);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException)
        {
            return (0, 0);
        }
    }
}
