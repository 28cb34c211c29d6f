using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Loyalty.GrpcBenchmarks;

/// <summary>
/// The real server, Loyalty.Silo.dll from the running program's own build output, run as a separate
/// process (<c>dotnet Loyalty.Silo.dll</c>) on free loopback ports with the given database and a data
/// directory of its own. Its log goes to our stderr (bounded); it is stopped with SIGTERM like an
/// operator would. Shared by the gRPC benchmark and the fuzz tool (linked into both).
/// </summary>
public sealed partial class ServerProcess : IDisposable
{
    /// <summary>Start-up includes migrations on a fresh database; a minute is far beyond what it takes.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    /// <summary>The server gives in-flight calls 30 s on SIGTERM, then flushes; past this it is killed.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);
    /// <summary>Server log lines echoed to stderr; past this they are only counted (a failing server may log per call).</summary>
    private const int MaxEchoedLines = 200;
    /// <summary>Last log lines kept for failure messages.</summary>
    private const int TailLines = 40;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _tail = new();
    private readonly TaskCompletionSource<(Uri Grpc, string AdminKeyPath)> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _echoed;
    private int _suppressed;
    private int _errors;

    private ServerProcess(Process process) => _process = process;

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int SuppressedLines => Volatile.Read(ref _suppressed);
    /// <summary>Log lines at error level ("fail:", "crit:"): an unexpected failure inside the server.</summary>
    public int ErrorLines => Volatile.Read(ref _errors);

    public string Tail => string.Join(Environment.NewLine, _tail);

    /// <param name="environment">Extra settings for this server (e.g. LOYALTY_MAX_QUEUED_WRITES), on top of the ones every run sets.</param>
    public static ServerProcess Start(string connectionString, string dataDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Loyalty.Silo.dll");
        if (!File.Exists(dll))
            throw new InvalidOperationException($"The server is not built next to this program: {dll} is missing. Start it through its script (./grpc-bench.sh, ./fuzz.sh), which builds it.");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataDirectory,
        };
        start.ArgumentList.Add(dll);
        start.Environment["LOYALTY_DATA_DIR"] = dataDirectory;
        start.Environment["LOYALTY_DB"] = connectionString;
        // Port 0: the system picks free ports, so the benchmark never collides with a server already running.
        start.Environment["LOYALTY_GRPC_URL"] = "http://127.0.0.1:0";
        start.Environment["LOYALTY_SILO_PORT"] = "0";
        start.Environment["LOYALTY_HTTP_URL"] = "http://127.0.0.1:0";
        // The benchmark drives thousands of calls a second through one key; the per-key rate limit
        // (1,000/s by default) would measure itself, not the server. Callers may set it again.
        start.Environment["LOYALTY_RATE_PER_KEY"] = "0";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new ServerProcess(process);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.Exited += (_, _) => server._ready.TrySetException(new InvalidOperationException(
            $"The server exited with code {process.ExitCode} before it was ready. Its last lines:{Environment.NewLine}{server.Tail}"));
        if (!process.Start()) throw new InvalidOperationException("The server process did not start.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Waits for the "Serving gRPC on ..." line and returns the bound gRPC address and the admin key file.</summary>
    public async Task<(Uri Grpc, string AdminKeyPath)> WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        while (!_ready.Task.IsCompleted)
        {
            try
            {
                await _ready.Task.WaitAsync(TimeSpan.FromSeconds(1), timeout.Token);
            }
            catch (TimeoutException)
            {
                Console.Error.WriteLine($"waiting for the server to start ({started.Elapsed.TotalSeconds:0} s)");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The server did not report ready within {StartTimeout.TotalSeconds:0} s. Its last lines:{Environment.NewLine}{Tail}");
            }
        }
        return await _ready.Task;
    }

    /// <summary>SIGTERM, then wait for a clean exit; returns the exit code (killed after <see cref="StopTimeout"/>: -1).</summary>
    public async Task<int> StopAsync()
    {
        if (_process.HasExited) return _process.ExitCode;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        var waited = Stopwatch.StartNew();
        while (!_process.HasExited)
        {
            if (waited.Elapsed > StopTimeout)
            {
                Console.Error.WriteLine($"The server did not exit within {StopTimeout.TotalSeconds:0} s of SIGTERM; killing it.");
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
                return -1;
            }
            Console.Error.WriteLine($"waiting for the server to stop ({waited.Elapsed.TotalSeconds:0} s)");
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(1));
            }
            catch (TimeoutException)
            {
            }
        }
        // The exit event fires before the output pipes are drained; this waits for the last lines too.
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        _tail.Enqueue(line);
        while (_tail.Count > TailLines) _tail.TryDequeue(out _);
        if (line.Contains("fail:", StringComparison.Ordinal) || line.Contains("crit:", StringComparison.Ordinal)) Interlocked.Increment(ref _errors);
        if (Interlocked.Increment(ref _echoed) <= MaxEchoedLines)
            Console.Error.WriteLine($"server: {line}");
        else
            Interlocked.Increment(ref _suppressed);

        var match = ReadyLine().Match(line);
        if (match.Success && Uri.TryCreate(match.Groups[1].Value, UriKind.Absolute, out var grpc))
            _ready.TrySetResult((grpc, match.Groups[2].Value));
    }

    public void Dispose()
    {
        // Only reached with the process still running on a failure path: it must not outlive the benchmark.
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It had not started or has just exited: nothing to stop.
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Serving gRPC on (http://127\.0\.0\.1:\d+/) and HTTP on \S+ \(/healthz\)\. Admin key: (.+)\.$")]
    private static partial Regex ReadyLine();
}
