using System.Buffers.Binary;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// The blob index: every blob's location, loaded from the repository's index files, extended as packs are written.
/// Index files (docs/backup-format.md) are sealed, zstd-compressed lists of packs and their entries.
/// <para>
/// Up to <see cref="SpillThreshold"/> blobs are held in memory. Past that the blobs held are written out, sorted by id,
/// as a run: a file of the spill folder (the user's cache, <see cref="DefaultSpillFolder"/>) unlinked as soon as it is
/// open, so nothing outlives the process. Memory then keeps of a run only its first id every 85 blobs and a Bloom filter
/// (~1.6 bytes a blob instead of ~60): a backup's memory stays flat from 10k to 1M files. Runs of like size are merged
/// (at most a few stay), a lookup that misses the memory asks each run's filter and looks in one 4 KiB page of a run that
/// may hold it (read from the run's file unless the runs' shared <see cref="RunPageCache"/> holds it). Where no run can be written (no folder, a full disk), the index goes on in memory, as it always did.
/// An id is in one place only: a blob added again is dropped where it is already known (the first location stays).
/// </para>
/// </summary>
internal sealed class RepositoryIndex : IDisposable
{
    /// <summary>
    /// Blobs held in memory before they are written out as a run (~4 MB of dictionaries). 131,072 held a first backup of
    /// 1M tiny files at 70–78 MB against 64 MB at 10k; at 65,536, 67–69 MB, and a no-change backup of 100k files took
    /// 2.30 s against 2.03 s (medians of 3): a third of its lookups read a page.
    /// </summary>
    public const int DefaultSpillThreshold = 1 << 16;

    /// <summary>
    /// A blob's place without an object of its own and without its pack's 16-byte id (a number into <see cref="_packIds"/>,
    /// sharing its 32 bits with the blob's type and whether it is compressed): 56 bytes a blob in a dictionary's entry
    /// (with the 32-byte id, hash and link) instead of ~110 as a concurrent dictionary's node, and nothing for the garbage
    /// collector to trace. A run stores it as it is, after the id.
    /// </summary>
    internal readonly record struct Slot(uint PackAndFlags, uint Offset, uint StoredLength, uint RawLength)
    {
        /// <summary>Packs a repository may index: the pack number takes the bits the type and the compression flag leave.</summary>
        public const int MaxPacks = 1 << 29;

        public static Slot From(int pack, PackEntry e) =>
            new(((uint)pack << 3) | ((uint)e.Type << 1) | (e.Compressed ? 1u : 0u), e.Offset, e.StoredLength, e.RawLength);

        public int Pack => (int)(PackAndFlags >> 3);

        public BlobType Type => (BlobType)((PackAndFlags >> 1) & 3);

        public bool Compressed => (PackAndFlags & 1) != 0;
    }

    /// <summary>
    /// Blobs held, in 256 dictionaries by the first byte of their id (an id is a keyed hash: they spread evenly). One
    /// dictionary doubling held the entries it outgrew beside the new ones until a full collection (at 1M blobs ~45 MB
    /// beside ~90 MB); a shard that grows copies 1/256 of that. Shards taken in order, each sorted, give a run's order.
    /// </summary>
    private readonly Dictionary<BlobId, Slot>[] _shards = [.. Enumerable.Range(0, 256).Select(_ => new Dictionary<BlobId, Slot>())];
    private readonly List<UInt128> _packIds = [];
    private readonly Dictionary<UInt128, int> _packs = [];

    /// <summary>Lookups share it (a run's page is read under it); adding, spilling and removing take it alone.</summary>
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly string? _spillFolder;

    /// <summary>The runs written, oldest first; every id in them is in no other run and not held.</summary>
    private readonly List<IndexRun> _runs = [];

    /// <summary>The runs' pages once read, while they fit in it whole (<see cref="ShareCache"/>).</summary>
    private RunPageCache? _pages;
    private int _held;
    private bool _cannotSpill;
    private bool _disposed;

    /// <param name="spillFolder">Where runs are written; null keeps every blob in memory.</param>
    /// <param name="spillThreshold">Blobs held in memory before they are written out as a run.</param>
    public RepositoryIndex(string? spillFolder = null, int spillThreshold = DefaultSpillThreshold)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(spillThreshold, 1);
        _spillFolder = spillFolder;
        SpillThreshold = spillThreshold;
    }

    /// <summary>
    /// The folder of the user's cache where runs are written (<c>$XDG_CACHE_HOME/mdmai/index</c> or
    /// <c>~/.cache/mdmai/index</c>); null, and the index in memory, when the process has no home to find it from.
    /// </summary>
    public static string? DefaultSpillFolder { get; } = Path.Combine(CachedBackend.CacheHome(Environment.GetEnvironmentVariable), "index") is var folder && Path.IsPathRooted(folder) ? folder : null;

    public int SpillThreshold { get; }

    /// <summary>Whether the runs' pages are cached (tests).</summary>
    internal bool PagesCached => _pages is not null;

    /// <summary>Pages the runs read from their files for lookups (tests).</summary>
    internal long PageReads => SumOverRuns(r => r.PageReads);

    /// <summary>Pages the runs looked in for lookups, read or found in the cache (tests).</summary>
    internal long PageLookups => SumOverRuns(r => r.PageLookups);

    private long SumOverRuns(Func<IndexRun, long> count)
    {
        using (Reading())
        {
            return _runs.Sum(count);
        }
    }

    /// <summary>Runs written and not merged away (tests).</summary>
    internal int RunCount
    {
        get
        {
            using (Reading())
            {
                return _runs.Count;
            }
        }
    }

    private Dictionary<BlobId, Slot> Shard(BlobId id) => _shards[(int)(id.A >> 56)];

    /// <summary>Holds the lock shared until disposed (<c>using</c>): lookups.</summary>
    private LockScope Reading()
    {
        _lock.EnterReadLock();
        return new(_lock, write: false);
    }

    /// <summary>Holds the lock alone until disposed (<c>using</c>): adding, spilling, removing.</summary>
    private LockScope Writing()
    {
        _lock.EnterWriteLock();
        return new(_lock, write: true);
    }

    private readonly struct LockScope(ReaderWriterLockSlim held, bool write) : IDisposable
    {
        public void Dispose()
        {
            if (write)
            {
                held.ExitWriteLock();
            }
            else
            {
                held.ExitReadLock();
            }
        }
    }

    public int Count
    {
        get
        {
            using (Reading())
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return checked(_held + (int)_runs.Sum(r => r.Count));
            }
        }
    }

    /// <summary>The packs indexed, as they are now.</summary>
    public IEnumerable<UInt128> Packs
    {
        get
        {
            using (Reading())
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return [.. _packs.Keys];
            }
        }
    }

    /// <summary>Every blob and its place, as they are now (a copy: check and prune group it; a backup never enumerates it).</summary>
    public IEnumerable<KeyValuePair<BlobId, BlobLocation>> Blobs
    {
        get
        {
            using (Reading())
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return [.. _shards.SelectMany(s => s).Concat(_runs.SelectMany(r => r.ReadAll())).Select(b => KeyValuePair.Create(b.Key, Location(b.Value)))];
            }
        }
    }

    /// <summary>Makes room for <paramref name="blobs"/> blobs in all without growing again (a hint: more still fit; never more than a run's worth).</summary>
    public void EnsureCapacity(int blobs)
    {
        using (Writing())
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_spillFolder is not null)
            {
                blobs = Math.Min(blobs, SpillThreshold);
            }

            // Each shard gets its even share and a margin for the spread of a random split (a few standard deviations).
            var share = blobs / _shards.Length;
            foreach (var shard in _shards)
            {
                shard.EnsureCapacity(share + (4 * (int)Math.Sqrt(share)) + 1);
            }
        }
    }

    public bool Contains(BlobId id) => TryGetSlot(id, out _);

    public bool ContainsPack(UInt128 pack)
    {
        using (Reading())
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _packs.ContainsKey(pack);
        }
    }

    /// <summary>Forgets the packs and every blob located in them (runs are written again without them).</summary>
    public void RemovePacks(IReadOnlySet<UInt128> packs)
    {
        using (Writing())
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var numbers = packs.Where(_packs.ContainsKey).Select(p => _packs[p]).ToHashSet();
            foreach (var shard in _shards)
            {
                foreach (var (id, slot) in shard)
                {
                    if (numbers.Contains(slot.Pack))
                    {
                        shard.Remove(id);
                    }
                }
            }

            _held = _shards.Sum(s => s.Count);
            List<IndexRun>? kept = [];
            try
            {
                foreach (var run in _runs)
                {
                    kept.Add(IndexRun.Write(_spillFolder!, run.ReadAll().Where(e => !numbers.Contains(e.Value.Pack)), run.Count));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                kept.ForEach(r => r.Dispose());
                kept = null;
            }
            catch
            {
                kept.ForEach(r => r.Dispose());
                throw;
            }

            if (kept is null)
            {
                // The runs cannot be written again: what they keep comes back into memory, where the index stays. Read
                // whole first, so that a run that cannot be read either leaves the runs as they were.
                var back = _runs.SelectMany(r => r.ReadAll()).Where(e => !numbers.Contains(e.Value.Pack)).ToList();
                _cannotSpill = true;
                foreach (var (id, slot) in back)
                {
                    if (Shard(id).TryAdd(id, slot))
                    {
                        _held++;
                    }
                }

                kept = [];
            }

            _runs.ForEach(r => r.Dispose());
            _runs.Clear();
            _runs.AddRange(kept);
            ShareCache();

            foreach (var pack in packs)
            {
                _packs.Remove(pack); // its number stays taken: a pack added again gets a new one
            }
        }
    }

    public bool TryGet(BlobId id, out BlobLocation location)
    {
        using (Reading())
        {
            if (Find(id, out var slot))
            {
                location = Location(slot);
                return true;
            }
        }

        location = default;
        return false;
    }

    private bool TryGetSlot(BlobId id, out Slot slot)
    {
        using (Reading())
        {
            return Find(id, out slot);
        }
    }

    /// <summary>Finds a blob held or in a run (under the lock, either way).</summary>
    private bool Find(BlobId id, out Slot slot)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Shard(id).TryGetValue(id, out slot) || InRuns(id, out slot);
    }

    /// <summary>Finds a blob in the runs (under the lock, either way).</summary>
    private bool InRuns(BlobId id, out Slot slot)
    {
        foreach (var run in _runs)
        {
            if (run.TryGet(id, out slot))
            {
                return true;
            }
        }

        slot = default;
        return false;
    }

    public void Add(UInt128 pack, IEnumerable<PackEntry> entries)
    {
        using (Writing())
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var number = Number(pack);
            foreach (var e in entries)
            {
                Hold(e.Id, Slot.From(number, e));
            }
        }
    }

    /// <summary>Holds a blob unless it is known (under the lock alone, disposal checked); past the threshold, writes the blobs held out as a run.</summary>
    private void Hold(BlobId id, Slot slot)
    {
        if (InRuns(id, out _))
        {
            return;
        }

        if (Shard(id).TryAdd(id, slot) && ++_held >= SpillThreshold && _spillFolder is not null && !_cannotSpill)
        {
            Spill();
        }
    }

    /// <summary>
    /// Writes the blobs held out as a run, then merges the newest runs while the newer is at least half the older's size
    /// (each blob is written again a few times at most, and a few runs stay). A run that cannot be written leaves the
    /// blobs held, and the index in memory from then on; a merge that cannot be written leaves the runs as they were.
    /// </summary>
    private void Spill()
    {
        SpillAndMerge();
        ShareCache();
    }

    /// <summary>
    /// Gives the runs a cache of their pages while they fit in it whole, and none past that (where most lookups would
    /// miss it): the cache goes, and its memory with it. Under the write lock, whenever the runs change.
    /// </summary>
    private void ShareCache()
    {
        var pages = _runs.Sum(r => (long)r.Pages);
        _pages = pages is > 0 and <= RunPageCache.Slots ? _pages ?? new() : null;
        foreach (var run in _runs)
        {
            run.Cache = _pages;
        }
    }

    private void SpillAndMerge()
    {
        IndexRun run;
        try
        {
            run = IndexRun.Write(_spillFolder!, HeldInOrder(), _held);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _cannotSpill = true;
            return;
        }

        _runs.Add(run);
        foreach (var shard in _shards)
        {
            shard.Clear(); // keeps its arrays for the next run's worth
        }

        _held = 0;
        while (_runs.Count >= 2 && _runs[^1].Count * 2 >= _runs[^2].Count)
        {
            var (older, newer) = (_runs[^2], _runs[^1]);
            IndexRun merged;
            try
            {
                merged = IndexRun.Write(_spillFolder!, IndexRun.Merge(older.ReadAll(), newer.ReadAll()), older.Count + newer.Count);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return;
            }

            _runs.RemoveRange(_runs.Count - 2, 2);
            _runs.Add(merged);
            older.Dispose();
            newer.Dispose();
        }
    }

    /// <summary>The blobs held, in id order: shard by shard (the first byte), each sorted.</summary>
    private IEnumerable<KeyValuePair<BlobId, Slot>> HeldInOrder()
    {
        var ids = new BlobId[_shards.Max(s => s.Count)];
        var slots = new Slot[ids.Length];
        foreach (var shard in _shards)
        {
            var n = 0;
            foreach (var (id, slot) in shard)
            {
                (ids[n], slots[n]) = (id, slot);
                n++;
            }

            Array.Sort(ids, slots, 0, n);
            for (var i = 0; i < n; i++)
            {
                yield return KeyValuePair.Create(ids[i], slots[i]);
            }
        }
    }

    /// <summary>The number of <paramref name="pack"/>, given it now if it has none (under the lock).</summary>
    private int Number(UInt128 pack)
    {
        if (!_packs.TryGetValue(pack, out var number))
        {
            if (_packIds.Count >= Slot.MaxPacks)
            {
                throw new InvalidOperationException($"An index holds at most {Slot.MaxPacks:N0} packs.");
            }

            number = _packIds.Count;
            _packIds.Add(pack);
            _packs.Add(pack, number);
        }

        return number;
    }

    private BlobLocation Location(Slot slot) => new(_packIds[slot.Pack], slot.Offset, slot.StoredLength, slot.RawLength, slot.Type, slot.Compressed);

    /// <summary>Closes the runs (their files are already unlinked: the space is given back); lookups fail from then on.</summary>
    public void Dispose()
    {
        using (Writing())
        {
            _disposed = true;
            foreach (var run in _runs)
            {
                run.Dispose();
            }

            _runs.Clear();
            _pages = null;
        }
    }

    public static byte[] Encode(IReadOnlyList<(UInt128 Pack, IReadOnlyList<PackEntry> Entries)> packs, RepositoryCrypto crypto)
    {
        var size = 4 + packs.Sum(p => 20 + (p.Entries.Count * PackFormat.IndexEntrySize));
        var plain = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(plain, (uint)packs.Count);
        var span = plain.AsSpan(4);
        foreach (var (pack, entries) in packs)
        {
            BinaryPrimitives.WriteUInt128BigEndian(span, pack);
            BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)entries.Count);
            span = span[20..];
            foreach (var e in entries)
            {
                span[0] = (byte)e.Type;
                span[1] = e.Compressed ? (byte)1 : (byte)0;
                span[2] = span[3] = 0;
                BinaryPrimitives.WriteUInt32LittleEndian(span[4..], e.Offset);
                BinaryPrimitives.WriteUInt32LittleEndian(span[8..], e.RawLength);
                BinaryPrimitives.WriteUInt32LittleEndian(span[12..], e.StoredLength);
                e.Id.Write(span[16..]);
                span = span[PackFormat.IndexEntrySize..];
            }
        }

        using var compressor = new ZstdSharp.Compressor(3);
        return crypto.Seal(compressor.Wrap(plain), "mdmai-index"u8);
    }

    /// <summary>
    /// Adds the blobs of the index file <paramref name="sealedIndex"/>, opened and decompressed into
    /// <paramref name="opened"/> and <paramref name="plain"/> (grown when too small, kept by the caller for the next file):
    /// nothing is added unless the whole file is well formed. Loading a large index file by file through new arrays left
    /// ~3 MB of large objects per file for the collector: a no-change backup of 1M files peaked ~50 MB above the rest of
    /// its run while loading.
    /// </summary>
    public void AddFile(ReadOnlySpan<byte> sealedIndex, RepositoryCrypto crypto, string name, ref byte[] opened, ref byte[] plain)
    {
        var content = OpenFile(sealedIndex, crypto, name, ref opened, ref plain);
        Parse(content, name, null, null);
        using (Writing())
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var number = -1;
            Parse(content, name, pack => number = Number(pack), e => Hold(e.Id, Slot.From(number, e)));
        }
    }

    /// <summary>Opens and decompresses an index file into the buffers given (grown as needed); returns its content.</summary>
    private static ReadOnlySpan<byte> OpenFile(ReadOnlySpan<byte> sealedIndex, RepositoryCrypto crypto, string name, ref byte[] opened, ref byte[] plain)
    {
        var compressedLength = Math.Max(0, sealedIndex.Length - RepositoryCrypto.Overhead);
        GrowBuffer(ref opened, compressedLength);
        if (!crypto.TryOpen(sealedIndex, opened.AsSpan(0, compressedLength), "mdmai-index"u8))
        {
            throw new InvalidDataException($"Index file '{name}' is damaged: its authentication tag does not match (or it was written with another key).");
        }

        var compressed = opened.AsSpan(0, compressedLength);
        try
        {
            var size = ZstdSharp.Decompressor.GetDecompressedSize(compressed); // throws when the bytes are not whole frames
            if (size > (ulong)Array.MaxLength)
            {
                throw new InvalidDataException($"Index file '{name}' is damaged (it does not decompress).");
            }

            GrowBuffer(ref plain, (int)size);
            using var decompressor = new ZstdSharp.Decompressor();
            var length = decompressor.Unwrap(compressed, plain.AsSpan(0, (int)size));
            return plain.AsSpan(0, length);
        }
        catch (ZstdSharp.ZstdException ex)
        {
            throw new InvalidDataException($"Index file '{name}' is damaged (it does not decompress).", ex);
        }
    }

    /// <summary>Makes <paramref name="buffer"/> (kept from one index file to the next) hold at least <paramref name="length"/> bytes: doubled, or that length.</summary>
    internal static void GrowBuffer(ref byte[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = GC.AllocateUninitializedArray<byte>(Math.Max(length, buffer.Length * 2 > Array.MaxLength ? length : buffer.Length * 2));
        }
    }

    /// <summary>
    /// Reads an index file's content: <paramref name="pack"/> hears of each pack (its id), then
    /// <paramref name="entry"/> of each of its entries; without them it only checks that the content is well formed.
    /// </summary>
    private static void Parse(ReadOnlySpan<byte> span, string name, Action<UInt128>? pack, Action<PackEntry>? entry)
    {
        if (span.Length < 4)
        {
            throw new InvalidDataException($"Index file '{name}' is malformed (too short).");
        }

        var packs = BinaryPrimitives.ReadUInt32LittleEndian(span);
        span = span[4..];
        for (var p = 0; p < packs; p++)
        {
            if (span.Length < 20)
            {
                throw new InvalidDataException($"Index file '{name}' is malformed.");
            }

            var id = BinaryPrimitives.ReadUInt128BigEndian(span);
            var count = BinaryPrimitives.ReadUInt32LittleEndian(span[16..]);
            span = span[20..];
            if (span.Length < count * (long)PackFormat.IndexEntrySize)
            {
                throw new InvalidDataException($"Index file '{name}' is malformed.");
            }

            pack?.Invoke(id);
            for (var i = 0; i < count; i++)
            {
                if (span[0] > 1 || span[1] > 1)
                {
                    throw new InvalidDataException($"Index file '{name}' has an unknown blob type or flag.");
                }

                entry?.Invoke(new PackEntry(BlobId.Read(span[16..]), (BlobType)span[0], span[1] == 1,
                    BinaryPrimitives.ReadUInt32LittleEndian(span[4..]), BinaryPrimitives.ReadUInt32LittleEndian(span[12..]), BinaryPrimitives.ReadUInt32LittleEndian(span[8..])));
                span = span[PackFormat.IndexEntrySize..];
            }
        }
    }
}
