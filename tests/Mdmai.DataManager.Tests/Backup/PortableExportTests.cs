using System.Formats.Tar;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>The portable export: stock zstd, tar, sha256sum and sqlite3 read it; import rebuilds a folder from it.</summary>
public sealed class PortableExportTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _temp = new();
    private DataFolder _folder = null!;

    private string Archive => _temp.Combine("export.tar.zst");

    public async Task InitializeAsync() => _folder = await DataFolder.InitAsync(_temp.Combine("data"));

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _temp.Dispose();

    /// <summary>A data folder with a campaign, three files (one name twice) and a snapshot of it.</summary>
    private async Task<(BackupRepository Repository, string Snapshot, Dictionary<string, byte[]> Files)> SnapshotAsync(bool encrypted)
    {
        KeyRing? keys = null;
        if (encrypted)
        {
            _folder = await _folder.EnableEncryptionAsync(BackupTesting.Password, BackupTesting.FastKdf);
            keys = (await KeyFile.LoadAsync(_folder.KeyFilePath)).Unlock(BackupTesting.Password);
        }

        var files = new Dictionary<string, byte[]>
        {
            ["files/map/barovia.png"] = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, .. BackupTesting.RandomBytes(300_000, 1)],
            ["files/handout/letter.txt"] = BackupTesting.Text(200_000, 2),
            ["files/handout/letter (2).txt"] = BackupTesting.Text(1_000, 3),
        };
        await using (var db = await _folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys }))
        {
            await db.Campaigns.CreateAsync(Samples.Campaign());
            var store = new FileStore(db, _folder.Path, keys);
            await store.ImportAsync(new MemoryStream(files["files/map/barovia.png"]), "barovia.png", new FileImportOptions { Category = FileCategory.Map });
            await store.ImportAsync(new MemoryStream(files["files/handout/letter.txt"]), "letter.txt", new FileImportOptions { Category = FileCategory.Handout });
            await store.ImportAsync(new MemoryStream(files["files/handout/letter (2).txt"]), "letter.txt", new FileImportOptions { Category = FileCategory.Handout });
        }

        keys?.Dispose();
        var repository = await BackupRepository.InitAsync(new LocalFolderBackend(_temp.Combine("repo")), encrypted ? BackupTesting.Password : null, BackupTesting.SmallChunks());
        var result = await repository.CreateSnapshotAsync(new BackupSources { DataFolder = _folder.Path });
        return (repository, result.Snapshot.Id, files);
    }

    private async Task ExportAsync(BackupRepository repository, string snapshot, bool encrypted)
    {
        await using var output = File.Create(Archive);
        await repository.ExportAsync(snapshot, output, new ExportOptions { AllowPlaintext = encrypted, Password = encrypted ? BackupTesting.Password : null });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stock_zstd_and_tar_unpack_it_sha256sum_checks_it_and_sqlite3_opens_the_database(bool encrypted)
    {
        var (repository, snapshot, files) = await SnapshotAsync(encrypted);
        using var _ = repository;
        await ExportAsync(repository, snapshot, encrypted);
        var unpacked = _temp.Combine("unpacked");
        Directory.CreateDirectory(unpacked);

        var tar = await Tool.RunAsync("/bin/sh", ["-c", $"zstd -dq < '{Archive}' | tar -x -C '{unpacked}'"], null);
        Assert.True(tar.ExitCode == 0, tar.StdErr);
        foreach (var (path, content) in files)
        {
            Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(unpacked, path)));
        }

        var sums = await Tool.RunAsync("/bin/sh", ["-c", $"cd '{unpacked}' && sha256sum -c --quiet SHA256SUMS"], null);
        Assert.True(sums.ExitCode == 0, sums.StdOut + sums.StdErr);
        var sqlite = await Tool.RunAsync("sqlite3", [Path.Combine(unpacked, "mdmai.db"), "PRAGMA integrity_check; SELECT count(*) FROM campaigns; SELECT count(*) FROM files;"], null);
        Assert.Equal(0, sqlite.ExitCode);
        Assert.Equal(["ok", "1", "3"], sqlite.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(encrypted, File.Exists(Path.Combine(unpacked, "mdmai.keys")));
    }

    [Fact]
    public async Task An_encrypted_data_set_needs_allow_plaintext()
    {
        var (repository, snapshot, _) = await SnapshotAsync(encrypted: true);
        using var __ = repository;
        await using var output = new MemoryStream();

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.ExportAsync(snapshot, output, new ExportOptions { Password = BackupTesting.Password }));

        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
        Assert.Contains("--allow-plaintext", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Import_rebuilds_a_folder_whose_files_read_back_and_verify(bool encrypted)
    {
        var (repository, snapshot, files) = await SnapshotAsync(encrypted);
        using var _ = repository;
        await ExportAsync(repository, snapshot, encrypted);
        var target = _temp.Combine("imported");

        await using (var input = File.OpenRead(Archive))
        {
            var result = await PortableArchive.ImportAsync(input, target, encrypted ? BackupTesting.Password : null);
            Assert.Equal(3, result.Files);
        }

        var folder = await DataFolder.OpenAsync(target);
        using var keys = encrypted ? (await KeyFile.LoadAsync(folder.KeyFilePath)).Unlock(BackupTesting.Password) : null;
        await using var db = await folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys });
        var store = new FileStore(db, folder.Path, keys);
        Assert.Empty(await store.VerifyAsync());
        var page = await store.ListAsync(limit: 10);
        Assert.Equal(3, page.TotalCount);
        var contents = new List<byte[]>();
        foreach (var file in page.Items)
        {
            await using var stream = await store.OpenReadAsync(file.Id);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            contents.Add(copy.ToArray());
        }

        Assert.Equal(files.Values.Select(Convert.ToHexString).Order(), contents.Select(Convert.ToHexString).Order());
    }

    [Fact]
    public async Task A_truncated_archive_is_refused_and_leaves_nothing()
    {
        var (repository, snapshot, _) = await SnapshotAsync(encrypted: false);
        using var __ = repository;
        await ExportAsync(repository, snapshot, encrypted: false);
        var bytes = await File.ReadAllBytesAsync(Archive);
        var target = _temp.Combine("imported");

        var error = await Assert.ThrowsAsync<MdmaiException>(() => PortableArchive.ImportAsync(new MemoryStream(bytes[..(bytes.Length * 2 / 3)]), target, null));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public async Task A_changed_file_in_the_archive_is_caught_by_its_hash()
    {
        var (repository, snapshot, _) = await SnapshotAsync(encrypted: false);
        using var __ = repository;
        await ExportAsync(repository, snapshot, encrypted: false);
        var rewritten = await RewriteAsync(entry => entry.Name == "mdmai.json" ? "{\"encryption_enabled\": false} " : null);
        var target = _temp.Combine("imported");

        var error = await Assert.ThrowsAsync<MdmaiException>(() => PortableArchive.ImportAsync(new MemoryStream(rewritten), target, null));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.Contains("mdmai.json", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("/tmp/evil.txt")]
    [InlineData("files/../../evil.txt")]
    public async Task A_hostile_path_in_an_archive_is_refused(string hostile)
    {
        var archive = await ArchiveAsync(hostile, "pwned"u8.ToArray());
        var target = _temp.Combine("imported");

        var error = await Assert.ThrowsAsync<MdmaiException>(() => PortableArchive.ImportAsync(new MemoryStream(archive), target, null));

        Assert.Equal(MdmaiErrorCode.UnsafePath, error.Code);
        Assert.False(File.Exists(_temp.Combine("evil.txt")));
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public async Task An_archive_from_elsewhere_is_a_foreign_format()
    {
        var archive = await ArchiveAsync("README.md", "# not mdmai"u8.ToArray());

        var error = await Assert.ThrowsAsync<MdmaiException>(() => PortableArchive.ImportAsync(new MemoryStream(archive), _temp.Combine("imported"), null));

        Assert.Equal(MdmaiErrorCode.ForeignFormat, error.Code);
    }

    [Fact]
    public async Task Import_refuses_a_folder_that_is_not_empty()
    {
        var (repository, snapshot, _) = await SnapshotAsync(encrypted: false);
        using var __ = repository;
        await ExportAsync(repository, snapshot, encrypted: false);
        await using var input = File.OpenRead(Archive);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => PortableArchive.ImportAsync(input, _folder.Path, null));

        Assert.Equal(MdmaiErrorCode.AlreadyExists, error.Code);
        Assert.True(File.Exists(_folder.DatabasePath));
    }

    /// <summary>A tar.zst with one file entry.</summary>
    private static async Task<byte[]> ArchiveAsync(string name, byte[] content)
    {
        using var output = new MemoryStream();
        await using (var zstd = new ZstdSharp.CompressionStream(output, 3, leaveOpen: true))
        await using (var writer = new TarWriter(zstd, TarEntryFormat.Pax, leaveOpen: true))
        {
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
        }

        return output.ToArray();
    }

    /// <summary>The export with some entries' content replaced (the manifest left as it was).</summary>
    private async Task<byte[]> RewriteAsync(Func<TarEntry, string?> replace)
    {
        using var output = new MemoryStream();
        await using (var input = File.OpenRead(Archive))
        await using (var unzstd = new ZstdSharp.DecompressionStream(input))
        await using (var reader = new TarReader(unzstd))
        await using (var zstd = new ZstdSharp.CompressionStream(output, 3, leaveOpen: true))
        await using (var writer = new TarWriter(zstd, TarEntryFormat.Pax, leaveOpen: true))
        {
            while (await reader.GetNextEntryAsync(copyData: true) is { } entry)
            {
                if (replace(entry) is { } text)
                {
                    entry.DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
                }

                await writer.WriteEntryAsync(entry);
            }
        }

        return output.ToArray();
    }
}
