using System.Globalization;

namespace Loyalty.PosAdapter.Client;

/// <summary>The grpc-timeout header: 1–8 ASCII digits and a unit (H, M, S, m, u, n).</summary>
public static class GrpcTimeout
{
    /// <summary>The protocol allows at most 8 digits.</summary>
    public const long MaxValue = 99_999_999;

    /// <summary>
    /// Milliseconds when they fit in 8 digits (about 27 hours), else the smallest coarser unit that
    /// fits. Always rounded up: a server must never see a shorter deadline than the client's.
    /// </summary>
    public static string Format(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "A grpc-timeout must be positive; an expired deadline is not sent.");
        }
        var ticks = timeout.Ticks;
        if (TryUnit(ticks, TimeSpan.TicksPerMillisecond, 'm', out var text)) return text;
        if (TryUnit(ticks, TimeSpan.TicksPerSecond, 'S', out text)) return text;
        if (TryUnit(ticks, TimeSpan.TicksPerMinute, 'M', out text)) return text;
        if (TryUnit(ticks, TimeSpan.TicksPerHour, 'H', out text)) return text;
        return MaxValue.ToString(CultureInfo.InvariantCulture) + "H";
    }

    private static bool TryUnit(long ticks, long ticksPerUnit, char unit, out string text)
    {
        var units = ticks / ticksPerUnit + (ticks % ticksPerUnit == 0 ? 0 : 1);
        text = units <= MaxValue ? units.ToString(CultureInfo.InvariantCulture) + unit : "";
        return units <= MaxValue;
    }
}
