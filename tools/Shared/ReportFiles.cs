using System.Net;
using System.Text;

namespace Loyalty.Tools;

/// <summary>
/// A run's table for people who read it later: CSV for spreadsheets and a plain web page. Linked into
/// the chaos harness, the fuzz tool and the gRPC benchmark's overload mode, which share no library.
/// </summary>
internal static class ReportFiles
{
    /// <summary>One row; <paramref name="Bad"/> shows it in red on the web page (a violation, a failed scenario).</summary>
    public sealed record Row(IReadOnlyList<string> Cells, bool Bad = false);

    public static Task WriteCsvAsync(string path, IReadOnlyList<string> header, IEnumerable<Row> rows) =>
        File.WriteAllLinesAsync(path, [Line(header), .. rows.Select(r => Line(r.Cells))]);

    /// <param name="lead">Sentences shown above the table.</param>
    /// <param name="notes">Sentences shown below it.</param>
    public static Task WriteHtmlAsync(string path, string title, IEnumerable<string> lead, IReadOnlyList<string> header, IEnumerable<Row> rows, IEnumerable<string> notes)
    {
        var html = new StringBuilder("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>").Append(E(title)).Append("</title>")
            .Append("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.bad{color:#b00;font-weight:bold}</style>")
            .Append("<h1>").Append(E(title)).Append("</h1>");
        foreach (var sentence in lead) html.Append("<p>").Append(E(sentence)).Append("</p>");
        html.Append("<table><tr>");
        foreach (var column in header) html.Append("<th>").Append(E(column)).Append("</th>");
        html.Append("</tr>");
        foreach (var row in rows)
        {
            html.Append(row.Bad ? "<tr class=bad>" : "<tr>");
            foreach (var cell in row.Cells) html.Append("<td>").Append(E(cell)).Append("</td>");
            html.Append("</tr>");
        }
        html.Append("</table>");
        foreach (var sentence in notes) html.Append("<p>").Append(E(sentence)).Append("</p>");
        return File.WriteAllTextAsync(path, html.Append("</html>").ToString());
    }

    private static string Line(IEnumerable<string> cells) => string.Join(',', cells.Select(Cell));

    private static string Cell(string s) =>
        s.Contains(',') || s.Contains('"') || s.Contains('\n') ? $"\"{s.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : s;

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
