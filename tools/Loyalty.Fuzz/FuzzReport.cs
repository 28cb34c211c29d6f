using System.Globalization;
using Loyalty.Tools;

namespace Loyalty.Fuzz;

/// <summary>The run's table: one row per scenario, for people (aligned text, a web page) and for tools (CSV).</summary>
public static class FuzzReport
{
    private static readonly string[] Columns = ["scenario", "sent", "answers", "alive", "rss before MiB", "rss peak MiB", "rss after MiB", "unexpected", "seconds"];

    private static string[] Row(ScenarioResult r) =>
    [
        r.Name,
        r.Sent.ToString("N0", CultureInfo.InvariantCulture),
        r.OutcomeSummary,
        r.ServerAlive ? "yes" : "NO",
        Mib(r.RssBeforeKb),
        Mib(r.RssPeakKb),
        Mib(r.RssAfterKb),
        r.UnexpectedCount.ToString(CultureInfo.InvariantCulture),
        r.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture),
    ];

    private static string Mib(long kb) => (kb / 1024.0).ToString("0", CultureInfo.InvariantCulture);

    /// <summary>The answers column is long, so it goes last on its own lines, indented under its row.</summary>
    public static void WriteTable(TextWriter output, IReadOnlyList<ScenarioResult> results)
    {
        var rows = results.Select(Row).ToList();
        var narrow = Enumerable.Range(0, Columns.Length).Where(c => c != 2).ToArray();
        var widths = narrow.Select(c => Math.Max(Columns[c].Length, rows.Count == 0 ? 0 : rows.Max(r => r[c].Length))).ToArray();
        output.WriteLine(string.Join("  ", narrow.Select((c, i) => Columns[c].PadLeft(widths[i]))));
        foreach (var row in rows)
        {
            output.WriteLine(string.Join("  ", narrow.Select((c, i) => row[c].PadLeft(widths[i]))));
            foreach (var answer in row[2].Split(", "))
                output.WriteLine($"      {answer}");
        }
    }

    public static Task WriteCsvAsync(string path, IReadOnlyList<ScenarioResult> results) => ReportFiles.WriteCsvAsync(path, Columns, FileRows(results));

    public static Task WriteHtmlAsync(string path, IReadOnlyList<ScenarioResult> results) =>
        ReportFiles.WriteHtmlAsync(path, "Loyalty fuzz run", [], Columns, FileRows(results), []);

    private static IEnumerable<ReportFiles.Row> FileRows(IReadOnlyList<ScenarioResult> results) =>
        results.Select(r => new ReportFiles.Row(Row(r), Bad: !r.ServerAlive || r.UnexpectedCount > 0));
}
