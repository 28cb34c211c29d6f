using Loyalty.Protos;

namespace Loyalty.Api.Tests;

public class GrpcWireTests
{
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
