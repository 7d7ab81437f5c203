using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>A second snapshot reads only what changed; the live database is captured consistently.</summary>
public sealed class IncrementalTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Source => _temp.Combine("source");

    private BackupSources Sources => new() { Includes = [Source] };

    private Dictionary<string, byte[]> WriteSource()
    {
        var files = new Dictionary<string, byte[]>
        {
            ["a.bin"] = BackupTesting.RandomBytes(200_000, 101),
            ["b.txt"] = BackupTesting.Text(150_000, 102),
            ["nested/c.bin"] = BackupTesting.RandomBytes(90_000, 103),
            ["nested/deeper/d.txt"] = "small"u8.ToArray(),
            ["empty.txt"] = [],
        };
        foreach (var (name, content) in files)
        {
            BackupTesting.Write(Path.Combine(Source, name), content);
        }

        return files;
    }

    [Fact]
    public async Task A_second_snapshot_of_unchanged_files_reads_nothing_and_adds_nothing()
    {
        var files = WriteSource();
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks());
        var first = (await repository.CreateSnapshotAsync(Sources)).Snapshot;
        var packs = await BackupTesting.NamesAsync(backend, "data");

        var second = (await repository.CreateSnapshotAsync(Sources)).Snapshot;

        Assert.Equal(files.Count, first.Stats.NewFiles);
        Assert.Equal(files.Values.Sum(f => (long)f.Length), first.Stats.BytesRead);
        Assert.Equal(first.Id, second.Parent);
        Assert.Equal(files.Count, second.Stats.UnchangedFiles);
        Assert.Equal(0, second.Stats.NewFiles);
        Assert.Equal(0, second.Stats.ChangedFiles);
        Assert.Equal(0, second.Stats.BytesRead);
        Assert.Equal(0, second.Stats.NewBlobs);
        Assert.Equal(0, second.Stats.StoredBytes);
        Assert.Equal(first.Stats.Bytes, second.Stats.Bytes);
        Assert.Equal(packs, await BackupTesting.NamesAsync(backend, "data"));
        Assert.Empty(await repository.DiffAsync(first.Id, second.Id).ToListAsync());
    }

    [Fact]
    public async Task A_file_changed_in_place_with_the_same_size_is_read_again_and_restored_as_changed()
    {
        var files = WriteSource();
        using var repository = await BackupRepository.InitAsync(new MemoryBackend(), BackupTesting.Password, BackupTesting.SmallChunks());
        var first = (await repository.CreateSnapshotAsync(Sources)).Snapshot;
        var path = Path.Combine(Source, "a.bin");
        var changed = BackupTesting.RandomBytes(files["a.bin"].Length, 104);
        await File.WriteAllBytesAsync(path, changed);
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddMinutes(5));

        var second = (await repository.CreateSnapshotAsync(Sources)).Snapshot;

        Assert.Equal(1, second.Stats.ChangedFiles);
        Assert.Equal(files.Count - 1, second.Stats.UnchangedFiles);
        Assert.Equal(changed.Length, second.Stats.BytesRead);
        Assert.True(second.Stats.NewBlobs > 1);
        var diff = Assert.Single(await repository.DiffAsync(first.Id, second.Id).ToListAsync());
        Assert.Equal(SnapshotChange.Modified, diff.Change);
        Assert.EndsWith("/a.bin", diff.Path, StringComparison.Ordinal);

        var target = _temp.Combine("target");
        await repository.RestoreAsync(second.Id, target);
        Assert.Equal(changed, await File.ReadAllBytesAsync(BackupTesting.Restored(target, path)));
        await repository.RestoreAsync(first.Id, _temp.Combine("old"));
        Assert.Equal(files["a.bin"], await File.ReadAllBytesAsync(BackupTesting.Restored(_temp.Combine("old"), path)));
    }

    [Fact]
    public async Task Only_the_mtime_changing_is_enough_to_read_a_file_again()
    {
        WriteSource();
        using var repository = await BackupRepository.InitAsync(new MemoryBackend(), null, BackupTesting.SmallChunks());
        await repository.CreateSnapshotAsync(Sources);
        var path = Path.Combine(Source, "b.txt");
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(-30));

        var second = (await repository.CreateSnapshotAsync(Sources)).Snapshot;

        Assert.Equal(1, second.Stats.ChangedFiles);
        Assert.Equal(new FileInfo(path).Length, second.Stats.BytesRead);
        Assert.InRange(second.Stats.NewBytes, 1, 10_000); // its content is already stored: only the new file list is new
    }

    [Fact]
    public async Task Added_and_removed_files_show_in_the_stats_and_the_diff()
    {
        WriteSource();
        using var repository = await BackupRepository.InitAsync(new MemoryBackend(), null, BackupTesting.SmallChunks());
        var first = (await repository.CreateSnapshotAsync(Sources)).Snapshot;
        File.Delete(Path.Combine(Source, "nested", "c.bin"));
        BackupTesting.Write(Path.Combine(Source, "nested", "e.txt"), "new"u8.ToArray());

        var second = (await repository.CreateSnapshotAsync(Sources)).Snapshot;
        var diff = await repository.DiffAsync(first.Id, second.Id).ToListAsync();

        Assert.Equal(1, second.Stats.NewFiles);
        Assert.Equal(3, second.Stats.BytesRead);
        Assert.Equal([SnapshotChange.Removed, SnapshotChange.Added], diff.Select(d => d.Change));
        Assert.EndsWith("nested/c.bin", diff[0].Path, StringComparison.Ordinal);
        Assert.EndsWith("nested/e.txt", diff[1].Path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_snapshot_restores_every_file_folder_and_link_with_its_mode_and_mtime()
    {
        var files = WriteSource();
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(Source, "b.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        File.CreateSymbolicLink(Path.Combine(Source, "link-to-a"), "a.bin");
        var mtime = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(Path.Combine(Source, "a.bin"), mtime);
        using var repository = await BackupRepository.InitAsync(new MemoryBackend(), BackupTesting.Password, BackupTesting.SmallChunks());
        var snapshot = (await repository.CreateSnapshotAsync(Sources)).Snapshot;

        var result = await repository.RestoreAsync(snapshot.Id, _temp.Combine("target"));

        var restored = BackupTesting.Restored(_temp.Combine("target"), Source);
        Assert.Equal(files.Count, result.Files);
        Assert.Equal(1, result.Symlinks);
        Assert.Equal(files.Values.Sum(f => (long)f.Length), result.Bytes);
        foreach (var (name, content) in files)
        {
            Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(restored, name)));
        }

        Assert.Equal("a.bin", new FileInfo(Path.Combine(restored, "link-to-a")).LinkTarget);
        Assert.Equal(mtime, File.GetLastWriteTimeUtc(Path.Combine(restored, "a.bin")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(restored, "b.txt")));
        }

        Assert.True(Directory.Exists(Path.Combine(restored, "nested", "deeper")));
    }

    [Fact]
    public async Task A_path_pattern_restores_only_the_entries_it_selects()
    {
        WriteSource();
        using var repository = await BackupRepository.InitAsync(new MemoryBackend(), null, BackupTesting.SmallChunks());
        var snapshot = (await repository.CreateSnapshotAsync(Sources)).Snapshot;
        var prefix = "include/" + Source.TrimStart('/');

        var result = await repository.RestoreAsync(snapshot.Id, _temp.Combine("target"), new RestoreOptions { PathPattern = prefix + "/nested" });

        Assert.Equal(2, result.Files);
        var restored = BackupTesting.Restored(_temp.Combine("target"), Source);
        Assert.Equal(["nested/c.bin", "nested/deeper/d.txt"], BackupTesting.Files(restored).Keys);
    }

    [Fact]
    public async Task Identical_content_under_two_names_is_stored_once()
    {
        var content = BackupTesting.RandomBytes(500_000, 105);
        BackupTesting.Write(Path.Combine(Source, "phb.pdf"), content);
        BackupTesting.Write(Path.Combine(Source, "copy of phb.pdf"), content);
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks());

        var snapshot = (await repository.CreateSnapshotAsync(Sources)).Snapshot;

        Assert.Equal(2 * content.Length, snapshot.Stats.BytesRead);
        Assert.InRange(snapshot.Stats.NewBytes, content.Length, content.Length + 10_000); // the file list is the rest
        Assert.InRange(await BackupTesting.SizeAsync(backend, "data"), content.Length, content.Length * 1.1);
    }

    [Fact]
    public async Task The_database_is_captured_consistently_while_another_connection_writes()
    {
        var folder = await DataFolder.InitAsync(_temp.Combine("data"));
        const int rowsPerTransaction = 50;
        using (var setup = RawSql.Open(folder.DatabasePath))
        {
            RawSql.Execute(setup, "CREATE TABLE ledger (batch INTEGER NOT NULL, n INTEGER NOT NULL, payload BLOB NOT NULL)");
            RawSql.Execute(setup, "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 20000) INSERT INTO ledger SELECT -1, x, randomblob(500) FROM s");
        }

        using var stop = new CancellationTokenSource();
        using var started = new SemaphoreSlim(0);
        var writer = Task.Run(() =>
        {
            using var connection = RawSql.Open(folder.DatabasePath);
            RawSql.Execute(connection, "PRAGMA busy_timeout = 10000");
            var batch = 0;
            var afterStop = 0;
            while (!stop.IsCancellationRequested || afterStop++ < 3)
            {
                using (var transaction = connection.BeginTransaction())
                {
                    for (var n = 0; n < rowsPerTransaction; n++)
                    {
                        using var insert = connection.CreateCommand();
                        insert.Transaction = transaction;
                        insert.CommandText = "INSERT INTO ledger VALUES ($b, $n, randomblob(200))";
                        insert.Parameters.AddWithValue("$b", batch);
                        insert.Parameters.AddWithValue("$n", n);
                        insert.ExecuteNonQuery();
                    }

                    transaction.Commit();
                }

                batch++;
                if (batch == 3)
                {
                    started.Release();
                }
            }

            return batch;
        });
        await started.WaitAsync(TimeSpan.FromSeconds(30));
        using var repository = await BackupRepository.InitAsync(new MemoryBackend(), null, BackupTesting.SmallChunks());

        var snapshot = (await repository.CreateSnapshotAsync(new BackupSources { DataFolder = folder.Path })).Snapshot;
        await stop.CancelAsync();
        var written = await writer.WaitAsync(TimeSpan.FromSeconds(60));

        var target = _temp.Combine("target");
        await repository.RestoreAsync(snapshot.Id, target);
        var restored = Path.Combine(target, "data", "mdmai.db");
        SqliteConnection.ClearAllPools();
        Assert.Equal("ok", RawSql.Scalar(restored, "PRAGMA integrity_check"));
        var partial = RawSql.Column(restored, "SELECT batch FROM ledger WHERE batch >= 0 GROUP BY batch HAVING count(*) <> $0", rowsPerTransaction);
        Assert.Empty(partial);
        var batches = (long)RawSql.Scalar(restored, "SELECT count(DISTINCT batch) FROM ledger WHERE batch >= 0")!;
        Assert.InRange(batches, 3, written - 3); // the writer went on after the capture
        Assert.Equal(batches - 1, (long)RawSql.Scalar(restored, "SELECT max(batch) FROM ledger")!);
        Assert.Equal(20_000L, (long)RawSql.Scalar(restored, "SELECT count(*) FROM ledger WHERE batch = -1")!);
        Assert.Empty(Directory.GetFiles(Path.Combine(folder.Path, "tmp")));
    }

    [Fact]
    public async Task A_database_that_cannot_be_captured_fails_the_backup_and_leaves_no_snapshot_and_no_copy()
    {
        var folder = await DataFolder.InitAsync(_temp.Combine("data"));
        SqliteConnection.ClearAllPools();
        // Files after the database in the walk, so the pipeline is busy with them while the capture fails.
        for (var i = 0; i < 20; i++)
        {
            BackupTesting.Write(Path.Combine(folder.Path, "objects", "ab", $"file{i:D2}"), BackupTesting.RandomBytes(300_000, 200 + i));
        }

        File.Delete(folder.DatabasePath + "-wal");
        File.Delete(folder.DatabasePath + "-shm");
        await File.WriteAllBytesAsync(folder.DatabasePath, BackupTesting.RandomBytes(100_000, 199)); // not a database
        var backend = new MemoryBackend();
        using var repository = await BackupRepository.InitAsync(backend, null, BackupTesting.SmallChunks());

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.CreateSnapshotAsync(new BackupSources { DataFolder = folder.Path }));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.Contains("capture the database", error.Message, StringComparison.Ordinal);
        Assert.Empty(await repository.ListSnapshotsAsync());
        Assert.Empty(Directory.GetFiles(Path.Combine(folder.Path, "tmp")));
    }
}
