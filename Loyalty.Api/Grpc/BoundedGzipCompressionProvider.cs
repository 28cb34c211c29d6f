using System.IO.Compression;
using Grpc.Net.Compression;

namespace Loyalty.Api.Grpc;

/// <summary>
/// gzip for request messages (<c>grpc-encoding: gzip</c>) with the size limit applied to what the
/// message decompresses to, not only to its compressed length: Grpc.AspNetCore checks the length
/// prefix (the compressed size), so 4 MiB of gzip could otherwise inflate to gigabytes in memory
/// (a zip bomb). Past <see cref="MaxDecompressedBytes"/> the call ends with RESOURCE_EXHAUSTED;
/// bytes that are not gzip end it with INTERNAL (statuscodes.md: a message that fails to decompress).
/// </summary>
public sealed class BoundedGzipCompressionProvider(int maxDecompressedBytes) : ICompressionProvider
{
    /// <summary>Bytes one request message may decompress to; the same bound as an uncompressed message.</summary>
    public int MaxDecompressedBytes { get; } = maxDecompressedBytes;

    public string EncodingName => "gzip";

    public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) =>
        new GZipStream(stream, compressionLevel ?? CompressionLevel.Fastest, leaveOpen: true);

    public Stream CreateDecompressionStream(Stream stream) =>
        new BoundedReadStream(new GZipStream(stream, CompressionMode.Decompress), MaxDecompressedBytes);

    private sealed class BoundedReadStream(Stream inner, int limit) : Stream
    {
        private long _read;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                read = inner.Read(buffer);
            }
            catch (InvalidDataException)
            {
                throw Rpc.Error(StatusCode.Internal, "The request message is marked gzip-compressed but is not valid gzip data.");
            }
            _read += read;
            if (_read > limit)
                throw Rpc.Error(StatusCode.ResourceExhausted,
                    $"The request message decompresses to more than {limit:N0} bytes; this server accepts at most {limit:N0}.");
            return read;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
