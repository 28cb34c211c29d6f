using System.Text;

namespace Loyalty.Api.Web;

/// <summary>
/// CSV as Excel in Russian opens it: UTF-8 with a byte order mark, fields separated by ';', CRLF line
/// ends, a field quoted when it holds ';', a quote or a line break (RFC 4180 quoting). A field that
/// would start with = + - @ (a formula when opened) is prefixed with an apostrophe, unless it is a number.
/// </summary>
public static class Csv
{
    public static byte[] Write(IEnumerable<string> headers, IEnumerable<IEnumerable<string>> rows)
    {
        var sb = new StringBuilder();
        Line(sb, headers);
        foreach (var row in rows) Line(sb, row);
        var preamble = Encoding.UTF8.GetPreamble();
        var body = Encoding.UTF8.GetBytes(sb.ToString());
        return [.. preamble, .. body];
    }

    private static void Line(StringBuilder sb, IEnumerable<string> fields)
    {
        var first = true;
        foreach (var raw in fields)
        {
            if (!first) sb.Append(';');
            first = false;
            var field = raw ?? "";
            if (field.Length > 0 && "=+-@\t\r".Contains(field[0]) && !decimal.TryParse(field.Replace(',', '.'), System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out _))
                field = "'" + field;
            if (field.IndexOfAny([';', '"', '\r', '\n']) >= 0)
                sb.Append('"').Append(field.Replace("\"", "\"\"")).Append('"');
            else
                sb.Append(field);
        }
        sb.Append("\r\n");
    }
}
