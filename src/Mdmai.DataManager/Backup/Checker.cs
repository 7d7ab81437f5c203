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
/// The checker: reads the repository back — index files, pack headers against the index, snapshots and every blob they
/// use, and with <see cref="VerifyOptions.ReadData"/> the packs' content, blob by blob — and reports what is wrong.
/// </summary>
internal sealed class Checker(BackupRepository repository)
{
    public async Task<VerifyReport> VerifyAsync(VerifyOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new VerifyOptions();
        var errors = new List<string>();
        await repository.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        errors.AddRange(repository.DamagedIndexFiles.Select(d => $"Index file {d} ('mdmai backup prune' rebuilds the index from the packs' headers)."));

        var stored = new Dictionary<UInt128, long>();
        var unindexed = 0;
        await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Data, cancellationToken).ConfigureAwait(false))
        {
            if (RepositoryNames.TryParsePack(item.Name, out var pack))
            {
                stored[pack] = item.Length;
            }
        }

        var byPack = repository.Index.Blobs.GroupBy(b => b.Value.Pack).ToDictionary(g => g.Key, g => g.Select(b => b.Key).ToHashSet());
        var packs = 0;
        foreach (var pack in repository.Index.Packs)
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
                var header = await PackFormat.ReadHeaderAsync(repository.Backend, repository.Crypto, name, pack, cancellationToken, stored[pack]).ConfigureAwait(false);
                var expected = byPack.GetValueOrDefault(pack) ?? [];
                foreach (var entry in header)
                {
                    if (repository.Index.TryGet(entry.Id, out var location) && location.Pack == pack
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
        await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Snapshots, cancellationToken).ConfigureAwait(false))
        {
            var id = RepositoryNames.Leaf(item.Name);
            snapshots++;
            try
            {
                var snapshot = await repository.ReadSnapshotAsync(id, cancellationToken).ConfigureAwait(false);
                foreach (var tree in snapshot.Tree.Where(t => !repository.Index.Contains(BlobId.Parse(t))))
                {
                    errors.Add($"Snapshot {id}: its file list blob {tree} is not in the repository.");
                }

                if (snapshot.Tree.All(t => repository.Index.Contains(BlobId.Parse(t))))
                {
                    await foreach (var entry in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
                    {
                        var missing = (entry.Chunks ?? []).Count(c => !repository.Index.Contains(BlobId.Parse(c)));
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
            var totalBytes = selected.Sum(p => stored[p]);
            long packBytesRead = 0;
            var sync = new object();
            var arena = new BlockArena(BackupRepository.ChunkArenaSize(repository.Chunker.Parameters.MaxSize, 0));
            await Parallel.ForEachAsync(selected, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (pack, ct) =>
            {
                var (blobs, bytes, problems) = await ReadPackAsync(pack, byPack[pack], arena, ct).ConfigureAwait(false);
                lock (sync)
                {
                    packsRead++;
                    blobsRead += blobs;
                    bytesRead += bytes;
                    errors.AddRange(problems);
                    packBytesRead += stored[pack];
                    progress?.Report(new BackupProgress(packsRead, packBytesRead, total, totalBytes, RepositoryNames.Pack(pack)));
                }
            }).ConfigureAwait(false);
        }

        return new VerifyReport
        {
            Snapshots = snapshots, Packs = packs, Blobs = repository.Index.Count, PacksRead = packsRead, BlobsRead = blobsRead, BytesRead = bytesRead,
            UnindexedPacks = unindexed, Errors = errors,
        };
    }

    private async Task<(long Blobs, long Bytes, List<string> Errors)> ReadPackAsync(UInt128 pack, HashSet<BlobId> ids, BlockArena arena, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var wanted = ids.Select(id => repository.Index.TryGet(id, out var l) ? new WantedBlob(id, l) : default).Where(w => w.Location.Pack == pack).ToList();

        // The pack's indexed blobs in pack order, in as few reads as they lie (one for a whole pack), each into two
        // blocks of the arena the packs read at once share.
        long blobs = 0, bytes = 0;
        try
        {
            foreach (var range in PackReader.Ranges(wanted, PackReader.GapFor(repository.Backend)))
            {
                await PackReader.ReadAsync(repository, range, arena, (blob, _, _) =>
                {
                    blobs++;
                    bytes += blob.Location.StoredLength;
                    return ValueTask.CompletedTask;
                }, (blob, ex) =>
                {
                    bytes += blob.Location.StoredLength;
                    errors.Add(ex.Message);
                }, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.Corrupt)
        {
            errors.Add(ex.Message);
        }

        return (blobs, bytes, errors);
    }
}
