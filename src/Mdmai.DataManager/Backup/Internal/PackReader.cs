namespace Mdmai.DataManager.Backup.Internal;

/// <summary>A blob to read, where the index says it is.</summary>
internal readonly record struct WantedBlob(BlobId Id, BlobLocation Location);

/// <summary>Bytes <see cref="Start"/> … <see cref="End"/> of one pack, holding <see cref="Blobs"/> in pack order.</summary>
internal sealed record PackRange(UInt128 Pack, long Start, long End, IReadOnlyList<WantedBlob> Blobs)
{
    public long Length => End - Start;
}

/// <summary>
/// Reads many blobs in few requests (restore, verify): the wanted blobs of each pack, in pack order, are merged into
/// ranges — a gap between two of them is read and skipped when that is cheaper than asking again — and each range is
/// read as one stream (one GET from an object store), blob by blob into blocks of an arena, each authenticated and
/// re-hashed against its id before it is handed on. Memory is the arena, whatever the number and size of the blobs.
/// </summary>
internal static class PackReader
{
    /// <summary>The largest gap read through rather than asked for again: ~a request's worth of bytes far away, little on a disk.</summary>
    public static long GapFor(IBackupBackend backend) => backend.Requests is null ? 64 * 1024 : 4 * 1024 * 1024;

    /// <summary>How many ranges pay to read at once: every core for a disk (opening blobs is CPU work), more for an object store.</summary>
    public static int ParallelismFor(IBackupBackend backend) => Math.Max(Environment.ProcessorCount, backend.Requests is null ? 1 : backend.ConcurrentWrites * 2);

    /// <summary>
    /// How far a range of more than one blob is read ahead: the blobs of small files lie back to back, and without it
    /// each was a read call of its own (a restore of 10k small files: 10k <c>pread</c>s, one a file). Below the
    /// large-object heap's threshold; a blob at least this long is read straight into its block.
    /// </summary>
    private const int ReadAheadBytes = 64 * 1024;

    /// <summary>The ranges that hold <paramref name="blobs"/> (each blob once), by pack and offset.</summary>
    public static List<PackRange> Ranges(IEnumerable<WantedBlob> blobs, long maxGap)
    {
        var ranges = new List<PackRange>();
        foreach (var pack in blobs.GroupBy(b => b.Location.Pack))
        {
            List<WantedBlob>? current = null;
            long start = 0, end = 0;
            foreach (var blob in pack.OrderBy(b => b.Location.Offset))
            {
                var offset = (long)blob.Location.Offset;
                if (current is not null && offset < end)
                {
                    continue; // the same place twice
                }

                if (current is null || offset - end > maxGap)
                {
                    if (current is not null)
                    {
                        ranges.Add(new PackRange(pack.Key, start, end, current));
                    }

                    current = [];
                    start = offset;
                }

                current.Add(blob);
                end = offset + blob.Location.StoredLength;
            }

            if (current is not null)
            {
                ranges.Add(new PackRange(pack.Key, start, end, current));
            }
        }

        return ranges;
    }

    /// <summary>
    /// Reads the blobs of <paramref name="range"/> and hands each, opened, to <paramref name="onBlob"/>. A blob that does
    /// not open goes to <paramref name="onDamaged"/> (verify lists it and goes on) or, without it, ends the read
    /// (<see cref="MdmaiErrorCode.Corrupt"/>). A pack that is missing or shorter than the index says is Corrupt, named.
    /// </summary>
    public static async Task ReadAsync(BackupRepository repository, PackRange range, BlockArena arena,
        Func<WantedBlob, ReadOnlyMemory<byte>, CancellationToken, ValueTask> onBlob, Action<WantedBlob, MdmaiException>? onDamaged, CancellationToken cancellationToken)
    {
        var name = RepositoryNames.Pack(range.Pack);
        try
        {
            var opened = await repository.Backend.OpenReadAsync(name, range.Start, range.Length, cancellationToken).ConfigureAwait(false);
            await using var stream = range.Blobs.Count > 1 ? new BufferedStream(opened, ReadAheadBytes) : opened;
            var position = range.Start;
            byte[]? skip = null;
            foreach (var blob in range.Blobs)
            {
                while (position < blob.Location.Offset)
                {
                    skip ??= new byte[64 * 1024];
                    position += await stream.ReadAsync(skip.AsMemory(0, (int)Math.Min(skip.Length, blob.Location.Offset - position)), cancellationToken).ConfigureAwait(false);
                }

                var (stored, plain) = await arena.AllocateAsync((int)blob.Location.StoredLength, (int)blob.Location.RawLength, cancellationToken).ConfigureAwait(false);
                using (stored)
                using (plain)
                {
                    var sealedBlob = stored.Memory[..(int)blob.Location.StoredLength];
                    await stream.ReadExactlyAsync(sealedBlob, cancellationToken).ConfigureAwait(false);
                    position += sealedBlob.Length;
                    var content = plain.Memory[..(int)blob.Location.RawLength];
                    try
                    {
                        repository.OpenBlob(blob.Id, blob.Location, sealedBlob.Span, content.Span, name);
                    }
                    catch (MdmaiException ex) when (onDamaged is not null)
                    {
                        onDamaged(blob, ex);
                        continue;
                    }

                    await onBlob(blob, content, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (FileNotFoundException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Pack '{name}' (holding {range.Blobs.Count} blob(s) to read) is missing from the repository.", ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Pack '{name}' is shorter than the index says: it is truncated. Run 'mdmai backup verify'.", ex);
        }
    }
}
