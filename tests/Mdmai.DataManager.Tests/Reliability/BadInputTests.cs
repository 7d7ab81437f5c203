using System.Diagnostics;
using System.Formats.Tar;
using Mdmai.Cli;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Tests.Backup;
using Mdmai.DataManager.Tests.Cli;
using Mdmai.DataManager.Tests.Integrity;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Reliability;

/// <summary>
/// Bad input through the library the app uses and through the CLI: hostile paths in every path-taking command, wrong
/// and damaged keys, a config of the wrong types, archives and dumps from elsewhere, a full disk, a read-only folder.
/// Each gets its own error code (and CLI exit code, 2 + the code) and leaves the data exactly as it was.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly Dictionary<string, string> _environment = new() { ["MDMAI_PASSWORD"] = OpenDataFolder.Password };

    public void Dispose() => _temp.Dispose();

    private string Data => _temp.Combine("data");

    private static int ExitFor(MdmaiErrorCode code) => DocumentedExitCodes.For(code);

    private async Task<(int Exit, string Out, string Err)> Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var all = args.Contains("--data-dir") ? args : [.. args, "--data-dir", Data];
        var exit = await MdmaiCli.RunAsync(all, stdout, stderr, _environment.GetValueOrDefault, interactive: false);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A data folder with some rows, two files and a snapshot.</summary>
    private async Task<(Guid FileId, string SnapshotId)> MakeDataAsync(bool encrypted = false)
    {
        await using var data = await OpenDataFolder.CreateAsync(Data, encrypted);
        var campaign = await data.Database.Campaigns.CreateAsync(Samples.Campaign());
        await data.Database.Npcs.CreateAsync(Samples.Npc(campaign.Id));
        var file = await data.Store.ImportAsync(new MemoryStream(BackupTesting.Text(20_000, 3)), "handout.txt");
        await data.Store.ImportAsync(new MemoryStream(BackupTesting.RandomBytes(30_000, 4)), "map.png");
        var snapshot = await data.SnapshotAsync();
        return (file.File.Id, snapshot);
    }

    /// <summary>
    /// Everything in the folder, and the database's rows. Not compared: the live database files (their rows are), the
    /// lock file (rewritten by each open attempt) and the cache counters the app saves when it closes.
    /// </summary>
    private (SortedDictionary<string, string> Files, DatabaseSnapshot Database) State(string? folder = null)
    {
        folder ??= Data;
        SqliteConnection.ClearAllPools();
        return (Folders.Hashes(folder, f => f.StartsWith("mdmai.db", StringComparison.Ordinal) || f is MdmaiDataManager.LockFileName or global::Mdmai.DataManager.Caching.CacheStatisticsFile.FileName),
            DatabaseSnapshot.Read(Path.Combine(folder, DataFolder.DatabaseFileName)));
    }

    private void AssertUnchanged((SortedDictionary<string, string> Files, DatabaseSnapshot Database) before, string? folder = null)
    {
        var after = State(folder);
        Assert.Equal(before.Files, after.Files);
        DatabaseSnapshot.AssertEqual(before.Database, after.Database);
    }

    /// <summary>What is in the temp root next to the data folder: a write that escaped would show here.</summary>
    private string[] Outside() => [.. Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    private static DataManagerOptions Options(string folder) => new() { DataFolder = folder, BackgroundWork = false, CreateIfMissing = false };

    [Fact]
    public async Task A_hostile_stored_name_cannot_steer_an_export_out_of_its_folder_and_unknown_ids_are_NotFound()
    {
        await MakeDataAsync();
        Guid hostile;
        await using (var data = await OpenDataFolder.OpenAsync(Data))
        {
            hostile = (await data.Store.ImportAsync(new MemoryStream([1, 2, 3]), "../../../../tmp/evil.sh")).File.Id;
        }

        var target = Directory.CreateDirectory(_temp.Combine("exports")).FullName;
        var outside = Outside();
        var before = State();

        var export = await Cli("files", "export", hostile.ToString(), target);
        var unknown = await Cli("files", "export", Guid.NewGuid().ToString(), target);
        var missingFolder = await Cli("files", "export", hostile.ToString(), Path.Combine(target, "no", "such", "folder", "x"));
        var missingSource = await Cli("files", "import", _temp.Combine("no-such-file.pdf"));

        Assert.True(export.Exit == 0, export.Err);
        Assert.Equal(["evil.sh"], Directory.GetFiles(target).Select(Path.GetFileName));
        Assert.Equal(outside, Outside());
        Assert.Equal(ExitFor(MdmaiErrorCode.NotFound), unknown.Exit);
        Assert.Equal(ExitFor(MdmaiErrorCode.NotFound), missingFolder.Exit);
        Assert.Equal(ExitCodes.PartialFailure, missingSource.Exit);
        Assert.Contains("no such file", missingSource.Out, StringComparison.Ordinal);
        AssertUnchanged(before);
    }

    [Theory]
    [InlineData("data/../../evil")]
    [InlineData("/tmp/evil-absolute")]
    [InlineData("data/objects/../../../evil")]
    public async Task Restoring_a_hostile_snapshot_is_UnsafePath_and_writes_nothing_outside_the_target(string hostile)
    {
        await MakeDataAsync();
        string crafted;
        using (var backups = await DataFolderBackups.OpenAsync(await DataFolder.OpenAsync(Data), null, create: false))
        {
            crafted = await CraftedSnapshot.WriteAsync(backups.Repository, (CraftedSnapshot.FileEntry(hostile), [6, 6, 6]));
        }

        var target = _temp.Combine("restore-target");
        var outside = Outside();
        var before = State();

        var restore = await Cli("backup", "restore", crafted[..8], "--target", target);

        Assert.Equal(ExitFor(MdmaiErrorCode.UnsafePath), restore.Exit);
        Assert.Contains(hostile, restore.Err, StringComparison.Ordinal);
        Assert.Equal(outside.Append("restore-target").Distinct().Order(StringComparer.Ordinal), Outside().Order(StringComparer.Ordinal));
        Assert.False(File.Exists("/tmp/evil-absolute"));
        Assert.Empty(Directory.Exists(target) ? Directory.GetFiles(target, "*", SearchOption.AllDirectories) : []);
        AssertUnchanged(before);
    }

    private static void WriteTarZst(string path, Action<TarWriter> entries)
    {
        using var file = File.Create(path);
        using var zstd = new ZstdSharp.CompressionStream(file);
        using (var tar = new TarWriter(zstd, TarEntryFormat.Pax, leaveOpen: true))
        {
            entries(tar);
        }
    }

    private static void AddFile(TarWriter tar, string name, byte[] content) =>
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });

    public static TheoryData<string> HostileArchives() => ["dotdot", "absolute", "symlink", "hardlink", "dotdot-after-the-database"];

    [Theory]
    [MemberData(nameof(HostileArchives))]
    public async Task Importing_a_hostile_archive_is_UnsafePath_and_leaves_no_folder_and_nothing_outside(string kind)
    {
        await MakeDataAsync();
        var export = _temp.Combine("good.tar.zst");
        var exported = await Cli("backup", "export", "latest", export);
        Assert.True(exported.Exit == 0, exported.Err);
        var archive = _temp.Combine("hostile.tar.zst");
        WriteTarZst(archive, tar =>
        {
            if (kind == "dotdot-after-the-database")
            {
                // A real export's first entries, then the hostile one.
                using var zstd = new ZstdSharp.DecompressionStream(File.OpenRead(export));
                using var reader = new TarReader(zstd);
                for (var i = 0; i < 3 && reader.GetNextEntry(copyData: true) is { } entry; i++)
                {
                    tar.WriteEntry(entry);
                }
            }

            switch (kind)
            {
                case "absolute":
                    AddFile(tar, "/tmp/evil-from-archive", [6]);
                    break;
                case "symlink":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "files/link") { LinkName = "/etc/passwd" });
                    break;
                case "hardlink":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "files/link") { LinkName = "../../evil" });
                    break;
                default:
                    AddFile(tar, "../evil", [6]);
                    break;
            }
        });
        var target = _temp.Combine("imported");
        var outside = Outside();
        var before = State();

        var import = await Cli("backup", "import", archive, "--data-dir", target);

        Assert.True(import.Exit == ExitFor(MdmaiErrorCode.UnsafePath), $"exit {import.Exit}: {import.Err}");
        Assert.False(Directory.Exists(target)); // what it wrote is gone
        Assert.Equal(outside, Outside());
        Assert.False(File.Exists("/tmp/evil-from-archive"));
        AssertUnchanged(before);
    }

    [Fact]
    public async Task Archives_and_dumps_from_elsewhere_are_ForeignFormat_or_Corrupt_and_import_nothing()
    {
        await MakeDataAsync();
        var foreignArchive = _temp.Combine("photos.tar.zst");
        WriteTarZst(foreignArchive, tar => AddFile(tar, "holiday/beach.jpg", BackupTesting.RandomBytes(1000, 1)));
        var text = _temp.Combine("notes.tar.zst");
        await File.WriteAllTextAsync(text, "this is not an archive\n");
        var foreignDump = _temp.Combine("other.sql");
        await File.WriteAllTextAsync(foreignDump, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(x);\nINSERT INTO t VALUES(1);\nCOMMIT;\n");
        var before = State();

        var archive = await Cli("backup", "import", foreignArchive, "--data-dir", _temp.Combine("new1"));
        var notArchive = await Cli("backup", "import", text, "--data-dir", _temp.Combine("new2"));
        var dump = await Cli("db", "import-sql", foreignDump, "--data-dir", _temp.Combine("new3"));

        Assert.True(archive.Exit == ExitFor(MdmaiErrorCode.ForeignFormat), $"exit {archive.Exit}: {archive.Err}");
        Assert.True(notArchive.Exit == ExitFor(MdmaiErrorCode.Corrupt), $"exit {notArchive.Exit}: {notArchive.Err}");
        Assert.True(dump.Exit == ExitFor(MdmaiErrorCode.ForeignFormat), $"exit {dump.Exit}: {dump.Err}");
        Assert.False(Directory.Exists(_temp.Combine("new1")));
        Assert.False(Directory.Exists(_temp.Combine("new2")));
        Assert.False(File.Exists(Path.Combine(_temp.Combine("new3"), DataFolder.DatabaseFileName)));
        AssertUnchanged(before);
    }

    [Fact]
    public async Task A_wrong_password_is_WrongPassword_and_a_damaged_key_file_Corrupt_in_the_library_and_the_cli()
    {
        await MakeDataAsync(encrypted: true);
        var before = State();

        _environment["MDMAI_PASSWORD"] = "wrong";
        var wrongCli = await Cli("campaign", "list");
        var wrongCheck = await Cli("check");
        var wrong = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(Data), "wrong"));
        _environment["MDMAI_PASSWORD"] = OpenDataFolder.Password;

        Assert.Equal(ExitFor(MdmaiErrorCode.WrongPassword), wrongCli.Exit);
        Assert.Equal(ExitFor(MdmaiErrorCode.WrongPassword), wrongCheck.Exit);
        Assert.Equal(MdmaiErrorCode.WrongPassword, wrong.Code);
        AssertUnchanged(before);

        var keyFile = Path.Combine(Data, KeyFile.FileName);
        Folders.Truncate(keyFile, new FileInfo(keyFile).Length / 3);
        before = State();
        var truncated = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(Data), OpenDataFolder.Password));
        var truncatedCli = await Cli("campaign", "list");

        Assert.Equal(MdmaiErrorCode.Corrupt, truncated.Code);
        Assert.Contains("Restore it from a backup", truncated.Message, StringComparison.Ordinal);
        Assert.Equal(ExitFor(MdmaiErrorCode.Corrupt), truncatedCli.Exit);
        AssertUnchanged(before);
    }

    [Theory]
    [InlineData("""{ "max_backup_count": "ten" }""", "max_backup_count")]
    [InlineData("""{ "encryption_enabled": "yes please" }""", "encryption_enabled")]
    [InlineData("""{ "auto_backup_interval_minutes": -5 }""", "auto_backup_interval_minutes")]
    [InlineData("""{ "backup_repository": 42 }""", "backup_repository")]
    [InlineData("""[1, 2, 3]""", "(document)")]
    public async Task A_config_of_the_wrong_types_is_InvalidConfig_naming_the_field(string config, string field)
    {
        await MakeDataAsync();
        await File.WriteAllTextAsync(Path.Combine(Data, DataFolder.ConfigFileName), config);
        var before = State();

        var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(Data)));
        var status = await Cli("files", "ls");

        Assert.Equal(MdmaiErrorCode.InvalidConfig, error.Code);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
        Assert.Equal(ExitFor(MdmaiErrorCode.InvalidConfig), status.Exit);
        AssertUnchanged(before);
    }

    [TmpfsFact]
    public async Task A_full_disk_is_DiskFull_stores_nothing_and_the_next_import_works()
    {
        var mount = Directory.CreateDirectory(_temp.Combine("small-disk")).FullName;
        Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount);
        try
        {
            var folder = Path.Combine(mount, "data");
            await using (var manager = await MdmaiDataManager.OpenAsync(new DataManagerOptions { DataFolder = folder, BackgroundWork = false }))
            {
                await manager.Files.ImportAsync(new MemoryStream(BackupTesting.RandomBytes(10_000, 1)), "small.bin");
                await manager.OpenBackupsAsync(null); // the repository, on the same small disk
            }

            var before = State(folder);
            var big = WriteFile("big.bin", BackupTesting.RandomBytes(3 << 20, 3)); // on the big disk
            await using (var manager = await MdmaiDataManager.OpenAsync(Options(folder)))
            {
                var full = await Assert.ThrowsAsync<MdmaiException>(() => manager.Files.ImportAsync(new MemoryStream(BackupTesting.RandomBytes(3 << 20, 2)), "big-scan.pdf"));
                Assert.Equal(MdmaiErrorCode.DiskFull, full.Code);
                Assert.Empty(Directory.GetFiles(manager.Files.TempPath)); // the partial object is gone
                Assert.Equal(1, (await manager.Files.ListAsync()).TotalCount);

                // A backup whose packs do not fit: DiskFull too, no snapshot, and what it wrote goes with the next prune.
                var backup = await Assert.ThrowsAsync<MdmaiException>(() => manager.Backups!.BackupAsync(SnapshotKind.Manual, includes: [big]));
                Assert.Equal(MdmaiErrorCode.DiskFull, backup.Code);
                Assert.Empty(await manager.Backups!.Repository.ListSnapshotsAsync());
                await manager.Backups.Repository.PruneAsync();
                Assert.True((await manager.Backups.Repository.VerifyAsync(new VerifyOptions { ReadData = true })).Ok);
            }

            AssertUnchanged(before, folder);
            var cli = await Cli("files", "import", big, "--data-dir", folder);
            Assert.True(cli.Exit == ExitFor(MdmaiErrorCode.DiskFull), $"exit {cli.Exit}: {cli.Err}");
            Assert.Contains("full", cli.Err, StringComparison.OrdinalIgnoreCase);
            AssertUnchanged(before, folder);

            // Space is back: the next import works.
            await using (var manager = await MdmaiDataManager.OpenAsync(Options(folder)))
            {
                await manager.Files.ImportAsync(new MemoryStream(BackupTesting.RandomBytes(20_000, 4)), "next.bin");
                Assert.Equal(2, (await manager.Files.ListAsync()).TotalCount);
                Reports.AssertClean(await manager.Integrity.CheckAsync(new IntegrityOptions { ReadData = true }));
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Run("umount", mount);
        }
    }

    [TmpfsFact]
    public async Task A_database_capture_that_fills_the_disk_is_DiskFull_and_leaves_no_copy()
    {
        // The backup's copy of the database is written beside the data: on a full disk that is DiskFull, not damage
        // (the capture runs beside the pipeline, so either may be the first to find the disk full).
        var mount = Directory.CreateDirectory(_temp.Combine("capture-disk")).FullName;
        Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount);
        try
        {
            await using (var connection = new SqliteConnection($"Data Source={Path.Combine(mount, DataFolder.DatabaseFileName)};Pooling=False"))
            {
                await connection.OpenAsync();
                await using var fill = connection.CreateCommand();
                fill.CommandText = "CREATE TABLE t (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12) INSERT INTO t SELECT randomblob(100000) FROM n;";
                await fill.ExecuteNonQueryAsync();
            }

            var error = await Assert.ThrowsAsync<MdmaiException>(() => BackupRepository.CaptureDatabaseAsync(mount, CancellationToken.None));

            Assert.Equal(MdmaiErrorCode.DiskFull, error.Code);
            Assert.Empty(Directory.GetFiles(Path.Combine(mount, "tmp")));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Run("umount", mount);
        }
    }

    private string WriteFile(string name, byte[] content) => BackupTesting.Write(_temp.Combine(name), content);

    [ImmutableFilesFact]
    public async Task A_read_only_data_folder_is_ReadOnly_for_imports_and_backups_and_stays_as_it_was()
    {
        await MakeDataAsync();
        var immutable = new[] { Path.Combine(Data, "tmp"), Path.Combine(Data, "objects"), Path.Combine(Data, "backups", "data"), Path.Combine(Data, "backups", "snapshots"), Path.Combine(Data, "backups", "index"), Path.Combine(Data, "backups", "locks") };
        var before = State();
        foreach (var folder in immutable)
        {
            Directory.CreateDirectory(folder);
            ErrorTests.Chattr("+i", folder);
        }

        try
        {
            await using (var manager = await MdmaiDataManager.OpenAsync(Options(Data)))
            {
                var import = await Assert.ThrowsAsync<MdmaiException>(() => manager.Files.ImportAsync(new MemoryStream(BackupTesting.RandomBytes(5000, 9)), "new.bin"));
                var backup = await Assert.ThrowsAsync<MdmaiException>(() => manager.Backups!.BackupAsync(SnapshotKind.Manual));

                Assert.Equal(MdmaiErrorCode.ReadOnly, import.Code);
                Assert.Equal(MdmaiErrorCode.ReadOnly, backup.Code);
            }

            var cli = await Cli("files", "import", WriteFile("new.bin", BackupTesting.RandomBytes(5000, 9)));
            Assert.Equal(ExitCodes.PartialFailure, cli.Exit);
        }
        finally
        {
            foreach (var folder in immutable)
            {
                ErrorTests.Chattr("-i", folder);
            }
        }

        AssertUnchanged(before);
    }

    private static void Run(string tool, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed: {error}");
        }
    }
}

/// <summary>A fact for root where a small tmpfs can be mounted (a real full disk); skipped with the reason otherwise.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || !Privileges.IsRoot)
        {
            Skip = "Needs root on Linux to mount a 2 MiB tmpfs as a full disk.";
            return;
        }

        var probe = Path.Combine(Path.GetTempPath(), "mdmai-tmpfs-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(probe);
        try
        {
            using var mount = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            mount.WaitForExit();
            if (mount.ExitCode != 0)
            {
                Skip = $"'mount -t tmpfs' does not work here ({mount.StandardError.ReadToEnd().Trim()}): no way to make a full disk.";
                return;
            }

            using var umount = Process.Start(new ProcessStartInfo("umount", [probe]) { RedirectStandardError = true })!;
            umount.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Skip = $"No mount tool: {ex.Message}.";
        }
        finally
        {
            Directory.Delete(probe);
        }
    }
}
