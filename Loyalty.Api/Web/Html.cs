using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace Loyalty.Api.Web;

/// <summary>
/// Building pages as text: every value goes through <see cref="E"/> (HTML-encoded, Cyrillic kept as
/// it is), the layout (<see cref="Page"/>) is one place, and amounts are formatted one way.
/// </summary>
public static class Html
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    /// <summary>Encodes text for an element's content or a quoted attribute value.</summary>
    public static string E(string? text) => string.IsNullOrEmpty(text) ? "" : Encoder.Encode(text);

    /// <summary>Encodes a query-string value.</summary>
    public static string U(string? text) => Uri.EscapeDataString(text ?? "");

    /// <summary>Kopecks as roubles with two decimals in the page's language (1 234,56 / 1,234.56).</summary>
    public static string Money(long kopecks, Lang lang) => (kopecks / 100m).ToString("N2", WebText.Numbers(lang));

    /// <summary>Kopecks as roubles for CSV and XLSX: no grouping, the language's decimal separator (Excel in Russian reads "1234,56" as a number).</summary>
    public static string MoneyPlain(long kopecks, Lang lang) => (kopecks / 100m).ToString("0.00", WebText.Numbers(lang));

    public static string Time(DateTimeOffset at) => TimeZoneInfo.ConvertTime(at, Grains.Runtime.AccountantBooks.BookZone).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A table: header cells and rows of already-encoded cells; numeric columns (by index) right-aligned.</summary>
    public static string Table(IEnumerable<string> headers, IEnumerable<IReadOnlyList<string>> rows, ISet<int>? numeric = null, string? id = null)
    {
        var sb = new StringBuilder();
        sb.Append("<table").Append(id is null ? "" : $" id=\"{E(id)}\"").Append("><thead><tr>");
        foreach (var h in headers) sb.Append("<th>").Append(E(h)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        var any = false;
        foreach (var row in rows)
        {
            any = true;
            sb.Append("<tr>");
            for (var i = 0; i < row.Count; i++)
                sb.Append(numeric?.Contains(i) == true ? "<td class=\"n\">" : "<td>").Append(row[i]).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        return any ? sb.ToString() : sb + "<p class=\"empty\"></p>";
    }

    /// <summary>A hidden CSRF field for a form.</summary>
    public static string Csrf(string token) => $"<input type=\"hidden\" name=\"csrf\" value=\"{E(token)}\">";

    /// <summary>
    /// The whole page: title, navigation for a signed-in user (with sign-out as a POST form carrying
    /// the CSRF token), the language switch (links to the same page with <c>lang=</c>), and the body.
    /// </summary>
    public static string Page(Lang lang, string title, string body, string path, string? query, WebSession? session)
    {
        var sb = new StringBuilder(4096 + body.Length);
        sb.Append("<!DOCTYPE html><html lang=\"").Append(lang == Lang.Ru ? "ru" : "en").Append("\"><head><meta charset=\"utf-8\">")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>").Append(E(title)).Append(" — ")
          .Append(E(WebText.T(lang, "title"))).Append("</title><style>").Append(Style).Append("</style></head><body><header>")
          .Append("<strong>").Append(E(WebText.T(lang, "title"))).Append("</strong>");
        if (session is not null)
        {
            sb.Append("<nav>");
            foreach (var (href, key) in new[] { ("/shifts", "nav.shifts"), ("/debts", "nav.debts"), ("/liability", "nav.liability"), ("/card", "nav.card") })
                sb.Append("<a href=\"").Append(href).Append("\">").Append(E(WebText.T(lang, key))).Append("</a>");
            sb.Append("</nav><span class=\"who\">").Append(E(WebText.T(lang, "signed.as"))).Append(' ').Append(E(session.Caller.Name))
              .Append(" (").Append(E(Auth.ApiKeyStore.RoleName(session.Caller.Role))).Append(")</span>")
              .Append("<form method=\"post\" action=\"/signout\" class=\"inline\">").Append(Csrf(session.CsrfToken))
              .Append("<button type=\"submit\" id=\"signout\">").Append(E(WebText.T(lang, "signout"))).Append("</button></form>");
        }
        var rest = string.Join("&", (query ?? "").TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("lang=", StringComparison.Ordinal)));
        var prefix = E(path) + "?" + (rest.Length > 0 ? E(rest) + "&amp;" : "");
        sb.Append("<span class=\"lang\"><a href=\"").Append(prefix).Append("lang=ru\" id=\"lang-ru\">RU</a> | <a href=\"").Append(prefix).Append("lang=en\" id=\"lang-en\">EN</a></span>")
          .Append("</header><main><h1>").Append(E(title)).Append("</h1>").Append(body).Append("</main></body></html>");
        return sb.ToString();
    }

    private const string Style =
        "body{font-family:sans-serif;margin:0;color:#222}header{background:#234;color:#fff;padding:.5em 1em;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}" +
        "header a{color:#fff}nav a{margin-right:1em}.who{margin-left:auto}.inline{display:inline}main{padding:1em}" +
        "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}th{background:#eee}td.n{text-align:right;white-space:nowrap}" +
        ".ok{color:#060;font-weight:bold}.bad{color:#a00;font-weight:bold}.error{background:#fee;border:1px solid #a00;padding:.5em}.notice{background:#efe;border:1px solid #060;padding:.5em}" +
        "form.filters label{margin-right:1em}.resolve form{margin:.2em 0}.resolve input[type=text]{width:12em}svg{background:#fafafa;border:1px solid #ccc}";
}
