using System.Buffers;
using System.Globalization;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Backup;

/// <summary>How deeply <see cref="BackupRepository.VerifyAsync"/> checks.</summary>
public sealed record VerifyOptions
{
    /// <summary>Also read every pack, open every blob and re-hash its content.</summary>
    public bool ReadData { get; init; }

    /// <summary>With <see cref="ReadData"/>: the share of packs to read, 0–100 (a random subset; 100 reads all).</summary>
    public double SubsetPercent { get; init; } = 100;
}

/// <summary>What <see cref="BackupRepository.VerifyAsync"/> found.</summary>
public sealed record VerifyReport
{
    /// <summary>Snapshots checked.</summary>
    public int Snapshots { get; init; }

    /// <summary>Packs checked (header against index).</summary>
    public int Packs { get; init; }

    /// <summary>Blobs the index lists.</summary>
    public long Blobs { get; init; }

    /// <summary>Packs read in full (read-data).</summary>
    public int PacksRead { get; init; }

    /// <summary>Blobs opened and re-hashed (read-data).</summary>
    public long BlobsRead { get; init; }

    /// <summary>Bytes read from packs (read-data).</summary>
    public long BytesRead { get; init; }

    /// <summary>Packs no index names (left by an interrupted backup; prune removes them). Not an error.</summary>
    public int UnindexedPacks { get; init; }

    /// <summary>Every problem, naming the pack, blob or snapshot.</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>True when nothing is wrong.</summary>
    public bool Ok => Errors.Count == 0;
}

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
}

public sealed partial class BackupRepository
{
    /// <summary>
    /// Checks the repository: every index file, every pack's header against the index, every snapshot and that every
    /// blob it uses is indexed; with <see cref="VerifyOptions.ReadData"/> also reads packs and re-hashes every blob.
    /// </summary>
    public async Task<VerifyReport> VerifyAsync(VerifyOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new VerifyOptions();
        var errors = new List<string>();
        await LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        errors.AddRange(DamagedIndexFiles.Select(d => $"Index file {d} ('mdmai backup prune' rebuilds the index from the packs' headers)."));

        var stored = new Dictionary<UInt128, long>();
        var unindexed = 0;
        await foreach (var item in Backend.ListAsync(RepositoryNames.Data, cancellationToken).ConfigureAwait(false))
        {
            if (RepositoryNames.TryParsePack(item.Name, out var pack))
            {
                stored[pack] = item.Length;
            }
        }

        var byPack = _index.Blobs.GroupBy(b => b.Value.Pack).ToDictionary(g => g.Key, g => g.Select(b => b.Key).ToHashSet());
        var packs = 0;
        foreach (var pack in _index.Packs)
        {
            var name = RepositoryNames.Pack(pack);
            if (!stored.ContainsKey(pack))
            {
                errors.Add($"Pack '{name}' is missing; {byPack.GetValueOrDefault(pack)?.Count ?? 0} blobs in it are lost.");
                continue;
            }

            packs++;
            try
            {
                var header = await PackFormat.ReadHeaderAsync(Backend, _crypto, name, pack, cancellationToken).ConfigureAwait(false);
                var expected = byPack.GetValueOrDefault(pack) ?? [];
                foreach (var entry in header)
                {
                    if (_index.TryGet(entry.Id, out var location) && location.Pack == pack
                        && (location.Offset != entry.Offset || location.StoredLength != entry.StoredLength || location.RawLength != entry.RawLength))
                    {
                        errors.Add($"Pack '{name}': blob {entry.Id} is not where the index says it is.");
                    }
                }

                var inHeader = header.Select(e => e.Id).ToHashSet();
                foreach (var id in expected.Where(id => !inHeader.Contains(id)))
                {
                    errors.Add($"Pack '{name}' does not hold blob {id}, which the index places there.");
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or MdmaiException or FileNotFoundException)
            {
                errors.Add($"Pack '{name}': {ex.Message}");
            }
        }

        unindexed = stored.Keys.Count(p => !byPack.ContainsKey(p));
        var snapshots = 0;
        await foreach (var item in Backend.ListAsync(RepositoryNames.Snapshots, cancellationToken).ConfigureAwait(false))
        {
            var id = RepositoryNames.Leaf(item.Name);
            snapshots++;
            try
            {
                var snapshot = await ReadSnapshotAsync(id, cancellationToken).ConfigureAwait(false);
                foreach (var tree in snapshot.Tree.Where(t => !_index.Contains(BlobId.Parse(t))))
                {
                    errors.Add($"Snapshot {id}: its file list blob {tree} is not in the repository.");
                }

                if (snapshot.Tree.All(t => _index.Contains(BlobId.Parse(t))))
                {
                    await foreach (var entry in ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
                    {
                        var missing = (entry.Chunks ?? []).Count(c => !_index.Contains(BlobId.Parse(c)));
                        if (missing > 0)
                        {
                            errors.Add($"Snapshot {id}: '{entry.Path}' needs {missing} chunk(s) the repository does not have.");
                        }
                    }
                }
            }
            catch (MdmaiException ex)
            {
                errors.Add($"Snapshot {id}: {ex.Message}");
            }
        }

        int packsRead = 0;
        long blobsRead = 0, bytesRead = 0;
        if (options.ReadData)
        {
            var share = Math.Clamp(options.SubsetPercent, 0, 100) / 100;
            var selected = byPack.Keys.Where(stored.ContainsKey).Where(_ => share >= 1 || Random.Shared.NextDouble() < share).ToList();
            var total = selected.Count;
            var sync = new object();
            var arena = new BlockArena(ChunkArenaSize(_chunker.Parameters.MaxSize, 0));
            await Parallel.ForEachAsync(selected, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (pack, ct) =>
            {
                var (blobs, bytes, problems) = await ReadPackAsync(pack, byPack[pack], arena, ct).ConfigureAwait(false);
                lock (sync)
                {
                    packsRead++;
                    blobsRead += blobs;
                    bytesRead += bytes;
                    errors.AddRange(problems);
                    progress?.Report(new BackupProgress(packsRead, bytesRead, total, null, RepositoryNames.Pack(pack)));
                }
            }).ConfigureAwait(false);
        }

        return new VerifyReport
        {
            Snapshots = snapshots, Packs = packs, Blobs = _index.Count, PacksRead = packsRead, BlobsRead = blobsRead, BytesRead = bytesRead,
            UnindexedPacks = unindexed, Errors = errors,
        };
    }

    private async Task<(long Blobs, long Bytes, List<string> Errors)> ReadPackAsync(UInt128 pack, HashSet<BlobId> ids, BlockArena arena, CancellationToken cancellationToken)
    {
        var name = RepositoryNames.Pack(pack);
        var errors = new List<string>();
        var locations = ids.Select(id => (Id: id, Location: _index.TryGet(id, out var l) ? l : default)).OrderBy(x => x.Location.Offset).ToList();
        // Blob by blob, in pack order (sequential reads), each into two blocks of the arena the packs read at once share.
        long blobs = 0, bytes = 0;
        try
        {
            foreach (var (id, location) in locations)
            {
                var (stored, plain) = await arena.AllocateAsync((int)location.StoredLength, (int)location.RawLength, cancellationToken).ConfigureAwait(false);
                using (stored)
                using (plain)
                {
                    var sealedBlob = stored.Memory[..(int)location.StoredLength];
                    await PackFormat.ReadExactlyAsync(Backend, name, location.Offset, sealedBlob, cancellationToken).ConfigureAwait(false);
                    bytes += location.StoredLength;
                    try
                    {
                        OpenBlob(id, location, sealedBlob.Span, plain.Memory.Span[..(int)location.RawLength], name);
                        blobs++;
                    }
                    catch (MdmaiException ex)
                    {
                        errors.Add(ex.Message);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FileNotFoundException)
        {
            errors.Add($"Pack '{name}': {ex.Message}");
        }

        return (blobs, bytes, errors);
    }

    /// <summary>Forgets the snapshots <paramref name="policy"/> does not keep (only their snapshot files; <see cref="PruneAsync"/> frees the data).</summary>
    public async Task<ForgetResult> ForgetAsync(RetentionPolicy policy, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (!policy.HasRules)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give at least one --keep-* rule: forgetting every snapshot is never a policy.");
        }

        var all = await ListSnapshotsAsync(cancellationToken).ConfigureAwait(false);
        var keep = Retention.Select(all, policy);
        var removed = all.Where(s => !keep.Contains(s.Id)).ToList();
        if (!dryRun)
        {
            foreach (var snapshot in removed)
            {
                await Backend.DeleteAsync($"{RepositoryNames.Snapshots}/{snapshot.Id}", cancellationToken).ConfigureAwait(false);
            }
        }

        return new ForgetResult([.. all.Where(s => keep.Contains(s.Id))], removed);
    }

    /// <summary>Forgets the named snapshots.</summary>
    public async Task<IReadOnlyList<SnapshotInfo>> ForgetSnapshotsAsync(IEnumerable<string> snapshotIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshotIds);
        var removed = new List<SnapshotInfo>();
        foreach (var id in snapshotIds)
        {
            SnapshotInfo info;
            if (id == "latest")
            {
                info = (await FindSnapshotAsync(id, cancellationToken).ConfigureAwait(false)).Info;
            }
            else
            {
                var name = await ResolveSnapshotIdAsync(id, cancellationToken).ConfigureAwait(false);
                try
                {
                    info = (await ReadSnapshotAsync(name, cancellationToken).ConfigureAwait(false)).Info;
                }
                catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.Corrupt)
                {
                    // A damaged snapshot is forgotten by its id alone: that is the remedy its error message gives.
                    info = new SnapshotInfo { Id = name, Time = DateTimeOffset.MinValue, Kind = SnapshotKind.Manual, Description = "damaged" };
                }
            }

            await Backend.DeleteAsync($"{RepositoryNames.Snapshots}/{info.Id}", cancellationToken).ConfigureAwait(false);
            removed.Add(info);
        }

        return removed;
    }

    /// <summary>
    /// Frees what no snapshot uses: deletes unused and unindexed packs and repacks packs that are mostly unused. Crash
    /// safe at every step: new packs, then a new index covering everything kept, then the old index files, then the
    /// old packs — an interruption leaves at worst garbage the next prune removes.
    /// </summary>
    public async Task<PruneResult> PruneAsync(double repackThreshold = 0.2, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        await using var repositoryLock = await RepositoryLock.AcquireAsync(Backend, exclusive: true, cancellationToken).ConfigureAwait(false);
        await LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        var oldIndexFiles = _indexFiles.Concat(_damagedIndexNames).ToList();

        // 1. Every pack; those no index names (an interrupted backup, a damaged index file) are indexed first.
        var stored = new Dictionary<UInt128, long>();
        await foreach (var item in Backend.ListAsync(RepositoryNames.Data, cancellationToken).ConfigureAwait(false))
        {
            if (RepositoryNames.TryParsePack(item.Name, out var pack))
            {
                stored[pack] = item.Length;
            }
        }

        // Packs no index names (an interrupted backup, a damaged index file) are indexed from their own headers, so
        // what a snapshot uses in them is kept.
        var indexed = _index.Packs.ToHashSet();
        foreach (var pack in stored.Keys.Where(p => !indexed.Contains(p)).ToList())
        {
            try
            {
                _index.Add(pack, await PackFormat.ReadHeaderAsync(Backend, _crypto, RepositoryNames.Pack(pack), pack, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is InvalidDataException or MdmaiException)
            {
                // unreadable: nothing in it can be used; it is deleted below like any unused pack
            }
        }

        // 2. What is used: every blob of every snapshot's file list.
        var used = new HashSet<BlobId>();
        await foreach (var item in Backend.ListAsync(RepositoryNames.Snapshots, cancellationToken).ConfigureAwait(false))
        {
            var snapshot = await ReadSnapshotAsync(RepositoryNames.Leaf(item.Name), cancellationToken).ConfigureAwait(false);
            foreach (var tree in snapshot.Tree)
            {
                used.Add(BlobId.Parse(tree));
            }

            await foreach (var entry in ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
            {
                foreach (var chunk in entry.Chunks ?? [])
                {
                    used.Add(BlobId.Parse(chunk));
                }
            }
        }

        // 3. Per pack: live and dead bytes (a blob indexed twice lives only where the index points).
        var lost = used.Where(id => !_index.TryGet(id, out var l) || !stored.ContainsKey(l.Pack)).Take(1).ToList();
        if (lost.Count > 0)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {lost[0]}, which a snapshot uses, is not in any pack of the repository. Nothing was pruned; run 'mdmai backup verify' to see what is damaged.");
        }

        var live = _index.Blobs.Where(b => used.Contains(b.Key)).GroupBy(b => b.Value.Pack).ToDictionary(g => g.Key, g => g.ToList());
        var removedBlobs = _index.Blobs.LongCount(b => !used.Contains(b.Key));
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
            var (pack, entries, length) = await WritePackAsync(async (size, ct) =>
            {
                if (size >= PackSize || !queue.TryDequeue(out var blob))
                {
                    return null;
                }

                var (id, location) = (blob.Key, blob.Value);
                var buffer = new RentedArray((int)location.StoredLength);
                var stored = buffer.Array.AsMemory(0, (int)location.StoredLength);
                var plain = ArrayPool<byte>.Shared.Rent((int)location.RawLength);
                try
                {
                    await PackFormat.ReadExactlyAsync(Backend, RepositoryNames.Pack(location.Pack), location.Offset, stored, ct).ConfigureAwait(false);
                    OpenBlob(id, location, stored.Span, plain.AsSpan(0, (int)location.RawLength), RepositoryNames.Pack(location.Pack));
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
        if (dropPacks.Count > 0 || oldIndexFiles.Count > 1 || removedBlobs > 0 || DamagedIndexFiles.Count > 0 || stored.Keys.Any(p => !indexed.Contains(p)))
        {
            _indexFiles.Clear();
            await WriteIndexAsync(newIndex, cancellationToken).ConfigureAwait(false);
            foreach (var name in oldIndexFiles)
            {
                await Backend.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
            }

            foreach (var pack in dropPacks)
            {
                await Backend.DeleteAsync(RepositoryNames.Pack(pack), cancellationToken).ConfigureAwait(false);
                freed += stored[pack];
            }
        }

        await LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        var debris = await Backend.DeleteIncompleteAsync(cancellationToken).ConfigureAwait(false);
        return new PruneResult(dropPacks.Count, repack.Count, written, removedBlobs, freed - writtenBytes) { IncompleteWritesRemoved = debris };
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
}
