using System.Globalization;
using System.Text;

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

    public static void WriteCsv(string path, IReadOnlyList<ScenarioResult> results)
    {
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(",", Columns));
        foreach (var result in results)
            csv.AppendLine(string.Join(",", Row(result).Select(Quote)));
        File.WriteAllText(path, csv.ToString());
    }

    public static void WriteHtml(string path, IReadOnlyList<ScenarioResult> results)
    {
        static string E(string s) => System.Net.WebUtility.HtmlEncode(s);
        var html = new StringBuilder("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Loyalty fuzz run</title>")
            .Append("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}.bad{color:#b00;font-weight:bold}</style>")
            .Append("<h1>Loyalty fuzz run</h1><table><tr>");
        foreach (var column in Columns) html.Append("<th>").Append(E(column)).Append("</th>");
        html.Append("</tr>");
        foreach (var result in results)
        {
            var bad = !result.ServerAlive || result.UnexpectedCount > 0;
            html.Append(bad ? "<tr class=bad>" : "<tr>");
            foreach (var cell in Row(result)) html.Append("<td>").Append(E(cell).Replace(", ", "<br>", StringComparison.Ordinal)).Append("</td>");
            html.Append("</tr>");
        }
        File.WriteAllText(path, html.Append("</table></html>").ToString());
    }

    private static string Quote(string field) =>
        field.Contains(',') || field.Contains('"') ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
}
