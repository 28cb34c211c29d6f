using Loyalty.Api.Grpc;

namespace Loyalty.Api.Tests;

public class GrpcWireTests
{
    [Theory]
    [InlineData("1H", 3_600_000)]
    [InlineData("2M", 120_000)]
    [InlineData("3S", 3_000)]
    [InlineData("250m", 250)]
    [InlineData("1500u", 1.5)]
    [InlineData("99999999m", 99_999_999)]
    public void Grpc_timeout_is_read_in_every_unit_the_protocol_defines(string header, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), GrpcWire.ParseTimeout(header));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("123456789S")]
    [InlineData("-5S")]
    [InlineData("5 S")]
    [InlineData("5X")]
    public void A_malformed_grpc_timeout_means_no_deadline(string? header) =>
        Assert.Null(GrpcWire.ParseTimeout(header));

    [Theory]
    [InlineData("Card 1001 does not exist.", "Card 1001 does not exist.")]
    [InlineData("100%", "100%25")]
    [InlineData("Карта", "%D0%9A%D0%B0%D1%80%D1%82%D0%B0")]
    [InlineData("line\nbreak", "line%0Abreak")]
    public void Grpc_message_is_percent_encoded_except_printable_ascii(string message, string encoded)
    {
        Assert.Equal(encoded, GrpcMessageText.Encode(message));
        Assert.Equal(message, Uri.UnescapeDataString(encoded));
    }
}
