using System.Diagnostics;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Backup;

/// <summary>One snapshot copied by <c>backup copy</c>.</summary>
/// <param name="SourceId">Its id in the source repository.</param>
/// <param name="TargetId">The id of the copy in the target repository.</param>
public sealed record CopiedSnapshot(string SourceId, string TargetId);

/// <summary>What <see cref="BackupRepository.CopySnapshotsAsync"/> did.</summary>
public sealed record CopyResult
{
    /// <summary>The snapshots copied, oldest first.</summary>
    public IReadOnlyList<CopiedSnapshot> Copied { get; init; } = [];

    /// <summary>Snapshots the target already had a copy of (not copied again).</summary>
    public IReadOnlyList<string> AlreadyCopied { get; init; } = [];

    /// <summary>Whether the two repositories share keys and chunk sizes, so blobs moved sealed as they were.</summary>
    public bool SameKeys { get; init; }

    /// <summary>Blobs the target lacked, and so received.</summary>
    public long BlobsSent { get; init; }

    /// <summary>Bytes of packs written to the target.</summary>
    public long BytesSent { get; init; }

    /// <summary>Bytes of file content read from the source.</summary>
    public long BytesRead { get; init; }

    /// <summary>How long it took, in seconds.</summary>
    public double DurationSeconds { get; init; }
}

/// <summary>
/// Copies snapshots between two repositories (<c>backup copy</c>; docs/s3.md, "Copying between repositories"): a
/// local one to a bucket for the 3-2-1 rule, a bucket to a new disk. Only what the target lacks is sent. When the two
/// share keys and chunk sizes (a target made by the copy itself), blobs keep their ids and move sealed; otherwise
/// each file is read back and chunked, compressed and sealed under the target's keys. A snapshot the target already
/// holds a copy of (by <see cref="SnapshotInfo.Original"/>) is not copied again, so a copy that was cut off resumes.
/// </summary>
internal sealed class Copier(BackupRepository source, BackupRepository target)
{
    public async Task<CopyResult> CopyAsync(IReadOnlyCollection<string>? snapshotIds, IProgress<BackupProgress>? progress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        if (ReferenceEquals(source, target) || (source.Backend.Location == target.Backend.Location && source.Id == target.Id))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "The source and the target are the same repository.");
        }

        await using var sourceLock = await source.LockAsync(exclusive: false, cancellationToken).ConfigureAwait(false);
        await using var targetLock = await target.LockAsync(exclusive: false, cancellationToken).ConfigureAwait(false);
        await source.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        await target.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        await target.AdoptUnindexedPacksAsync(cancellationToken).ConfigureAwait(false);

        var all = await source.ListSnapshotsAsync(cancellationToken).ConfigureAwait(false);
        var selected = snapshotIds is null || snapshotIds.Count == 0 ? all : await SelectAsync(all, snapshotIds, cancellationToken).ConfigureAwait(false);
        var there = (await target.ListSnapshotsAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.Original ?? s.Id, s => s.Id, StringComparer.Ordinal);
        var sameKeys = BackupRepository.SameKeys(source, target);
        var copied = new List<CopiedSnapshot>();
        var skipped = new List<string>();
        long blobs = 0, sent = 0, read = 0;
        foreach (var info in selected)
        {
            var original = info.Original ?? info.Id;
            if (there.ContainsKey(original))
            {
                skipped.Add(info.Id);
                continue;
            }

            var document = await source.ReadSnapshotAsync(info.Id, cancellationToken).ConfigureAwait(false);
            var builder = new SnapshotBuilder(target, new SnapshotOptions(), progress, capture: null);
            var (tree, stats, _) = await builder.RunCopyAsync(source, document, sameKeys, cancellationToken).ConfigureAwait(false);
            if (!await targetLock.EnsureHeldAsync(cancellationToken).ConfigureAwait(false))
            {
                await builder.CheckNothingPrunedAsync(cancellationToken).ConfigureAwait(false);
            }

            var copy = new BackupRepository.SnapshotDocument
            {
                Time = document.Time,
                Kind = document.Kind,
                Tags = document.Tags,
                Description = document.Description,
                Host = document.Host,
                Parent = document.Parent is { } parent && there.TryGetValue(all.FirstOrDefault(s => s.Id == parent)?.Original ?? parent, out var mapped) ? mapped : null,
                Sources = document.Sources,
                Tree = tree,
                Stats = document.Stats,
                Original = original,
            };
            var id = await target.WriteSnapshotAsync(copy, cancellationToken).ConfigureAwait(false);
            there[original] = id;
            copied.Add(new CopiedSnapshot(info.Id, id));
            blobs += stats.NewBlobs;
            sent += stats.StoredBytes;
            read += stats.BytesRead;
        }

        return new CopyResult
        {
            Copied = copied,
            AlreadyCopied = skipped,
            SameKeys = sameKeys,
            BlobsSent = blobs,
            BytesSent = sent,
            BytesRead = read,
            DurationSeconds = stopwatch.Elapsed.TotalSeconds,
        };
    }

    private async Task<IReadOnlyList<SnapshotInfo>> SelectAsync(IReadOnlyList<SnapshotInfo> all, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            wanted.Add(id == "latest"
                ? (all.Count > 0 ? all[^1].Id : throw new MdmaiException(MdmaiErrorCode.NotFound, "The source repository has no snapshots yet."))
                : await source.ResolveSnapshotIdAsync(id, cancellationToken).ConfigureAwait(false));
        }

        return [.. all.Where(s => wanted.Contains(s.Id))];
    }
}
