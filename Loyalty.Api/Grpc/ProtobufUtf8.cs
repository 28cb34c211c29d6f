using System.Buffers;
using System.Text.Unicode;
using Google.Protobuf.Reflection;

namespace Loyalty.Api.Grpc;

/// <summary>
/// Finds string fields that are not valid UTF-8 in an encoded message. Protobuf says a string field
/// holds UTF-8, but Google.Protobuf for C# reads bad bytes as U+FFFD instead of refusing them, so two
/// different operation ids (say 0x80 and 0x81) would both arrive as "\uFFFD" and be taken for the
/// same operation. The gRPC layer therefore checks the bytes before the message is used.
/// </summary>
internal static class ProtobufUtf8
{
    /// <summary>Nesting followed at most; deeper messages were already refused by the parser (its limit is 100).</summary>
    private const int MaxDepth = 100;

    /// <summary>The full name of the first string field that is not valid UTF-8, or null. The payload must have parsed already.</summary>
    public static string? FindInvalidString(in ReadOnlySequence<byte> payload, MessageDescriptor descriptor)
    {
        var bytes = payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray();
        var position = 0;
        return Walk(bytes, ref position, descriptor, depth: 0);
    }

    private static string? Walk(ReadOnlySpan<byte> data, ref int position, MessageDescriptor? descriptor, int depth)
    {
        while (position < data.Length)
        {
            var tag = ReadVarint(data, ref position);
            var number = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    ReadVarint(data, ref position);
                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                case 2:
                    var length = (int)ReadVarint(data, ref position);
                    if (length < 0 || length > data.Length - position) return null;
                    var value = data.Slice(position, length);
                    position += length;
                    var field = descriptor?.FindFieldByNumber(number);
                    if (field?.FieldType == FieldType.String && !Utf8.IsValid(value))
                        return field.FullName;
                    if (field?.FieldType == FieldType.Message && depth < MaxDepth)
                    {
                        var inner = 0;
                        if (Walk(value, ref inner, field.MessageType, depth + 1) is { } found) return found;
                    }
                    break;
                case 3:
                    // A group (deprecated, never in these protos) is skipped whole: up to its end-group tag.
                    if (depth >= MaxDepth) return null;
                    Walk(data, ref position, descriptor: null, depth + 1);
                    break;
                case 4:
                    // The end of the group being skipped (the parser has already checked that it matches).
                    return null;
                default:
                    return null;
            }
        }
        return null;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64 && position < data.Length; shift += 7)
        {
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) break;
        }
        return value;
    }
}
