using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Loyalty.Chaos;

/// <summary>
/// One server process of the cluster under test (<c>dotnet Loyalty.Silo.dll</c>). Its ports are chosen
/// once and kept across restarts, so terminals find the server again where they left it, as they would
/// in a store. Its log goes to a file in the run directory (a crashing server may log per call).
/// </summary>
public sealed class SiloProcess : IDisposable
{
    /// <summary>Start-up includes migrations on a fresh database; far beyond what it takes.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    /// <summary>The server gives in-flight calls 30 s on SIGTERM, then flushes; past this it is killed.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    private readonly string _connectionString;
    private readonly string _logPath;
    private readonly int _httpPort;
    /// <summary>Kept across restarts: a silo restarted on the same address and port declares its own earlier incarnation dead at once.</summary>
    private readonly int _siloPort;
    private readonly object _logLock = new();
    private Process? _process;
    private TaskCompletionSource? _ready;

    private readonly IReadOnlyDictionary<string, string> _settings;

    public SiloProcess(int index, string connectionString, string runDirectory, IReadOnlyDictionary<string, string> settings)
    {
        _settings = settings;
        Index = index;
        _connectionString = connectionString;
        DataDirectory = Path.Combine(runDirectory, $"silo-{index}");
        Directory.CreateDirectory(DataDirectory);
        _logPath = Path.Combine(runDirectory, $"silo-{index}.log");
        GrpcAddress = new Uri($"http://127.0.0.1:{FreePort()}/");
        _httpPort = FreePort();
        _siloPort = FreePort();
    }

    public int Index { get; }
    public string Name => $"server-{Index + 1}";
    public Uri GrpcAddress { get; }
    public string DataDirectory { get; }
    public string AdminKeyPath => Path.Combine(DataDirectory, "admin.key");
    public string LogPath => _logPath;
    /// <summary>How many times this server was started; a restart after a kill is a new incarnation.</summary>
    public int Starts { get; private set; }
    public bool IsRunning => _process is { HasExited: false };

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (IsRunning) throw new InvalidOperationException($"{Name} is running already.");
        var dll = Path.Combine(AppContext.BaseDirectory, "Loyalty.Silo.dll");
        if (!File.Exists(dll))
            throw new InvalidOperationException($"The server is not built next to the harness: {dll} is missing.");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DataDirectory,
        };
        start.ArgumentList.Add(dll);
        start.Environment["LOYALTY_DATA_DIR"] = DataDirectory;
        start.Environment["LOYALTY_DB"] = _connectionString;
        start.Environment["LOYALTY_GRPC_URL"] = GrpcAddress.ToString().TrimEnd('/');
        start.Environment["LOYALTY_HTTP_URL"] = $"http://127.0.0.1:{_httpPort}";
        start.Environment["LOYALTY_SILO_PORT"] = _siloPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (name, value) in _settings) start.Environment[name] = value;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data, ready);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data, ready);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException(
            $"{Name} exited with code {process.ExitCode} before it was ready; see {_logPath}."));
        Log($"--- start #{Starts + 1} ---");
        if (!process.Start()) throw new InvalidOperationException($"{Name} did not start.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        _ready = ready;
        Starts++;
        await ready.Task.WaitAsync(StartTimeout, cancellationToken);
    }

    /// <summary>The process's peak resident memory (VmHWM) in KiB since this incarnation started; null if not running.</summary>
    public long? PeakMemoryKb()
    {
        if (_process is not { HasExited: false } process) return null;
        try
        {
            var line = File.ReadLines($"/proc/{process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null; // it has just exited
        }
    }

    /// <summary>SIGKILL: no shutdown hook runs, in-flight calls and queued writes die with the process.</summary>
    public void Kill()
    {
        if (_process is not { HasExited: false } process) return;
        Log("--- killed with SIGKILL by the chaos harness ---");
        process.Kill(entireProcessTree: false);
        process.WaitForExit();
    }

    /// <summary>SIGTERM, then wait for the graceful stop; returns the exit code (-1 if it had to be killed).</summary>
    public async Task<int> StopAsync()
    {
        if (_process is not { } process) return 0;
        if (process.HasExited) return process.ExitCode;
        using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await term.WaitForExitAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            Log($"--- did not stop within {StopTimeout.TotalSeconds:0} s of SIGTERM; killed ---");
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return -1;
        }
        return process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (_process is { HasExited: false }) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has just exited.
        }
        _process?.Dispose();
    }

    private void OnLine(string? line, TaskCompletionSource ready)
    {
        if (line is null) return;
        Log(line);
        if (line.Contains("Serving gRPC on ", StringComparison.Ordinal)) ready.TrySetResult();
    }

    private void Log(string line)
    {
        lock (_logLock) File.AppendAllText(_logPath, line + Environment.NewLine);
    }

    /// <summary>Ports handed out in this process: a port released by one probe can be the next probe's answer.</summary>
    private static readonly HashSet<int> Given = [];

    private static int FreePort()
    {
        lock (Given)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (Given.Add(port)) return port;
            }
        }
    }
}
