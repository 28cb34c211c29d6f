#nullable enable
using System.Text;

namespace Loyalty.Protos;

/// <summary>
/// grpc-message is UTF-8, percent-encoded; bytes 0x20–0x7E except '%' may travel as they are.
/// Clients must not fail on a bad encoding, so anything malformed is kept as it came. One codec for
/// the server (which encodes) and the client (which decodes).
/// </summary>
public static class GrpcMessageText
{
    public static string Decode(string? encoded)
    {
        if (string.IsNullOrEmpty(encoded)) return "";
        if (!encoded.Contains('%') && IsAscii(encoded)) return encoded;

        var bytes = new List<byte>(encoded.Length);
        for (var index = 0; index < encoded.Length; index++)
        {
            var character = encoded[index];
            if (character == '%' && index + 2 < encoded.Length && TryHexByte(encoded[index + 1], encoded[index + 2], out var decoded))
            {
                bytes.Add(decoded);
                index += 2;
            }
            else if (character <= 0xFF)
            {
                // HTTP header values reach .NET one byte per character (Latin-1), so a server that sent
                // raw UTF-8 bytes unencoded still decodes correctly here.
                bytes.Add((byte)character);
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(character.ToString()));
            }
        }
        // Encoding.UTF8 replaces invalid sequences with U+FFFD instead of throwing.
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public static string Encode(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var value in Encoding.UTF8.GetBytes(message))
        {
            if (value is >= 0x20 and <= 0x7E && value != (byte)'%')
            {
                builder.Append((char)value);
            }
            else
            {
                builder.Append('%').Append(value.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return builder.ToString();
    }

    private static bool IsAscii(string text)
    {
        foreach (var character in text)
        {
            if (character > 0x7E) return false;
        }
        return true;
    }

    private static bool TryHexByte(char high, char low, out byte value)
    {
        var highValue = HexValue(high);
        var lowValue = HexValue(low);
        var valid = highValue >= 0 && lowValue >= 0;
        value = valid ? (byte)(highValue * 16 + lowValue) : (byte)0;
        return valid;
    }

    private static int HexValue(char character) => character switch
    {
        >= '0' and <= '9' => character - '0',
        >= 'a' and <= 'f' => character - 'a' + 10,
        >= 'A' and <= 'F' => character - 'A' + 10,
        _ => -1,
    };
}
