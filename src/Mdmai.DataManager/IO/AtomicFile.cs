namespace Mdmai.DataManager.IO;

/// <summary>Atomic replacement of small files: temp file in the same folder, flush to disk, rename, flush the folder.</summary>
internal static class AtomicFile
{
    public static async Task WriteAllBytesAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
            FlushFolder(folder);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Moves a finished file into place and makes the rename durable.</summary>
    public static void Replace(string source, string destination)
    {
        File.Move(source, destination, overwrite: true);
        FlushFolder(Path.GetDirectoryName(Path.GetFullPath(destination))!);
    }

    /// <summary>
    /// fsync of a folder makes a rename in it durable; Windows has no such call and needs none. Best effort, unless
    /// <paramref name="throwOnError"/>: then a folder that cannot be flushed is an <see cref="IOException"/>.
    /// </summary>
    public static void FlushFolder(string folder, bool throwOnError = false)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        UnixFileCalls.FlushFolder(folder, wholeFileSystem: false, throwOnError);
    }

    /// <summary>
    /// Flushes everything written to the file system holding <paramref name="folder"/> (syncfs): one call instead of an
    /// fsync per file. With <paramref name="throwOnError"/> a failure (a write the disk refused) is an <see cref="IOException"/>.
    /// </summary>
    public static void SyncFileSystem(string folder, bool throwOnError = false)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        UnixFileCalls.FlushFolder(folder, wholeFileSystem: true, throwOnError);
    }
}
