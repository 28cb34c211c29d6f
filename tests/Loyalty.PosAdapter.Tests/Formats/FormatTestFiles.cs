using System.Globalization;
using Loyalty.PosAdapter.Formats;

namespace Loyalty.PosAdapter.Tests.Formats;

/// <summary>A scratch directory per test class, the golden files, and the cards every catalog golden file holds.</summary>
public sealed class FormatTestFiles : IDisposable
{
    public FormatTestFiles()
    {
        Directory = Path.Combine(Path.GetTempPath(), "loyalty-formats-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    public string Write(string name, byte[] bytes)
    {
        var path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public string WriteLines(string name, IEnumerable<string> lines, System.Text.Encoding? encoding = null) =>
        Write(name, (encoding ?? RegisterEncodings.Windows1251).GetBytes(string.Concat(lines.Select(line => line + "\r\n"))));

    public static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Formats", "Golden", name);

    public static byte[] GoldenBytes(string name) => File.ReadAllBytes(Golden(name));

    public static readonly DateTimeOffset Watermark = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    /// <summary>The cards of make-golden.py.</summary>
    public static readonly CatalogCard[] Cards =
    [
        new("0000123456789", CardStatus.Active, 15000, 15000, Watermark),
        new("123456789", CardStatus.Active, 700, 700, Watermark),
        new("2000001", CardStatus.Blocked, 0, 50000, Watermark),
        new("2000002", CardStatus.Closed, 0, 0, Watermark),
        new("2000003", CardStatus.Active, 0, -10000, Watermark),
    ];

    /// <summary>Runs <paramref name="action"/> with the thread's culture set, as a ru-RU or en-US machine would (field-cases A3).</summary>
    public static async Task InCulture(string culture, Func<Task> action)
    {
        var (before, beforeUi) = (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture);
        CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = new CultureInfo(culture);
        try
        {
            await action();
        }
        finally
        {
            (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture) = (before, beforeUi);
        }
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
