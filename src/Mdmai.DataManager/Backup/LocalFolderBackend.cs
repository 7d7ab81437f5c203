using System.Runtime.CompilerServices;
using Mdmai.DataManager.IO;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Backup;

/// <summary>
/// A backup repository in a local folder (another disk, a mounted share). Writes go to a temp file in the
/// item's folder, are flushed to disk, then linked into place under their final name (which fails rather than
/// replace an existing item), and the folder is flushed: a crash leaves either the whole item or none of it.
/// </summary>
public sealed class LocalFolderBackend : IBackupBackend
{
    private const string TempSuffix = ".tmp";

    /// <summary>
    /// Folders this backend made whose entries in their parents are not flushed yet. Two writes (packs) may be in flight
    /// into the same new folder: the one that ends first flushes the parents, whichever of them made it.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _parentsToFlush = new(StringComparer.Ordinal);

    /// <summary>Uses <paramref name="root"/> as the repository folder (created on first write).</summary>
    public LocalFolderBackend(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>Full path of the repository folder.</summary>
    public string Root { get; }

    /// <summary>The repository folder (<see cref="Root"/>).</summary>
    public string Location => Root;

    /// <inheritdoc/>
    public async IAsyncEnumerable<BackendItem> ListAsync(string folder, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var path = Resolve(folder);
        if (!Directory.Exists(path))
        {
            yield break;
        }

        await Task.Yield();
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        foreach (var file in new DirectoryInfo(path).EnumerateFiles("*", options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (file.Name.EndsWith(TempSuffix, StringComparison.Ordinal) && file.Name.StartsWith('.'))
            {
                continue;
            }

            yield return new BackendItem(Path.GetRelativePath(Root, file.FullName).Replace('\\', '/'), file.Length) { Modified = file.LastWriteTimeUtc };
        }
    }

    /// <inheritdoc/>
    public Task<long?> LengthAsync(string name, CancellationToken cancellationToken = default)
    {
        var info = new FileInfo(Resolve(name));
        return Task.FromResult(info.Exists ? info.Length : (long?)null);
    }

    /// <inheritdoc/>
    public async Task<int> ReadAsync(string name, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        using var handle = OpenForReading(name);
        var total = 0;
        while (total < destination.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, destination[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <inheritdoc/>
    public Task<Stream> OpenReadAsync(string name, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        SafeFileHandle handle;
        try
        {
            handle = IO.UnixFileCalls.TryOpenForReading(Resolve(name)) ?? File.OpenHandle(Resolve(name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new FileNotFoundException($"The repository has no '{name}'.", name, ex);
        }
        catch (FileNotFoundException ex)
        {
            throw new FileNotFoundException($"The repository has no '{name}'.", name, ex);
        }

        return Task.FromResult<Stream>(new Internal.FileRangeStream(handle, name, offset, length));
    }

    private SafeFileHandle OpenForReading(string name)
    {
        try
        {
            return File.OpenHandle(Resolve(name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (DirectoryNotFoundException ex)
        {
            // The contract says a missing item is FileNotFoundException, whether or not its folder is there too.
            throw new FileNotFoundException($"The repository has no '{name}'.", name, ex);
        }
    }

    /// <inheritdoc/>
    public async Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        try
        {
            await WriteFileAsync(name, write, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex) when (MdmaiException.IsDiskFull(ex))
        {
            throw new MdmaiException(MdmaiErrorCode.DiskFull, $"The disk of the backup repository '{Root}' is full (writing '{name}', which was not kept). Free some space and try again.", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.ReadOnly, $"The backup repository '{Root}' cannot be written ('{name}': {ex.Message}). Check its permissions, or whether its disk is read-only.", ex);
        }
    }

    private async Task WriteFileAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        var path = Resolve(name);
        var folder = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(folder))
        {
            // Noted before it is made: another write into the same new folder, finishing first, flushes its parents.
            _parentsToFlush.TryAdd(folder, 0);
        }

        Directory.CreateDirectory(folder);
        if (File.Exists(path))
        {
            throw Exists(name);
        }

        var temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            // A hard link never replaces an existing name: two writers of one name cannot overwrite each other.
            try
            {
                IO.UnixFileCalls.Link(temp, path);
            }
            catch (IOException ex) when (ex.HResult == IO.UnixFileCalls.EEXIST || File.Exists(path))
            {
                throw Exists(name);
            }
            catch (IOException) when (!OperatingSystem.IsLinux())
            {
                File.Move(temp, path, overwrite: false);
            }

            AtomicFile.FlushFolder(folder);
            if (_parentsToFlush.ContainsKey(folder))
            {
                // A new folder's own entry lives in its parents: make those durable too, whichever write into it ends first.
                for (var parent = Path.GetDirectoryName(folder); parent is not null && parent.Length >= Root.Length; parent = Path.GetDirectoryName(parent))
                {
                    AtomicFile.FlushFolder(parent);
                }

                _parentsToFlush.TryRemove(folder, out _);
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <inheritdoc/>
    public Task<int> DeleteIncompleteAsync(CancellationToken cancellationToken = default)
    {
        var deleted = 0;
        if (Directory.Exists(Root))
        {
            foreach (var file in Directory.EnumerateFiles(Root, "." + "*" + TempSuffix, SearchOption.AllDirectories))
            {
                cancellationToken.ThrowIfCancellationRequested();
                File.Delete(file);
                deleted++;
            }
        }

        return Task.FromResult(deleted);
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        var path = Resolve(name);
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            // Its folder is gone too: the item is as deleted as it can be.
        }

        return Task.CompletedTask;
    }

    private static MdmaiException Exists(string name) =>
        new(MdmaiErrorCode.AlreadyExists, $"The repository already has '{name}'; items are written once and never replaced.");

    /// <summary>Maps a repository name to a path under the root; a name that would leave the root is refused.</summary>
    private string Resolve(string name)
    {
        BackendNames.Validate(name);
        return Path.Combine(Root, name);
    }
}
