using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>The in-memory blob index: every location comes back as it was added, whatever shard and pack number it has.</summary>
public sealed class RepositoryIndexTests
{
    private static BlobId RandomId(Random random)
    {
        Span<byte> bytes = stackalloc byte[BlobId.Size];
        random.NextBytes(bytes);
        return BlobId.Read(bytes);
    }

    /// <summary>Packs of entries with random ids, both types, both compression flags and lengths up to the 32-bit limits.</summary>
    private static List<(UInt128 Pack, List<PackEntry> Entries)> Packs(int seed, int packs, int perPack)
    {
        var random = new Random(seed);
        var result = new List<(UInt128, List<PackEntry>)>();
        for (var p = 0; p < packs; p++)
        {
            var pack = new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64());
            var entries = Enumerable.Range(0, perPack).Select(i => new PackEntry(
                RandomId(random),
                (BlobType)(i % 2),
                i % 3 == 0,
                (uint)random.NextInt64(0, uint.MaxValue + 1L),
                i == 0 ? uint.MaxValue : (uint)random.Next(),
                i == 1 ? uint.MaxValue : (uint)random.Next())).ToList();
            result.Add((pack, entries));
        }

        return result;
    }

    [Fact]
    public void Every_blob_added_is_found_where_it_was_put_and_removing_packs_forgets_only_their_blobs()
    {
        var packs = Packs(seed: 7, packs: 300, perPack: 20);
        var index = new RepositoryIndex();
        index.EnsureCapacity(1_000); // a short guess: the shards grow past it
        foreach (var (pack, entries) in packs)
        {
            index.Add(pack, entries);
        }

        Assert.Equal(6_000, index.Count);
        Assert.Equal(6_000, index.Blobs.Count());
        foreach (var (pack, entries) in packs)
        {
            foreach (var e in entries)
            {
                Assert.True(index.TryGet(e.Id, out var location));
                Assert.Equal(new BlobLocation(pack, e.Offset, e.StoredLength, e.RawLength, e.Type, e.Compressed), location);
            }
        }

        var removed = packs.Where((_, i) => i % 2 == 0).Select(p => p.Pack).ToHashSet();
        index.RemovePacks(removed);

        Assert.Equal(3_000, index.Count);
        foreach (var (pack, entries) in packs)
        {
            Assert.Equal(!removed.Contains(pack), index.ContainsPack(pack));
            Assert.All(entries, e => Assert.Equal(!removed.Contains(pack), index.Contains(e.Id)));
        }

        // A pack added again gets a number of its own: its blobs name it, not the pack that had its old number.
        var (again, againEntries) = packs[0];
        index.Add(again, againEntries);
        Assert.True(index.TryGet(againEntries[5].Id, out var back));
        Assert.Equal(again, back.Pack);
    }

    [Fact]
    public void Index_files_are_added_through_kept_buffers_each_whole_or_not_at_all()
    {
        var crypto = RepositoryCrypto.Unencrypted("test-repository");
        static byte[] Encode(List<(UInt128 Pack, List<PackEntry> Entries)> packs, RepositoryCrypto crypto) =>
            RepositoryIndex.Encode([.. packs.Select(p => (p.Pack, (IReadOnlyList<PackEntry>)p.Entries))], crypto);

        // A large file, then a smaller one, then a larger one again: the buffers kept from one file serve (or grow for) the next.
        var files = new[] { Packs(seed: 11, packs: 20, perPack: 50), Packs(seed: 12, packs: 2, perPack: 3), Packs(seed: 13, packs: 40, perPack: 60) };
        var index = new RepositoryIndex();
        byte[] opened = [], plain = [];
        foreach (var file in files)
        {
            index.AddFile(Encode(file, crypto), crypto, "index", ref opened, ref plain);
        }

        Assert.Equal(files.Sum(f => f.Sum(p => p.Entries.Count)), index.Count);
        foreach (var (pack, entries) in files.SelectMany(f => f))
        {
            Assert.All(entries, e =>
            {
                Assert.True(index.TryGet(e.Id, out var location));
                Assert.Equal(new BlobLocation(pack, e.Offset, e.StoredLength, e.RawLength, e.Type, e.Compressed), location);
            });
        }

        // A file whose second pack is malformed adds nothing, not even its first pack's blobs.
        var bad = Packs(seed: 14, packs: 2, perPack: 4);
        bad[1].Entries[2] = bad[1].Entries[2] with { Type = (BlobType)2 };
        var ex = Assert.Throws<InvalidDataException>(() => index.AddFile(Encode(bad, crypto), crypto, "bad", ref opened, ref plain));
        Assert.Contains("Index file 'bad' has an unknown blob type", ex.Message, StringComparison.Ordinal);
        Assert.All(bad.SelectMany(p => p.Entries), e => Assert.False(index.Contains(e.Id)));
        Assert.False(index.ContainsPack(bad[0].Pack));

        // So does a damaged one.
        var damaged = Packs(seed: 15, packs: 1, perPack: 2);
        var sealedFile = Encode(damaged, crypto);
        sealedFile[^5] ^= 1;
        Assert.Throws<InvalidDataException>(() => index.AddFile(sealedFile, crypto, "damaged", ref opened, ref plain));
        Assert.False(index.Contains(damaged[0].Entries[0].Id));

        // And so does one that authenticates but holds no zstd frame (or more than one frame's bytes).
        Assert.Throws<InvalidDataException>(() => index.AddFile(crypto.Seal("not a zstd frame at all"u8, "mdmai-index"u8), crypto, "garbage", ref opened, ref plain));
        var trailing = Encode(damaged, RepositoryCrypto.Unencrypted("x"));
        var frame = crypto.Open(trailing, "mdmai-index"u8, "frame");
        Assert.Throws<InvalidDataException>(() => index.AddFile(crypto.Seal([.. frame, 1, 2, 3], "mdmai-index"u8), crypto, "trailing", ref opened, ref plain));
        Assert.Equal(files.Sum(f => f.Sum(p => p.Entries.Count)), index.Count);
    }
}
