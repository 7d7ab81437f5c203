using Mdmai.DataManager.Backup;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>
/// What a repository far away needs, tested over the in-memory backend (which counts calls as an object store's
/// requests): a run cut off mid-way is resumed without sending a pack twice, and the local metadata cache keeps a
/// backup that changed nothing to a handful of requests while never trusting itself over the store.
/// </summary>
public sealed class RemoteRepositoryTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Source => _temp.Combine("source");

    private BackupSources Sources => new() { Includes = [Source] };

    private string CacheFolder => _temp.Combine("cache");

    private void WriteSource(int files, int seed)
    {
        for (var i = 0; i < files; i++)
        {
            BackupTesting.Write(Path.Combine(Source, $"d{i % 7}", $"f{i}.bin"), i % 3 == 0 ? BackupTesting.Text(20_000 + i, seed + i) : BackupTesting.RandomBytes(30_000 + i, seed + i));
        }
    }

    [Fact]
    public async Task A_backup_cut_off_before_its_index_is_resumed_without_sending_any_pack_again()
    {
        WriteSource(40, 500);
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks() with { PackSize = 64 * 1024 });
        backend.BeforeWrite = name =>
        {
            if (name.StartsWith("index/", StringComparison.Ordinal))
            {
                throw new InjectedFault("the connection dropped");
            }
        };
        await Assert.ThrowsAsync<InjectedFault>(() => repository.CreateSnapshotAsync(Sources));
        var sent = await BackupTesting.NamesAsync(backend, "data");
        Assert.True(sent.Count > 5, $"only {sent.Count} packs");
        Assert.Empty(await BackupTesting.NamesAsync(backend, "index"));
        backend.BeforeWrite = null;
        var putsBefore = backend.Requests!.Value.Put;

        var result = await repository.CreateSnapshotAsync(Sources);

        // Every blob was already in a pack the store held whole: the run sends an index for them, the snapshot, locks.
        Assert.Equal(sent, await BackupTesting.NamesAsync(backend, "data"));
        Assert.Equal(0, result.Snapshot.Stats.StoredBytes);
        Assert.Equal(0, result.Snapshot.Stats.NewBlobs);
        Assert.InRange(backend.Requests!.Value.Put - putsBefore, 3, 4);
        Assert.Empty((await repository.VerifyAsync(new VerifyOptions { ReadData = true })).Errors);
        await repository.RestoreAsync(result.Snapshot.Id, _temp.Combine("target"));
        BackupTesting.AssertSameFiles(Source, BackupTesting.Restored(_temp.Combine("target"), Source));
    }

    [Fact]
    public async Task An_index_naming_a_pack_that_is_gone_does_not_make_a_backup_reuse_its_blobs()
    {
        WriteSource(10, 600);
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, null, BackupTesting.SmallChunks() with { PackSize = 64 * 1024 });
        await repository.CreateSnapshotAsync(Sources);
        var lost = (await BackupTesting.NamesAsync(backend, "data"))[0];
        backend.Items.TryRemove(lost, out _);

        var second = await repository.CreateSnapshotAsync(Sources);

        // The second snapshot restores whole: what was in the lost pack was sent again.
        Assert.True(second.Snapshot.Stats.NewBlobs > 0);
        await repository.RestoreAsync(second.Snapshot.Id, _temp.Combine("target"));
        BackupTesting.AssertSameFiles(Source, BackupTesting.Restored(_temp.Combine("target"), Source));
    }

    [Fact]
    public async Task With_the_cache_a_backup_that_changed_nothing_costs_a_handful_of_requests()
    {
        WriteSource(300, 700);
        var backend = new MemoryBackend();
        using (var init = await BackupRepository.InitAsync(new CachedBackend(backend, CacheFolder), BackupTesting.Password, BackupTesting.SmallChunks()))
        {
            await init.CreateSnapshotAsync(Sources);
            await init.CreateSnapshotAsync(Sources);
        }

        var before = backend.Requests!.Value;
        using var repository = await BackupRepository.OpenAsync(new CachedBackend(backend, CacheFolder), BackupTesting.Password);
        var third = await repository.CreateSnapshotAsync(Sources);
        var cost = backend.Requests!.Value;
        var used = new BackendRequests(cost.Put - before.Put, cost.Get - before.Get, cost.List - before.List, cost.Head - before.Head, cost.Delete - before.Delete);

        Assert.Equal(300, third.Snapshot.Stats.UnchangedFiles);
        // Open: config (GET), keys and index (LIST each, read from the cache); run: lock (PUT, LIST, DELETE), the index
        // again under the lock and the packs (LIST each), snapshots (LIST; the parent and its file list from the
        // cache), the snapshot (PUT).
        Assert.Equal(new BackendRequests(Put: 2, Get: 1, List: 6, Head: 0, Delete: 1), used);
    }

    [Fact]
    public async Task The_cache_serves_metadata_only_while_the_store_still_has_it()
    {
        WriteSource(5, 800);
        var backend = new MemoryBackend();
        string first, second;
        using (var repository = await BackupRepository.InitAsync(new CachedBackend(backend, CacheFolder), null, BackupTesting.SmallChunks()))
        {
            first = (await repository.CreateSnapshotAsync(Sources)).Snapshot.Id;
            BackupTesting.Write(Path.Combine(Source, "more.txt"), "more"u8.ToArray());
            second = (await repository.CreateSnapshotAsync(Sources)).Snapshot.Id;
        }

        // Another machine forgets the first snapshot: this one's cache still has its file.
        backend.Items.TryRemove($"snapshots/{first}", out _);
        Assert.True(File.Exists(Path.Combine(CacheFolder, "snapshots", first)));

        using var reopened = await BackupRepository.OpenAsync(new CachedBackend(backend, CacheFolder), null);
        var listed = await reopened.ListSnapshotsAsync();

        Assert.Equal([second], listed.Select(s => s.Id));
        Assert.False(File.Exists(Path.Combine(CacheFolder, "snapshots", first)));
    }

    [Fact]
    public async Task A_damaged_cache_file_is_read_from_the_store_again()
    {
        WriteSource(5, 900);
        var backend = new MemoryBackend();
        string id;
        using (var repository = await BackupRepository.InitAsync(new CachedBackend(backend, CacheFolder), null, BackupTesting.SmallChunks()))
        {
            id = (await repository.CreateSnapshotAsync(Sources)).Snapshot.Id;
        }

        var cached = Path.Combine(CacheFolder, "snapshots", id);
        var bytes = File.ReadAllBytes(cached);
        bytes[10] ^= 0x40;
        File.WriteAllBytes(cached, bytes);
        var gets = backend.Requests!.Value.Get;

        var cache = new CachedBackend(backend, CacheFolder);
        using var reopened = await BackupRepository.OpenAsync(cache, null);
        var snapshot = await reopened.GetSnapshotAsync(id);

        Assert.Equal(id, snapshot.Id);
        Assert.True(backend.Requests!.Value.Get > gets + 1); // config, and the snapshot again
        Assert.Equal(File.ReadAllBytes(cached)[..^8], backend.Items[$"snapshots/{id}"]);
    }

    [Fact]
    public async Task A_second_backup_reads_its_parents_file_list_from_the_cache_not_from_the_packs()
    {
        WriteSource(200, 1000);
        var backend = new MemoryBackend();
        using (var repository = await BackupRepository.InitAsync(new CachedBackend(backend, CacheFolder), null, BackupTesting.SmallChunks()))
        {
            await repository.CreateSnapshotAsync(Sources);
        }

        var packReads = 0;
        backend.BeforeRead = name =>
        {
            if (name.StartsWith("data/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref packReads);
            }
        };
        using var reopened = await BackupRepository.OpenAsync(new CachedBackend(backend, CacheFolder), null);
        var result = await reopened.CreateSnapshotAsync(Sources);

        Assert.Equal(200, result.Snapshot.Stats.UnchangedFiles);
        Assert.Equal(0, packReads);

        // Without the cache the same run reads the parent's tree blobs from the packs.
        using var uncached = await BackupRepository.OpenAsync(backend, null);
        await uncached.CreateSnapshotAsync(Sources);
        Assert.True(packReads > 0);
    }

    [Fact]
    public async Task A_restore_reads_each_pack_in_a_few_requests_not_one_per_file()
    {
        WriteSource(300, 1100);
        var backend = new MemoryBackend();
        string id;
        using (var repository = await BackupRepository.InitAsync(new CachedBackend(backend, CacheFolder), BackupTesting.Password, BackupTesting.SmallChunks() with { PackSize = 1024 * 1024 }))
        {
            id = (await repository.CreateSnapshotAsync(Sources)).Snapshot.Id;
        }

        var packs = (await BackupTesting.NamesAsync(backend, "data")).Count;
        using var reopened = await BackupRepository.OpenAsync(new CachedBackend(backend, CacheFolder), BackupTesting.Password);
        var before = backend.Requests!.Value.Get;
        await reopened.RestoreAsync(id, _temp.Combine("target"));
        var gets = backend.Requests!.Value.Get - before;

        BackupTesting.AssertSameFiles(Source, BackupTesting.Restored(_temp.Combine("target"), Source));
        Assert.True(packs > 3, $"{packs} packs");
        Assert.InRange(gets, 1, packs + 2); // a range per pack (the file list came from the cache)
    }
}
