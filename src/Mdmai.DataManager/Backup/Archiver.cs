using System.Diagnostics;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Backup;

/// <summary>What a snapshot covers.</summary>
public sealed record BackupSources
{
    /// <summary>
    /// The app's data folder: its database is captured with SQLite's online backup API (a consistent snapshot while
    /// the app keeps writing), the rest (file store objects, key file, config) is read as files. Its <c>tmp</c> and
    /// <c>backups</c> folders are left out.
    /// </summary>
    public string? DataFolder { get; init; }

    /// <summary>Extra folders or files to back up; stored under <c>include/</c> + their absolute path.</summary>
    public IReadOnlyList<string> Includes { get; init; } = [];

    /// <summary>Absolute paths never to back up (the repository itself when it lies inside a source).</summary>
    public IReadOnlyList<string> Excludes { get; init; } = [];
}

/// <summary>How to take a snapshot.</summary>
public sealed record SnapshotOptions
{
    /// <summary>Why it is taken.</summary>
    public SnapshotKind Kind { get; init; } = SnapshotKind.Manual;

    /// <summary>User tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>A free-text description.</summary>
    public string? Description { get; init; }

    /// <summary>zstd level for chunks that compress (1–19; the config's <c>backup_compression_level</c> by default).</summary>
    public int CompressionLevel { get; init; } = 6;

    /// <summary>Worker threads for hashing, compressing and sealing (default: every core).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Bytes the pipeline may hold chunks in, from read to pack, compressed copies included: one block of memory taken
    /// at the start (default 16 MiB, raised to hold two maximum-size chunks: 16.03 MiB with the default chunker).
    /// </summary>
    public long MemoryBudget { get; init; } = 16L * 1024 * 1024;
}

/// <summary>
/// The archiver: takes a snapshot of a data folder (and extra paths) into the repository in one streaming pass — walk,
/// chunk, compress, seal, pack, upload, each stage bounded — reusing what the parent snapshot already holds.
/// </summary>
internal sealed class Archiver(BackupRepository repository)
{

    public async Task<SnapshotResult> CreateSnapshotAsync(BackupSources sources, SnapshotOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        options ??= new SnapshotOptions();
        if (options.CompressionLevel is < 1 or > 19)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"The compression level must be 1 to 19, not {options.CompressionLevel}.");
        }

        var roots = ResolveSources(sources);
        await using var repositoryLock = await repository.LockAsync(exclusive: false, cancellationToken).ConfigureAwait(false);
        var stopwatch = Stopwatch.StartNew();

        // Under the lock, the index is current: a prune since this repository was opened may have removed blobs.
        await repository.LoadIndexAsync(cancellationToken).ConfigureAwait(false);

        // Packs a killed or cut-off run uploaded whole but never indexed: their blobs are reused, not sent again.
        await repository.AdoptUnindexedPacksAsync(cancellationToken).ConfigureAwait(false);
        var sourceNames = roots.Select(r => r.Absolute).ToList();
        var parent = await FindParentAsync(sourceNames, cancellationToken).ConfigureAwait(false);
        Task<string>? capture = null;
        TreeEntry? reusedDatabase = null;
        string? stamp = null;
        try
        {
            if (sources.DataFolder is { } dataFolder && File.Exists(Path.Combine(dataFolder, BackupRepository.DatabaseFiles[0])))
            {
                // The stamp is taken before the capture: a commit after it changes the stamp, so at worst the next
                // backup captures again; it can never make a backup skip a commit.
                stamp = DatabaseStamp(dataFolder);
                var previous = parent is null ? null : await FindEntryAsync(parent, $"data/{BackupRepository.DatabaseFiles[0]}", cancellationToken).ConfigureAwait(false);
                if (stamp is not null && previous is { SourceStamp: { } before, Chunks: { } chunks } && before == stamp && chunks.All(c => repository.Index.Contains(BlobId.Parse(c))))
                {
                    reusedDatabase = previous; // not one commit since the parent: its copy is this one
                }
                else
                {
                    // Started, not awaited: the pipeline works on the other files while SQLite copies the database
                    // (about a second per 600 MB, on one core), and chunks the copy when it is ready.
                    capture = CaptureDatabaseAsync(dataFolder, cancellationToken);
                }
            }

            var builder = new SnapshotBuilder(repository, options, progress, capture)
            {
                Excludes = [.. sources.Excludes.Select(e => Path.TrimEndingDirectorySeparator(Path.GetFullPath(e)))],
                ReusedDatabase = reusedDatabase,
                DatabaseStampValue = stamp,
            };
            var (tree, stats, errors) = await builder.RunAsync(roots, parent, cancellationToken).ConfigureAwait(false);
            if (!await repositoryLock.EnsureHeldAsync(cancellationToken).ConfigureAwait(false))
            {
                await builder.CheckNothingPrunedAsync(cancellationToken).ConfigureAwait(false);
            }

            var document = new BackupRepository.SnapshotDocument
            {
                Time = DateTimeOffset.UtcNow,
                Kind = options.Kind,
                Tags = options.Tags,
                Description = options.Description,
                Host = Environment.MachineName,
                Parent = parent?.Id,
                Sources = sourceNames,
                Tree = tree,
                Stats = stats with { DurationSeconds = stopwatch.Elapsed.TotalSeconds },
            };
            await repository.WriteSnapshotAsync(document, cancellationToken).ConfigureAwait(false);
            return new SnapshotResult(document.Info, errors);
        }
        finally
        {
            if (capture is not null)
            {
                try
                {
                    File.Delete(await capture.ConfigureAwait(false));
                }
                catch (Exception) when (!capture.IsCompletedSuccessfully)
                {
                    // The capture failed: it removed its copy, and its error is the run's (or another was first).
                }
            }
        }
    }

    private async Task<BackupRepository.SnapshotDocument?> FindParentAsync(List<string> sources, CancellationToken cancellationToken)
    {
        var all = await repository.ListSnapshotsAsync(cancellationToken).ConfigureAwait(false);

        // The newest of this host and sources whose file list is all there (a parent with a lost tree blob would
        // fail the run; an older one, or none, only costs reading more).
        foreach (var match in all.Where(s => s.Host == Environment.MachineName && s.Sources.SequenceEqual(sources, StringComparer.Ordinal)).Reverse())
        {
            var snapshot = await repository.ReadSnapshotAsync(match.Id, cancellationToken).ConfigureAwait(false);
            if (snapshot.Tree.All(t => repository.Index.Contains(BlobId.Parse(t))))
            {
                return snapshot;
            }
        }

        return null;
    }

    internal static async Task<string> CaptureDatabaseAsync(string dataFolder, CancellationToken cancellationToken)
    {
        var temp = Path.Combine(dataFolder, "tmp");
        Directory.CreateDirectory(temp);
        RemoveStaleCaptures(temp);
        var staged = Path.Combine(temp, $"backup-{Environment.ProcessId}-{Guid.NewGuid():N}.db");
        await DatabaseCopies.CaptureAsync(Path.Combine(dataFolder, BackupRepository.DatabaseFiles[0]), staged, cancellationToken).ConfigureAwait(false);
        return staged;
    }

    /// <summary>
    /// Copies of the database left by backups that were killed (their process is gone): each is a full copy of the
    /// database, so they are removed before the next capture. A copy of a running backup is never touched.
    /// </summary>
    private static void RemoveStaleCaptures(string temp)
    {
        foreach (var file in Directory.EnumerateFiles(temp, "backup-*.db"))
        {
            var parts = Path.GetFileNameWithoutExtension(file).Split('-');
            var alive = parts.Length == 3 && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) && RepositoryLock.ProcessStartTicks(pid) is not null;
            if (!alive)
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>
    /// What the live database looks like on disk, without opening it: the main file's size, modification time and
    /// 100-byte header (its change counter moves with every commit outside WAL mode), and the WAL's size, modification
    /// time, header (new salts at every reset) and last frame header (a running checksum of every frame). Any commit
    /// changes it; a checkpoint may too (then the database is captured again, needlessly but safely).
    /// </summary>
    internal static string? DatabaseStamp(string dataFolder)
    {
        try
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            Span<byte> head = stackalloc byte[100];
            Span<byte> last = stackalloc byte[24];
            foreach (var name in new[] { BackupRepository.DatabaseFiles[0], BackupRepository.DatabaseFiles[1] })
            {
                var path = Path.Combine(dataFolder, name);

                // An empty WAL holds nothing: the same as none (a reader's open creates one where the last writer deleted it).
                if (!FileIdentity.TryGet(path, out var identity, out _) || (name == BackupRepository.DatabaseFiles[1] && identity.Size == 0))
                {
                    hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}:absent;"));
                    continue;
                }

                hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}:{identity.Inode}:{identity.Size}:{identity.ModifiedNanoseconds};"));
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var n = RandomAccess.Read(handle, head, 0);
                hash.AppendData(head[..n]);
                if (name == BackupRepository.DatabaseFiles[1] && n >= 32)
                {
                    var pageSize = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(head[8..]);
                    var frame = 24L + pageSize;
                    var frames = (identity.Size - 32) / frame;
                    if (pageSize is >= 512 and <= 65536 && frames > 0)
                    {
                        hash.AppendData(last[..RandomAccess.Read(handle, last, 32 + ((frames - 1) * frame))]);
                    }
                }
            }

            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        catch (IOException)
        {
            return null; // no stamp: the database is captured
        }
    }

    /// <summary>The entry at <paramref name="path"/> of a snapshot (null when absent), reading its file list only as far as needed.</summary>
    private async Task<TreeEntry?> FindEntryAsync(BackupRepository.SnapshotDocument snapshot, string path, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var entry in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
            {
                var order = PathOrder.Instance.Compare(entry.Path, path);
                if (order == 0)
                {
                    return entry;
                }

                if (order > 0)
                {
                    break;
                }
            }
        }
        catch (MdmaiException)
        {
            // a damaged parent: capture as if there were none
        }

        return null;
    }

    internal sealed record SourceRoot(string SnapshotPath, string Absolute, bool IsDataFolder);

    private static List<SourceRoot> ResolveSources(BackupSources sources)
    {
        var roots = new List<SourceRoot>();
        if (sources.DataFolder is { } data)
        {
            var full = Path.GetFullPath(data);
            if (!Directory.Exists(full))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"The data folder '{full}' does not exist.");
            }

            roots.Add(new SourceRoot("data", full, true));
        }

        var includes = new List<SourceRoot>();
        foreach (var include in sources.Includes)
        {
            var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(include));
            if (!Directory.Exists(full) && !File.Exists(full))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"'{include}' does not exist: nothing to include.");
            }

            var relative = full.Replace('\\', '/').TrimStart('/').Replace(":", "", StringComparison.Ordinal);
            if (!SnapshotPaths.IsSafe("include/" + relative))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{include}' cannot be stored in a snapshot.");
            }

            includes.Add(new SourceRoot("include/" + relative, full, false));
        }

        includes.Sort((a, b) => PathOrder.Instance.Compare(a.SnapshotPath, b.SnapshotPath));
        foreach (var include in includes)
        {
            // A folder inside one already included, or included twice, is covered by the first.
            if (!roots.Any(r => !r.IsDataFolder && (include.SnapshotPath == r.SnapshotPath || include.SnapshotPath.StartsWith(r.SnapshotPath + "/", StringComparison.Ordinal))))
            {
                roots.Add(include);
            }
        }

        if (roots.Count == 0)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Nothing to back up: give the data folder or at least one path to include.");
        }

        return roots;
    }
}
