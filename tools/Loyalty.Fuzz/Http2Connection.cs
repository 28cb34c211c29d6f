using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loyalty.Fuzz;

/// <summary>How one HTTP/2 stream ended, as seen from the client.</summary>
public sealed record StreamEnd(string Outcome, int? GrpcStatus, string? GrpcMessage, TimeSpan After);

/// <summary>HTTP/2 frame types (RFC 9113 §6).</summary>
public enum FrameType : byte
{
    Data = 0,
    Headers = 1,
    Priority = 2,
    RstStream = 3,
    Settings = 4,
    PushPromise = 5,
    Ping = 6,
    GoAway = 7,
    WindowUpdate = 8,
    Continuation = 9,
}

/// <summary>
/// A minimal HTTP/2 client over a raw socket, so the fuzz can send what HttpClient never would: any
/// frame, any length, headers of any size, a message cut in half. Headers go out as HPACK literals
/// without indexing; replies are decoded far enough to read :status, grpc-status and grpc-message
/// (this client tells the server its header table is 0 bytes, so replies use no dynamic table).
/// It answers SETTINGS and PING and gives back flow-control credit for what it receives.
/// </summary>
public sealed class Http2Connection : IAsyncDisposable
{
    public const string Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    /// <summary>The largest frame this client accepts (the protocol's default); a larger one from the server ends the connection.</summary>
    private const int MaxFrameBytes = 16_384;
    /// <summary>Header block bytes kept per stream; the server's replies are a few hundred bytes.</summary>
    private const int MaxHeaderBlockBytes = 64 * 1024;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<int, OpenStream> _streams = new();
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _settingsAcknowledged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _authority;
    private Task _reading = Task.CompletedTask;
    private int _nextStreamId = 1;

    private Http2Connection(TcpClient tcp, IPEndPoint endpoint)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _authority = $"{endpoint.Address}:{endpoint.Port}";
    }

    /// <summary>Set when the connection ended: "goaway CODE", "closed" or "reset".</summary>
    public Task<string> Closed => _closed.Task;
    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>
    /// Done once the server's first SETTINGS has been acknowledged. A sender that must not be
    /// interrupted by our own frames (a header block split over CONTINUATIONs) waits for it first.
    /// </summary>
    public Task SettingsAcknowledged => _settingsAcknowledged.Task;

    /// <summary>Connects and, unless told not to, sends the preface and an empty-table SETTINGS frame.</summary>
    public static async Task<Http2Connection> OpenAsync(IPEndPoint endpoint, CancellationToken cancellationToken, bool preface = true)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(endpoint, cancellationToken);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
        var connection = new Http2Connection(tcp, endpoint);
        connection._reading = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
        if (preface)
        {
            await connection.SendRawAsync(Encoding.ASCII.GetBytes(Preface), cancellationToken);
            // SETTINGS_HEADER_TABLE_SIZE = 0: the server's replies then need no dynamic table to decode.
            var settings = new byte[6];
            BinaryPrimitives.WriteUInt16BigEndian(settings, 1);
            await connection.SendFrameAsync(FrameType.Settings, 0, 0, settings, cancellationToken);
        }
        return connection;
    }

    public int NextStreamId() => Interlocked.Add(ref _nextStreamId, 2) - 2;

    /// <summary>Opens a stream with a gRPC request's headers (plus any extra ones) and returns its id.</summary>
    public async Task<int> StartCallAsync(string path, string? apiKey, IEnumerable<(string Name, string Value)>? extra = null,
        bool endStream = false, CancellationToken cancellationToken = default)
    {
        var block = new List<byte>();
        foreach (var (name, value) in GrpcHeaders(path, apiKey).Concat(extra ?? []))
            Hpack.AppendLiteral(block, name, value);
        var id = NextStreamId();
        Track(id);
        await SendHeaderBlockAsync(id, [.. block], endStream, cancellationToken);
        return id;
    }

    public IEnumerable<(string, string)> GrpcHeaders(string path, string? apiKey)
    {
        yield return (":method", "POST");
        yield return (":scheme", "http");
        yield return (":authority", _authority);
        yield return (":path", path);
        yield return ("content-type", "application/grpc");
        yield return ("te", "trailers");
        if (apiKey is not null) yield return ("authorization", $"Bearer {apiKey}");
    }

    /// <summary>Sends a header block as HEADERS and as many CONTINUATION frames as it takes.</summary>
    public async Task SendHeaderBlockAsync(int streamId, byte[] block, bool endStream, CancellationToken cancellationToken, bool endHeaders = true)
    {
        var offset = 0;
        var first = true;
        do
        {
            var size = Math.Min(MaxFrameBytes, block.Length - offset);
            var last = offset + size == block.Length;
            byte flags = (byte)((last && endHeaders ? 0x4 : 0) | (first && endStream ? 0x1 : 0));
            await SendFrameAsync(first ? FrameType.Headers : FrameType.Continuation, flags, streamId, block.AsMemory(offset, size), cancellationToken);
            offset += size;
            first = false;
        }
        while (offset < block.Length);
    }

    public Task SendDataAsync(int streamId, ReadOnlyMemory<byte> data, bool endStream, CancellationToken cancellationToken)
    {
        return Send();

        async Task Send()
        {
            var offset = 0;
            do
            {
                var size = Math.Min(MaxFrameBytes, data.Length - offset);
                var last = offset + size == data.Length;
                await SendFrameAsync(FrameType.Data, (byte)(last && endStream ? 0x1 : 0), streamId, data.Slice(offset, size), cancellationToken);
                offset += size;
            }
            while (offset < data.Length);
        }
    }

    public async Task SendFrameAsync(FrameType type, byte flags, int streamId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken, int? lyingLength = null)
    {
        var header = new byte[9];
        var length = lyingLength ?? payload.Length;
        header[0] = (byte)(length >> 16);
        header[1] = (byte)(length >> 8);
        header[2] = (byte)length;
        header[3] = (byte)type;
        header[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(5), streamId & int.MaxValue);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(header, cancellationToken);
            if (!payload.IsEmpty) await _stream.WriteAsync(payload, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Registers a stream whose end is to be awaited (StartCallAsync does it; raw senders call it themselves).</summary>
    public void Track(int streamId) => _streams.TryAdd(streamId, new OpenStream(_clock.Elapsed));

    /// <summary>How the stream ended, or "silent" if it had not within <paramref name="wait"/>.</summary>
    public async Task<StreamEnd> WaitForEndAsync(int streamId, TimeSpan wait)
    {
        var stream = _streams.GetOrAdd(streamId, _ => new OpenStream(_clock.Elapsed));
        try
        {
            return await stream.Ended.Task.WaitAsync(wait);
        }
        catch (TimeoutException)
        {
            return new StreamEnd("silent", null, null, _clock.Elapsed - stream.StartedAt);
        }
    }

    /// <summary>Sends a PING and reports whether the connection still answers: "alive", or how it ended, or "silent".</summary>
    public async Task<string> ProbeAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (IsClosed) return await Closed;
        var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pong = pong;
        try
        {
            await SendFrameAsync(FrameType.Ping, 0, 0, new byte[8], cancellationToken);
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException)
        {
            return IsClosed ? await Closed : "closed";
        }
        var done = await Task.WhenAny(pong.Task, Closed, Task.Delay(wait, cancellationToken));
        if (done == pong.Task) return "alive";
        if (done == Closed) return await Closed;
        return "silent";
    }

    private TaskCompletionSource? _pong;

    private async Task ReadLoopAsync()
    {
        var header = new byte[9];
        var payload = new byte[MaxFrameBytes];
        try
        {
            while (true)
            {
                await _stream.ReadExactlyAsync(header);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = (FrameType)header[3];
                var flags = header[4];
                var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue;
                if (length > MaxFrameBytes)
                {
                    Close($"oversized frame from server ({length} bytes)");
                    return;
                }
                await _stream.ReadExactlyAsync(payload.AsMemory(0, length));
                await OnFrameAsync(type, flags, streamId, payload.AsMemory(0, length));
            }
        }
        catch (Exception error) when (error is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
        {
            Close(error is EndOfStreamException ? "closed" : "reset");
        }
    }

    private async Task OnFrameAsync(FrameType type, byte flags, int streamId, ReadOnlyMemory<byte> payload)
    {
        switch (type)
        {
            case FrameType.Settings when (flags & 0x1) == 0:
                await SendFrameAsync(FrameType.Settings, 0x1, 0, ReadOnlyMemory<byte>.Empty, CancellationToken.None);
                _settingsAcknowledged.TrySetResult();
                break;
            case FrameType.Ping when (flags & 0x1) == 0:
                await SendFrameAsync(FrameType.Ping, 0x1, 0, payload.ToArray(), CancellationToken.None);
                break;
            case FrameType.Ping:
                _pong?.TrySetResult();
                break;
            case FrameType.GoAway:
                var code = payload.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(payload.Span[4..]) : 0;
                Close($"goaway {ErrorName(code)}");
                break;
            case FrameType.RstStream:
                var reset = payload.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(payload.Span) : 0;
                End(streamId, $"rst {ErrorName(reset)}", null, null);
                break;
            case FrameType.Data:
                if (payload.Length > 0)
                {
                    // Give the credit back at once, on the connection and the stream, so replies never stall on our window.
                    var increment = new byte[4];
                    BinaryPrimitives.WriteInt32BigEndian(increment, payload.Length);
                    await SendFrameAsync(FrameType.WindowUpdate, 0, 0, increment, CancellationToken.None);
                    if ((flags & 0x1) == 0) await SendFrameAsync(FrameType.WindowUpdate, 0, streamId, increment, CancellationToken.None);
                }
                if ((flags & 0x1) != 0) EndFromHeaders(streamId);
                break;
            case FrameType.Headers or FrameType.Continuation:
                var stream = _streams.GetOrAdd(streamId, _ => new OpenStream(_clock.Elapsed));
                var block = payload;
                if (type == FrameType.Headers)
                {
                    var skip = 0;
                    var pad = 0;
                    if ((flags & 0x8) != 0 && block.Length > 0) { pad = block.Span[0]; skip = 1; }
                    if ((flags & 0x20) != 0) skip += 5;
                    block = skip + pad <= block.Length ? block[skip..^pad] : ReadOnlyMemory<byte>.Empty;
                    if ((flags & 0x1) != 0) stream.EndStreamPending = true;
                }
                if (stream.Block.Count + block.Length <= MaxHeaderBlockBytes) stream.Block.AddRange(block.ToArray());
                if ((flags & 0x4) != 0)
                {
                    foreach (var (name, value) in Hpack.Decode([.. stream.Block]))
                        stream.Headers[name] = value;
                    stream.Block.Clear();
                    if (stream.EndStreamPending) EndFromHeaders(streamId);
                }
                break;
        }
    }

    private void EndFromHeaders(int streamId)
    {
        if (!_streams.TryGetValue(streamId, out var stream)) return;
        var headers = stream.Headers;
        int? grpc = headers.TryGetValue("grpc-status", out var s) && int.TryParse(s, out var code) ? code : null;
        var outcome = grpc is { } g ? $"grpc {((StatusCode)g).ToWireName()}"
            : headers.TryGetValue(":status", out var http) ? $"http {http}"
            : "ended without status";
        End(streamId, outcome, grpc, headers.GetValueOrDefault("grpc-message") is { } m ? Uri.UnescapeDataString(m) : null);
    }

    private void End(int streamId, string outcome, int? grpc, string? message)
    {
        var stream = _streams.GetOrAdd(streamId, _ => new OpenStream(_clock.Elapsed));
        stream.Ended.TrySetResult(new StreamEnd(outcome, grpc, message, _clock.Elapsed - stream.StartedAt));
    }

    private void Close(string how)
    {
        if (!_closed.TrySetResult(how)) return;
        foreach (var (id, _) in _streams) End(id, how.StartsWith("goaway", StringComparison.Ordinal) ? how : $"connection {how}", null, null);
    }

    public static string ErrorName(uint code) => code switch
    {
        0 => "NO_ERROR",
        1 => "PROTOCOL_ERROR",
        2 => "INTERNAL_ERROR",
        3 => "FLOW_CONTROL_ERROR",
        4 => "SETTINGS_TIMEOUT",
        5 => "STREAM_CLOSED",
        6 => "FRAME_SIZE_ERROR",
        7 => "REFUSED_STREAM",
        8 => "CANCEL",
        9 => "COMPRESSION_ERROR",
        10 => "CONNECT_ERROR",
        11 => "ENHANCE_YOUR_CALM",
        12 => "INADEQUATE_SECURITY",
        13 => "HTTP_1_1_REQUIRED",
        _ => $"0x{code:x}",
    };

    public async ValueTask DisposeAsync()
    {
        Close("closed by client");
        _tcp.Dispose();
        try
        {
            await _reading;
        }
        catch
        {
            // The read loop ends with the socket; how does not matter any more.
        }
        _writeLock.Dispose();
    }

    private sealed class OpenStream(TimeSpan startedAt)
    {
        public TimeSpan StartedAt { get; } = startedAt;
        public List<byte> Block { get; } = [];
        public Dictionary<string, string> Headers { get; } = new(StringComparer.Ordinal);
        public bool EndStreamPending { get; set; }
        public TaskCompletionSource<StreamEnd> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// The part of HPACK (RFC 7541) this client needs: it writes literals without indexing and reads
/// indexed fields of the static table and literals. No Huffman decoding: Kestrel does not Huffman-encode.
/// </summary>
public static class Hpack
{
    /// <summary>The static table entries a server reply uses (RFC 7541 appendix A): :status values and content-type.</summary>
    private static readonly Dictionary<int, (string Name, string Value)> Static = new()
    {
        [8] = (":status", "200"), [9] = (":status", "204"), [10] = (":status", "206"), [11] = (":status", "304"),
        [12] = (":status", "400"), [13] = (":status", "404"), [14] = (":status", "500"),
        [28] = ("content-length", ""), [31] = ("content-type", ""), [33] = ("date", ""), [54] = ("server", ""),
    };

    public static void AppendLiteral(List<byte> block, string name, string value)
    {
        block.Add(0x00);
        AppendString(block, Encoding.ASCII.GetBytes(name));
        AppendString(block, Encoding.Latin1.GetBytes(value));
    }

    public static void AppendString(List<byte> block, byte[] bytes)
    {
        AppendInteger(block, 0x00, 7, bytes.Length);
        block.AddRange(bytes);
    }

    public static void AppendInteger(List<byte> block, byte prefixBits, int prefixLength, long value)
    {
        var max = (1 << prefixLength) - 1;
        if (value < max)
        {
            block.Add((byte)(prefixBits | value));
            return;
        }
        block.Add((byte)(prefixBits | max));
        value -= max;
        while (value >= 128)
        {
            block.Add((byte)(value % 128 + 128));
            value /= 128;
        }
        block.Add((byte)value);
    }

    /// <summary>The header fields of a block; what cannot be decoded here is skipped, never thrown.</summary>
    public static List<(string Name, string Value)> Decode(byte[] block)
    {
        var fields = new List<(string, string)>();
        var i = 0;
        try
        {
            while (i < block.Length)
            {
                var b = block[i];
                if ((b & 0x80) != 0)
                {
                    var index = ReadInteger(block, ref i, 7);
                    if (Static.TryGetValue(index, out var entry)) fields.Add(entry);
                }
                else if ((b & 0xE0) == 0x20)
                {
                    ReadInteger(block, ref i, 5); // dynamic table size update
                }
                else
                {
                    var prefix = (b & 0xC0) == 0x40 ? 6 : 4;
                    var index = ReadInteger(block, ref i, prefix);
                    var name = index == 0 ? ReadString(block, ref i) : Static.TryGetValue(index, out var entry) ? entry.Name : $"#{index}";
                    fields.Add((name, ReadString(block, ref i)));
                }
            }
        }
        catch (IndexOutOfRangeException)
        {
            // A block cut short: the fields read so far are kept.
        }
        return fields;
    }

    private static int ReadInteger(byte[] block, ref int i, int prefixLength)
    {
        var max = (1 << prefixLength) - 1;
        var value = block[i++] & max;
        if (value < max) return value;
        var shift = 0;
        byte b;
        do
        {
            b = block[i++];
            value += (b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0 && shift < 28);
        return value;
    }

    private static string ReadString(byte[] block, ref int i)
    {
        var huffman = (block[i] & 0x80) != 0;
        var length = ReadInteger(block, ref i, 7);
        var text = huffman ? "(huffman)" : Encoding.Latin1.GetString(block, i, length);
        i += length;
        return text;
    }
}
