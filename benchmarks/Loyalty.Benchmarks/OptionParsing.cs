using System.Globalization;

namespace Loyalty.Benchmarks;

/// <summary>The flag parsing both benchmark commands share. Each failure is a sentence naming the flag.</summary>
public static class OptionParsing
{
    /// <summary>"--name=value" into its two parts; anything else is a name with no inline value.</summary>
    public static (string Name, string? Value) Split(string arg)
    {
        var eq = arg.IndexOf('=', StringComparison.Ordinal);
        return arg.StartsWith("--", StringComparison.Ordinal) && eq > 0 ? (arg[..eq], arg[(eq + 1)..]) : (arg, null);
    }

    public static IReadOnlyList<T> ParseList<T>(string name, string value, Func<string, T> parse)
    {
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).Distinct().ToArray();
        return items.Length > 0 ? items : throw new ArgumentException($"{name} needs at least one value.");
    }

    public static int ParseInt(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n : throw new ArgumentException($"{name} must be a whole number from {min} to {max}; '{value}' was given.");

    public static double ParseDouble(string name, string value, double min, double max) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n : throw new ArgumentException($"{name} must be a number from {min} to {max}; '{value}' was given.");
}
