using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace Loyalty.PosAdapter.Client;

/// <summary>
/// gRPC's length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length, then
/// the protobuf bytes. HTTP/2 DATA frame boundaries have nothing to do with message boundaries, so
/// the reader reads exact byte counts from the body stream.
/// </summary>
public static class GrpcFrame
{
    public const int HeaderLength = 5;

    /// <summary>A whole frame in one pre-sized array: one allocation per request, no copies.</summary>
    public static byte[] Encode(IMessage message, int maxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(message);
        var messageLength = message.CalculateSize();
        if (messageLength > maxMessageBytes)
        {
            throw new RpcException(StatusCode.ResourceExhausted,
                $"The request message is {messageLength} bytes, more than the limit of {maxMessageBytes} bytes.");
        }
        var frame = new byte[HeaderLength + messageLength];
        WriteHeader(frame, compressed: false, messageLength);
        message.WriteTo(frame.AsSpan(HeaderLength));
        return frame;
    }

    public static void WriteHeader(Span<byte> destination, bool compressed, int messageLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(messageLength);
        destination[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..HeaderLength], (uint)messageLength);
    }

    /// <summary>The flag byte and the length; the length is unsigned on the wire and may exceed int.MaxValue.</summary>
    public static (bool Compressed, uint MessageLength) ReadHeader(ReadOnlySpan<byte> header) =>
        (header[0] != 0, BinaryPrimitives.ReadUInt32BigEndian(header[1..HeaderLength]));

    /// <summary>
    /// Reads the next message, or null when the stream ends cleanly between messages. A stream that
    /// ends inside a message, a compressed message (this client never offers compression) or a message
    /// over <paramref name="maxMessageBytes"/> is an error with the status other gRPC clients give.
    /// </summary>
    public static async ValueTask<TMessage?> ReadMessageAsync<TMessage>(
        Stream stream, MessageParser<TMessage> parser, int maxMessageBytes, CancellationToken cancellationToken)
        where TMessage : class, IMessage<TMessage>
    {
        var buffer = ArrayPool<byte>.Shared.Rent(HeaderLength);
        try
        {
            var headerRead = await stream.ReadAtLeastAsync(buffer.AsMemory(0, HeaderLength), HeaderLength, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (headerRead == 0) return null;
            if (headerRead < HeaderLength)
            {
                throw new RpcException(StatusCode.Internal, "The server's response ended inside a message header.");
            }
            var (compressed, messageLength) = ReadHeader(buffer);
            if (compressed)
            {
                throw new RpcException(StatusCode.Internal, "The server sent a compressed message although this client asked for none.");
            }
            if (messageLength > (uint)maxMessageBytes)
            {
                throw new RpcException(StatusCode.ResourceExhausted,
                    $"The response message is {messageLength} bytes, more than the limit of {maxMessageBytes} bytes.");
            }

            var length = (int)messageLength;
            if (buffer.Length < length)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = ArrayPool<byte>.Shared.Rent(length);
            }
            var messageRead = await stream.ReadAtLeastAsync(buffer.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (messageRead < length)
            {
                throw new RpcException(StatusCode.Internal, $"The server's response ended after {messageRead} of a {length}-byte message.");
            }
            try
            {
                return parser.ParseFrom(buffer.AsSpan(0, length));
            }
            catch (InvalidProtocolBufferException error)
            {
                throw new RpcException(StatusCode.Internal, $"The server's response message could not be parsed: {error.Message}", error);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
