using System.Globalization;

namespace Loyalty.Chaos;

/// <summary>What one chaos run does. Every bound is here, with the command-line flag that sets it.</summary>
public sealed record ChaosOptions
{
    /// <summary>Seconds of load with faults (--seconds). Terminals then finish what they started.</summary>
    public int Seconds { get; init; } = 180;
    /// <summary>
    /// Longest run. Holds left open by the workload release themselves after the programme's hold
    /// timeout (15 min), written by the card's next operation; the per-operation checks assume no
    /// such time-driven rows, so a run stays well inside that window.
    /// </summary>
    public const int MaxSeconds = 600;
    /// <summary>Seeds the workload and the fault schedule (--seed); the same seed gives the same plan.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Server processes on the one database (--servers).</summary>
    public int Servers { get; init; } = 3;
    /// <summary>Concurrent terminals (--terminals); every eighth call or so is a back-office adjustment.</summary>
    public int Terminals { get; init; } = 24;
    /// <summary>Cards shared by all terminals (--cards): few cards, so servers contend for the same ones.</summary>
    public int Cards { get; init; } = 24;
    /// <summary>Stores the terminals belong to, each with its own POS key (--stores).</summary>
    public int Stores { get; init; } = 4;
    /// <summary>Seconds between faults (--fault-every); 0 runs without server or database faults.</summary>
    public int FaultEverySeconds { get; init; } = 15;
    /// <summary>
    /// How long a terminal retries one operation before moving on (--retry-seconds); what is still
    /// unknown then is resolved after the run by retrying with the same id. Short budgets exercise that.
    /// </summary>
    public int RetrySeconds { get; init; } = 25;
    /// <summary>Share of operations on one hot card (--hot-share), which every server then fights over.</summary>
    public double HotCardShare { get; init; } = 0.1;
    /// <summary>Share of calls a terminal walks away from mid-flight and then retries (--abandon-rate).</summary>
    public double AbandonRate { get; init; } = 0.03;
    /// <summary>Opening balance of every card, in kopecks.</summary>
    public long OpeningBalanceKopecks { get; init; } = 100_000;
    /// <summary>
    /// Settings for every server (--server-setting NAME=VALUE, repeatable), e.g. a small
    /// LOYALTY_MAILBOX_CAPACITY or LOYALTY_RATE_PER_KEY, so overload refusals happen mid-chaos too.
    /// </summary>
    public IReadOnlyDictionary<string, string> ServerSettings { get; init; } = new Dictionary<string, string>();
    public string? CsvPath { get; init; }
    public string? HtmlPath { get; init; }
    /// <summary>Keeps the run directory (server logs, PostgreSQL log) after a clean run too (--keep).</summary>
    public bool Keep { get; init; }

    public const string Usage = """
        Usage: ./chaos.sh [--seconds N] [--seed N] [--servers N] [--terminals N] [--cards N] [--stores N]
                          [--fault-every SECONDS] [--retry-seconds N] [--abandon-rate 0..1] [--hot-share 0..1]
                          [--server-setting LOYALTY_NAME=VALUE ...] [--csv FILE] [--html FILE] [--keep]
        Starts a private PostgreSQL and N servers on 127.0.0.1, runs a POS workload through all of them
        while killing servers (SIGKILL), restarting, crashing and freezing PostgreSQL and restarting a
        server while it is down, then checks the ledger against every answer the terminals got. Exit code 0: every invariant held; 1: a violation;
        2: bad arguments or the harness could not run.
        """;

    public static ChaosOptions Parse(string[] args)
    {
        var options = new ChaosOptions();
        if (args is ["--help" or "-h"]) throw new HelpRequestedException();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int(int min, int max)
            {
                var name = args[i];
                var text = Next();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
                    ? v : throw new ArgumentException($"{name} must be a whole number from {min} to {max}; \"{text}\" was given.");
            }
            options = args[i] switch
            {
                "--seconds" => options with { Seconds = Int(1, MaxSeconds) },
                "--seed" => options with { Seed = Int(0, int.MaxValue) },
                "--servers" => options with { Servers = Int(1, 8) },
                "--terminals" => options with { Terminals = Int(1, 512) },
                "--cards" => options with { Cards = Int(1, 100_000) },
                "--stores" => options with { Stores = Int(1, 100) },
                "--fault-every" => options with { FaultEverySeconds = Int(0, 3_600) },
                "--abandon-rate" => options with { AbandonRate = Rate(args[i], Next()) },
                "--hot-share" => options with { HotCardShare = Rate(args[i], Next()) },
                "--retry-seconds" => options with { RetrySeconds = Int(1, 600) },
                "--server-setting" => options with { ServerSettings = WithSetting(options.ServerSettings, args[i], Next()) },
                "--csv" => options with { CsvPath = Next() },
                "--html" => options with { HtmlPath = Next() },
                "--keep" => options with { Keep = true },
                _ => throw new ArgumentException($"Unknown argument \"{args[i]}\"."),
            };
        }
        return options;
    }

    private static Dictionary<string, string> WithSetting(IReadOnlyDictionary<string, string> settings, string name, string text)
    {
        var at = text.IndexOf('=');
        if (at <= 0 || !text.StartsWith("LOYALTY_", StringComparison.Ordinal) || text[..at] is "LOYALTY_DB" or "LOYALTY_DATA_DIR" or "LOYALTY_GRPC_URL" or "LOYALTY_HTTP_URL" or "LOYALTY_SILO_PORT")
            throw new ArgumentException($"{name} takes LOYALTY_NAME=VALUE, a server setting other than the database, data directory and addresses the harness sets; \"{text}\" was given.");
        return new Dictionary<string, string>(settings) { [text[..at]] = text[(at + 1)..] };
    }

    private static double Rate(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is >= 0 and <= 1
            ? v : throw new ArgumentException($"{name} must be a number from 0 to 1; \"{text}\" was given.");
}

/// <summary>--help was given: print the usage and exit 0.</summary>
public sealed class HelpRequestedException() : ArgumentException("Help requested.");
