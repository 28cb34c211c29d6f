using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Loyalty.Fuzz;

/// <summary>
/// The real server, Loyalty.Silo.dll from this tool's build output, run as a separate process on free
/// loopback ports, so that what the fuzz does to it is measured on its own (memory, survival). The same
/// way as the gRPC benchmark's; its log goes to our stderr, bounded.
/// </summary>
public sealed partial class ServerProcess : IDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);
    /// <summary>Server log lines echoed; past this they are only counted (a server under fuzz may log per call).</summary>
    private const int MaxEchoedLines = 100;
    private const int TailLines = 40;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _tail = new();
    private readonly TaskCompletionSource<(Uri Grpc, string AdminKeyPath)> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _echoed;
    private int _errors;

    private ServerProcess(Process process) => _process = process;

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    /// <summary>Log lines at error level ("fail:"): an unexpected failure inside the server.</summary>
    public int ErrorLines => Volatile.Read(ref _errors);
    public string Tail => string.Join(Environment.NewLine, _tail);

    public static ServerProcess Start(string connectionString, string dataDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Loyalty.Silo.dll");
        if (!File.Exists(dll))
            throw new InvalidOperationException($"The server is not built next to the fuzz tool: {dll} is missing. Run ./fuzz.sh (dotnet run builds it).");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dataDirectory };
        start.ArgumentList.Add(dll);
        start.Environment["LOYALTY_DATA_DIR"] = dataDirectory;
        start.Environment["LOYALTY_DB"] = connectionString;
        start.Environment["LOYALTY_GRPC_URL"] = "http://127.0.0.1:0";
        start.Environment["LOYALTY_HTTP_URL"] = "http://127.0.0.1:0";
        foreach (var (name, value) in settings) start.Environment[name] = value;
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

    public async Task<(Uri Grpc, string AdminKeyPath)> WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _ready.Task.WaitAsync(StartTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The server did not report ready within {StartTimeout.TotalSeconds:0} s. Its last lines:{Environment.NewLine}{Tail}");
        }
    }

    /// <summary>SIGTERM, then wait for a clean exit; returns the exit code (killed after <see cref="StopTimeout"/>: -1).</summary>
    public async Task<int> StopAsync()
    {
        if (_process.HasExited) return _process.ExitCode;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            Console.Error.WriteLine($"The server did not exit within {StopTimeout.TotalSeconds:0} s of SIGTERM; killing it.");
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            return -1;
        }
        return _process.ExitCode;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        _tail.Enqueue(line);
        while (_tail.Count > TailLines) _tail.TryDequeue(out _);
        if (line.Contains("fail:", StringComparison.Ordinal) || line.Contains("crit:", StringComparison.Ordinal)) Interlocked.Increment(ref _errors);
        if (Interlocked.Increment(ref _echoed) <= MaxEchoedLines) Console.Error.WriteLine($"server: {line}");
        var match = ReadyLine().Match(line);
        if (match.Success && Uri.TryCreate(match.Groups[1].Value, UriKind.Absolute, out var grpc))
            _ready.TrySetResult((grpc, match.Groups[2].Value));
    }

    public void Dispose()
    {
        // Reached with the process still running only on a failure path: it must not outlive the tool.
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Not started or just exited.
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Serving gRPC on (http://127\.0\.0\.1:\d+/) and HTTP on \S+ \(/healthz\)\. Admin key: (.+)\.$")]
    private static partial Regex ReadyLine();
}
