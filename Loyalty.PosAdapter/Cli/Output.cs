using System.Globalization;
using System.Text;
using Google.Protobuf;

namespace Loyalty.PosAdapter.Cli;

/// <summary>
/// Replies as aligned key-value lists and tables for people, or as protobuf JSON for scripts
/// (--json: the reply message exactly, default values included, int64 as strings per the proto3 JSON mapping).
/// </summary>
public sealed class Output(TextWriter writer, bool json)
{
    private static readonly JsonFormatter JsonFormatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation("  "));

    /// <summary>A cell longer than this is cut with "…", so one long reason cannot push a table off the screen.</summary>
    public const int MaxCellCharacters = 60;

    public bool Json => json;

    public TextWriter Writer => writer;

    /// <summary>The reply as JSON, or the human form written by <paramref name="writeHuman"/>.</summary>
    public void Reply(IMessage reply, Action writeHuman)
    {
        if (json)
        {
            writer.WriteLine(JsonFormatter.Format(reply));
            return;
        }
        writeHuman();
    }

    public void KeyValues(params IEnumerable<(string Key, string Value)> rows)
    {
        var list = rows.ToList();
        var width = list.Count == 0 ? 0 : list.Max(row => row.Key.Length);
        foreach (var (key, value) in list)
        {
            writer.WriteLine($"{key.PadRight(width)}  {value}");
        }
    }

    /// <summary>Columns whose header is in <paramref name="rightAligned"/> (numbers) are aligned right.</summary>
    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, params string[] rightAligned)
    {
        var cells = rows.Select(row => row.Select(Cut).ToArray()).ToList();
        var widths = headers.Select((header, column) => Math.Max(header.Length, cells.Count == 0 ? 0 : cells.Max(row => row[column].Length))).ToArray();
        WriteRow(headers);
        WriteRow(widths.Select(width => new string('-', width)).ToArray());
        foreach (var row in cells) WriteRow(row);

        void WriteRow(IReadOnlyList<string> row)
        {
            var line = new StringBuilder();
            for (var column = 0; column < headers.Count; column++)
            {
                if (column > 0) line.Append("  ");
                var isLast = column == headers.Count - 1;
                var cell = row[column];
                if (rightAligned.Contains(headers[column])) line.Append(cell.PadLeft(widths[column]));
                else line.Append(isLast ? cell : cell.PadRight(widths[column]));
            }
            writer.WriteLine(line.ToString().TrimEnd());
        }
    }

    public void Line(string text) => writer.WriteLine(text);

    private static string Cut(string cell) => cell.Length <= MaxCellCharacters ? cell : cell[..(MaxCellCharacters - 1)] + "…";

    /// <summary>HoldPost → "hold post": enum names as words.</summary>
    public static string Words(Enum value)
    {
        var name = value.ToString();
        var words = new StringBuilder(name.Length + 4);
        for (var index = 0; index < name.Length; index++)
        {
            if (index > 0 && char.IsUpper(name[index])) words.Append(' ');
            words.Append(char.ToLowerInvariant(name[index]));
        }
        return words.ToString();
    }

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Basis points as themselves and as a percentage: 350 → "350 bp (3.50 %)".</summary>
    public static string BasisPoints(int basisPoints) =>
        string.Create(CultureInfo.InvariantCulture, $"{basisPoints} bp ({Money.Format(basisPoints)} %)");
}
