using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>What the journal knows about one attempt's result.</summary>
public enum AttemptResult
{
    /// <summary>The register closed the document; <see cref="JournalEntry.Fiscal"/> holds its data. Final.</summary>
    Printed,
    /// <summary>The register did not close the document (checked against the last FD); a new attempt may follow.</summary>
    NotPrinted,
    /// <summary>Not fiscalised and not to be retried (a mapping or device refusal). Final; the caller cancels the bonus hold.</summary>
    Failed,
    /// <summary>A person must act (paper, cover, blocked queue, an FD that does not reconcile). Not final: resumed later.</summary>
    NeedsAttention,
}

/// <summary>
/// One line of the fiscal journal. <c>attempt</c> entries are written (and fsynced) before their
/// job is sent; <c>result</c> entries after the outcome is known. Shape is JSON; see <see cref="FiscalJournal"/>.
/// </summary>
public sealed record JournalEntry
{
    public long Seq { get; init; }
    /// <summary><c>attempt</c> or <c>result</c>.</summary>
    public required string Kind { get; init; }
    /// <summary>The receipt key, or <c>shift/open/16</c>, <c>shift/close/15</c> for shift documents.</summary>
    public required string DocumentKey { get; init; }
    public required string Uuid { get; init; }
    public int Attempt { get; init; }
    /// <summary>ATOL task type: sell, sellReturn, openShift, closeShift.</summary>
    public string? TaskType { get; init; }
    /// <summary>The whole job body's task, exactly as sent (and resent).</summary>
    public string? TaskJson { get; init; }
    public long TotalKopecks { get; init; }
    /// <summary>FD number of the last document in the FN just before this attempt (getFnStatus).</summary>
    public long? FdBefore { get; init; }
    /// <summary>The register's clock just before this attempt (getDeviceStatus.currentDateTime).</summary>
    public DateTimeOffset? RegisterTimeBefore { get; init; }
    public int? ShiftBefore { get; init; }
    public string? ShiftStateBefore { get; init; }
    /// <summary>This machine's clock when the entry was written, for people reading the journal.</summary>
    public DateTimeOffset At { get; init; }

    public AttemptResult? Result { get; init; }
    public FiscalData? Fiscal { get; init; }
    public int? ErrorCode { get; init; }
    public string? Message { get; init; }
    public AttentionReason? Attention { get; init; }
    /// <summary>Notes of the mapping (contact rejected, printed on paper…), on the first attempt.</summary>
    public IReadOnlyList<string>? Notes { get; init; }
    public string? ContactUsed { get; init; }
}

/// <summary>
/// The append-only journal of fiscal documents, one file <c>fiscal-journal.log</c> in the data
/// directory. Each line is <c>crc32hex json</c>; a line is written and fsynced before the job it
/// announces is sent, so after a crash every job that may have reached the register is known by
/// its uuid (style.md §6: F1/F2/F4). Reading stops at the first torn or corrupt line (a crash
/// mid-write) and the file is cut there before new lines are appended. One process at a time:
/// the file is opened without write sharing.
/// </summary>
public sealed class FiscalJournal : IDisposable
{
    /// <summary>The journal's file name inside the data directory.</summary>
    public const string FileName = "fiscal-journal.log";

    private static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly FileStream file;
    private readonly List<JournalEntry> entries = [];
    private readonly object gate = new();
    private long nextSeq = 1;

    /// <summary>Lines dropped from the tail at open because they were torn or corrupt (0 normally).</summary>
    public int TornLinesDropped { get; }

    public string Path { get; }

    private FiscalJournal(string path, FileStream file, int torn)
    {
        Path = path;
        this.file = file;
        TornLinesDropped = torn;
    }

    /// <summary>Opens (creating if needed) the journal in <paramref name="dataDirectory"/> and replays it. Throws <see cref="IOException"/> when another process has it open.</summary>
    public static FiscalJournal Open(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = System.IO.Path.Combine(dataDirectory, FileName);
        var created = !File.Exists(path);
        // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second driver on this directory fails here.
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 4096, FileOptions.None);
        if (created) FsyncDirectory(dataDirectory);

        var good = new List<JournalEntry>();
        long goodLength = 0;
        var torn = 0;
        var bytes = new byte[file.Length];
        file.ReadExactly(bytes);
        var offset = 0;
        while (offset < bytes.Length)
        {
            var newline = Array.IndexOf(bytes, (byte)'\n', offset);
            if (newline < 0) { torn++; break; }
            var entry = TryParse(bytes.AsSpan(offset, newline - offset));
            if (entry is null) { torn++; break; }
            good.Add(entry);
            offset = newline + 1;
            goodLength = offset;
        }
        if (goodLength != file.Length)
        {
            // A crash mid-append leaves a torn tail; nothing after it can be trusted, and new lines must not follow garbage.
            file.SetLength(goodLength);
            file.Flush(flushToDisk: true);
        }
        file.Seek(0, SeekOrigin.End);
        var journal = new FiscalJournal(path, file, torn);
        journal.entries.AddRange(good);
        journal.nextSeq = good.Count == 0 ? 1 : good[^1].Seq + 1;
        return journal;
    }

    /// <summary>Every entry in order.</summary>
    public IReadOnlyList<JournalEntry> Entries { get { lock (gate) return entries.ToList(); } }

    /// <summary>Appends an entry and fsyncs it before returning; the entry's <see cref="JournalEntry.Seq"/> is assigned here.</summary>
    public JournalEntry Append(JournalEntry entry)
    {
        lock (gate)
        {
            var stored = entry with { Seq = nextSeq };
            var json = JsonSerializer.Serialize(stored, Json);
            var payload = Encoding.UTF8.GetBytes(json);
            var line = Encoding.ASCII.GetBytes(Crc32.Compute(payload).ToString("x8") + " ");
            file.Write(line);
            file.Write(payload);
            file.WriteByte((byte)'\n');
            file.Flush(flushToDisk: true);
            entries.Add(stored);
            nextSeq++;
            return stored;
        }
    }

    public void Dispose() => file.Dispose();

    private static JournalEntry? TryParse(ReadOnlySpan<byte> line)
    {
        if (line.Length < 10 || line[8] != (byte)' ') return null;
        if (!uint.TryParse(Encoding.ASCII.GetString(line[..8]), System.Globalization.NumberStyles.HexNumber, null, out var crc)) return null;
        var payload = line[9..];
        if (Crc32.Compute(payload) != crc) return null;
        try { return JsonSerializer.Deserialize<JournalEntry>(payload, Json); }
        catch (JsonException) { return null; }
    }

    /// <summary>A new file's directory entry must reach the disk too, or a power cut can lose the whole file (style.md F4).</summary>
    private static void FsyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0) return;
        try { fsync(fd); } finally { close(fd); }
    }

    [DllImport("libc", SetLastError = true)] private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int fsync(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
}

/// <summary>CRC-32 (IEEE 802.3, reflected 0xEDB88320), as zlib computes it; frames journal lines.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }
}
