namespace Loyalty.Grains.Tests.Support;

/// <summary>A clock the test moves by hand, so hold timeouts and accrual delays run in no time.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public static ManualClock StartingAt2026() => new(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero));

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
