using System.Diagnostics;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Tests.Backup;
using Mdmai.DataManager.Tests.Integrity;
using Mdmai.DataManager.Tests.Reliability;

namespace Mdmai.DataManager.Tests;

/// <summary>
/// <see cref="MdmaiDataManager"/>, the object the app opens: the folder lock (in this process and against another
/// one), wrong passwords and newer databases refused without a trace, the shutdown backup, the background work on a
/// hand-moved clock, and a prompt close that cancels what runs.
/// </summary>
public sealed class DataManagerFacadeTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly TempFolder _temp = new();
    private readonly ManualTimeProvider _clock = new();

    public void Dispose() => _temp.Dispose();

    private string Data => _temp.Combine("data");

    private string LockPath => Path.Combine(Data, MdmaiDataManager.LockFileName);

    private DataManagerOptions Options(bool background = false, bool? shutdownBackup = null) =>
        new() { DataFolder = Data, BackgroundWork = background, ShutdownBackup = shutdownBackup, Clock = _clock };

    /// <summary>A folder with the given config and (fast-KDF, small-chunk) repository, made without the facade.</summary>
    private async Task<DataFolder> MakeFolderAsync(MdmaiConfig config, bool encrypted = false, bool repository = true)
    {
        var folder = await DataFolder.InitAsync(Data, config);
        if (encrypted)
        {
            folder = await folder.EnableEncryptionAsync(OpenDataFolder.Password, BackupTesting.FastKdf);
        }

        if (repository)
        {
            using var backups = await DataFolderBackups.OpenAsync(folder, encrypted ? OpenDataFolder.Password : null, create: true, BackupTesting.SmallChunks());
        }

        return folder;
    }

    private async Task<List<SnapshotInfo>> SnapshotsAsync(string? password = null)
    {
        using var backups = await DataFolderBackups.OpenAsync(await DataFolder.OpenAsync(Data), password, create: false);
        return [.. await backups.Repository.ListSnapshotsAsync()];
    }

    /// <summary>
    /// Everything in the folder but the live database files and the lock file (each open attempt takes the lock and
    /// writes its owner line, then lets go), plus the database's rows: what "unchanged" means.
    /// </summary>
    private (SortedDictionary<string, string> Files, DatabaseSnapshot Database) State() =>
        (Folders.Hashes(Data, f => f.StartsWith("mdmai.db", StringComparison.Ordinal) || f == MdmaiDataManager.LockFileName), DatabaseSnapshot.Read(Path.Combine(Data, DataFolder.DatabaseFileName)));

    private static void AssertSameState((SortedDictionary<string, string> Files, DatabaseSnapshot Database) before, (SortedDictionary<string, string> Files, DatabaseSnapshot Database) after)
    {
        Assert.Equal(before.Files, after.Files);
        DatabaseSnapshot.AssertEqual(before.Database, after.Database);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (stopwatch.Elapsed > Wait)
            {
                throw new TimeoutException($"Waited {Wait} for {what}.");
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task OpenAsync_creates_the_folder_and_exposes_storage_files_backups_integrity_and_cache()
    {
        Assert.False(Directory.Exists(Data));

        await using (var manager = await MdmaiDataManager.OpenAsync(Options(background: true)))
        {
            Assert.True(DataFolder.Exists(Data));
            Assert.Equal(Path.GetFullPath(Data), manager.Folder.Path);
            Assert.True(File.Exists(LockPath));
            Assert.StartsWith($"{Environment.ProcessId} ", ReadShared(LockPath), StringComparison.Ordinal);

            var campaign = await manager.Storage.Campaigns.CreateAsync(Samples.Campaign());
            var file = await manager.Files.ImportAsync(new MemoryStream(BackupTesting.Text(5000, 1)), "notes.txt", new FileImportOptions { CampaignId = campaign.Id });
            await using (var read = await manager.Files.OpenReadAsync(file.File.Id))
            {
                await read.CopyToAsync(Stream.Null);
            }

            Assert.NotNull(manager.Backups); // auto backups are on by default, so the repository is open
            var snapshot = await manager.Backups.BackupAsync(SnapshotKind.Manual);
            Reports.AssertClean(await manager.Integrity.CheckAsync(new IntegrityOptions { ReadData = true }));
            Assert.Same(manager.Files.Cache, manager.Cache);
            Assert.True(manager.Cache.Statistics.Count > 0);
            var statistics = await manager.GetStatisticsAsync();
            Assert.Equal(1, statistics.Files.Files);
            Assert.Equal(1, statistics.Snapshots);
            Assert.Equal(1, statistics.Database.RowCounts["campaigns"]);
            Assert.Null(statistics.LastIntegrityCheck);
            Assert.Equal(SnapshotKind.Manual, snapshot.Snapshot.Kind);
            Assert.Equal(0, manager.AutoBackups);
        }

        // Closed: the lock is released and the folder opens again, with its data.
        await using (var again = await MdmaiDataManager.OpenAsync(Options()))
        {
            Assert.Equal(1, (await again.Storage.Campaigns.ListAsync()).TotalCount);
        }
    }

    /// <summary>Reads the lock file while it is held (a .NET open by path would be refused by the holder's lock).</summary>
    private static string ReadShared(string path)
    {
        using var handle = global::Mdmai.DataManager.IO.UnixFileCalls.TryOpenForReading(path)!;
        using var stream = new FileStream(handle, FileAccess.Read);
        return new StreamReader(stream).ReadToEnd();
    }

    [Fact]
    public async Task A_second_open_in_the_same_process_is_Locked_and_changes_nothing()
    {
        await using (var first = await MdmaiDataManager.OpenAsync(Options()))
        {
            await first.Storage.Campaigns.CreateAsync(Samples.Campaign());
            var before = State();
            var owner = ReadShared(LockPath);

            var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(background: true)));

            Assert.Equal(MdmaiErrorCode.Locked, error.Code);
            Assert.Contains($"process {Environment.ProcessId}", error.Message, StringComparison.Ordinal);
            Assert.Equal(owner, ReadShared(LockPath));
            AssertSameState(before, State());
            Assert.Equal(1, (await first.Storage.Campaigns.ListAsync()).TotalCount); // the first one goes on
        }

        await using var reopened = await MdmaiDataManager.OpenAsync(Options());
        Assert.Equal(1, (await reopened.Storage.Campaigns.ListAsync()).TotalCount);
    }

    [Fact]
    public async Task RestoreInPlaceAsync_puts_the_folder_back_to_a_snapshot_while_open_and_keeps_it_held()
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0 }, encrypted: true);
        await using var manager = await MdmaiDataManager.OpenAsync(Options(), OpenDataFolder.Password);
        var kept = await manager.Storage.Campaigns.CreateAsync(new() { Name = "Curse of Strahd", System = "dnd5e" });
        var map = (await manager.Files.ImportAsync(new MemoryStream(Random(200_000, 1)), "barovia.png")).File;
        var snapshot = (await manager.Backups!.BackupAsync(SnapshotKind.Manual)).Snapshot;
        await manager.Storage.Campaigns.CreateAsync(new() { Name = "Later", System = "dnd5e" });
        await manager.Files.DeleteAsync(map.Id);
        var oldStorage = manager.Storage;

        // An unknown snapshot fails before anything closes.
        var unknown = await Assert.ThrowsAsync<MdmaiException>(() => manager.RestoreInPlaceAsync("ffffffff", OpenDataFolder.Password));
        Assert.Equal(MdmaiErrorCode.NotFound, unknown.Code);
        Assert.Equal(2, (await manager.Storage.Campaigns.ListAsync()).TotalCount);

        var result = await manager.RestoreInPlaceAsync(snapshot.Id, OpenDataFolder.Password);

        Assert.True(result.Files > 0);
        Assert.NotSame(oldStorage, manager.Storage);
        Assert.Equal([kept.Id], (await manager.Storage.Campaigns.ListAsync()).Items.Select(c => c.Id));
        await using (var content = await manager.Files.OpenReadAsync(map.Id))
        {
            using var copy = new MemoryStream();
            await content.CopyToAsync(copy);
            Assert.Equal(Random(200_000, 1), copy.ToArray());
        }

        // Still the app's: the lock is held, the manager writes, checks and backs up as before.
        var locked = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(), OpenDataFolder.Password));
        Assert.Equal(MdmaiErrorCode.Locked, locked.Code);
        await manager.Storage.Campaigns.CreateAsync(new() { Name = "After the restore", System = "dnd5e" });
        Reports.AssertClean(await manager.Integrity.CheckAsync());
        var kinds = (await manager.Backups!.Repository.ListSnapshotsAsync()).Select(x => x.Kind).ToList();
        Assert.Equal([SnapshotKind.Manual, SnapshotKind.PreRestore], kinds);
    }

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Another_process_cannot_open_a_folder_held_here_nor_this_one_a_folder_it_holds_until_it_dies()
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0 });

        // Held here: the child is refused.
        await using (var manager = await MdmaiDataManager.OpenAsync(Options()))
        {
            using var child = ChildProcess.Start("facade-open", "try", Data);
            var (exit, lines, stderr) = await child.WaitAsync(Wait);
            Assert.True(exit == 3, $"exit {exit}: {string.Join("\n", lines)}\n{stderr}");
            Assert.Equal(["error Locked"], lines);
            Assert.Contains($"process {Environment.ProcessId}", stderr, StringComparison.Ordinal);
        }

        // Held by the child: this process is refused, until the child is killed (a lock dies with its process).
        using (var holder = ChildProcess.Start("facade-open", "hold", Data))
        {
            await holder.WaitForLineAsync(l => l == "opened", Wait);
            var before = State();
            var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options()));
            Assert.Equal(MdmaiErrorCode.Locked, error.Code);
            Assert.Contains($"process {holder.Process.Id}", error.Message, StringComparison.Ordinal);
            AssertSameState(before, State());

            holder.Kill();
            await holder.WaitAsync(Wait);
        }

        await using var after = await MdmaiDataManager.OpenAsync(Options());
        Reports.AssertClean(await after.Integrity.CheckAsync());
    }

    [Fact]
    public async Task A_wrong_or_missing_password_is_WrongPassword_changes_nothing_and_releases_the_lock()
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0 }, encrypted: true);
        await using (var manager = await MdmaiDataManager.OpenAsync(Options(), OpenDataFolder.Password))
        {
            await manager.Storage.Campaigns.CreateAsync(Samples.Campaign());
        }

        var before = State();
        var wrong = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(), "not the password"));
        var missing = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(), null));

        Assert.Equal(MdmaiErrorCode.WrongPassword, wrong.Code);
        Assert.Equal(MdmaiErrorCode.WrongPassword, missing.Code);
        AssertSameState(before, State());
        await using var opened = await MdmaiDataManager.OpenAsync(Options(), OpenDataFolder.Password);
        Assert.Equal("Curse of Strahd", (await opened.Storage.Campaigns.ListAsync()).Items.Single().Name);
    }

    [Fact]
    public async Task A_database_of_a_newer_schema_is_MigrationMismatch_changes_nothing_and_releases_the_lock()
    {
        var folder = await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0 });
        RawSql.Execute(folder.DatabasePath, "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($0, 'from_the_future', 'feed', '2030-01-01T00:00:00.000Z')",
            MdmaiDatabase.LatestSchemaVersion + 1);
        var before = State();

        var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options(background: true)));
        var again = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDataManager.OpenAsync(Options()));

        Assert.Equal(MdmaiErrorCode.MigrationMismatch, error.Code);
        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
        Assert.Equal(MdmaiErrorCode.MigrationMismatch, again.Code); // not Locked: the failed open let go of the lock
        AssertSameState(before, State());
    }

    [Theory]
    [InlineData(true, false, false)] // asked for in the options, nothing in the config, no repository yet
    [InlineData(true, false, true)] // the same without background work
    [InlineData(null, true, false)] // backup_on_shutdown in the config
    public async Task DisposeAsync_takes_a_shutdown_snapshot_when_asked_or_configured(bool? asked, bool configured, bool noBackgroundWork)
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0, BackupOnShutdown = configured }, repository: false);
        await using (var manager = await MdmaiDataManager.OpenAsync(Options(background: !noBackgroundWork, shutdownBackup: asked)))
        {
            await manager.Storage.Campaigns.CreateAsync(Samples.Campaign());
        }

        var shutdown = Assert.Single(await SnapshotsAsync());
        Assert.Equal(SnapshotKind.Shutdown, shutdown.Kind);

        // The snapshot holds the data as it was at the close.
        var target = _temp.Combine("restored");
        using (var backups = await DataFolderBackups.OpenAsync(await DataFolder.OpenAsync(Data), null, create: false))
        {
            await backups.Repository.RestoreAsync(shutdown.Id, target, new RestoreOptions { PathPattern = "data/mdmai.db" });
        }

        Assert.Equal(1L, RawSql.Count(Path.Combine(target, "data", "mdmai.db"), "campaigns"));
    }

    [Fact]
    public async Task No_shutdown_snapshot_when_neither_asked_nor_configured_or_when_turned_off_in_the_options()
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0, BackupOnShutdown = true });
        await using (await MdmaiDataManager.OpenAsync(Options(shutdownBackup: false)))
        {
        }

        await File.WriteAllTextAsync(Path.Combine(Data, DataFolder.ConfigFileName), """{ "auto_backup_interval_minutes": 0 }""");
        await using (await MdmaiDataManager.OpenAsync(Options(background: true)))
        {
        }

        Assert.Empty(await SnapshotsAsync());
    }

    [Fact]
    public async Task Auto_backups_run_on_the_clock_and_retention_keeps_max_backup_count()
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 60, MaxBackupCount = 2 });
        var failures = new List<Exception>();
        var manual = "";
        await using (var manager = await MdmaiDataManager.OpenAsync(Options(background: true)))
        {
            manager.BackgroundFailed += (_, ex) => failures.Add(ex);
            manual = (await manager.Backups!.BackupAsync(SnapshotKind.Manual)).Snapshot.Id;
            await WaitUntilAsync(() => Task.FromResult(_clock.TimersCreated >= 2), "the backup and integrity schedules to start");

            _clock.Advance(TimeSpan.FromMinutes(59));
            await Task.Delay(200);
            Assert.Equal(0, manager.AutoBackups);

            for (var i = 1; i <= 4; i++)
            {
                await manager.Storage.Campaigns.CreateAsync(Samples.Campaign($"Campaign {i}"));
                _clock.Advance(TimeSpan.FromMinutes(i == 1 ? 1 : 60));
                await WaitUntilAsync(() => Task.FromResult(manager.AutoBackups == i), $"auto backup {i}");
            }

            await WaitUntilAsync(async () => (await manager.Backups.Repository.ListSnapshotsAsync()).Count(s => s.Kind == SnapshotKind.Auto) == 2, "retention");
        }

        Assert.Empty(failures);
        var snapshots = await SnapshotsAsync();
        var autos = snapshots.Where(s => s.Kind == SnapshotKind.Auto).ToList();
        Assert.Equal(2, autos.Count);
        Assert.Contains(snapshots, s => s.Id == manual); // retention touches auto backups only
        Assert.All(autos, a => Assert.True(a.Time > snapshots.Single(s => s.Id == manual).Time));
        Assert.Equal(autos[0].Id, autos[1].Parent); // the last two taken: the third auto backup and its child
    }

    [Fact]
    public async Task Scheduled_integrity_checks_run_on_the_clock_and_are_in_the_statistics()
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0, IntegrityCheckIntervalHours = 1 });
        await using var manager = await MdmaiDataManager.OpenAsync(Options(background: true) with { IntegritySlices = 3 });
        await manager.Files.ImportAsync(new MemoryStream(BackupTesting.RandomBytes(4000, 2)), "a.bin");
        await WaitUntilAsync(() => Task.FromResult(_clock.TimersCreated >= 1), "the integrity schedule to start");

        _clock.Advance(TimeSpan.FromHours(1));
        await WaitUntilAsync(async () => (await manager.Integrity.LoadHistoryAsync(CancellationToken.None)).Runs.Count == 1, "the first scheduled check");
        _clock.Advance(TimeSpan.FromHours(1));
        await WaitUntilAsync(async () => (await manager.Integrity.LoadHistoryAsync(CancellationToken.None)).Runs.Count == 2, "the second scheduled check");

        var history = await manager.Integrity.LoadHistoryAsync(CancellationToken.None);
        Assert.Equal([0, 1], history.Runs.Select(r => r.Slice));
        Assert.All(history.Runs, r => Assert.Equal(3, r.Slices));
        var last = (await manager.GetStatisticsAsync()).LastIntegrityCheck;
        Assert.NotNull(last);
        Assert.Equal((0, 0), (last.Value.Errors, last.Value.Warnings));
    }

    [Fact]
    public async Task DisposeAsync_cancels_a_running_auto_backup_returns_promptly_and_leaves_a_folder_that_opens()
    {
        await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 60 });

        // A huge sparse file in the data folder: the auto backup would read it for minutes.
        using (var huge = new FileStream(Path.Combine(Data, "huge-scan.pdf"), FileMode.CreateNew))
        {
            huge.SetLength(512L * 1024 * 1024 * 1024);
        }

        var failures = new List<Exception>();
        var manager = await MdmaiDataManager.OpenAsync(Options(background: true));
        manager.BackgroundFailed += (_, ex) => failures.Add(ex);
        await WaitUntilAsync(() => Task.FromResult(_clock.TimersCreated >= 2), "the schedules to start");
        _clock.Advance(TimeSpan.FromHours(1));
        var locks = Path.Combine(manager.Folder.BackupRepositoryLocation, "locks");
        await WaitUntilAsync(() => Task.FromResult(Directory.Exists(locks) && Directory.EnumerateFiles(locks).Any()), "the auto backup to start");
        await Task.Delay(500); // well into reading the huge file

        var stopwatch = Stopwatch.StartNew();
        await manager.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        stopwatch.Stop();

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"closing took {stopwatch.Elapsed}");
        Assert.Empty(failures); // cancelled on close: not a failure
        Assert.Equal(0, manager.AutoBackups);
        Assert.Empty(await SnapshotsAsync());
        Assert.Empty(Directory.EnumerateFiles(locks)); // the cancelled backup let go of the repository
        File.Delete(Path.Combine(Data, "huge-scan.pdf"));
        await using var reopened = await MdmaiDataManager.OpenAsync(Options());
        Reports.AssertClean(await reopened.Integrity.CheckAsync(new IntegrityOptions { ReadData = true }));
    }

    [Fact]
    public async Task An_in_place_restore_is_refused_while_the_app_has_the_folder_open()
    {
        var folder = await MakeFolderAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0 });
        using (var backups = await DataFolderBackups.OpenAsync(folder, null, create: false))
        {
            await backups.BackupAsync(SnapshotKind.Manual);
        }

        await using var app = await MdmaiDataManager.OpenAsync(Options());
        using var other = await DataFolderBackups.OpenAsync(await DataFolder.OpenAsync(Data), null, create: false);
        var before = (await other.Repository.ListSnapshotsAsync()).Count;

        var error = await Assert.ThrowsAsync<MdmaiException>(() => other.RestoreInPlaceAsync("latest"));

        Assert.Equal(MdmaiErrorCode.Locked, error.Code);
        Assert.Equal(before, (await other.Repository.ListSnapshotsAsync()).Count); // not even the pre-restore snapshot
        Assert.NotNull(await app.Storage.GetStatsAsync());
    }
}
