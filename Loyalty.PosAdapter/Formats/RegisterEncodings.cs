using System.Text;

namespace Loyalty.PosAdapter.Formats;

/// <summary>How a reader decides the text encoding of a register file (field-cases A3).</summary>
public enum TextEncodingChoice
{
    /// <summary>Windows-1251, as Frontol and Кассир files are (§3.1). A line that is valid multi-byte UTF-8 is refused as the wrong encoding rather than read as mojibake ("РњРѕР»РѕРєРѕ").</summary>
    Windows1251,
    /// <summary>Strict UTF-8: invalid bytes are refused.</summary>
    Utf8,
    /// <summary>As FrontolRazborFile does: the first line with non-ASCII bytes decides; valid UTF-8 means UTF-8 (then every line must be), otherwise Windows-1251.</summary>
    Detect,
}

/// <summary>The encodings of register files, strict both ways: a character or byte that does not fit throws instead of becoming '?'.</summary>
public static class RegisterEncodings
{
    static RegisterEncodings()
    {
        // .NET Core carries only the Unicode encodings until the code-page provider is registered.
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        Windows1251 = Encoding.GetEncoding(1251, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
    }

    /// <summary>Windows-1251 (Cyrillic); unmappable characters throw when writing.</summary>
    public static Encoding Windows1251 { get; }

    /// <summary>UTF-8 without a byte-order mark; invalid bytes throw when reading.</summary>
    public static Encoding Utf8 { get; } = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
