using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Backup;

/// <summary>What to restore.</summary>
public sealed record RestoreOptions
{
    /// <summary>Only entries equal to, inside, or matching (with '*' and '?') this snapshot path; null restores everything.</summary>
    public string? PathPattern { get; init; }

    /// <summary>Files restored at once (default: cores + 1).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount + 1;

    /// <summary>
    /// Makes the restored files durable before returning (one syncfs of the target's file system at the end, not an
    /// fsync per file). An in-place restore sets it; a restore into a folder does not need it (default false).
    /// </summary>
    public bool Durable { get; init; }

    /// <summary>Strips this snapshot path prefix from every restored path (an in-place restore restores <c>data/</c> as the folder itself).</summary>
    public string? StripPrefix { get; init; }
}

/// <summary>What a restore wrote.</summary>
/// <param name="Files">Files written (each verified against its recorded chunk hashes and size).</param>
/// <param name="Directories">Folders created or found.</param>
/// <param name="Symlinks">Symbolic links created.</param>
/// <param name="Bytes">Bytes written.</param>
/// <param name="DurationSeconds">Wall time in seconds.</param>
public sealed record RestoreResult(long Files, long Directories, long Symlinks, long Bytes, double DurationSeconds);

/// <summary>
/// The restorer: writes a snapshot (or part of it) into a folder — every chunk authenticated and re-hashed, every
/// path checked — and finds good copies of single files across snapshots for repair.
/// </summary>
internal sealed class Restorer(BackupRepository repository)
{
    public async Task<RestoreResult> RestoreAsync(string snapshotId, string target, RestoreOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        options ??= new RestoreOptions();
        var stopwatch = Stopwatch.StartNew();
        var snapshot = await repository.FindSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        await using var repositoryLock = await repository.LockAsync(exclusive: false, cancellationToken).ConfigureAwait(false);
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        Directory.CreateDirectory(root);
        var writer = new RestoreWriter(repository, root);
        var files = Channel.CreateBounded<TreeEntry>(new BoundedChannelOptions(64) { SingleWriter = true });
        var links = new List<TreeEntry>();
        long directories = 0;
        long totalBytes = snapshot.Stats.Bytes;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var workers = Enumerable.Range(0, Math.Max(1, options.Parallelism)).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var entry in files.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
                {
                    await writer.WriteFileAsync(entry, cts.Token).ConfigureAwait(false);
                    progress?.Report(new BackupProgress(writer.Files, writer.Bytes, snapshot.Stats.Files, totalBytes, entry.Path));
                }
            }
            catch
            {
                // Stop the reader of the file list too: with every worker gone it would wait on a full channel forever.
                await cts.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, cts.Token)).ToArray();
        try
        {
            await foreach (var stored in repository.ReadTreeAsync(snapshot, cts.Token).ConfigureAwait(false))
            {
                if (options.PathPattern is { } pattern && !SnapshotPaths.Matches(stored.Path, pattern))
                {
                    continue;
                }

                var entry = Strip(stored, options.StripPrefix);
                if (entry is null)
                {
                    continue;
                }

                switch (entry.Type)
                {
                    case SnapshotEntryType.Directory:
                        writer.EnsureDirectory(entry.Path);
                        directories++;
                        break;
                    case SnapshotEntryType.File:
                        await files.Writer.WriteAsync(entry, cts.Token).ConfigureAwait(false);
                        break;
                    case SnapshotEntryType.Symlink:
                        links.Add(entry);
                        break;
                }
            }

            files.Writer.TryComplete();
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            files.Writer.TryComplete();
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The first failure is the one reported.
            }

            // A worker's failure cancelled the reader: report that failure, not the cancellation it caused.
            if (Pipeline.IsConsequence(ex) && !cancellationToken.IsCancellationRequested && Pipeline.FirstFailure(workers) is { } failure)
            {
                ExceptionDispatchInfo.Throw(failure);
            }

            throw;
        }

        // Links last: no file of this restore can be written through one.
        foreach (var link in links)
        {
            writer.CreateLink(link);
        }

        if (options.Durable)
        {
            AtomicFile.SyncFileSystem(root);
        }

        return new RestoreResult(writer.Files, directories, links.Count, writer.Bytes, stopwatch.Elapsed.TotalSeconds);
    }



    private static TreeEntry? Strip(TreeEntry entry, string? prefix)
    {
        if (prefix is null)
        {
            return entry;
        }

        if (entry.Path == prefix)
        {
            return null;
        }

        return entry.Path.StartsWith(prefix + "/", StringComparison.Ordinal) ? entry with { Path = entry.Path[(prefix.Length + 1)..] } : null;
    }

    /// <summary>Writes restored entries under one root, refusing any path that would leave it.</summary>
    private sealed class RestoreWriter(BackupRepository repository, string root)
    {
        private readonly ConcurrentDictionary<string, byte> _checked = new(StringComparer.Ordinal);

        // Every chunk being restored is read into a block of one arena (the sealed form and the plaintext): memory is
        // this arena whatever the number of workers and the sizes of the chunks, and nothing is left to the collector.
        private readonly BlockArena _arena = new(BackupRepository.ChunkArenaSize(repository.Chunker.Parameters.MaxSize, 0));
        private long _files;
        private long _bytes;

        public long Files => Interlocked.Read(ref _files);

        public long Bytes => Interlocked.Read(ref _bytes);

        /// <summary>Creates the folder <paramref name="relative"/> (and its parents), checking that none of them is a link or a file.</summary>
        public string EnsureDirectory(string relative)
        {
            var current = root;
            foreach (var segment in relative.Split('/'))
            {
                current = Path.Combine(current, segment);
                if (_checked.ContainsKey(current))
                {
                    continue;
                }

                if (FileIdentity.TryGet(current, out var identity, out var errno))
                {
                    if (identity.Kind != FileKind.Directory)
                    {
                        throw new MdmaiException(MdmaiErrorCode.UnsafePath,
                            $"Restoring '{relative}' would go through '{current}', which is {(identity.Kind == FileKind.SymbolicLink ? "a symbolic link" : "not a folder")}; nothing is written through it.");
                    }
                }
                else if (FileIdentity.IsNotFound(errno))
                {
                    Directory.CreateDirectory(current);
                }
                else
                {
                    throw new IOException($"Cannot restore into '{current}': {FileIdentity.Describe(errno)}.");
                }

                _checked.TryAdd(current, 0);
            }

            return current;
        }

        private string Place(string relative)
        {
            if (!SnapshotPaths.IsSafe(relative))
            {
                throw new MdmaiException(MdmaiErrorCode.UnsafePath, $"The snapshot path '{relative}' could leave the target folder; it is refused.");
            }

            var slash = relative.LastIndexOf('/');
            var folder = slash < 0 ? root : EnsureDirectory(relative[..slash]);
            var full = Path.GetFullPath(Path.Combine(folder, relative[(slash + 1)..]));
            if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new MdmaiException(MdmaiErrorCode.UnsafePath, $"The snapshot path '{relative}' would be written outside '{root}'; it is refused.");
            }

            return full;
        }

        public async Task WriteFileAsync(TreeEntry entry, CancellationToken cancellationToken)
        {
            var path = Place(entry.Path);
            if (Directory.Exists(path) && !File.Exists(path) && new FileInfo(path).LinkTarget is null)
            {
                throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"Cannot restore the file '{entry.Path}': a folder of that name is in the way.");
            }

            var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.restore");
            try
            {
                long written = 0;
                using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, entry.Size))
                {
                    foreach (var hex in entry.Chunks ?? [])
                    {
                        var id = BlobId.Parse(hex);
                        if (!repository.Index.TryGet(id, out var location))
                        {
                            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Chunk {hex} of '{entry.Path}' is not in the repository: the file cannot be restored. Run 'mdmai backup verify'.");
                        }

                        var (stored, plain) = await _arena.AllocateAsync((int)location.StoredLength, (int)location.RawLength, cancellationToken).ConfigureAwait(false);
                        using (stored)
                        using (plain)
                        {
                            await repository.ReadBlobIntoAsync(id, location, stored.Memory, plain.Memory, cancellationToken).ConfigureAwait(false);
                            RandomAccess.Write(handle, plain.Memory.Span[..(int)location.RawLength], written);
                        }

                        written += location.RawLength;
                        Interlocked.Add(ref _bytes, location.RawLength);
                    }

                    if (written != entry.Size)
                    {
                        throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{entry.Path}' restored to {written} bytes, but {entry.Size} were backed up.");
                    }

                }

                if (!OperatingSystem.IsWindows() && entry.Mode != 0)
                {
                    File.SetUnixFileMode(temp, (UnixFileMode)(entry.Mode & 0xFFF));
                }

                File.SetLastWriteTimeUtc(temp, DateTime.UnixEpoch.AddTicks(entry.ModifiedNanoseconds / 100));
                File.Move(temp, path, overwrite: true);
                Interlocked.Increment(ref _files);
            }
            finally
            {
                File.Delete(temp);
            }
        }

        public void CreateLink(TreeEntry entry)
        {
            var path = Place(entry.Path);
            if (Directory.Exists(path) && new FileInfo(path).LinkTarget is null)
            {
                throw new MdmaiException(MdmaiErrorCode.UnsafePath, $"Cannot restore the link '{entry.Path}': a folder of that name is in the way (the snapshot also holds entries under it).");
            }

            if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
            {
                File.Delete(path);
            }

            File.CreateSymbolicLink(path, entry.LinkTarget ?? "");
        }
    }

    internal async Task<IReadOnlyDictionary<string, string>> RecoverFilesAsync(IReadOnlyCollection<string> paths, string tempFolder,
        Func<string, string, CancellationToken, Task<bool>> accept, CancellationToken cancellationToken)
    {
        var wanted = new HashSet<string>(paths, StringComparer.Ordinal);
        var recovered = new Dictionary<string, string>(StringComparer.Ordinal);
        Directory.CreateDirectory(tempFolder);
        foreach (var info in (await repository.ListSnapshotsAsync(cancellationToken).ConfigureAwait(false)).Reverse())
        {
            if (wanted.Count == 0)
            {
                break;
            }

            BackupRepository.SnapshotDocument snapshot;
            try
            {
                snapshot = await repository.ReadSnapshotAsync(info.Id, cancellationToken).ConfigureAwait(false);
            }
            catch (MdmaiException)
            {
                continue;
            }

            var found = new List<TreeEntry>();
            try
            {
                await foreach (var entry in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
                {
                    if (entry.Type == SnapshotEntryType.File && wanted.Contains(entry.Path))
                    {
                        found.Add(entry);
                    }
                }
            }
            catch (MdmaiException)
            {
                continue; // a damaged file list: try the next snapshot
            }

            foreach (var entry in found)
            {
                var temp = Path.Combine(tempFolder, $"recover-{Guid.NewGuid():N}");
                try
                {
                    await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                    await using (var content = new SnapshotFileStream(repository, entry))
                    {
                        await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                        file.Flush(flushToDisk: true);
                    }

                    if (await accept(entry.Path, temp, cancellationToken).ConfigureAwait(false))
                    {
                        wanted.Remove(entry.Path);
                        recovered[entry.Path] = info.Id;
                    }
                }
                catch (MdmaiException)
                {
                    // this copy cannot be read: an older snapshot may have a good one
                }
                finally
                {
                    File.Delete(temp);
                }
            }
        }

        return recovered;
    }
}
