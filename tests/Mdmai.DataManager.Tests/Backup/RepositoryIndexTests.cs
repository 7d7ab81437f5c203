using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>
/// The blob index: every location comes back as it was added, whatever shard and pack number it has, whether it is held in
/// memory or was written out in a run (a threshold of 64 blobs here: runs are written and merged many times).
/// </summary>
public sealed class RepositoryIndexTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string SpillFolder => _temp.Combine("runs");

    private RepositoryIndex NewIndex(bool spill) => spill ? new RepositoryIndex(SpillFolder, spillThreshold: 64) : new RepositoryIndex();

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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_blob_added_is_found_where_it_was_put_and_removing_packs_forgets_only_their_blobs(bool spill)
    {
        var packs = Packs(seed: 7, packs: 300, perPack: 20);
        using var index = NewIndex(spill);
        index.EnsureCapacity(1_000); // a short guess: the shards grow past it
        foreach (var (pack, entries) in packs)
        {
            index.Add(pack, entries);
        }

        Assert.Equal(6_000, index.Count);
        Assert.Equal(6_000, index.Blobs.Count());
        Assert.Equal(spill, index.RunCount > 0);
        var absent = new Random(8);
        var pageLookups = index.PageLookups;
        for (var i = 0; i < 2_000; i++)
        {
            Assert.False(index.Contains(RandomId(absent)));
        }

        // The runs' filters turn away nearly every id they do not hold (10 bits a blob, 7 probes: ~1 % get through).
        Assert.InRange(index.PageLookups - pageLookups, 0, 2_000 * index.RunCount / 30);

        var blobs = index.Blobs.ToDictionary(b => b.Key, b => b.Value);
        Assert.All(packs.SelectMany(p => p.Entries.Select(e => (p.Pack, e))), x => Assert.Equal(x.Pack, blobs[x.e.Id].Pack));
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Index_files_are_added_through_kept_buffers_each_whole_or_not_at_all(bool spill)
    {
        var crypto = RepositoryCrypto.Unencrypted("test-repository");
        static byte[] Encode(List<(UInt128 Pack, List<PackEntry> Entries)> packs, RepositoryCrypto crypto) =>
            RepositoryIndex.Encode([.. packs.Select(p => (p.Pack, (IReadOnlyList<PackEntry>)p.Entries))], crypto);

        // A large file, then a smaller one, then a larger one again: the buffers kept from one file serve (or grow for) the next.
        var files = new[] { Packs(seed: 11, packs: 20, perPack: 50), Packs(seed: 12, packs: 2, perPack: 3), Packs(seed: 13, packs: 40, perPack: 60) };
        using var index = NewIndex(spill);
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

    [Fact]
    public void Runs_stay_few_hold_each_blob_once_with_its_first_place_and_leave_no_file_behind()
    {
        var packs = Packs(seed: 21, packs: 400, perPack: 25);
        var index = NewIndex(spill: true);
        foreach (var (pack, entries) in packs)
        {
            index.Add(pack, entries);
        }

        // 10,000 blobs, runs of 64: merged as they come, a handful stay (log2 of 10,000 / 64 is ~7).
        Assert.InRange(index.RunCount, 1, 8);

        // A blob added again, from another pack, keeps the place it had, whether it was in a run or held.
        var other = new UInt128(1, 2);
        var again = packs.SelectMany(p => p.Entries).Where((_, i) => i % 97 == 0).ToList();
        index.Add(other, again.Select(e => e with { Offset = 7 }));
        Assert.Equal(10_000, index.Count);
        Assert.All(again, e =>
        {
            Assert.True(index.TryGet(e.Id, out var location));
            Assert.NotEqual(other, location.Pack);
            Assert.Equal(e.Offset, location.Offset);
        });

        // The runs' files were unlinked when opened: the folder holds nothing, even while the index is open.
        if (!OperatingSystem.IsWindows())
        {
            Assert.Empty(Directory.GetFileSystemEntries(SpillFolder));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(SpillFolder));
        }

        index.Dispose();
        Assert.Throws<ObjectDisposedException>(() => index.Contains(packs[0].Entries[0].Id));
        Assert.Empty(Directory.GetFileSystemEntries(SpillFolder));
    }

    [Fact]
    public void Where_no_run_can_be_written_the_index_goes_on_in_memory()
    {
        // A folder under a file cannot be made (whoever runs the test, root included).
        var blocker = _temp.Combine("a-file");
        File.WriteAllText(blocker, "not a folder");
        using var index = new RepositoryIndex(Path.Combine(blocker, "runs"), spillThreshold: 16);
        var packs = Packs(seed: 31, packs: 50, perPack: 10);
        foreach (var (pack, entries) in packs)
        {
            index.Add(pack, entries);
        }

        Assert.Equal(0, index.RunCount);
        Assert.Equal(500, index.Count);
        Assert.All(packs.SelectMany(p => p.Entries.Select(e => (p.Pack, e))), x => Assert.True(index.TryGet(x.e.Id, out var l) && l.Pack == x.Pack));
    }

    [Fact]
    public async Task Lookups_from_many_threads_while_blobs_are_added_and_runs_written_never_miss_a_blob_added_before()
    {
        var packs = Packs(seed: 41, packs: 200, perPack: 30);
        using var index = NewIndex(spill: true);
        var added = 0;
        var misses = 0;
        var started = 0;
        var lookups = 0;
        void Read(int seed)
        {
            var random = new Random(seed);
            Interlocked.Increment(ref started);
            while (Volatile.Read(ref added) < packs.Count)
            {
                var known = Volatile.Read(ref added);
                if (known == 0)
                {
                    continue;
                }

                var (_, entries) = packs[random.Next(known)];
                Interlocked.Increment(ref lookups);
                if (!index.Contains(entries[random.Next(entries.Count)].Id))
                {
                    Interlocked.Increment(ref misses);
                }
            }
        }

        // Threads of their own: pool threads spinning on two cores held the pool's other work back for seconds.
        var readers = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(() => Read(r), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        SpinWait.SpinUntil(() => Volatile.Read(ref started) == readers.Length); // every reader looks while blobs come
        foreach (var (pack, entries) in packs)
        {
            index.Add(pack, entries);
            Interlocked.Increment(ref added);
        }

        await Task.WhenAll(readers);
        Assert.True(lookups > 0);
        Assert.Equal(0, misses);
        Assert.Equal(6_000, index.Count);
    }

    [Fact]
    public async Task A_repository_whose_index_is_written_out_in_runs_backs_up_restores_verifies_and_prunes()
    {
        var source = _temp.Combine("source");
        for (var i = 0; i < 240; i++)
        {
            // 200 files of their own, 40 copies of others: dedup across runs as well as within what is held.
            var content = i < 200 ? i : i - 200;
            BackupTesting.Write(Path.Combine(source, $"d{i % 7}", $"f{i:D3}.bin"), BackupTesting.RandomBytes(1_000 + (content * 13), content));
        }

        var sources = new BackupSources { Includes = [source] };
        var backend = new LocalFolderBackend(_temp.Combine("repository"));
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks());
        repository.IndexSpillFolder = SpillFolder;
        repository.IndexSpillThreshold = 16;

        var first = (await repository.CreateSnapshotAsync(sources)).Snapshot;
        Assert.True(repository.Index.RunCount > 0);
        Assert.Equal(repository.Index.Count, repository.Index.Blobs.Count());
        Assert.True(first.Stats.NewBlobs < 240, $"{first.Stats.NewBlobs} new blobs for 200 contents");

        var second = (await repository.CreateSnapshotAsync(sources)).Snapshot;
        Assert.Equal(0, second.Stats.NewBlobs);
        Assert.Equal(240, second.Stats.UnchangedFiles);

        for (var i = 0; i < 240; i += 2)
        {
            File.Delete(Path.Combine(source, $"d{i % 7}", $"f{i:D3}.bin"));
        }

        var third = (await repository.CreateSnapshotAsync(sources)).Snapshot;
        await repository.ForgetSnapshotsAsync([first.Id, second.Id]);
        var pruned = await repository.PruneAsync(repackThreshold: 0);
        Assert.True(pruned.BlobsRemoved > 0);
        Assert.True(repository.Index.RunCount > 0);

        var report = await repository.VerifyAsync(new VerifyOptions { ReadData = true });
        Assert.True(report.Ok, string.Join("\n", report.Errors));
        var target = _temp.Combine("restored");
        await repository.RestoreAsync(third.Id, target);
        BackupTesting.AssertSameFiles(source, BackupTesting.Restored(target, source));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Empty(Directory.GetFileSystemEntries(SpillFolder)); // elsewhere the runs go when closed
        }
    }

    [Fact]
    public void When_runs_can_no_longer_be_written_the_blobs_stay_in_memory_and_removing_packs_still_forgets_only_theirs()
    {
        var packs = Packs(seed: 51, packs: 120, perPack: 10);
        using var index = NewIndex(spill: true);
        foreach (var (pack, entries) in packs.Take(60))
        {
            index.Add(pack, entries);
        }

        var runs = index.RunCount;
        Assert.True(runs > 0);

        // The folder becomes a file: no run can be made from now on (a full disk fails the same way, with an IOException).
        Directory.Delete(SpillFolder, recursive: true);
        File.WriteAllText(SpillFolder, "in the way");
        foreach (var (pack, entries) in packs.Skip(60))
        {
            index.Add(pack, entries);
        }

        Assert.Equal(runs, index.RunCount);
        var removed = packs.Where((_, i) => i % 3 == 0).Select(p => p.Pack).ToHashSet();
        index.RemovePacks(removed); // the runs cannot be written again without these packs: what they keep comes back into memory

        Assert.Equal(0, index.RunCount);
        Assert.Equal(packs.Count(p => !removed.Contains(p.Pack)) * 10, index.Count);
        foreach (var (pack, entries) in packs)
        {
            Assert.All(entries, e => Assert.Equal(!removed.Contains(pack), index.TryGet(e.Id, out var l) && l.Pack == pack));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(84)]
    [InlineData(85)]
    [InlineData(86)]
    [InlineData(1_359)]
    [InlineData(1_360)]
    [InlineData(1_361)]
    [InlineData(2_721)]
    public void A_run_gives_back_every_blob_it_was_written_with_at_every_page_and_chunk_boundary(int count)
    {
        // 85 blobs to a 4 KiB page, 16 pages (1,360 blobs) to a read or write through.
        var random = new Random(count);
        var blobs = Enumerable.Range(0, count)
            .Select(i => KeyValuePair.Create(RandomId(random), new RepositoryIndex.Slot((uint)i << 3, (uint)random.Next(), (uint)random.Next(), uint.MaxValue - (uint)i)))
            .OrderBy(b => b.Key)
            .ToList();

        using var run = IndexRun.Write(SpillFolder, blobs, count);

        Assert.Equal(count, run.Count);
        Assert.Equal(blobs, run.ReadAll().ToList());
        Assert.All(blobs, b => Assert.True(run.TryGet(b.Key, out var slot) && slot == b.Value));
        Assert.All(blobs, b => Assert.False(run.TryGet(b.Key with { D = b.Key.D ^ 1 }, out _)));
        var absent = new Random(count + 1_000_000); // not -count: Random takes a negative seed's absolute value
        for (var i = 0; i < 300; i++)
        {
            Assert.False(run.TryGet(RandomId(absent), out _));
        }
    }

    [Fact]
    public void A_run_is_written_only_from_blobs_in_ascending_order_each_once()
    {
        var random = new Random(61);
        var (a, b) = (RandomId(random), RandomId(random));
        var (low, high) = a.CompareTo(b) < 0 ? (a, b) : (b, a);
        var slot = new RepositoryIndex.Slot(0, 1, 2, 3);
        Assert.Throws<InvalidOperationException>(() => IndexRun.Write(SpillFolder, [KeyValuePair.Create(high, slot), KeyValuePair.Create(low, slot)], 2));
        Assert.Throws<InvalidOperationException>(() => IndexRun.Write(SpillFolder, [KeyValuePair.Create(low, slot), KeyValuePair.Create(low, slot)], 2));
    }

    [Fact]
    public void A_run_reads_each_page_from_its_file_once_while_the_cache_holds_it_and_runs_sharing_a_cache_never_mix_up_pages()
    {
        // Runs of 3,000 blobs (36 pages each) and a cache of 1,024 pages.
        static List<KeyValuePair<BlobId, RepositoryIndex.Slot>> Blobs(int seed) =>
            [.. Enumerable.Range(0, 3_000).Select(i => KeyValuePair.Create(RandomId(new Random(seed * 10_000 + i)), new RepositoryIndex.Slot((uint)i, (uint)seed, 2, 3))).OrderBy(b => b.Key)];
        var (first, second) = (Blobs(1), Blobs(2));
        var cache = new RunPageCache();
        using var a = IndexRun.Write(SpillFolder, first, first.Count);
        a.Cache = cache;
        for (var pass = 0; pass < 3; pass++)
        {
            Assert.All(first, x => Assert.True(a.TryGet(x.Key, out var slot) && slot == x.Value));
        }

        Assert.Equal(3 * 3_000, a.PageLookups);
        Assert.Equal((3_000 + 84) / 85, a.PageReads);

        // A second run in the same cache: whichever slots the two share, each lookup gets its own run's page.
        using var b = IndexRun.Write(SpillFolder, second, second.Count);
        b.Cache = cache;
        for (var pass = 0; pass < 3; pass++)
        {
            for (var i = 0; i < first.Count; i++)
            {
                Assert.True(a.TryGet(first[i].Key, out var x) && x == first[i].Value);
                Assert.True(b.TryGet(second[i].Key, out var y) && y == second[i].Value);
                Assert.False(b.TryGet(first[i].Key, out _));
            }
        }

        // Page 5 and page 5 + Slots of one run go to the same slot: the one kept last is the one held.
        var page = new byte[4080];
        cache.Keep(-7, 5, [.. Enumerable.Repeat((byte)1, 4080)]);
        cache.Keep(-7, 5 + RunPageCache.Slots, [.. Enumerable.Repeat((byte)2, 4080)]);
        Assert.False(cache.TryRead(-7, 5, page));
        Assert.True(cache.TryRead(-7, 5 + RunPageCache.Slots, page));
        Assert.All(page, x => Assert.Equal(2, x));
        Assert.False(cache.TryRead(-8, 5 + RunPageCache.Slots, page));
    }

    [Fact]
    public void The_index_caches_its_runs_pages_while_they_fit_in_the_cache_whole_and_drops_the_cache_past_that()
    {
        // 65,536 blobs held: one run of 65,536 (772 pages), then a merged one of 131,072 (1,543), both cached; a third
        // spill makes 196,608 blobs in runs (2,314 pages), more than the cache's 2,048.
        using var index = new RepositoryIndex(SpillFolder, spillThreshold: 65_536);
        var random = new Random(71);
        var ids = new List<BlobId>();
        void AddPack(int blobs)
        {
            var entries = Enumerable.Range(0, blobs).Select(i => new PackEntry(RandomId(random), BlobType.Data, false, (uint)i, 10, 10)).ToList();
            ids.AddRange(entries.Select(e => e.Id));
            index.Add(new UInt128(0, (ulong)ids.Count), entries);
        }

        for (var n = 0; n < 14; n++)
        {
            AddPack(10_000);
        }

        Assert.Equal(1, index.RunCount);
        Assert.True(index.PagesCached);
        Assert.All(ids, id => Assert.True(index.Contains(id)));
        var reads = index.PageReads;
        Assert.All(ids, id => Assert.True(index.Contains(id)));
        Assert.Equal(reads, index.PageReads); // every page of the run read once, and held

        for (var n = 0; n < 6; n++)
        {
            AddPack(10_000);
        }

        Assert.Equal(200_000, index.Count);
        Assert.False(index.PagesCached);
        Assert.All(ids, id => Assert.True(index.Contains(id)));
    }
}
