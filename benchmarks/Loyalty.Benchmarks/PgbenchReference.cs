using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Loyalty.Benchmarks;

/// <summary>
/// The reference point measured in the same run: pgbench on the same PostgreSQL, each transaction
/// one row update and one insert (what one "earn" costs the database), at the same client count.
/// Absolute figures on a shared machine are noise; the ratio to this is what carries over.
/// </summary>
public static partial class PgbenchReference
{
    private const string Script = """
        \set card random(1, 4096)
        BEGIN;
        UPDATE reference_cards SET balance = balance + 1 WHERE id = :card;
        INSERT INTO reference_ledger (card_id, amount) VALUES (:card, 1);
        END;
        """;

    /// <summary>pgbench from the cluster's own binaries, else the newest Debian PostgreSQL's.</summary>
    public static string? FindPgbench(string? binDirectory)
    {
        if (binDirectory is not null && File.Exists(Path.Combine(binDirectory, "pgbench"))) return Path.Combine(binDirectory, "pgbench");
        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "pgbench")).Where(File.Exists).Order().LastOrDefault()
            : null;
    }

    /// <summary>Runs pgbench for <paramref name="seconds"/> and returns its transactions per second.</summary>
    public static async Task<double> RunAsync(string pgbench, string connectionString, int clients, double seconds, CancellationToken cancellationToken)
    {
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        await using (var setup = dataSource.CreateCommand(
            """
            DROP TABLE IF EXISTS reference_ledger, reference_cards;
            CREATE TABLE reference_cards (id int PRIMARY KEY, balance bigint NOT NULL);
            CREATE TABLE reference_ledger (id bigserial PRIMARY KEY, card_id int NOT NULL, amount bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
            INSERT INTO reference_cards SELECT g, 0 FROM generate_series(1, 4096) g;
            """))
            await setup.ExecuteNonQueryAsync(cancellationToken);

        var script = Path.Combine(Path.GetTempPath(), $"loyalty-pgbench-{Environment.ProcessId}.sql");
        await File.WriteAllTextAsync(script, Script, cancellationToken);
        try
        {
            var target = new NpgsqlConnectionStringBuilder(connectionString);
            var start = new ProcessStartInfo(pgbench) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[]
                     {
                         "-n", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2",
                         "-T", Math.Max(1, (int)Math.Round(seconds)).ToString(CultureInfo.InvariantCulture), "-f", script,
                         "-h", target.Host ?? "127.0.0.1", "-p", target.Port.ToString(CultureInfo.InvariantCulture),
                         "-U", target.Username ?? "postgres", target.Database ?? "postgres",
                     })
                start.ArgumentList.Add(argument);
            // The password goes through the environment, never the command line.
            if (!string.IsNullOrEmpty(target.Password)) start.Environment["PGPASSWORD"] = target.Password;
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"{pgbench} did not start.");
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            var text = await output;
            var match = TpsLine().Match(text);
            if (process.ExitCode != 0 || !match.Success)
                throw new InvalidOperationException($"pgbench failed (exit {process.ExitCode}): {await errors}{text}");
            return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();
}
