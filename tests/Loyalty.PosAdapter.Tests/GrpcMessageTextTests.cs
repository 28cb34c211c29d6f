using Loyalty.PosAdapter.Client;

namespace Loyalty.PosAdapter.Tests;

public class GrpcMessageTextTests
{
    [Fact]
    public void Percent_encoded_utf8_is_decoded()
    {
        Assert.Equal("Карта 1001 заблокирована.", GrpcMessageText.Decode(
            "%D0%9A%D0%B0%D1%80%D1%82%D0%B0 1001 %D0%B7%D0%B0%D0%B1%D0%BB%D0%BE%D0%BA%D0%B8%D1%80%D0%BE%D0%B2%D0%B0%D0%BD%D0%B0."));
    }

    [Fact]
    public void An_encoded_percent_sign_is_decoded()
    {
        Assert.Equal("at most 30 % of the receipt", GrpcMessageText.Decode("at most 30 %25 of the receipt"));
    }

    [Fact]
    public void Plain_ascii_is_left_as_it_is()
    {
        Assert.Equal("Card 9999 does not exist.", GrpcMessageText.Decode("Card 9999 does not exist."));
    }

    [Theory]
    [InlineData("100%", "100%")]
    [InlineData("50%zz off", "50%zz off")]
    [InlineData("%4", "%4")]
    public void A_malformed_escape_is_kept_instead_of_failing(string encoded, string expected)
    {
        Assert.Equal(expected, GrpcMessageText.Decode(encoded));
    }

    [Fact]
    public void Invalid_utf8_becomes_a_replacement_character_instead_of_failing()
    {
        Assert.Equal("bad \uFFFD byte", GrpcMessageText.Decode("bad %FF byte"));
    }

    [Fact]
    public void Raw_utf8_bytes_sent_unencoded_still_decode()
    {
        // A server that skips the encoding: .NET hands over each header byte as one Latin-1 character.
        var latin1 = System.Text.Encoding.Latin1.GetString(System.Text.Encoding.UTF8.GetBytes("₽ 150"));
        Assert.Equal("₽ 150", GrpcMessageText.Decode(latin1));
    }

    [Fact]
    public void A_missing_message_is_empty()
    {
        Assert.Equal("", GrpcMessageText.Decode(null));
    }

    [Fact]
    public void Encoding_then_decoding_gives_the_message_back()
    {
        const string message = "Списание 50 % бонусов: 100% \r\n готово ₽";
        var encoded = GrpcMessageText.Encode(message);
        Assert.All(encoded, character => Assert.InRange(character, ' ', '~'));
        Assert.Equal(message, GrpcMessageText.Decode(encoded));
    }
}
