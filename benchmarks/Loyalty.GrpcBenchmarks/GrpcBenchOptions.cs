using static Loyalty.Benchmarks.OptionParsing;
using System.Globalization;

namespace Loyalty.GrpcBenchmarks;

/// <summary>Command-line settings. Parsed by hand, like bench.sh's: a handful of flags do not justify a dependency.</summary>
public sealed record GrpcBenchOptions
{
    /// <summary>The server's default LOYALTY_MAX_STREAMS_PER_CONNECTION: more calls than this on one connection would queue in the client.</summary>
    public const int ServerStreamsPerConnection = 256;
    public const int MaxCalls = 8_192;
    public const int MaxConnections = 256;
    public const int MaxCards = 100_000;
    public const double MaxSeconds = 3_600;
    public const double MaxWarmupSeconds = 600;

    public const string Usage =
        """
        Usage: grpc-bench.sh [options]

        Starts the real server (Loyalty.Silo) as a separate process on loopback ports, then drives it over
        gRPC/HTTP/2: for each count of concurrent calls, that many loops each doing Redeem (1.00 on a one-line
        receipt of 100.00) then Commit of that receipt with the hold — two durable writes per receipt.
        Prints receipts/s, gRPC calls/s, p50/p99 receipt latency (Redeem sent → Commit answered), errors by
        gRPC status and the CPU used by this client, the server and PostgreSQL; then pgbench at 64 clients on
        the same PostgreSQL (one row update + one insert per transaction) as the reference point.

        Options:
          --calls LIST        concurrent calls in flight, comma-separated (default 64,256)
          --seconds N         measured seconds per call count, and pgbench's duration (default 10)
          --warmup N          seconds run before each measured window, not counted (default 2)
          --server-warmup N   seconds of load at the first --calls value before anything is measured, so the fresh
                              server's code is optimised (tiered JIT) for every row alike; 0 skips it (default 8)
          --connections N     HTTP/2 connections the calls are spread over (default 8)
          --servers N         server processes in one cluster on the one database (default 1); connections
                              alternate between them, so about half the calls hop to the server holding the card
          --cards N           cards issued and funded; caller i uses cards i, i+calls, ... (default 4096)
          --csv PATH          also write the result rows as CSV to PATH
          --html PATH         also write the result as a web page to PATH
          --no-pgbench        skip the pgbench reference run (no ratio is printed then)
          --overload          instead of the throughput run: bounded overload scenarios (about a minute in all, each
                              stops by itself) — (a) 2,000 calls at once on one card, default mailbox; (b) 1,000 writers
                              at once on their own cards against a server with LOYALTY_MAX_QUEUED_WRITES=64; (c) 64
                              callers while the benchmark's PostgreSQL is stopped for 3 s and started again (skipped with
                              LOYALTY_DB). Prints calls, OK, RESOURCE_EXHAUSTED, UNAVAILABLE, other and the latencies of
                              answers and refusals; other options are ignored
          -h, --help          show this text

        Database: the connection string in LOYALTY_DB if set (its role must be allowed to CREATE DATABASE;
        the benchmark creates two fresh databases there and drops them at the end); otherwise a temporary
        PostgreSQL cluster is started under the temp directory and deleted at the end.
        Exit code: 0 on success, 1 if the ledger invariants are violated afterwards, 2 on bad arguments or failure.
        """;

    public IReadOnlyList<int> Calls { get; init; } = [64, 256];
    public double Seconds { get; init; } = 10;
    public double WarmupSeconds { get; init; } = 2;
    public double ServerWarmupSeconds { get; init; } = 8;
    public int Connections { get; init; } = 8;
    public int Cards { get; init; } = 4096;
    public string? CsvPath { get; init; }
    public string? HtmlPath { get; init; }
    public bool Pgbench { get; init; } = true;
    public bool Help { get; init; }
    public bool Overload { get; init; }
    /// <summary>Server processes on the one database, one Orleans cluster; connections alternate between them, so about half the calls reach a card held by the other server (the hop).</summary>
    public int Servers { get; init; } = 1;

    /// <summary>Parses and cross-checks the arguments; throws <see cref="ArgumentException"/> with a sentence naming the bad flag.</summary>
    public static GrpcBenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new GrpcBenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var (name, inlineValue) = Split(args[i]);
            string Value()
            {
                if (inlineValue is not null) return inlineValue;
                if (i + 1 >= args.Count) throw new ArgumentException($"{name} needs a value.");
                return args[++i];
            }

            options = name switch
            {
                "-h" or "--help" => options with { Help = true },
                "--calls" => options with { Calls = ParseList(name, Value(), s => ParseInt(name, s, 1, MaxCalls)) },
                "--seconds" => options with { Seconds = ParseDouble(name, Value(), 1, MaxSeconds) },
                "--warmup" => options with { WarmupSeconds = ParseDouble(name, Value(), 0, MaxWarmupSeconds) },
                "--server-warmup" => options with { ServerWarmupSeconds = ParseDouble(name, Value(), 0, MaxWarmupSeconds) },
                "--connections" => options with { Connections = ParseInt(name, Value(), 1, MaxConnections) },
                "--cards" => options with { Cards = ParseInt(name, Value(), 1, MaxCards) },
                "--csv" => options with { CsvPath = Value() },
                "--html" => options with { HtmlPath = Value() },
                "--no-pgbench" => options with { Pgbench = false },
                "--overload" => options with { Overload = true },
                "--servers" => options with { Servers = ParseInt(name, Value(), 1, 4) },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }
        if (options.Help || options.Overload) return options;

        var most = options.Calls.Max();
        if (options.Cards < most)
            throw new ArgumentException($"--cards ({options.Cards}) must be at least the largest --calls value ({most}), so no two callers share a card.");
        var perConnection = (most + options.Connections - 1) / options.Connections;
        if (perConnection > ServerStreamsPerConnection)
            throw new ArgumentException(
                $"{most} calls over {options.Connections} connections is {perConnection} streams per connection, more than the server's " +
                $"{ServerStreamsPerConnection}; give at least {(most + ServerStreamsPerConnection - 1) / ServerStreamsPerConnection} --connections.");
        return options;
    }

}
