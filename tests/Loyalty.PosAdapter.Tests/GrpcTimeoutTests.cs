using Loyalty.PosAdapter.Client;

namespace Loyalty.PosAdapter.Tests;

public class GrpcTimeoutTests
{
    [Fact]
    public void A_timeout_in_whole_milliseconds_is_sent_in_milliseconds()
    {
        Assert.Equal("1500m", GrpcTimeout.Format(TimeSpan.FromMilliseconds(1500)));
        Assert.Equal("10000m", GrpcTimeout.Format(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void A_fraction_of_a_millisecond_is_rounded_up_so_the_server_never_sees_a_shorter_deadline()
    {
        Assert.Equal("1m", GrpcTimeout.Format(TimeSpan.FromTicks(1)));
        Assert.Equal("2m", GrpcTimeout.Format(TimeSpan.FromMicroseconds(1001)));
    }

    [Fact]
    public void A_timeout_too_long_for_eight_digits_of_milliseconds_is_sent_in_seconds()
    {
        Assert.Equal("99999999m", GrpcTimeout.Format(TimeSpan.FromMilliseconds(99_999_999)));
        Assert.Equal("100000S", GrpcTimeout.Format(TimeSpan.FromMilliseconds(100_000_000)));
    }

    [Fact]
    public void A_timeout_never_has_more_than_eight_digits()
    {
        foreach (var timeout in new[] { TimeSpan.FromDays(1), TimeSpan.FromDays(3650), TimeSpan.MaxValue })
        {
            var text = GrpcTimeout.Format(timeout);
            Assert.InRange(text.Length - 1, 1, 8);
            Assert.Contains(text[^1], "HMSmun");
        }
    }

    [Fact]
    public void An_expired_deadline_is_not_formatted()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpcTimeout.Format(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpcTimeout.Format(TimeSpan.FromSeconds(-1)));
    }
}
