using static Loyalty.Benchmarks.OptionParsing;
using System.Globalization;

namespace Loyalty.Benchmarks;

/// <summary>The two ways of making writes durable that the benchmark compares.</summary>
public enum CommitMode
{
    GroupCommit,
    OnePerCommit,
}

/// <summary>Command-line settings. Parsed by hand: a handful of flags do not justify a dependency.</summary>
public sealed record BenchOptions
{
    public const string Usage =
        """
        Usage: bench.sh [options]

        Runs N concurrent callers of commit-with-redeem (a hold of bonuses on a receipt, then the commit
        of that receipt with the hold: two durable writes) against PostgreSQL, once with group commit and
        once with one commit per operation, and prints throughput and latency for both.

        Options:
          --callers LIST   concurrent callers, one or more comma-separated counts (default 64), e.g. 16,64,256
          --seconds N      measured seconds per mode and caller count (default 10)
          --warmup N       seconds run before measuring, not counted (default 2)
          --cards N        cards per run; caller i uses cards i, i+callers, ... (default 4096)
          --modes LIST     group, one or both (default group,one)
          --csv PATH       also write the result rows as CSV to PATH
          --html PATH      also write the result as a web page to PATH
          --pgbench        also run pgbench on the same server at each caller count (one update + one insert
                           per transaction) as the reference point
          --db-timing      also print how long each kind of database round trip took (diagnostics)
          -h, --help       show this text

        Database: the connection string in the environment variable LOYALTY_DB if set (cards, receipts and
        operation ids of every run are unique, so an existing database is only added to); otherwise a
        temporary PostgreSQL cluster is started under the temp directory and deleted at the end.
        Exit code: 0 on success, 1 if the ledger invariants are violated afterwards, 2 on bad arguments or failure.
        """;

    public IReadOnlyList<int> Callers { get; init; } = [64];
    public double Seconds { get; init; } = 10;
    public double WarmupSeconds { get; init; } = 2;
    public int Cards { get; init; } = 4096;
    public IReadOnlyList<CommitMode> Modes { get; init; } = [CommitMode.GroupCommit, CommitMode.OnePerCommit];
    public string? CsvPath { get; init; }
    public string? HtmlPath { get; init; }
    public bool Pgbench { get; init; }
    public bool DbTiming { get; init; }
    public bool Help { get; init; }

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a sentence naming the bad flag.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
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
                "--callers" => options with { Callers = ParseList(name, Value(), s => ParseInt(name, s, 1, 100_000)) },
                "--seconds" => options with { Seconds = ParseDouble(name, Value(), 0.1, 24 * 3600) },
                "--warmup" => options with { WarmupSeconds = ParseDouble(name, Value(), 0, 3600) },
                "--cards" => options with { Cards = ParseInt(name, Value(), 1, 100_000) },
                "--modes" => options with { Modes = ParseList(name, Value(), ParseMode) },
                "--csv" => options with { CsvPath = Value() },
                "--html" => options with { HtmlPath = Value() },
                "--pgbench" => options with { Pgbench = true },
                "--db-timing" => options with { DbTiming = true },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }
        return options;
    }


    private static CommitMode ParseMode(string value) => value.ToLowerInvariant() switch
    {
        "group" or "group-commit" => CommitMode.GroupCommit,
        "one" or "one-per-commit" => CommitMode.OnePerCommit,
        _ => throw new ArgumentException($"--modes takes group and/or one; '{value}' was given."),
    };
}
