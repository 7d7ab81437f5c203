using System.Buffers.Binary;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// The blob index: every blob's location, loaded from the repository's index files, extended as packs are written.
/// Index files (docs/backup-format.md) are sealed, zstd-compressed lists of packs and their entries.
/// </summary>
internal sealed class RepositoryIndex
{
    /// <summary>
    /// A blob's place without an object of its own and without its pack's 16-byte id (a number into <see cref="_packIds"/>,
    /// sharing its 32 bits with the blob's type and whether it is compressed): 56 bytes a blob in a dictionary's entry
    /// (with the 32-byte id, hash and link) instead of ~110 as a concurrent dictionary's node, and nothing for the garbage
    /// collector to trace — the index is the one structure of a backup that grows with the number of files.
    /// </summary>
    private readonly record struct Slot(uint PackAndFlags, uint Offset, uint StoredLength, uint RawLength)
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
    /// Blobs in 256 dictionaries by the first byte of their id (an id is a keyed hash: they spread evenly). One
    /// dictionary doubling held the entries it outgrew beside the new ones until a full collection (at 1M blobs ~45 MB
    /// beside ~90 MB); a shard that grows copies 1/256 of that. A first backup of 1M tiny files peaked at 137–140 MB
    /// instead of 159–163 MB; at 100k files the peak did not change.
    /// </summary>
    private readonly Dictionary<BlobId, Slot>[] _shards = [.. Enumerable.Range(0, 256).Select(_ => new Dictionary<BlobId, Slot>())];
    private readonly List<UInt128> _packIds = [];
    private readonly Dictionary<UInt128, int> _packs = [];
    private readonly Lock _lock = new();

    private Dictionary<BlobId, Slot> Shard(BlobId id) => _shards[(int)(id.A >> 56)];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _shards.Sum(s => s.Count);
            }
        }
    }

    /// <summary>The packs indexed, as they are now.</summary>
    public IEnumerable<UInt128> Packs
    {
        get
        {
            lock (_lock)
            {
                return [.. _packs.Keys];
            }
        }
    }

    /// <summary>Every blob and its place, as they are now (a copy: check and prune group it; a backup never enumerates it).</summary>
    public IEnumerable<KeyValuePair<BlobId, BlobLocation>> Blobs
    {
        get
        {
            lock (_lock)
            {
                return [.. _shards.SelectMany(s => s).Select(b => KeyValuePair.Create(b.Key, Location(b.Value)))];
            }
        }
    }

    /// <summary>Makes room for <paramref name="blobs"/> blobs in all without growing again (a hint: more still fit).</summary>
    public void EnsureCapacity(int blobs)
    {
        lock (_lock)
        {
            // Each shard gets its even share and a margin for the spread of a random split (a few standard deviations).
            var share = blobs / _shards.Length;
            foreach (var shard in _shards)
            {
                shard.EnsureCapacity(share + (4 * (int)Math.Sqrt(share)) + 1);
            }
        }
    }

    public bool Contains(BlobId id)
    {
        lock (_lock)
        {
            return Shard(id).ContainsKey(id);
        }
    }

    public bool ContainsPack(UInt128 pack)
    {
        lock (_lock)
        {
            return _packs.ContainsKey(pack);
        }
    }

    /// <summary>Forgets the packs and every blob located in them.</summary>
    public void RemovePacks(IReadOnlySet<UInt128> packs)
    {
        lock (_lock)
        {
            foreach (var shard in _shards)
            {
                foreach (var (id, slot) in shard)
                {
                    if (packs.Contains(_packIds[slot.Pack]))
                    {
                        shard.Remove(id);
                    }
                }
            }

            foreach (var pack in packs)
            {
                _packs.Remove(pack); // its number stays taken: a pack added again gets a new one
            }
        }
    }

    public bool TryGet(BlobId id, out BlobLocation location)
    {
        lock (_lock)
        {
            if (Shard(id).TryGetValue(id, out var slot))
            {
                location = Location(slot);
                return true;
            }
        }

        location = default;
        return false;
    }

    public void Add(UInt128 pack, IEnumerable<PackEntry> entries)
    {
        lock (_lock)
        {
            var number = Number(pack);
            foreach (var e in entries)
            {
                Shard(e.Id).TryAdd(e.Id, Slot.From(number, e));
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
        lock (_lock)
        {
            var number = -1;
            Parse(content, name, pack => number = Number(pack), e => Shard(e.Id).TryAdd(e.Id, Slot.From(number, e)));
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
