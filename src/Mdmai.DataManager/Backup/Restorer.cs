using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.IO;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Backup;

/// <summary>What to restore.</summary>
public sealed record RestoreOptions
{
    /// <summary>Only entries equal to, inside, or matching (with '*' and '?') this snapshot path; null restores everything.</summary>
    public string? PathPattern { get; init; }

    /// <summary>Only entries equal to or inside one of these snapshot paths (a selection of several); empty restores everything.</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

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
    /// <summary>Files restored together: their blobs are read pack by pack, in as few requests as the packs allow.</summary>
    internal const int BatchFiles = 4096;

    /// <summary>Chunks of the files restored together (a batch ends at whichever limit comes first).</summary>
    internal const int BatchChunks = 16384;

    public async Task<RestoreResult> RestoreAsync(string snapshotId, string target, RestoreOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        options ??= new RestoreOptions();
        var stopwatch = Stopwatch.StartNew();
        var snapshot = await repository.FindSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        await using var repositoryLock = await repository.LockAsync(exclusive: false, cancellationToken).ConfigureAwait(false);
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));

        // Into a folder that is new or empty, a file of one chunk (or none) is created at its place (O_EXCL) and written
        // in one call: there is nothing to replace by halves, and a failed batch removes what it created. Otherwise —
        // a folder with something in it, a file of several chunks, a name already taken (two entries that are one
        // file on a case-insensitive file system) — the file goes to a temp file beside its place and is renamed over
        // it when whole. (The rename was a sixth of the system time of a restore of 60k small files.)
        var fresh = !Directory.Exists(root) || !Directory.EnumerateFileSystemEntries(root).Any();
        Directory.CreateDirectory(root);
        var writer = new RestoreWriter(repository, root, fresh, snapshot.Stats, progress);
        var links = new List<TreeEntry>();
        long directories = 0;

        // The file list is streamed in batches of files; each batch's chunks are read pack by pack (a pack's chunks
        // in one range where they lie close), so a restore costs a few requests per pack, not one per chunk, and
        // memory is one batch's entries, not the whole list.
        var batch = new List<TreeEntry>();
        var chunks = 0;
        await foreach (var stored in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
        {
            if (options.PathPattern is { } pattern && !SnapshotPaths.Matches(stored.Path, pattern))
            {
                continue;
            }

            if (options.Paths.Count > 0 && !options.Paths.Any(p => stored.Path == p || stored.Path.StartsWith(p + "/", StringComparison.Ordinal)))
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
                    batch.Add(entry);
                    chunks += entry.Chunks?.Count ?? 0;
                    if (batch.Count >= BatchFiles || chunks >= BatchChunks)
                    {
                        await writer.WriteBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                        batch.Clear();
                        chunks = 0;
                    }

                    break;
                case SnapshotEntryType.Symlink:
                    links.Add(entry);
                    break;
            }
        }

        await writer.WriteBatchAsync(batch, cancellationToken).ConfigureAwait(false);

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
    private sealed class RestoreWriter(BackupRepository repository, string root, bool fresh, SnapshotStats totals, IProgress<BackupProgress>? progress)
    {
        /// <summary>
        /// The folders of the path checked last, outermost first. The file list comes in path order, so a folder's
        /// entries follow it and only the folders of the path in hand are worth remembering (a folder left behind is
        /// checked again if a path comes back to it): remembering every folder checked cost ~200 bytes a folder.
        /// </summary>
        private readonly List<string> _checked = [];

        // Every chunk being restored is read into a block of one arena (the sealed form and the plaintext): memory is
        // this arena whatever the number of workers and the sizes of the chunks, and nothing is left to the collector.
        private readonly BlockArena _arena = new(BackupRepository.ChunkArenaSize(repository.Chunker.Parameters.MaxSize, 0));
        private long _files;
        private long _bytes;

        /// <summary>
        /// What a file created in the target loses from the mode it is created with (the umask), when that is known:
        /// into a new or empty target, a file created at its place with a mode that keeps all its bits needs no
        /// <c>fchmod</c> (one call of the five or six a small file costs). Null: files are created 0600 and given
        /// their mode once written.
        /// </summary>
        private readonly int? _createMask = fresh ? UnixFileCalls.CreateMask(root) : null;

        public long Files => Interlocked.Read(ref _files);

        public long Bytes => Interlocked.Read(ref _bytes);

        /// <summary>Creates the folder <paramref name="relative"/> (and its parents), checking that none of them is a link or a file.</summary>
        public string EnsureDirectory(string relative)
        {
            lock (_checked)
            {
                var current = root;
                var depth = 0;
                foreach (var segment in relative.Split('/'))
                {
                    current = Path.Combine(current, segment);
                    if (depth < _checked.Count && _checked[depth] == current)
                    {
                        depth++;
                        continue;
                    }

                    _checked.RemoveRange(depth, _checked.Count - depth); // another folder at this depth: what was below is left
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

                    _checked.Add(current);
                    depth++;
                }

                return current;
            }
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

        /// <summary>A file of the batch being restored: where it goes, its temp file, and how many of its chunks are still to come.</summary>
        private sealed class PendingFile(TreeEntry entry, string path, bool inPlace, int chunks)
        {
            public TreeEntry Entry { get; } = entry;

            public string Path { get; } = path;

            /// <summary>Written at <see cref="Path"/> itself, not to a temp file renamed over it.</summary>
            public bool InPlace { get; set; } = inPlace;

            /// <summary>Where the content is written: <see cref="Path"/> in place, else a temp file beside it.</summary>
            public string Temp { get; set; } = inPlace ? path : TempBeside(path);

            /// <summary>This restore made the file at <see cref="Temp"/> (so a failure may remove it).</summary>
            public bool Created { get; set; }

            /// <summary>Created with its mode (see <c>_createMask</c>): <see cref="Finish"/> does not set it again.</summary>
            public bool HasMode { get; set; }

            public int Remaining = chunks;

            public long Written;

            public bool Done;

            public static string TempBeside(string path) =>
                System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, $".{System.IO.Path.GetFileName(path)}.{Guid.NewGuid():N}.restore");
        }

        /// <summary>
        /// Restores a batch of files: each to a temp file beside its place, its chunks written where they belong as the
        /// packs holding them are read (several ranges at once), then — once its last chunk is in and its size checked —
        /// given its permissions and time and renamed into place. A failure removes the batch's temp files.
        /// </summary>
        public async Task WriteBatchAsync(List<TreeEntry> entries, CancellationToken cancellationToken)
        {
            if (entries.Count == 0)
            {
                return;
            }

            var files = new List<PendingFile>(entries.Count);
            var slots = new Dictionary<BlobId, List<(PendingFile File, long Offset)>>();
            var wanted = new List<WantedBlob>();
            try
            {
                foreach (var entry in entries)
                {
                    var path = Place(entry.Path);
                    var chunkCount = entry.Chunks?.Count ?? 0;
                    var file = new PendingFile(entry, path, fresh && chunkCount <= 1, chunkCount);
                    files.Add(file);
                    long offset = 0;
                    foreach (var hex in entry.Chunks ?? [])
                    {
                        var id = BlobId.Parse(hex);
                        if (!repository.Index.TryGet(id, out var location))
                        {
                            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Chunk {hex} of '{entry.Path}' is not in the repository: the file cannot be restored. Run 'mdmai backup verify'.");
                        }

                        if (!slots.TryGetValue(id, out var list))
                        {
                            slots[id] = list = [];
                            wanted.Add(new WantedBlob(id, location));
                        }

                        list.Add((file, offset));
                        offset += location.RawLength;
                    }

                    if (file.Remaining == 0)
                    {
                        var (handle, native) = Open(file);
                        if (!native)
                        {
                            handle.Dispose();
                        }

                        Finish(file, native ? handle : null);
                    }
                }

                var ranges = PackReader.Ranges(wanted, PackReader.GapFor(repository.Backend));
                await Parallel.ForEachAsync(ranges, new ParallelOptions { MaxDegreeOfParallelism = PackReader.ParallelismFor(repository.Backend), CancellationToken = cancellationToken },
                    (range, ct) => new ValueTask(PackReader.ReadAsync(repository, range, _arena, (blob, content, _) =>
                    {
                        foreach (var (file, offset) in slots[blob.Id])
                        {
                            Write(file, offset, content.Span);
                        }

                        return ValueTask.CompletedTask;
                    }, onDamaged: null, ct))).ConfigureAwait(false);

                var unfinished = files.FirstOrDefault(f => Volatile.Read(ref f.Remaining) > 0);
                if (unfinished is not null)
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{unfinished.Entry.Path}' could not be restored whole: {unfinished.Remaining} of its chunks were not read. Run 'mdmai backup verify'.");
                }
            }
            finally
            {
                // Only what this batch made; a removal that fails must not hide the error that got us here.
                foreach (var file in files.Where(f => !f.Done && f.Created))
                {
                    try
                    {
                        File.Delete(file.Temp);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                    }
                }
            }
        }

        private void Write(PendingFile file, long offset, ReadOnlySpan<byte> content)
        {
            // One open, one write, and for the last chunk the file's permissions and time on the same handle: a restore
            // of many small files is these few calls per file (open, pwrite, futimens, close; fchmod where the create
            // could not give the mode, a rename where the file was not written at its place).
            var (handle, native) = Open(file);
            using (handle)
            {
                UnixFileCalls.WriteAt(handle, content, offset);

                Interlocked.Add(ref file.Written, content.Length);
                Interlocked.Add(ref _bytes, content.Length);
                if (Interlocked.Decrement(ref file.Remaining) == 0)
                {
                    Finish(file, native ? handle : null);
                }
            }
        }

        /// <summary>
        /// The file's last chunk is in: its size is checked, then its permissions and time set (on the open handle where
        /// there is one) and it is renamed into place.
        /// </summary>
        private void Finish(PendingFile file, SafeFileHandle? handle)
        {
            var entry = file.Entry;
            if (Interlocked.Read(ref file.Written) != entry.Size)
            {
                throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{entry.Path}' restored to {Interlocked.Read(ref file.Written)} bytes, but {entry.Size} were backed up.");
            }

            if (handle is not null)
            {
                UnixFileCalls.SetModeAndTime(handle, file.HasMode ? 0 : entry.Mode, entry.ModifiedNanoseconds);
                handle.Dispose();
            }
            else
            {
                if (!OperatingSystem.IsWindows() && entry.Mode != 0)
                {
                    File.SetUnixFileMode(file.Temp, (UnixFileMode)(entry.Mode & 0xFFF));
                }

                File.SetLastWriteTimeUtc(file.Temp, DateTime.UnixEpoch.AddTicks(entry.ModifiedNanoseconds / 100));
            }

            try
            {
                if (file.InPlace)
                {
                    // Written at its place (a new or empty target).
                }
                else if (OperatingSystem.IsWindows())
                {
                    File.Move(file.Temp, file.Path, overwrite: true);
                }
                else
                {
                    UnixFileCalls.Rename(file.Temp, file.Path);
                }
            }
            catch (IOException ex) when (Directory.Exists(file.Path))
            {
                throw FolderInTheWay(entry, ex);
            }

            file.Done = true;
            var done = Interlocked.Increment(ref _files);
            progress?.Report(new BackupProgress(done, Bytes, totals.Files, totals.Bytes, entry.Path));
        }

        /// <summary>
        /// Opens the file a chunk of <paramref name="file"/> goes to: its place, created new, when it is written in place
        /// (or, when that name is taken, a temp file from then on); else its temp file. Native: opened by
        /// <see cref="UnixFileCalls"/> (written with pwrite, its mode and time set on the handle).
        /// </summary>
        private (SafeFileHandle Handle, bool Native) Open(PendingFile file)
        {
            try
            {
                if (file.InPlace)
                {
                    var mode = file.Entry.Mode & 0xFFF;
                    var withMode = _createMask is { } mask && mode != 0 && (mode & ~0x1FF) == 0 && (mode & mask) == 0;
                    if (CreateNew(file.Path, withMode ? mode : null, out var nativeNew) is { } created)
                    {
                        file.Created = true;
                        file.HasMode = withMode && nativeNew;
                        return (created, nativeNew);
                    }

                    file.InPlace = false;
                    file.Temp = PendingFile.TempBeside(file.Path);
                }

                var native = UnixFileCalls.TryOpenForWriting(file.Temp);
                var handle = native ?? File.OpenHandle(file.Temp, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite);
                file.Created = true;
                return (handle, native is not null);
            }
            catch (Exception ex) when ((ex is IOException or UnauthorizedAccessException) && Directory.Exists(file.Temp))
            {
                throw FolderInTheWay(file.Entry, ex);
            }
        }

        /// <summary>A new file at <paramref name="path"/> (with <paramref name="mode"/> when given and native), or null when something of that name is already there.</summary>
        private static SafeFileHandle? CreateNew(string path, int? mode, out bool native)
        {
            native = true;
            var exists = false;
            var handle = mode is { } m ? UnixFileCalls.TryCreateNew(path, m, out exists) : UnixFileCalls.TryCreateNew(path, out exists);
            if (handle is not null || exists)
            {
                return handle;
            }

            native = false;
            try
            {
                return File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite);
            }
            catch (IOException) when (File.Exists(path) || Directory.Exists(path))
            {
                return null;
            }
        }

        private static MdmaiException FolderInTheWay(TreeEntry entry, Exception inner) =>
            new(MdmaiErrorCode.AlreadyExists, $"Cannot restore the file '{entry.Path}': a folder of that name is in the way.", inner);

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
