using System.Runtime.InteropServices;

namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Writes a file so that a reader (a register polling its exchange folder) sees either the old
/// file or the complete new one, never a half-written one, and a power cut after the call leaves
/// the new one: write to a temporary file in the same directory, fsync it, rename it over the
/// target (atomic on one file system), fsync the directory so the rename itself is durable.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Runs <paramref name="write"/> on a temporary file beside <paramref name="path"/>, then
    /// replaces <paramref name="path"/> with it. On any exception (or cancellation) the temporary
    /// file is deleted and the target is left as it was.
    /// </summary>
    public static async Task<T> WriteAsync<T>(string path, Func<FileStream, CancellationToken, Task<T>> write, CancellationToken cancellationToken)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        // A leading dot and a .tmp suffix: registers polling for "*.txt" or a fixed name never pick it up.
        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            T result;
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, CatalogLimits.WriteBufferBytes))
            {
                result = await write(stream, cancellationToken);
                // Flush(true) is fsync: the data is on disk before the rename can make it visible.
                stream.Flush(flushToDisk: true);
            }
            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temporary, fullPath, overwrite: true);
            FlushDirectory(directory);
            return result;
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Creates (or truncates) an empty flag file and makes it durable; registers and back offices signal "ready" with such files (§3.1).</summary>
    public static void WriteEmptyFlag(string path)
    {
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Flush(flushToDisk: true);
        }
        FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>fsync of the directory so a rename or a new entry survives a power cut (POSIX; NTFS journals metadata itself).</summary>
    public static void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        var descriptor = open(directory, ReadOnly | DirectoryFlag);
        if (descriptor < 0) throw new IOException($"Could not open the directory {directory} to flush it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (fsync(descriptor) != 0) throw new IOException($"Could not flush the directory {directory} to disk (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally
        {
            _ = close(descriptor);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Left behind only if the disk itself fails; its name marks it as ours and temporary.
        }
    }

    private const int ReadOnly = 0;
    private static int DirectoryFlag => OperatingSystem.IsMacOS() ? 0x100000 : 0x10000; // O_DIRECTORY

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int descriptor);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int descriptor);
}
