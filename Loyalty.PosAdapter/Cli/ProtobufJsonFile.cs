using System.Text;
using System.Text.Json;
using Google.Protobuf;

namespace Loyalty.PosAdapter.Cli;

/// <summary>
/// Reads a request the user wrote as a file in the protobuf JSON mapping (e.g. <c>fiscal print SALE.json</c>),
/// so that every way a file can be wrong is one <see cref="CommandLineInputException"/> naming the file,
/// the message type, what is wrong and, for broken JSON, where.
/// </summary>
/// <remarks>
/// Google.Protobuf's parser reports broken JSON as <see cref="InvalidJsonException"/> (an
/// <see cref="IOException"/>) without a position ("Unexpected end of document in state:
/// ObjectAfterComma"). So the file is first read as plain JSON with System.Text.Json's
/// <see cref="Utf8JsonReader"/> (strict RFC 8259: no comments, no trailing commas, UTF-8 only), whose
/// errors carry the line and byte; only well-formed JSON goes to the protobuf parser, whose errors are
/// then about the message (an unknown field, a wrong value) and are passed on as they are.
/// </remarks>
public static class ProtobufJsonFile
{
    /// <summary>A request file larger than this is refused unread: gRPC's default message limit is 4 MiB, and JSON is never smaller than the message it spells.</summary>
    public const int MaxFileBytes = 4 * 1024 * 1024;

    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    /// <summary>Reads and parses <paramref name="path"/> as a <typeparamref name="T"/>.</summary>
    /// <exception cref="CommandLineInputException">
    /// No such file, too large, not JSON (with line and byte, both from 1), or JSON that is not a
    /// <typeparamref name="T"/>; the message starts with the path.
    /// </exception>
    /// <exception cref="IOException">The file exists but cannot be read (the command's generic file error).</exception>
    public static async Task<T> ReadAsync<T>(string path, CancellationToken cancellationToken) where T : IMessage<T>, new()
    {
        var typeName = new T().Descriptor.Name;
        var file = new FileInfo(path);
        if (!file.Exists) throw new CommandLineInputException($"{path}: no such file{(Directory.Exists(path) ? " (it is a folder)" : "")}.");
        if (file.Length > MaxFileBytes) throw new CommandLineInputException($"{path}: {file.Length} bytes; a {typeName} file may have at most {MaxFileBytes}.");
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        return Parse<T>(path, bytes);
    }

    /// <summary>Parses <paramref name="bytes"/> (the content of <paramref name="path"/>, named in errors) as a <typeparamref name="T"/>.</summary>
    public static T Parse<T>(string path, ReadOnlySpan<byte> bytes) where T : IMessage<T>, new()
    {
        var typeName = new T().Descriptor.Name;
        if (bytes.StartsWith(Utf8Bom)) bytes = bytes[Utf8Bom.Length..];
        var what = $"{path}: not a {typeName} in protobuf JSON";
        if (bytes.IsEmpty) throw new CommandLineInputException($"{what}: the file is empty.");
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = JsonParser.Settings.Default.RecursionLimit });
            while (reader.Read()) { }
        }
        catch (JsonException bad)
        {
            throw new CommandLineInputException($"{what}: {WithoutPosition(bad.Message)}{Position(bad)}");
        }

        // The reader has checked the UTF-8 of every string, and outside strings JSON is ASCII.
        var text = Encoding.UTF8.GetString(bytes);
        try
        {
            return JsonParser.Default.Parse<T>(text);
        }
        catch (Exception bad) when (bad is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            // FormatException: Google.Protobuf lets some malformed values (a timestamp, bytes) through as it.
            throw new CommandLineInputException($"{what}: {bad.Message.TrimEnd('.')}.");
        }
    }

    /// <summary>System.Text.Json appends " LineNumber: 0 | BytePositionInLine: 33." (counted from 0); it is given again, counted from 1.</summary>
    private static string WithoutPosition(string message)
    {
        var at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (at < 0 ? message : message[..at]).TrimEnd().TrimEnd('.');
    }

    private static string Position(JsonException bad) => bad.LineNumber is { } line
        ? $" (line {line + 1}{(bad.BytePositionInLine is { } column ? $", byte {column + 1}" : "")})."
        : ".";
}
