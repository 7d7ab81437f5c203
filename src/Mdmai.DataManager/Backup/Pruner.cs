using System.Buffers;
using System.Globalization;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Backup;

/// <summary>
/// Which snapshots to keep (restic's rules): the newest <see cref="KeepLast"/>; the newest of each of the last N
/// hours, days, weeks, months and years that have one; everything newer than <see cref="KeepWithin"/>. A snapshot kept
/// by any rule is kept. Only snapshots of <see cref="Kinds"/> are considered (all when empty); the newest snapshot is
/// never forgotten by a policy.
/// </summary>
public sealed record RetentionPolicy
{
    /// <summary>Keep the newest N.</summary>
    public int? KeepLast { get; init; }

    /// <summary>Keep the newest of each of the last N hours.</summary>
    public int? KeepHourly { get; init; }

    /// <summary>Keep the newest of each of the last N days.</summary>
    public int? KeepDaily { get; init; }

    /// <summary>Keep the newest of each of the last N ISO weeks.</summary>
    public int? KeepWeekly { get; init; }

    /// <summary>Keep the newest of each of the last N months.</summary>
    public int? KeepMonthly { get; init; }

    /// <summary>Keep the newest of each of the last N years.</summary>
    public int? KeepYearly { get; init; }

    /// <summary>Keep everything taken within this span of the newest snapshot.</summary>
    public TimeSpan? KeepWithin { get; init; }

    /// <summary>Apply only to these kinds (e.g. auto backups for <c>max_backup_count</c>); others are kept.</summary>
    public IReadOnlyList<SnapshotKind> Kinds { get; init; } = [];

    /// <summary>Whether any rule is set.</summary>
    public bool HasRules => KeepLast is not null || KeepHourly is not null || KeepDaily is not null || KeepWeekly is not null
        || KeepMonthly is not null || KeepYearly is not null || KeepWithin is not null;
}

/// <summary>What <see cref="BackupRepository.ForgetAsync(RetentionPolicy, bool, CancellationToken)"/> decided.</summary>
/// <param name="Kept">Snapshots kept.</param>
/// <param name="Removed">Snapshots forgotten (or that would be, in a dry run).</param>
public sealed record ForgetResult(IReadOnlyList<SnapshotInfo> Kept, IReadOnlyList<SnapshotInfo> Removed);

/// <summary>What <see cref="BackupRepository.PruneAsync"/> did.</summary>
/// <param name="PacksDeleted">Packs deleted (unused, unindexed, or emptied by repacking).</param>
/// <param name="PacksRepacked">Partly used packs whose live blobs were copied to new packs.</param>
/// <param name="PacksWritten">New packs written by repacking.</param>
/// <param name="BlobsRemoved">Blobs no snapshot uses any more.</param>
/// <param name="BytesFreed">Bytes of packs deleted minus bytes of packs written.</param>
public sealed record PruneResult(int PacksDeleted, int PacksRepacked, int PacksWritten, long BlobsRemoved, long BytesFreed)
{
    /// <summary>Leftovers of interrupted writes removed (temp files of a crashed backup).</summary>
    public int IncompleteWritesRemoved { get; init; }

    /// <summary>Items whose Object Lock retention was renewed (repositories with Object Lock only).</summary>
    public int RetentionRenewed { get; init; }
}

/// <summary>
/// The pruner: forgets snapshots (by a <see cref="RetentionPolicy"/> or by id) and frees what no snapshot uses, crash
/// safe at every step.
/// </summary>
internal sealed class Pruner(BackupRepository repository)
{
    public async Task<ForgetResult> ForgetAsync(RetentionPolicy policy, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (!policy.HasRules)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give at least one --keep-* rule: forgetting every snapshot is never a policy.");
        }

        var all = await repository.ListSnapshotsAsync(cancellationToken).ConfigureAwait(false);
        var keep = Retention.Select(all, policy);
        var removed = all.Where(s => !keep.Contains(s.Id)).ToList();
        if (!dryRun)
        {
            foreach (var snapshot in removed)
            {
                await DeleteSnapshotAsync(snapshot.Id, cancellationToken).ConfigureAwait(false);
            }
        }

        return new ForgetResult([.. all.Where(s => keep.Contains(s.Id))], removed);
    }

    public async Task<IReadOnlyList<SnapshotInfo>> ForgetSnapshotsAsync(IEnumerable<string> snapshotIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshotIds);
        var removed = new List<SnapshotInfo>();
        foreach (var id in snapshotIds)
        {
            SnapshotInfo info;
            if (id == "latest")
            {
                info = (await repository.FindSnapshotAsync(id, cancellationToken).ConfigureAwait(false)).Info;
            }
            else
            {
                var name = await repository.ResolveSnapshotIdAsync(id, cancellationToken).ConfigureAwait(false);
                try
                {
                    info = (await repository.ReadSnapshotAsync(name, cancellationToken).ConfigureAwait(false)).Info;
                }
                catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.Corrupt)
                {
                    // A damaged snapshot is forgotten by its id alone: that is the remedy its error message gives.
                    info = new SnapshotInfo { Id = name, Time = DateTimeOffset.MinValue, Kind = SnapshotKind.Manual, Description = "damaged" };
                }
            }

            await DeleteSnapshotAsync(info.Id, cancellationToken).ConfigureAwait(false);
            removed.Add(info);
        }

        return removed;
    }

    private async Task DeleteSnapshotAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await repository.Backend.DeleteAsync($"{RepositoryNames.Snapshots}/{id}", cancellationToken).ConfigureAwait(false);
            repository.Forget(id);
        }
        catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.RemoteAccess)
        {
            throw AppendOnly("forget", ex);
        }
    }

    /// <summary>The refusal of a delete by credentials that may only add (docs/s3.md, "Ransomware").</summary>
    internal static MdmaiException AppendOnly(string what, Exception? inner = null) => new(MdmaiErrorCode.RemoteAccess,
        $"These credentials cannot delete from the repository (append-only), so they cannot {what}; nothing was deleted. Run '{what}' with credentials that may delete (the maintenance keys), e.g. from another machine.", inner);

    public async Task<PruneResult> PruneAsync(double repackThreshold = 0.2, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!await RepositoryLock.CanDeleteAsync(repository.Backend, repository.LockTimeToLive, cancellationToken).ConfigureAwait(false))
        {
            throw AppendOnly("prune");
        }

        await using var repositoryLock = await repository.LockAsync(exclusive: true, cancellationToken).ConfigureAwait(false);

        await repository.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        var oldIndexFiles = repository.IndexFiles.Concat(repository.DamagedIndexNames).ToList();

        // 1. Every pack; those no index names (an interrupted backup, a damaged index file) are indexed first.
        var stored = new Dictionary<UInt128, long>();
        await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Data, cancellationToken).ConfigureAwait(false))
        {
            if (RepositoryNames.TryParsePack(item.Name, out var pack))
            {
                stored[pack] = item.Length;
            }
        }

        // Packs no index names (an interrupted backup, a damaged index file) are indexed from their own headers, so
        // what a snapshot uses in them is kept.
        var indexed = repository.Index.Packs.ToHashSet();
        foreach (var pack in stored.Keys.Where(p => !indexed.Contains(p)).ToList())
        {
            try
            {
                repository.Index.Add(pack, await PackFormat.ReadHeaderAsync(repository.Backend, repository.Crypto, RepositoryNames.Pack(pack), pack, cancellationToken, stored[pack]).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is InvalidDataException or MdmaiException)
            {
                // unreadable: nothing in it can be used; it is deleted below like any unused pack
            }
        }

        // 2. What is used: every blob of every snapshot's file list.
        var used = new HashSet<BlobId>();
        var snapshots = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Snapshots, cancellationToken).ConfigureAwait(false))
        {
            snapshots.Add(item.Name);
            var snapshot = await repository.ReadSnapshotAsync(RepositoryNames.Leaf(item.Name), cancellationToken).ConfigureAwait(false);
            foreach (var tree in snapshot.Tree)
            {
                used.Add(BlobId.Parse(tree));
            }

            await foreach (var entry in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
            {
                foreach (var chunk in entry.Chunks ?? [])
                {
                    used.Add(BlobId.Parse(chunk));
                }
            }
        }

        // 3. Per pack: live and dead bytes (a blob indexed twice lives only where the index points).
        var lost = used.Where(id => !repository.Index.TryGet(id, out var l) || !stored.ContainsKey(l.Pack)).Take(1).ToList();
        if (lost.Count > 0)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {lost[0]}, which a snapshot uses, is not in any pack of the repository. Nothing was pruned; run 'mdmai backup verify' to see what is damaged.");
        }

        var blobs = repository.Index.Blobs; // a copy of the whole index: taken once
        var live = blobs.Where(b => used.Contains(b.Key)).GroupBy(b => b.Value.Pack).ToDictionary(g => g.Key, g => g.ToList());
        var removedBlobs = blobs.LongCount(b => !used.Contains(b.Key));
        var delete = stored.Keys.Where(p => !live.ContainsKey(p)).ToList();
        var repack = live.Where(p => stored.TryGetValue(p.Key, out var length)
            && 1 - ((double)p.Value.Sum(b => (long)b.Value.StoredLength) / Math.Max(1, length)) > repackThreshold).Select(p => p.Key).ToList();
        var keptPacks = live.Keys.Where(p => stored.ContainsKey(p) && !repack.Contains(p)).ToList();

        // 4. Copy the live blobs of sparse packs into new packs (sealed bytes move as they are, after authenticating).
        var newIndex = keptPacks.Select(p => (p, (IReadOnlyList<PackEntry>)[.. live[p].Select(b => new PackEntry(b.Key, b.Value.Type, b.Value.Compressed, b.Value.Offset, b.Value.StoredLength, b.Value.RawLength))])).ToList();
        var written = 0;
        long writtenBytes = 0;
        var queue = new Queue<KeyValuePair<BlobId, BlobLocation>>(repack.SelectMany(p => live[p]).OrderBy(b => b.Value.Pack).ThenBy(b => b.Value.Offset));
        while (queue.Count > 0)
        {
            var (pack, entries, length) = await repository.WritePackAsync(async (size, ct) =>
            {
                if (size >= repository.PackSize || !queue.TryDequeue(out var blob))
                {
                    return null;
                }

                var (id, location) = (blob.Key, blob.Value);
                var buffer = new RentedArray((int)location.StoredLength);
                var stored = buffer.Array.AsMemory(0, (int)location.StoredLength);
                var plain = ArrayPool<byte>.Shared.Rent((int)location.RawLength);
                try
                {
                    await PackFormat.ReadExactlyAsync(repository.Backend, RepositoryNames.Pack(location.Pack), location.Offset, stored, ct).ConfigureAwait(false);
                    repository.OpenBlob(id, location, stored.Span, plain.AsSpan(0, (int)location.RawLength), RepositoryNames.Pack(location.Pack));
                }
                catch
                {
                    buffer.Dispose();
                    throw;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(plain);
                }

                return new SealedBlob(id, location.Type, location.Compressed, location.RawLength, stored, buffer);
            }, cancellationToken).ConfigureAwait(false);
            newIndex.Add((pack, entries));
            written++;
            writtenBytes += length;
            progress?.Report(new BackupProgress(written, writtenBytes, null, null, RepositoryNames.Pack(pack)));
        }

        // 5. One new index for everything kept, then drop the old index files, then the old packs.
        var freed = 0L;
        var dropPacks = delete.Concat(repack).ToList();
        if (!await repositoryLock.EnsureHeldAsync(cancellationToken).ConfigureAwait(false))
        {
            // The lock lapsed (the machine slept): a backup may have run meanwhile and used blobs counted as unused.
            var now = new HashSet<string>(StringComparer.Ordinal);
            await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Snapshots, cancellationToken).ConfigureAwait(false))
            {
                now.Add(item.Name);
            }

            if (!now.SetEquals(snapshots))
            {
                throw new MdmaiException(MdmaiErrorCode.Locked,
                    "The prune's lock on the repository lapsed (the machine slept or was offline) and the snapshots changed meanwhile: nothing was deleted. Run 'mdmai backup prune' again.");
            }
        }

        if (dropPacks.Count > 0 || oldIndexFiles.Count > 1 || removedBlobs > 0 || repository.DamagedIndexFiles.Count > 0 || stored.Keys.Any(p => !indexed.Contains(p)))
        {
            repository.IndexFiles.Clear();
            await repository.WriteIndexAsync(newIndex, cancellationToken).ConfigureAwait(false);
            foreach (var name in oldIndexFiles)
            {
                await repository.Backend.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
            }

            foreach (var pack in dropPacks)
            {
                await repository.Backend.DeleteAsync(RepositoryNames.Pack(pack), cancellationToken).ConfigureAwait(false);
                freed += stored[pack];
            }
        }

        await repository.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        var debris = await repository.Backend.DeleteIncompleteAsync(cancellationToken).ConfigureAwait(false);
        var renewed = await repository.RenewRetentionAsync(cancellationToken).ConfigureAwait(false);
        repository.TreeCache?.Trim(repository.Index.Contains);
        return new PruneResult(dropPacks.Count, repack.Count, written, removedBlobs, freed - writtenBytes) { IncompleteWritesRemoved = debris, RetentionRenewed = renewed };
    }
}

/// <summary>The retention rules.</summary>
internal static class Retention
{
    public static HashSet<string> Select(IReadOnlyList<SnapshotInfo> snapshots, RetentionPolicy policy)
    {
        var keep = new HashSet<string>(StringComparer.Ordinal);
        if (snapshots.Count == 0)
        {
            return keep;
        }

        keep.Add(snapshots.MaxBy(s => s.Time)!.Id); // the newest is never forgotten by a policy
        var candidates = new List<SnapshotInfo>();
        foreach (var s in snapshots)
        {
            if (policy.Kinds.Count > 0 && !policy.Kinds.Contains(s.Kind))
            {
                keep.Add(s.Id);
            }
            else
            {
                candidates.Add(s);
            }
        }

        var newestFirst = candidates.OrderByDescending(s => s.Time).ToList();
        if (policy.KeepLast is { } last)
        {
            foreach (var s in newestFirst.Take(last))
            {
                keep.Add(s.Id);
            }
        }

        Bucket(newestFirst, policy.KeepHourly, t => t.ToString("yyyy-MM-dd HH", CultureInfo.InvariantCulture), keep);
        Bucket(newestFirst, policy.KeepDaily, t => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), keep);
        Bucket(newestFirst, policy.KeepWeekly, t => $"{ISOWeek.GetYear(t.UtcDateTime)}-{ISOWeek.GetWeekOfYear(t.UtcDateTime)}", keep);
        Bucket(newestFirst, policy.KeepMonthly, t => t.ToString("yyyy-MM", CultureInfo.InvariantCulture), keep);
        Bucket(newestFirst, policy.KeepYearly, t => t.ToString("yyyy", CultureInfo.InvariantCulture), keep);
        if (policy.KeepWithin is { } within && newestFirst.Count > 0)
        {
            var newest = snapshots.Max(s => s.Time);
            foreach (var s in newestFirst.Where(s => newest - s.Time <= within))
            {
                keep.Add(s.Id);
            }
        }

        return keep;
    }

    private static void Bucket(List<SnapshotInfo> newestFirst, int? count, Func<DateTimeOffset, string> bucket, HashSet<string> keep)
    {
        if (count is not { } n)
        {
            return;
        }

        string? last = null;
        foreach (var s in newestFirst)
        {
            if (n <= 0)
            {
                break;
            }

            var b = bucket(s.Time.ToUniversalTime());
            if (b != last)
            {
                keep.Add(s.Id);
                last = b;
                n--;
            }
        }
    }
}
