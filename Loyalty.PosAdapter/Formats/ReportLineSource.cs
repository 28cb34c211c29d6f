using System.Security.Cryptography;
using System.Text;

namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Reads a report file line by line as bytes, within the bounds of <see cref="ReportLimits"/>:
/// refuses a file over <see cref="ReportLimits.MaxFileBytes"/> before reading it, a line over
/// <see cref="ReportLimits.MaxLineBytes"/> before decoding it, and a file whose last line has no
/// line end (truncated). Decodes each line with the configured encoding (strictly) and hashes every
/// byte read, so the digest is of exactly the bytes parsed. Memory: one buffer and one line.
/// </summary>
internal sealed class ReportLineSource : IDisposable
{
    private const int BufferBytes = 1 << 16;

    private readonly Stream _stream;
    private readonly string _path;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _buffer = new byte[BufferBytes];
    private readonly byte[] _line = new byte[ReportLimits.MaxLineBytes];
    private int _start;
    private int _end;
    private long _bytesRead;
    private bool _endOfStream;
    private TextEncodingChoice _encoding;

    public ReportLineSource(string path, TextEncodingChoice encoding)
    {
        _path = path;
        _encoding = encoding;
        var length = new FileInfo(path).Length;
        if (length > ReportLimits.MaxFileBytes)
            throw new RegisterFileException(RegisterFileError.TooLarge, path, 0, null,
                $"The file is {length:N0} bytes, more than the {ReportLimits.MaxFileBytes:N0} a report may have; it was not read.");
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
    }

    /// <summary>1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Reads the next line (without its CR LF), decoded; null at the end of the file.</summary>
    public string? ReadLine()
    {
        var length = 0;
        while (true)
        {
            if (_start == _end)
            {
                if (_endOfStream || !Fill())
                {
                    if (length == 0) return null;
                    LineNumber++;
                    throw new RegisterFileException(RegisterFileError.Truncated, _path, LineNumber, null,
                        "The file ends in the middle of this line (no line end after it): it was cut short while being written or copied.");
                }
            }
            var available = _buffer.AsSpan(_start, _end - _start);
            var newline = available.IndexOf((byte)'\n');
            var take = newline < 0 ? available.Length : newline;
            if (length + take > ReportLimits.MaxLineBytes)
            {
                LineNumber++;
                throw new RegisterFileException(RegisterFileError.TooLarge, _path, LineNumber, null,
                    $"The line is longer than {ReportLimits.MaxLineBytes:N0} bytes; no transaction line is that long.");
            }
            available[..take].CopyTo(_line.AsSpan(length));
            length += take;
            if (newline < 0)
            {
                _start = _end;
                continue;
            }
            _start += newline + 1;
            LineNumber++;
            if (length > 0 && _line[length - 1] == '\r') length--;
            return Decode(_line.AsSpan(0, length));
        }
    }

    /// <summary>Lower-case hex SHA-256 of every byte read; call after <see cref="ReadLine"/> returned null.</summary>
    public string Sha256() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    private bool Fill()
    {
        _start = 0;
        _end = _stream.Read(_buffer, 0, _buffer.Length);
        if (_end == 0)
        {
            _endOfStream = true;
            return false;
        }
        _bytesRead += _end;
        // The file may grow while we read it (a register still appending): the bound holds for what we read.
        if (_bytesRead > ReportLimits.MaxFileBytes)
            throw new RegisterFileException(RegisterFileError.TooLarge, _path, LineNumber, null,
                $"The file grew past {ReportLimits.MaxFileBytes:N0} bytes while it was read.");
        _hash.AppendData(_buffer, 0, _end);
        return true;
    }

    private string Decode(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.ContainsAnyExceptInRange((byte)0, (byte)0x7F)) return Encoding.ASCII.GetString(bytes);
        var isUtf8 = System.Text.Unicode.Utf8.IsValid(bytes);
        if (_encoding == TextEncodingChoice.Detect) _encoding = isUtf8 ? TextEncodingChoice.Utf8 : TextEncodingChoice.Windows1251;
        switch (_encoding)
        {
            case TextEncodingChoice.Utf8 when !isUtf8:
                throw new RegisterFileException(RegisterFileError.WrongEncoding, _path, LineNumber, null,
                    "The line is not valid UTF-8 (is the file Windows-1251?); nothing is read as garbled text.");
            case TextEncodingChoice.Utf8:
                return Encoding.UTF8.GetString(bytes);
            default:
                // Cyrillic in Windows-1251 is bytes C0–FF in a row, never valid UTF-8; a line that is
                // valid multi-byte UTF-8 is a UTF-8 file given to a 1251 register (field-cases A3).
                if (isUtf8)
                    throw new RegisterFileException(RegisterFileError.WrongEncoding, _path, LineNumber, null,
                        "The line is UTF-8 but this register's files are Windows-1251; read as 1251 it would be garbled (\"РњРѕР»РѕРєРѕ\"), so it is refused.");
                return RegisterEncodings.Windows1251.GetString(bytes);
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _hash.Dispose();
    }
}
