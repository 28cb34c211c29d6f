using Google.Protobuf;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Tests;

public class GrpcFrameTests
{
    private const int Limit = GrpcChannelOptions.DefaultMaxReceiveMessageBytes;

    [Fact]
    public void A_frame_is_a_zero_flag_a_big_endian_length_and_the_message()
    {
        var message = new GetCardRequest { CardNumber = "1001" };
        var frame = GrpcFrame.Encode(message, Limit);

        var messageBytes = message.ToByteArray();
        Assert.Equal(GrpcFrame.HeaderLength + messageBytes.Length, frame.Length);
        Assert.Equal(new byte[] { 0, 0, 0, 0, (byte)messageBytes.Length }, frame[..5]);
        Assert.Equal(messageBytes, frame[5..]);
    }

    [Fact]
    public void The_length_is_written_big_endian()
    {
        var header = new byte[GrpcFrame.HeaderLength];
        GrpcFrame.WriteHeader(header, compressed: false, 0x01020304);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, header);
        Assert.Equal((false, 0x01020304u), GrpcFrame.ReadHeader(header));
    }

    [Fact]
    public async Task Messages_are_read_back_one_by_one_then_null_at_a_clean_end()
    {
        var first = new Card { CardNumber = "1001", Balance = 15050 };
        var second = new Card { CardNumber = "1002", Available = 1 };
        using var stream = new MemoryStream([.. GrpcFrame.Encode(first, Limit), .. GrpcFrame.Encode(second, Limit)]);

        Assert.Equal(first, await GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default));
        Assert.Equal(second, await GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default));
        Assert.Null(await GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default));
    }

    [Fact]
    public async Task Messages_split_across_many_small_reads_are_reassembled()
    {
        // HTTP/2 DATA frames do not follow message boundaries; this stream hands out one byte at a time.
        var card = new Card { CardNumber = "1001", Balance = 123456789, Phone = "+79990001122" };
        using var stream = new OneByteAtATimeStream(GrpcFrame.Encode(card, Limit));

        Assert.Equal(card, await GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default));
        Assert.Null(await GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default));
    }

    [Fact]
    public async Task An_empty_message_is_a_default_message_not_the_end()
    {
        using var stream = new MemoryStream(GrpcFrame.Encode(new Card(), Limit));
        Assert.Equal(new Card(), await GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default));
    }

    [Fact]
    public async Task A_stream_ending_inside_a_header_is_internal()
    {
        using var stream = new MemoryStream([0, 0, 0]);
        var error = await Assert.ThrowsAsync<RpcException>(() => GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default).AsTask());
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task A_stream_ending_inside_a_message_is_internal()
    {
        var frame = GrpcFrame.Encode(new Card { CardNumber = "1001" }, Limit);
        using var stream = new MemoryStream(frame[..^2]);
        var error = await Assert.ThrowsAsync<RpcException>(() => GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default).AsTask());
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task A_message_over_the_receive_limit_is_resource_exhausted_before_it_is_read()
    {
        var header = new byte[GrpcFrame.HeaderLength];
        GrpcFrame.WriteHeader(header, compressed: false, Limit + 1);
        using var stream = new MemoryStream(header); // no body: the length alone must be enough to refuse

        var error = await Assert.ThrowsAsync<RpcException>(() => GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default).AsTask());
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task A_length_above_two_gibibytes_is_refused_not_overflowed()
    {
        using var stream = new MemoryStream([0, 0xFF, 0xFF, 0xFF, 0xFF]);
        var error = await Assert.ThrowsAsync<RpcException>(() => GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default).AsTask());
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task A_compressed_message_is_internal_because_none_was_asked_for()
    {
        var frame = GrpcFrame.Encode(new Card { CardNumber = "1001" }, Limit);
        frame[0] = 1;
        using var stream = new MemoryStream(frame);
        var error = await Assert.ThrowsAsync<RpcException>(() => GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default).AsTask());
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task Bytes_that_are_not_the_message_are_internal()
    {
        byte[] garbage = [0, 0, 0, 0, 2, 0xFF, 0xFF];
        using var stream = new MemoryStream(garbage);
        var error = await Assert.ThrowsAsync<RpcException>(() => GrpcFrame.ReadMessageAsync(stream, Card.Parser, Limit, default).AsTask());
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public void A_request_over_the_send_limit_is_refused_before_sending()
    {
        var request = new AdjustRequest { Reason = new string('x', 100) };
        var error = Assert.Throws<RpcException>(() => GrpcFrame.Encode(request, maxMessageBytes: 50));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    private sealed class OneByteAtATimeStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }
}
