using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;

namespace Loyalty.Api.Grpc;

/// <summary>
/// The pieces of the gRPC-over-HTTP/2 protocol (grpc/doc/PROTOCOL-HTTP2.md) that are pure functions:
/// message framing and the grpc-timeout header (grpc-message's encoding is GrpcMessageText, shared with the client).
/// </summary>
public static class GrpcWire
{
    /// <summary>One byte compressed-flag and four bytes big-endian length precede every message.</summary>
    public const int FrameHeaderBytes = 5;

    /// <summary>Reads a frame header; false when fewer than five bytes are there yet.</summary>
    public static bool TryReadFrameHeader(in ReadOnlySequence<byte> buffer, out bool compressed, out uint length)
    {
        compressed = false;
        length = 0;
        if (buffer.Length < FrameHeaderBytes) return false;
        Span<byte> header = stackalloc byte[FrameHeaderBytes];
        buffer.Slice(0, FrameHeaderBytes).CopyTo(header);
        compressed = header[0] != 0;
        length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        return true;
    }

    public static void WriteFrameHeader(Span<byte> destination, int length)
    {
        destination[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }

    /// <summary>
    /// Parses grpc-timeout: 1 to 8 ASCII digits and a unit (H, M, S, m, u, n). Null when the value is
    /// not in that form; the caller then treats the call as having no deadline, as other servers do.
    /// </summary>
    public static TimeSpan? ParseTimeout(string? value)
    {
        if (value is null || value.Length is < 2 or > 9) return null;
        var digits = value.AsSpan(0, value.Length - 1);
        foreach (var c in digits)
            if (c is < '0' or > '9') return null;
        var amount = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
    }

}
