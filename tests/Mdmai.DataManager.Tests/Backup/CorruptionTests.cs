using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>Damage to any stored item is found by verify, named, and never restored as if it were good data.</summary>
public sealed class CorruptionTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly byte[] _big = BackupTesting.RandomBytes(600_000, 41);
    private readonly byte[] _notes = BackupTesting.Text(200_000, 42);

    public void Dispose() => _temp.Dispose();

    private string Source => _temp.Combine("source");

    private string RepositoryRoot => _temp.Combine("repo");

    private string Target => _temp.Combine("target");

    private string BigPath => "include/" + Path.Combine(Source, "big.bin").TrimStart('/');

    private string RestoredBig => BackupTesting.Restored(Target, Path.Combine(Source, "big.bin"));

    private string RestoredNotes => BackupTesting.Restored(Target, Path.Combine(Source, "notes.txt"));

    private async Task<(BackupRepository Repository, string Snapshot)> BackUpAsync(bool encrypted = true)
    {
        BackupTesting.Write(Path.Combine(Source, "big.bin"), _big);
        BackupTesting.Write(Path.Combine(Source, "notes.txt"), _notes);
        BackupTesting.Write(Path.Combine(Source, "small.txt"), "a handout"u8.ToArray());
        var repository = await BackupRepository.InitAsync(new LocalFolderBackend(RepositoryRoot), encrypted ? BackupTesting.Password : null, BackupTesting.SmallChunks());
        var result = await repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] });
        Assert.Empty(result.Errors);
        return (repository, result.Snapshot.Id);
    }

    /// <summary>The pack (file path) and location of the first chunk of big.bin.</summary>
    private async Task<(string File, string Name, BlobId Id, BlobLocation Location)> FirstChunkAsync(BackupRepository repository, string snapshot)
    {
        var id = (await BackupTesting.ChunksOfAsync(repository, snapshot, BigPath))[0];
        Assert.True(repository.Index.TryGet(id, out var location));
        var name = RepositoryNames.Pack(location.Pack);
        return (Path.Combine(RepositoryRoot, name), name, id, location);
    }

    private static void Flip(string file, long offset)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        var b = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(b ^ 0x20));
    }

    private static async Task<VerifyReport> VerifyAsync(BackupRepository repository) =>
        await repository.VerifyAsync(new VerifyOptions { ReadData = true });

    private async Task AssertRestoreOfBigFailsCleanlyAsync(BackupRepository repository, string snapshot)
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(snapshot, Target));
        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.False(File.Exists(RestoredBig), "a damaged file must not appear at its destination");
        Assert.Empty(BackupTesting.Debris(Target));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_healthy_repository_verifies_clean_reading_every_blob(bool encrypted)
    {
        var (repository, _) = await BackUpAsync(encrypted);
        using var _ = repository;
        using var reopened = await BackupRepository.OpenAsync(new LocalFolderBackend(RepositoryRoot), encrypted ? BackupTesting.Password : null);

        var report = await VerifyAsync(reopened);

        Assert.True(report.Ok, string.Join("\n", report.Errors));
        Assert.Equal(1, report.Snapshots);
        Assert.True(report.Packs >= 2, $"{report.Packs} packs"); // chunk boundaries follow the random repository key: 2 to 4 packs
        Assert.Equal(report.Packs, report.PacksRead);
        Assert.Equal(report.Blobs, report.BlobsRead);
        Assert.Equal(0, report.UnindexedPacks);
        Assert.Equal(encrypted, reopened.Encrypted);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_flipped_byte_in_a_blob_is_named_by_verify_and_its_file_is_not_restored(bool encrypted)
    {
        var (repository, snapshot) = await BackUpAsync(encrypted);
        using var _ = repository;
        var chunk = await FirstChunkAsync(repository, snapshot);
        Flip(chunk.File, chunk.Location.Offset + RepositoryCrypto.NonceSize + (chunk.Location.StoredLength / 2));

        var structural = await repository.VerifyAsync();
        var report = await VerifyAsync(repository);

        Assert.True(structural.Ok, "the structure (headers, index, snapshots) is intact; only reading the data finds this");
        Assert.False(report.Ok);
        var error = Assert.Single(report.Errors);
        Assert.Contains(chunk.Name, error, StringComparison.Ordinal);
        Assert.Contains(chunk.Id.ToString(), error, StringComparison.Ordinal);
        await AssertRestoreOfBigFailsCleanlyAsync(repository, snapshot);
    }

    [Fact]
    public async Task A_failed_restore_of_a_damaged_file_leaves_the_copy_already_at_its_destination_untouched()
    {
        var (repository, snapshot) = await BackUpAsync();
        using var _ = repository;
        var chunk = await FirstChunkAsync(repository, snapshot);
        Flip(chunk.File, chunk.Location.Offset + RepositoryCrypto.NonceSize + 1);
        BackupTesting.Write(RestoredBig, "the copy the user already had"u8.ToArray());

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(snapshot, Target));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.Equal("the copy the user already had"u8.ToArray(), await File.ReadAllBytesAsync(RestoredBig));
        Assert.Empty(BackupTesting.Debris(Target));
    }

    [Fact]
    public async Task Damage_to_one_file_leaves_the_others_restorable()
    {
        var (repository, snapshot) = await BackUpAsync();
        using var _ = repository;
        var chunk = await FirstChunkAsync(repository, snapshot);
        Flip(chunk.File, chunk.Location.Offset + 30);

        await repository.RestoreAsync(snapshot, Target, new RestoreOptions { PathPattern = "*/notes.txt" });

        Assert.Equal(_notes, await File.ReadAllBytesAsync(RestoredNotes));
        Assert.False(File.Exists(RestoredBig));
    }

    [Theory]
    [InlineData("header")]
    [InlineData("trailer-length")]
    [InlineData("trailer-magic")]
    public async Task A_flipped_byte_in_a_pack_header_or_trailer_is_named_by_verify(string region)
    {
        var (repository, snapshot) = await BackUpAsync();
        using var _ = repository;
        var chunk = await FirstChunkAsync(repository, snapshot);
        var length = new FileInfo(chunk.File).Length;
        var headerLength = BitConverter.ToUInt32(File.ReadAllBytes(chunk.File).AsSpan((int)length - PackFormat.TrailerSize, 4));
        Flip(chunk.File, region switch
        {
            "header" => length - PackFormat.TrailerSize - headerLength + RepositoryCrypto.NonceSize + 3,
            "trailer-length" => length - PackFormat.TrailerSize,
            _ => length - 1,
        });

        var report = await VerifyAsync(repository);

        Assert.False(report.Ok);
        Assert.Contains(report.Errors, e => e.Contains(chunk.Name, StringComparison.Ordinal));

        // Blobs are read through the index and each is sealed on its own: the file's content is still intact.
        await repository.RestoreAsync(snapshot, Target);
        Assert.Equal(_big, await File.ReadAllBytesAsync(RestoredBig));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_truncated_pack_is_named_by_verify_and_a_file_in_the_lost_part_is_not_restored(bool encrypted)
    {
        var (repository, snapshot) = await BackUpAsync(encrypted);
        using var _ = repository;
        var chunk = await FirstChunkAsync(repository, snapshot);
        using (var stream = new FileStream(chunk.File, FileMode.Open, FileAccess.Write))
        {
            stream.SetLength(chunk.Location.Offset + (chunk.Location.StoredLength / 2));
        }

        var report = await VerifyAsync(repository);

        Assert.False(report.Ok);
        Assert.Contains(report.Errors, e => e.Contains(chunk.Name, StringComparison.Ordinal) && e.Contains("truncated", StringComparison.Ordinal));
        await AssertRestoreOfBigFailsCleanlyAsync(repository, snapshot);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_missing_pack_is_named_by_verify_and_its_files_are_not_restored(bool withItsFolder)
    {
        var (repository, snapshot) = await BackUpAsync();
        using var _ = repository;
        var chunk = await FirstChunkAsync(repository, snapshot);
        if (withItsFolder)
        {
            Directory.Delete(Path.GetDirectoryName(chunk.File)!, recursive: true);
        }
        else
        {
            File.Delete(chunk.File);
        }

        var report = await VerifyAsync(repository);

        Assert.False(report.Ok);
        Assert.Contains(report.Errors, e => e.Contains(chunk.Name, StringComparison.Ordinal) && e.Contains("missing", StringComparison.Ordinal));
        await AssertRestoreOfBigFailsCleanlyAsync(repository, snapshot);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_damaged_index_file_is_named_by_verify_and_prune_rebuilds_the_index_from_the_packs(bool encrypted)
    {
        var (repository, snapshot) = await BackUpAsync(encrypted);
        using var __ = repository;
        var index = Assert.Single(Directory.GetFiles(Path.Combine(RepositoryRoot, "index")));
        Flip(index, new FileInfo(index).Length / 2);
        var name = "index/" + Path.GetFileName(index);

        var report = await VerifyAsync(repository);
        Assert.False(report.Ok);
        Assert.Contains(report.Errors, e => e.Contains(name, StringComparison.Ordinal));

        // The repository still opens; prune indexes the packs from their own headers and drops the damaged file.
        using var reopened = await BackupRepository.OpenAsync(new LocalFolderBackend(RepositoryRoot), encrypted ? BackupTesting.Password : null);
        await reopened.PruneAsync();
        Assert.DoesNotContain(Path.GetFileName(index), Directory.GetFiles(Path.Combine(RepositoryRoot, "index")).Select(Path.GetFileName));
        var healed = await VerifyAsync(reopened);
        Assert.True(healed.Ok, string.Join("\n", healed.Errors));
        await reopened.RestoreAsync(snapshot, Target);
        Assert.NotEmpty(Directory.EnumerateFiles(Target, "*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_damaged_snapshot_is_named_by_verify_and_cannot_be_restored(bool encrypted)
    {
        var (repository, snapshot) = await BackUpAsync(encrypted);
        using var _ = repository;
        var file = Path.Combine(RepositoryRoot, "snapshots", snapshot);
        Flip(file, new FileInfo(file).Length - 20);

        var report = await VerifyAsync(repository);
        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(snapshot, Target));

        Assert.False(report.Ok);
        Assert.Contains(snapshot, Assert.Single(report.Errors), StringComparison.Ordinal);
        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.False(Directory.Exists(Target) && Directory.EnumerateFileSystemEntries(Target).Any(), "nothing is restored from a damaged snapshot");
    }

    [Fact]
    public async Task A_damaged_snapshot_can_be_forgotten_as_its_error_says_and_the_others_are_not_affected()
    {
        var (repository, damaged) = await BackUpAsync();
        using var _ = repository;
        var healthy = (await repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] })).Snapshot.Id;
        var file = Path.Combine(RepositoryRoot, "snapshots", damaged);
        Flip(file, 40);
        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.GetSnapshotAsync(damaged));
        Assert.Contains($"backup forget {damaged}", error.Message, StringComparison.Ordinal);

        var forgotten = await repository.ForgetSnapshotsAsync([damaged]);

        Assert.Equal(damaged, Assert.Single(forgotten).Id);
        Assert.False(File.Exists(file));
        Assert.Equal(healthy, Assert.Single(await repository.ListSnapshotsAsync()).Id);
        var report = await VerifyAsync(repository);
        Assert.True(report.Ok, string.Join("\n", report.Errors));
        await repository.RestoreAsync(healthy, Target);
        Assert.Equal(_big, await File.ReadAllBytesAsync(RestoredBig));
    }

    [Fact]
    public async Task A_restore_whose_every_file_is_damaged_fails_instead_of_hanging()
    {
        for (var i = 0; i < 200; i++)
        {
            BackupTesting.Write(Path.Combine(Source, $"note-{i:D3}.txt"), BackupTesting.RandomBytes(300, 100 + i));
        }

        using var repository = await BackupRepository.InitAsync(new LocalFolderBackend(RepositoryRoot), null, BackupTesting.SmallChunks());
        var snapshot = (await repository.CreateSnapshotAsync(new BackupSources { Includes = [Source] })).Snapshot.Id;
        foreach (var (_, location) in repository.Index.Blobs.Where(b => b.Value.Type == BlobType.Data))
        {
            Flip(Path.Combine(RepositoryRoot, RepositoryNames.Pack(location.Pack)), location.Offset + RepositoryCrypto.NonceSize);
        }

        var error = await Assert.ThrowsAsync<MdmaiException>(() =>
            repository.RestoreAsync(snapshot, Target, new RestoreOptions { Parallelism = 1 }).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.Empty(Directory.GetFiles(Target, "*", SearchOption.AllDirectories));
    }
}
