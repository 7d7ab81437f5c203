using Mdmai.DataManager.Backup;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>Prune frees what no snapshot uses, and an interruption at any step leaves a repository that verifies and restores.</summary>
public sealed class PruneTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly byte[] _keep = BackupTesting.RandomBytes(400_000, 61);
    private readonly byte[] _drop = BackupTesting.RandomBytes(1_000_000, 62);
    private readonly byte[] _notes = BackupTesting.Text(150_000, 63);

    public void Dispose() => _temp.Dispose();

    private string Source => _temp.Combine("source");

    /// <summary>
    /// Two snapshots: the first holds keep.bin, drop.bin (1 MB, several packs of its own), notes.txt and 60 small files
    /// in mixed/; the second lacks drop.bin and every odd small file. The first is forgotten, so drop.bin's packs are
    /// wholly garbage and the packs of mixed/ (one chunk per file, live and dead alternating, whatever the chunker's
    /// key) are half garbage. Returns the second snapshot's id.
    /// </summary>
    private async Task<(BackupRepository Repository, string Kept)> GarbageAsync(IBackupBackend backend)
    {
        BackupTesting.Write(Path.Combine(Source, "keep.bin"), _keep);
        BackupTesting.Write(Path.Combine(Source, "drop.bin"), _drop);
        BackupTesting.Write(Path.Combine(Source, "notes.txt"), _notes);
        for (var i = 0; i < 60; i++)
        {
            BackupTesting.Write(Path.Combine(Source, "mixed", $"f-{i:D3}.bin"), BackupTesting.RandomBytes(12_000, 600 + i));
        }

        var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks());
        await repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] }, new SnapshotOptions { Parallelism = 1 });
        File.Delete(Path.Combine(Source, "drop.bin"));
        for (var i = 1; i < 60; i += 2)
        {
            File.Delete(Path.Combine(Source, "mixed", $"f-{i:D3}.bin"));
        }

        var kept = (await repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] })).Snapshot.Id;
        Assert.Single((await repository.ForgetAsync(new RetentionPolicy { KeepLast = 1 })).Removed);
        return (repository, kept);
    }

    /// <summary>The kept snapshot restores byte for byte and the repository verifies clean, reading every blob.</summary>
    private async Task AssertIntactAsync(IBackupBackend backend, string kept, string name)
    {
        using var repository = await BackupRepository.OpenAsync(backend, BackupTesting.Password);
        var report = await repository.VerifyAsync(new VerifyOptions { ReadData = true });
        Assert.True(report.Ok, string.Join("\n", report.Errors));
        var target = _temp.Combine(name);
        await repository.RestoreAsync(kept, target);
        BackupTesting.AssertSameFiles(Source, BackupTesting.Restored(target, Source));
        Assert.Equal(_keep, await File.ReadAllBytesAsync(BackupTesting.Restored(target, Path.Combine(Source, "keep.bin"))));
        Assert.Equal(_notes, await File.ReadAllBytesAsync(BackupTesting.Restored(target, Path.Combine(Source, "notes.txt"))));
        Assert.Equal(30, Directory.GetFiles(BackupTesting.Restored(target, Path.Combine(Source, "mixed"))).Length);
    }

    [Fact]
    public async Task Prune_after_forget_frees_the_forgotten_data_and_repacks_shared_packs()
    {
        var backend = new LocalFolderBackend(_temp.Combine("repo"));
        var (repository, kept) = await GarbageAsync(backend);
        using var _ = repository;
        var before = await BackupTesting.SizeAsync(backend, "data");

        var result = await repository.PruneAsync();

        var after = await BackupTesting.SizeAsync(backend, "data");
        Assert.True(after < before - 1_100_000, $"{before} -> {after}"); // 1.36 MB is garbage; a pack at most 20 % dead is kept as it is
        Assert.InRange(before - after, result.BytesFreed - 1, result.BytesFreed + 1);
        Assert.True(result.BlobsRemoved >= 5, $"{result.BlobsRemoved} blobs removed");
        Assert.True(result.PacksRepacked > 0, "packs that mixed live and dead blobs are repacked");
        Assert.True(result.PacksWritten > 0);
        Assert.Single(await BackupTesting.NamesAsync(backend, "index"));
        Assert.Empty(await BackupTesting.NamesAsync(backend, "locks"));
        await AssertIntactAsync(backend, kept, "restored");
    }

    [Fact]
    public async Task A_second_prune_finds_nothing_to_do_and_changes_nothing()
    {
        var backend = new MemoryBackend();
        var (repository, kept) = await GarbageAsync(backend);
        using var _ = repository;
        await repository.PruneAsync();
        var items = backend.Items.Keys.Where(k => !k.StartsWith("locks/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();

        var again = await repository.PruneAsync();

        Assert.Equal(new PruneResult(0, 0, 0, 0, 0), again);
        Assert.Equal(items, backend.Items.Keys.Where(k => !k.StartsWith("locks/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        await AssertIntactAsync(backend, kept, "restored");
    }

    [Fact]
    public async Task Prune_keeps_everything_a_remaining_snapshot_uses_even_across_many_index_files()
    {
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks());
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            BackupTesting.Write(Path.Combine(Source, $"file-{i}.bin"), BackupTesting.RandomBytes(120_000, 70 + i));
            ids.Add((await repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] })).Snapshot.Id);
        }

        Assert.True((await BackupTesting.NamesAsync(backend, "index")).Count >= 4);
        await repository.ForgetAsync(new RetentionPolicy { KeepLast = 1 });
        var dataBlobs = repository.Index.Blobs.Count(b => b.Value.Type == Mdmai.DataManager.Backup.Internal.BlobType.Data);

        var result = await repository.PruneAsync();

        // Every file is still in the newest snapshot: only the older snapshots' file lists are unused.
        Assert.True(result.BlobsRemoved > 0);
        Assert.Equal(dataBlobs, repository.Index.Blobs.Count(b => b.Value.Type == Mdmai.DataManager.Backup.Internal.BlobType.Data));
        Assert.Single(await BackupTesting.NamesAsync(backend, "index"));
        var target = _temp.Combine("restored");
        await repository.RestoreAsync(ids[^1], target);
        BackupTesting.AssertSameFiles(Source, Path.Combine(target, "include", Source.TrimStart('/')));
        Assert.True((await repository.VerifyAsync(new VerifyOptions { ReadData = true })).Ok);
    }

    [Fact]
    public async Task A_prune_interrupted_when_writing_its_index_leaves_a_repository_that_verifies_and_restores()
    {
        var backend = new MemoryBackend();
        var (repository, kept) = await GarbageAsync(backend);
        using var _ = repository;
        var before = backend.Items.Keys.ToHashSet();
        var writes = new List<string>();
        backend.BeforeWrite = name =>
        {
            writes.Add(name);
            if (name.StartsWith("index/", StringComparison.Ordinal))
            {
                throw new InjectedFault("disk full");
            }
        };

        await Assert.ThrowsAsync<InjectedFault>(() => repository.PruneAsync());
        backend.BeforeWrite = null;

        Assert.Contains(writes, w => w.StartsWith("data/", StringComparison.Ordinal)); // repacked packs were written first
        Assert.True(before.IsSubsetOf(backend.Items.Keys.Where(k => !k.StartsWith("locks/", StringComparison.Ordinal))), "nothing old was deleted");
        Assert.Empty(await BackupTesting.NamesAsync(backend, "locks"));
        await AssertIntactAsync(backend, kept, "after-interruption");

        using var reopened = await BackupRepository.OpenAsync(backend, BackupTesting.Password);
        Assert.True((await reopened.VerifyAsync()).UnindexedPacks > 0);
        await reopened.PruneAsync();
        Assert.Equal(0, (await reopened.VerifyAsync()).UnindexedPacks);
        await AssertIntactAsync(backend, kept, "after-second-prune");
    }

    [Theory]
    [InlineData("index/", 1)]
    [InlineData("index/", 2)]
    [InlineData("data/", 1)]
    [InlineData("data/", 2)]
    public async Task A_prune_interrupted_while_deleting_leaves_a_repository_that_verifies_and_restores(string prefix, int failAt)
    {
        var backend = new FaultingBackend(new MemoryBackend());
        var (repository, kept) = await GarbageAsync(backend);
        using var _ = repository;
        var seen = 0;
        backend.BeforeDelete = name =>
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal) && ++seen == failAt)
            {
                throw new InjectedFault("connection lost");
            }
        };

        await Assert.ThrowsAsync<InjectedFault>(() => repository.PruneAsync());
        backend.BeforeDelete = null;

        Assert.Equal(failAt, seen);
        Assert.Empty(await BackupTesting.NamesAsync(backend, "locks"));
        await AssertIntactAsync(backend, kept, "after-interruption");

        using var reopened = await BackupRepository.OpenAsync(backend, BackupTesting.Password);
        await reopened.PruneAsync();
        var report = await reopened.VerifyAsync();
        Assert.Equal(0, report.UnindexedPacks);
        Assert.Single(await BackupTesting.NamesAsync(backend, "index"));
        await AssertIntactAsync(backend, kept, "after-second-prune");
    }

    [Fact]
    public async Task Packs_left_by_an_interrupted_backup_are_not_errors_and_prune_removes_them()
    {
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks());
        BackupTesting.Write(Path.Combine(Source, "keep.bin"), _keep);
        var kept = (await repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] })).Snapshot.Id;
        BackupTesting.Write(Path.Combine(Source, "notes.txt"), _notes);
        var snapshotsBefore = await BackupTesting.NamesAsync(backend, "snapshots");
        backend.BeforeWrite = name =>
        {
            if (name.StartsWith("index/", StringComparison.Ordinal))
            {
                throw new InjectedFault("crash before the index");
            }
        };

        await Assert.ThrowsAsync<InjectedFault>(() => repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] }));
        backend.BeforeWrite = null;

        Assert.Equal(snapshotsBefore, await BackupTesting.NamesAsync(backend, "snapshots"));
        using var reopened = await BackupRepository.OpenAsync(backend, BackupTesting.Password);
        var report = await reopened.VerifyAsync(new VerifyOptions { ReadData = true });
        Assert.True(report.Ok, string.Join("\n", report.Errors));
        Assert.True(report.UnindexedPacks > 0);

        var pruned = await reopened.PruneAsync();

        Assert.Equal(report.UnindexedPacks, pruned.PacksDeleted);
        Assert.Equal(0, (await reopened.VerifyAsync()).UnindexedPacks);
        var target = _temp.Combine("restored");
        await reopened.RestoreAsync(kept, target);
        Assert.Equal(_keep, await File.ReadAllBytesAsync(BackupTesting.Restored(target, Path.Combine(Source, "keep.bin"))));
    }

    [Fact]
    public async Task A_backup_whose_pack_writes_fail_ends_with_the_error_instead_of_hanging()
    {
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks());
        BackupTesting.Write(Path.Combine(Source, "large.bin"), BackupTesting.RandomBytes(6 * 1024 * 1024, 64));
        backend.BeforeWrite = name =>
        {
            if (name.StartsWith("data/", StringComparison.Ordinal))
            {
                throw new InjectedFault("disk full");
            }
        };

        await Assert.ThrowsAsync<InjectedFault>(() =>
            repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] }, new SnapshotOptions { Parallelism = 2 }).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Empty(await BackupTesting.NamesAsync(backend, "snapshots"));
        Assert.Empty(await BackupTesting.NamesAsync(backend, "data"));
        Assert.Empty(await BackupTesting.NamesAsync(backend, "locks"));
    }
}
