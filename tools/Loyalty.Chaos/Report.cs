using System.Globalization;
using Loyalty.Tools;

namespace Loyalty.Chaos;

/// <summary>The run's report as a table for the terminal, CSV for spreadsheets and a web page.</summary>
public static class Report
{
    private sealed record Row(string Section, string Item, string Value, string Detail = "");

    public static void WriteTable(ChaosReport report, TextWriter output)
    {
        var o = report.Options;
        output.WriteLine($"Loyalty chaos run: seed {o.Seed}, {report.LoadDuration.TotalSeconds:0} s of load, {o.Servers} servers on one PostgreSQL, {o.Terminals} terminals, {o.Cards} cards"
            + (o.ServerSettings.Count == 0 ? "" : $"; servers with {string.Join(", ", o.ServerSettings.Select(s => $"{s.Key}={s.Value}"))}"));
        output.WriteLine();
        output.WriteLine("| operation | attempted | acknowledged | refused | unknown, resolved after the run | still unknown |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var g in report.Operations.GroupBy(op => op.Kind).OrderBy(g => g.Key))
            output.WriteLine($"| {g.Key} | {g.Count():N0} | {g.Count(x => x.Outcome == Outcome.Acknowledged):N0} | {g.Count(x => x.Outcome == Outcome.Refused):N0} | {g.Count(x => x.ResolvedAfterRun):N0} | {g.Count(x => x.Outcome is Outcome.Unknown or Outcome.InFlight):N0} |");
        output.WriteLine($"| all | {report.Operations.Count:N0} | {report.Operations.Count(x => x.Outcome == Outcome.Acknowledged):N0} | {report.Operations.Count(x => x.Outcome == Outcome.Refused):N0} | {report.Operations.Count(x => x.ResolvedAfterRun):N0} | {report.Operations.Count(x => x.Outcome is Outcome.Unknown or Outcome.InFlight):N0} |");
        output.WriteLine();
        foreach (var row in Rows(report).Where(r => r.Section != "invariant"))
            output.WriteLine($"{row.Section,-10} {row.Item,-64} {row.Value,12}  {row.Detail}");
        output.WriteLine();
        output.WriteLine("| invariant | checked | result |");
        output.WriteLine("|---|---:|---|");
        foreach (var i in report.Invariants)
            output.WriteLine($"| {i.Name} | {i.Checked:N0} | {(i.Holds ? "holds" : $"VIOLATED ×{i.Violations.Count:N0}")} |");
        foreach (var i in report.Invariants.Where(i => !i.Holds))
        {
            output.WriteLine();
            output.WriteLine($"VIOLATED: {i.Name}");
            foreach (var v in i.Violations.Take(InvariantResult.MaxExamples)) output.WriteLine($"  - {v}");
        }
        if (report.ServerExitCodes.Any(c => c != 0))
            output.WriteLine($"A server did not stop cleanly on SIGTERM (exit codes {string.Join(", ", report.ServerExitCodes)}); see the logs in {report.RunDirectory}.");
        output.WriteLine();
        output.WriteLine(report.AllHold ? "All invariants hold." : $"Invariants VIOLATED. Logs and the database are kept in {report.RunDirectory}.");
    }

    private static readonly string[] Columns = ["section", "item", "value", "detail"];

    public static Task WriteCsvAsync(ChaosReport report, string path) => ReportFiles.WriteCsvAsync(path, Columns, FileRows(report));

    public static Task WriteHtmlAsync(ChaosReport report, string path) =>
        ReportFiles.WriteHtmlAsync(path, $"Loyalty chaos run, seed {report.Options.Seed}",
            [report.AllHold ? "All invariants hold." : "Invariants violated."], Columns, FileRows(report), []);

    private static IEnumerable<ReportFiles.Row> FileRows(ChaosReport report) =>
        Rows(report).Select(r => new ReportFiles.Row([r.Section, r.Item, r.Value, r.Detail], Bad: r.Value == "VIOLATED"));

    private static IEnumerable<Row> Rows(ChaosReport report)
    {
        var ops = report.Operations;
        foreach (var g in ops.GroupBy(op => op.Kind).OrderBy(g => g.Key))
        {
            yield return new Row("operations", $"{g.Key} attempted", N(g.Count()));
            yield return new Row("operations", $"{g.Key} acknowledged", N(g.Count(x => x.Outcome == Outcome.Acknowledged)));
            foreach (var refusal in g.Where(x => x.Outcome == Outcome.Refused).GroupBy(x => x.RefusedWith!.Value.ToWireName()).OrderBy(x => x.Key))
                yield return new Row("operations", $"{g.Key} refused with {refusal.Key}", N(refusal.Count()), refusal.First().RefusalMessage ?? "");
        }
        yield return new Row("attempts", "calls sent (first attempts and retries)", N(report.History.Attempts));
        yield return new Row("attempts", "retries with the same operation id", N(report.History.Retries));
        foreach (var (status, count) in report.History.AttemptsByStatus.OrderBy(s => s.Key))
            yield return new Row("attempts", $"answered {status}", N(count));
        foreach (var kind in Enum.GetValues<FaultKind>())
        {
            var of = report.Faults.Where(f => f.Kind == kind).ToList();
            var what = kind switch
            {
                FaultKind.KillServer => "server killed with SIGKILL, then restarted",
                FaultKind.PostgresFastRestart => "PostgreSQL stopped fast, then restarted",
                FaultKind.ServerRestartDuringDatabaseOutage => "server killed and restarted while PostgreSQL was down",
                FaultKind.PostgresFreeze => "PostgreSQL frozen (SIGSTOP) past the call deadline, then resumed",
                _ => "PostgreSQL crashed (stop -m immediate), then restarted",
            };
            yield return new Row("faults", what, N(of.Count),
                of.Count == 0 ? "" : $"at {string.Join(", ", of.Select(f => $"{f.AtSeconds:0}s"))}; back after {of.Average(f => f.RecoveredAfterSeconds):0.0} s on average");
        }
        foreach (var kill in report.Faults.Where(f => f.Kind == FaultKind.KillServer))
            yield return new Row("failover", $"{kill.Target} killed at {kill.AtSeconds:0} s: every card served again by the others after (s)",
                kill.CardsServedAfterSeconds is { } after ? after.ToString("0.00", CultureInfo.InvariantCulture) : "NOT within 30 s");
        yield return new Row("faults", "calls abandoned mid-flight by a terminal, then retried", N(report.History.AbandonedCalls));
        for (var i = 0; i < report.ServerPeakMemoryKb.Count; i++)
            yield return new Row("memory", $"server-{i + 1}: peak resident memory since its last start (MiB)", N(report.ServerPeakMemoryKb[i] / 1024));
        yield return new Row("totals", "sum of all card balances (kopecks)", N(report.Totals.CardsBalance));
        foreach (var (kind, sum) in report.Totals.LedgerByKind)
            yield return new Row("totals", $"ledger movements of kind {kind}", N(sum));
        yield return new Row("totals", "sum of the effects the terminals were told", N(report.Totals.TerminalsWereTold));
        foreach (var i in report.Invariants)
            yield return new Row("invariant", i.Name, i.Holds ? "holds" : "VIOLATED", i.Holds ? $"{i.Checked:N0} checked" : string.Join(" | ", i.Violations.Take(InvariantResult.MaxExamples)));
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
