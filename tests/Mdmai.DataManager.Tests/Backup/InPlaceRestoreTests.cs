using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>Restoring the data folder itself, from a real folder made by <see cref="DataFolder.InitAsync"/>.</summary>
public sealed class InPlaceRestoreTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _temp = new();
    private DataFolder _folder = null!;

    private string Root => _folder.Path;

    public async Task InitializeAsync()
    {
        _folder = await DataFolder.InitAsync(_temp.Combine("data"));
        await using var db = await _folder.OpenDatabaseAsync();
        await db.Campaigns.CreateAsync(Samples.Campaign("Before"));
        await new FileStore(db, Root).ImportAsync(new MemoryStream(BackupTesting.RandomBytes(300_000, 91)), "map.png");
    }

    public Task DisposeAsync()
    {
        return Task.CompletedTask;
    }

    public void Dispose() => _temp.Dispose();

    private Task<DataFolderBackups> OpenBackupsAsync() => DataFolderBackups.OpenAsync(_folder, null, create: true, BackupTesting.SmallChunks());

    private List<string> Campaigns() => RawSql.Column(_folder.DatabasePath, "SELECT name FROM campaigns ORDER BY name");

    /// <summary>Every file of the folder except the repository and tmp, by path and content.</summary>
    private SortedDictionary<string, byte[]> Data() =>
        new(BackupTesting.Files(Root).Where(f => !f.Key.StartsWith("backups/", StringComparison.Ordinal) && !f.Key.StartsWith("tmp/", StringComparison.Ordinal)
            && !f.Key.StartsWith("mdmai.db", StringComparison.Ordinal) && f.Key != MdmaiDataManager.LockFileName).ToDictionary(), StringComparer.Ordinal); // the folder lock's file stays; it is never backed up


    private async Task ChangeDataAsync()
    {
        await using (var db = await _folder.OpenDatabaseAsync())
        {
            await db.Campaigns.CreateAsync(Samples.Campaign("After"));
            await new FileStore(db, Root).ImportAsync(new MemoryStream(BackupTesting.RandomBytes(50_000, 92)), "new.bin");
        }

        await File.WriteAllTextAsync(Path.Combine(Root, "stray.txt"), "written after the snapshot");
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Restore_in_place_brings_back_the_snapshot_and_keeps_the_current_data_in_a_pre_restore_snapshot()
    {
        using var backups = await OpenBackupsAsync();
        var snapshot = (await backups.BackupAsync(SnapshotKind.Manual)).Snapshot;
        var database = DatabaseSnapshot.Read(_folder.DatabasePath);
        var files = Data();
        await ChangeDataAsync();
        Assert.Equal(["After", "Before"], Campaigns());

        var result = await backups.RestoreInPlaceAsync(snapshot.Id[..8]);

        Assert.True(result.Files >= 3);
        Assert.Equal(["Before"], Campaigns());
        DatabaseSnapshot.AssertEqual(database, DatabaseSnapshot.Read(_folder.DatabasePath));
        Assert.Equal(files.Keys, Data().Keys);
        Assert.All(files, f => Assert.Equal(f.Value, Data()[f.Key]));
        Assert.False(File.Exists(Path.Combine(Root, "stray.txt")));
        Assert.False(File.Exists(RestoreJournal.PathIn(Root)));
        Assert.Empty(Directory.Exists(Path.Combine(Root, "tmp")) ? Directory.GetFileSystemEntries(Path.Combine(Root, "tmp")) : []);
        Assert.Equal("ok", RawSql.Scalar(_folder.DatabasePath, "PRAGMA integrity_check"));

        var all = await backups.Repository.ListSnapshotsAsync();
        var pre = Assert.Single(all, s => s.Kind == SnapshotKind.PreRestore);
        Assert.Contains(snapshot.Id[..8], pre.Description, StringComparison.Ordinal);
        var target = _temp.Combine("pre-restore");
        await backups.Repository.RestoreAsync(pre.Id, target);
        Assert.Equal(["After", "Before"], RawSql.Column(Path.Combine(target, "data", "mdmai.db"), "SELECT name FROM campaigns ORDER BY name"));
        Assert.Equal("written after the snapshot", await File.ReadAllTextAsync(Path.Combine(target, "data", "stray.txt")));

        // The folder opens and works as before.
        var reopened = await DataFolder.OpenAsync(Root);
        await using var db = await reopened.OpenDatabaseAsync();
        Assert.Equal(1, (await db.Campaigns.ListAsync()).TotalCount);
    }

    [Fact]
    public async Task Restore_in_place_of_a_snapshot_without_a_database_changes_nothing()
    {
        using var backups = await OpenBackupsAsync();
        BackupTesting.Write(_temp.Combine("elsewhere/notes.txt"), "not a data folder"u8.ToArray());
        var foreign = (await backups.Repository.CreateSnapshotAsync(new BackupSources { Includes = [_temp.Combine("elsewhere")] })).Snapshot;
        await ChangeDataAsync();
        var database = DatabaseSnapshot.Read(_folder.DatabasePath);
        var files = Data();

        var error = await Assert.ThrowsAsync<MdmaiException>(() => backups.RestoreInPlaceAsync(foreign.Id));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        DatabaseSnapshot.AssertEqual(database, DatabaseSnapshot.Read(_folder.DatabasePath));
        Assert.Equal(files.Keys, Data().Keys);
        Assert.False(File.Exists(RestoreJournal.PathIn(Root)));
        Assert.Empty(Directory.GetDirectories(Path.Combine(Root, "tmp")));
    }

    /// <summary>The folder as an interrupted swap leaves it: a journal, and items moved aside by hand.</summary>
    private async Task<(string Staging, string Replaced)> InterruptedSwapAsync(string[] movedAside, bool stagedDatabaseMovedIn)
    {
        SqliteConnection.ClearAllPools();
        var staging = Path.Combine(Root, "tmp", "restore-interrupted");
        var replaced = Path.Combine(Root, "tmp", "replaced-interrupted");
        Directory.CreateDirectory(staging);
        Directory.CreateDirectory(replaced);
        await File.WriteAllTextAsync(Path.Combine(staging, "mdmai.db"), "the staged database");
        var items = Directory.EnumerateFileSystemEntries(Root).Select(Path.GetFileName).OfType<string>()
            .Where(n => n is not "tmp" and not "backups").ToList();
        await RestoreJournal.WriteAsync(Root, new RestoreJournal.Entry(staging, replaced, items, ["mdmai.db"]), CancellationToken.None);
        foreach (var name in movedAside)
        {
            RestoreJournal.Move(Path.Combine(Root, name), Path.Combine(replaced, name));
        }

        if (stagedDatabaseMovedIn)
        {
            RestoreJournal.Move(Path.Combine(staging, "mdmai.db"), Path.Combine(Root, "mdmai.db"));
        }

        return (staging, replaced);
    }

    [Fact]
    public async Task An_interrupted_swap_is_rolled_back_when_the_folder_is_opened()
    {
        var database = DatabaseSnapshot.Read(_folder.DatabasePath);
        var files = Data();
        var (staging, replaced) = await InterruptedSwapAsync(["mdmai.db", "objects"], stagedDatabaseMovedIn: true);
        Assert.Equal("the staged database", await File.ReadAllTextAsync(_folder.DatabasePath));

        var opened = await DataFolder.OpenAsync(Root);

        Assert.Equal(Root, opened.Path);
        DatabaseSnapshot.AssertEqual(database, DatabaseSnapshot.Read(_folder.DatabasePath));
        Assert.Equal(files.Keys, Data().Keys);
        Assert.All(files, f => Assert.Equal(f.Value, Data()[f.Key]));
        Assert.False(File.Exists(RestoreJournal.PathIn(Root)));
        Assert.Empty(Directory.GetFileSystemEntries(replaced));
        Assert.Equal("the staged database", await File.ReadAllTextAsync(Assert.Single(Directory.GetFiles(staging))));
    }

    [Fact]
    public async Task A_swap_interrupted_with_everything_moved_aside_is_rolled_back_instead_of_looking_uninitialised()
    {
        var database = DatabaseSnapshot.Read(_folder.DatabasePath);
        var files = Data();
        await InterruptedSwapAsync(["mdmai.db", "mdmai.json", "objects"], stagedDatabaseMovedIn: false);
        Assert.False(DataFolder.Exists(Root));

        await DataFolder.OpenAsync(Root);

        Assert.True(DataFolder.Exists(Root));
        DatabaseSnapshot.AssertEqual(database, DatabaseSnapshot.Read(_folder.DatabasePath));
        Assert.Equal(files.Keys, Data().Keys);
        Assert.False(File.Exists(RestoreJournal.PathIn(Root)));
    }

    [Fact]
    public async Task A_later_in_place_restore_first_rolls_back_an_interrupted_one()
    {
        using var backups = await OpenBackupsAsync();
        var snapshot = (await backups.BackupAsync(SnapshotKind.Manual)).Snapshot;
        await InterruptedSwapAsync(["mdmai.db"], stagedDatabaseMovedIn: true);

        await backups.RestoreInPlaceAsync(snapshot.Id);

        Assert.Equal(["Before"], Campaigns());
        Assert.False(File.Exists(RestoreJournal.PathIn(Root)));

        // Its pre-restore snapshot holds the rolled-back data, not the half-swapped one.
        var pre = Assert.Single(await backups.Repository.ListSnapshotsAsync(), s => s.Kind == SnapshotKind.PreRestore);
        var target = _temp.Combine("pre-restore");
        await backups.Repository.RestoreAsync(pre.Id, target);
        Assert.Equal(["Before"], RawSql.Column(Path.Combine(target, "data", "mdmai.db"), "SELECT name FROM campaigns"));
    }
}
