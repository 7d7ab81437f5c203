using System.Text.Json;
using Mdmai.Cli;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Tests.Backup;

namespace Mdmai.DataManager.Tests.Integrity;

/// <summary>
/// The integrity checker on a large seeded data folder (encrypted and not): no false positives on healthy data;
/// every kind of damage found and named by kind and subject; repair that recounts, quarantines (never deletes) and
/// restores only copies that verify; sliced scheduled checks.
/// </summary>
public sealed class IntegrityCheckerTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    public enum Fault
    {
        MissingObject,
        TruncatedObject,
        FlippedByteInObject,
        UnreferencedObjectFile,
        ObjectRowWithRefCountZero,
        ObjectRowWithoutFileOrReference,
        WrongRefCount,
        DamagedKeyFile,
        DamagedBackupPack,
        TruncatedBackupPack,
        DamagedSnapshotFileNonce,
        ForeignKeyViolation,
        CheckViolation,
    }

    public static TheoryData<Fault, bool> Faults()
    {
        var data = new TheoryData<Fault, bool>();
        foreach (var fault in Enum.GetValues<Fault>())
        {
            foreach (var encrypted in new[] { false, true })
            {
                if (fault != Fault.DamagedKeyFile || encrypted)
                {
                    data.Add(fault, encrypted);
                }
            }
        }

        return data;
    }

    private async Task<(OpenDataFolder Data, Template Template)> CopyAsync(bool encrypted, bool large = true)
    {
        var template = large ? await Templates.GetAsync(encrypted) : await Templates.GetSmallAsync(encrypted);
        return (await template.CopyToAsync(_temp.Combine("data")), template);
    }

    /// <summary>Objects (id, stored size, files using it), seeded choice among those matching.</summary>
    private static string PickObject(OpenDataFolder data, int seed, string where = "stored_size > 1024")
    {
        var candidates = RawSql.Column(data.Folder.DatabasePath, $"SELECT object_id FROM objects o WHERE {where} ORDER BY object_id");
        Assert.NotEmpty(candidates);
        return candidates[new Random(seed).Next(candidates.Count)];
    }

    private static string PickObjectWithOneFile(OpenDataFolder data, int seed) =>
        PickObject(data, seed, "stored_size > 1024 AND (SELECT count(*) FROM files f WHERE f.object_id = o.object_id) = 1");

    private static List<string> Packs(OpenDataFolder data) =>
        [.. Directory.EnumerateFiles(Path.Combine(data.Folder.BackupRepositoryLocation, "data"), "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal)];

    private static string PackName(OpenDataFolder data, string path) => Path.GetRelativePath(data.Folder.BackupRepositoryLocation, path).Replace('\\', '/');

    private static string NewObjectId() => Folders.Sha256(Guid.NewGuid().ToByteArray());

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_large_healthy_data_set_checks_clean_with_and_without_read_data_and_with_its_backups_verified(bool encrypted)
    {
        var (data, template) = await CopyAsync(encrypted);
        await using (data)
        {
            var quick = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = false, Backups = true });
            var deep = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true, Backups = true });
            var verify = await data.Backups!.Repository.VerifyAsync(new VerifyOptions { ReadData = true });

            Assert.True(template.Info.EntityRows >= 3000, $"{template.Info.EntityRows} rows");
            Assert.True(template.Info.Files >= 300 && template.Info.Duplicates >= 30, $"{template.Info.Files} files, {template.Info.Duplicates} duplicates");
            Assert.Equal(template.Info.DistinctContents, template.Info.ObjectIds.Count); // identical content stored once
            Reports.AssertClean(quick);
            Reports.AssertClean(deep);
            Assert.Equal(template.Info.ObjectIds.Count, quick.Objects);
            Assert.Equal(0, quick.ObjectsRead);
            Assert.Equal(quick.Objects, deep.ObjectsRead);
            Assert.True(verify.Ok && verify.PacksRead > 1 && verify.Snapshots == 1, string.Join("\n", verify.Errors));
            Assert.Equal(encrypted, RawSql.Column(data.Folder.DatabasePath, "SELECT DISTINCT encrypted FROM objects").SequenceEqual(["1"]));
        }
    }

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Each_fault_is_found_and_named_by_kind_and_subject(Fault fault, bool encrypted)
    {
        var (data, _) = await CopyAsync(encrypted);
        await using (data)
        {
            var seed = (int)fault;
            var repository = data.Folder.BackupRepositoryLocation;
            (IssueSeverity, string, string)[] quick, deep;
            string? mentions = null;
            switch (fault)
            {
                case Fault.MissingObject:
                {
                    var id = PickObject(data, seed);
                    File.Delete(data.Store.ObjectPath(id));
                    quick = deep = [(IssueSeverity.Error, "missing_object", id)];
                    break;
                }

                case Fault.TruncatedObject:
                {
                    var id = PickObject(data, seed);
                    var path = data.Store.ObjectPath(id);
                    Folders.Truncate(path, new FileInfo(path).Length / 2);
                    quick = deep = [(IssueSeverity.Error, "damaged_object", id)];
                    break;
                }

                case Fault.FlippedByteInObject:
                {
                    var id = PickObject(data, seed);
                    var path = data.Store.ObjectPath(id);
                    Folders.FlipByte(path, new FileInfo(path).Length / 2);
                    quick = []; // same size: only reading the content shows it
                    deep = [(IssueSeverity.Error, "damaged_object", id)];
                    break;
                }

                case Fault.UnreferencedObjectFile:
                {
                    var id = NewObjectId();
                    BackupTesting.Write(data.Store.ObjectPath(id), BackupTesting.RandomBytes(5000, seed));
                    quick = deep = [(IssueSeverity.Warning, "unreferenced_object", id)];
                    break;
                }

                case Fault.ObjectRowWithRefCountZero:
                {
                    // The only catalog row of an object goes (behind the library's back): the object's row stays with ref_count 0.
                    var id = PickObjectWithOneFile(data, seed);
                    Assert.Equal(1, RawSql.Execute(data.Folder.DatabasePath, "DELETE FROM files WHERE object_id = $0", id));
                    Assert.Equal(0L, RawSql.Scalar(data.Folder.DatabasePath, "SELECT ref_count FROM objects WHERE object_id = $0", id));
                    quick = deep = [(IssueSeverity.Warning, "unreferenced_object", id)];
                    break;
                }

                case Fault.ObjectRowWithoutFileOrReference:
                {
                    var id = NewObjectId();
                    RawSql.Execute(data.Folder.DatabasePath, "INSERT INTO objects (object_id, size, stored_size, storage, created_at) VALUES ($0, 10, 10, 'raw', '2026-01-01T00:00:00.000Z')", id);
                    quick = deep = [(IssueSeverity.Error, "missing_object", id), (IssueSeverity.Warning, "unreferenced_object", id)];
                    break;
                }

                case Fault.WrongRefCount:
                {
                    var id = PickObject(data, seed);
                    RawSql.Execute(data.Folder.DatabasePath, "UPDATE objects SET ref_count = ref_count + 2 WHERE object_id = $0", id);
                    quick = deep = [(IssueSeverity.Warning, "ref_count", id)];
                    break;
                }

                case Fault.DamagedKeyFile:
                {
                    Folders.Truncate(data.Folder.KeyFilePath, new FileInfo(data.Folder.KeyFilePath).Length / 2);
                    quick = deep = [(IssueSeverity.Error, "key_file", KeyFile.FileName)];
                    mentions = "damaged or truncated";
                    break;
                }

                case Fault.DamagedBackupPack:
                {
                    // A byte inside a data blob: a pack's first blob can be a tree blob, which the quick check reads too
                    // (which blob comes first depends on the pipeline's timing).
                    var backups = data.Backups!.Repository;
                    await backups.LoadIndexAsync(CancellationToken.None);
                    var chunks = backups.Index.Blobs.Where(b => b.Value.Type == BlobType.Data).Select(b => b.Value).OrderBy(l => (l.Pack, l.Offset)).ToList();
                    var chunk = chunks[new Random(seed).Next(chunks.Count)];
                    var pack = Path.Combine(repository, RepositoryNames.Pack(chunk.Pack));
                    Folders.FlipByte(pack, chunk.Offset + RepositoryCrypto.NonceSize + 1);
                    quick = []; // the structure is intact: only reading the data shows it
                    deep = [(IssueSeverity.Error, "backup", repository)];
                    mentions = PackName(data, pack);
                    break;
                }

                case Fault.TruncatedBackupPack:
                {
                    var pack = Packs(data)[new Random(seed).Next(Packs(data).Count)];
                    Folders.Truncate(pack, new FileInfo(pack).Length - 1000);
                    quick = deep = [(IssueSeverity.Error, "backup", repository)];
                    mentions = PackName(data, pack);
                    break;
                }

                case Fault.DamagedSnapshotFileNonce:
                {
                    // The first bytes of a sealed item: its nonce, which an unencrypted repository leaves zero and unused.
                    var snapshot = Directory.GetFiles(Path.Combine(repository, "snapshots")).Single();
                    Folders.FlipByte(snapshot, 5);
                    quick = deep = [(IssueSeverity.Error, "backup", repository)];
                    mentions = Path.GetFileName(snapshot);
                    break;
                }

                case Fault.ForeignKeyViolation:
                {
                    using var connection = RawSql.Open(data.Folder.DatabasePath);
                    RawSql.Execute(connection, "PRAGMA foreign_keys=OFF");
                    var rowid = (long)RawSql.Scalar(connection, "SELECT rowid FROM characters ORDER BY rowid LIMIT 1 OFFSET 17")!;
                    RawSql.Execute(connection, "UPDATE characters SET campaign_id = $0 WHERE rowid = $1", Guid.NewGuid().ToString("D"), rowid);
                    quick = deep = [(IssueSeverity.Error, "schema", $"characters row {rowid}")];
                    mentions = "campaigns";
                    break;
                }

                case Fault.CheckViolation:
                {
                    using var connection = RawSql.Open(data.Folder.DatabasePath);
                    RawSql.Execute(connection, "PRAGMA ignore_check_constraints=ON");
                    var rowid = (long)RawSql.Scalar(connection, "SELECT rowid FROM spells ORDER BY rowid LIMIT 1 OFFSET 5")!;
                    RawSql.Execute(connection, "UPDATE spells SET level = 42 WHERE rowid = $0", rowid);
                    quick = deep = [(IssueSeverity.Error, "schema", "spells")];
                    mentions = "CHECK constraint failed";
                    break;
                }

                default:
                    throw new ArgumentOutOfRangeException(nameof(fault));
            }

            var quickReport = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = false });
            var deepReport = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });

            if (fault is Fault.DamagedBackupPack or Fault.TruncatedBackupPack or Fault.DamagedSnapshotFileNonce)
            {
                Reports.AssertOnly(quickReport, quick);
                Reports.AssertOnly(deepReport, deep);
            }
            else
            {
                Reports.AssertExactly(quickReport, quick);
                Reports.AssertExactly(deepReport, deep);
            }

            foreach (var issue in deepReport.Issues)
            {
                Assert.Contains(issue.Kind is "backup" or "key_file" or "schema" ? mentions! : issue.Subject, issue.Message, StringComparison.Ordinal);
            }
        }
    }

    /// <summary>The size of an object's copy in a snapshot.</summary>
    private static async Task<long> SnapshotSizeAsync(OpenDataFolder data, string snapshot, string id)
    {
        var path = $"data/objects/{id[..2]}/{id}";
        await foreach (var entry in data.Backups!.Repository.ListEntriesAsync(snapshot))
        {
            if (entry.Path == path)
            {
                return entry.Size;
            }
        }

        throw new InvalidOperationException($"{path} is not in snapshot {snapshot}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Repair_recounts_quarantines_and_restores_from_the_backup_and_a_check_is_clean_afterwards(bool encrypted)
    {
        var (data, template) = await CopyAsync(encrypted);
        await using (data)
        {
            var ids = RawSql.Column(data.Folder.DatabasePath, "SELECT object_id FROM objects o WHERE stored_size > 1024 AND (SELECT count(*) FROM files f WHERE f.object_id = o.object_id) = 1 ORDER BY object_id");
            var (recount, zeroRef, missing, truncated, flipped) = (ids[3], ids[10], ids[20], ids[30], ids[40]);
            var stray = NewObjectId();
            var original = new[] { recount, zeroRef, missing, truncated, flipped }.ToDictionary(id => id, id => File.ReadAllBytes(data.Store.ObjectPath(id)));
            var strayContent = BackupTesting.RandomBytes(3000, 9);
            BackupTesting.Write(data.Store.ObjectPath(stray), strayContent);
            RawSql.Execute(data.Folder.DatabasePath, "UPDATE objects SET ref_count = 7 WHERE object_id = $0", recount);
            RawSql.Execute(data.Folder.DatabasePath, "DELETE FROM files WHERE object_id = $0", zeroRef);
            File.Delete(data.Store.ObjectPath(missing));
            Folders.Truncate(data.Store.ObjectPath(truncated), 100);
            Folders.FlipByte(data.Store.ObjectPath(flipped), 500);
            var damagedTruncated = File.ReadAllBytes(data.Store.ObjectPath(truncated));
            var damagedFlipped = File.ReadAllBytes(data.Store.ObjectPath(flipped));
            File.WriteAllBytes(Path.Combine(data.Store.TempPath, "left-by-a-crash"), [1, 2, 3]);

            var findings = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });
            Reports.AssertExactly(findings,
                (IssueSeverity.Warning, "ref_count", recount),
                (IssueSeverity.Warning, "unreferenced_object", zeroRef),
                (IssueSeverity.Warning, "unreferenced_object", stray),
                (IssueSeverity.Error, "missing_object", missing),
                (IssueSeverity.Error, "damaged_object", truncated),
                (IssueSeverity.Error, "damaged_object", flipped),
                (IssueSeverity.Info, "temp_files", data.Store.TempPath));

            var repair = await data.Checker.RepairAsync(findings);
            var after = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });

            Reports.AssertClean(after);
            Assert.Equal(1, repair.ReferenceCountsFixed);
            Assert.Empty(repair.NotRepaired);
            Assert.Equal(new[] { flipped, missing, truncated }.Order(), repair.Restored.Keys.Order());
            Assert.All(repair.Restored.Values, snapshot => Assert.Equal(template.SnapshotId, snapshot));
            Assert.Equal(new[] { flipped, stray, truncated, zeroRef }.Order(), repair.Quarantined.Order());
            foreach (var id in new[] { missing, truncated, flipped })
            {
                Assert.Equal(original[id], File.ReadAllBytes(data.Store.ObjectPath(id)));
            }

            // Quarantined, never deleted: every moved file is there byte for byte, under its store path.
            var quarantine = repair.QuarantineFolder!;
            string Quarantined(string id) => Path.Combine(quarantine, Path.GetRelativePath(data.Path, data.Store.ObjectPath(id)));
            Assert.Equal(strayContent, File.ReadAllBytes(Quarantined(stray)));
            Assert.Equal(original[zeroRef], File.ReadAllBytes(Quarantined(zeroRef)));
            Assert.Equal(damagedTruncated, File.ReadAllBytes(Quarantined(truncated)));
            Assert.Equal(damagedFlipped, File.ReadAllBytes(Quarantined(flipped)));
            Assert.False(File.Exists(data.Store.ObjectPath(stray)));
            Assert.Null(RawSql.Scalar(data.Folder.DatabasePath, "SELECT 1 FROM objects WHERE object_id = $0", zeroRef));
            Assert.Empty(Directory.GetFiles(data.Store.TempPath));
        }
    }

    [Fact]
    public async Task Repair_takes_the_newest_snapshot_with_a_good_copy_and_falls_back_past_a_snapshot_of_the_damaged_object()
    {
        var (data, template) = await CopyAsync(encrypted: true);
        await using (data)
        {
            var flipped = PickObject(data, 1);
            var missing = PickObject(data, 2);
            Assert.NotEqual(flipped, missing);
            var flippedOriginal = File.ReadAllBytes(data.Store.ObjectPath(flipped));
            var missingOriginal = File.ReadAllBytes(data.Store.ObjectPath(missing));

            // The object is damaged, then a backup is taken: the newest snapshot holds the damaged copy. (Truncated, so
            // its size changed: a backup takes an object of the same name and size as unchanged and keeps its old copy.)
            Folders.Truncate(data.Store.ObjectPath(flipped), 600);
            var newest = await data.SnapshotAsync("after the damage");
            Assert.Equal(600, await SnapshotSizeAsync(data, newest, flipped));
            File.Delete(data.Store.ObjectPath(missing));

            var findings = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true, Backups = false });
            var repair = await data.Checker.RepairAsync(findings);

            Assert.Equal(template.SnapshotId, repair.Restored[flipped]); // the newest copy did not verify: the older one did
            Assert.Equal(newest, repair.Restored[missing]); // the newest good copy wins
            Assert.Equal(flippedOriginal, File.ReadAllBytes(data.Store.ObjectPath(flipped)));
            Assert.Equal(missingOriginal, File.ReadAllBytes(data.Store.ObjectPath(missing)));
            Assert.Empty(repair.NotRepaired);
            Reports.AssertClean(await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true }));
        }
    }

    [Fact]
    public async Task A_bad_copy_in_the_backups_is_never_accepted_and_what_cannot_be_repaired_is_reported()
    {
        var (data, template) = await CopyAsync(encrypted: false);
        await using (data)
        {
            var flipped = PickObject(data, 3, "stored_size > 1024 AND storage = 'raw'");
            Folders.Truncate(data.Store.ObjectPath(flipped), 700);
            var damaged = File.ReadAllBytes(data.Store.ObjectPath(flipped));
            var newest = await data.SnapshotAsync("after the damage");
            Assert.Equal(700, await SnapshotSizeAsync(data, newest, flipped));
            await data.Backups!.Repository.ForgetSnapshotsAsync([template.SnapshotId]); // only the damaged copy is left

            var findings = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true, Backups = false });
            var repair = await data.Checker.RepairAsync(findings);
            var after = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });

            Assert.Empty(repair.Restored);
            Assert.Empty(repair.Quarantined);
            Assert.Contains(flipped, Assert.Single(repair.NotRepaired), StringComparison.Ordinal);
            Assert.Equal(damaged, File.ReadAllBytes(data.Store.ObjectPath(flipped))); // left as it was, not replaced by the bad copy
            Reports.AssertExactly(after, (IssueSeverity.Error, "damaged_object", flipped));
        }
    }

    [Fact]
    public async Task Without_backups_repair_reports_what_it_cannot_restore_and_still_fixes_the_rest()
    {
        var (data, _) = await CopyAsync(encrypted: false, large: false);
        await using (data)
        {
            var missing = PickObject(data, 4);
            var recount = PickObject(data, 5);
            Assert.NotEqual(missing, recount);
            var orphanRow = NewObjectId();
            File.Delete(data.Store.ObjectPath(missing));
            RawSql.Execute(data.Folder.DatabasePath, "UPDATE objects SET ref_count = 0 WHERE object_id = $0", recount);
            RawSql.Execute(data.Folder.DatabasePath, "INSERT INTO objects (object_id, size, stored_size, storage, created_at) VALUES ($0, 10, 10, 'raw', '2026-01-01T00:00:00.000Z')", orphanRow);
            using (var connection = RawSql.Open(data.Folder.DatabasePath))
            {
                RawSql.Execute(connection, "PRAGMA foreign_keys=OFF");
                RawSql.Execute(connection, "UPDATE npcs SET campaign_id = $0 WHERE rowid = 3", Guid.NewGuid().ToString("D"));
            }

            var checker = data.CheckerWithoutBackups;
            var findings = await checker.CheckAsync(new IntegrityOptions { ReadData = true });
            var repair = await checker.RepairAsync(findings);
            var after = await checker.CheckAsync(new IntegrityOptions { ReadData = true });

            Assert.Equal(1, repair.ReferenceCountsFixed);
            Assert.Empty(repair.Restored);
            Assert.Equal(2, repair.NotRepaired.Count);
            Assert.Contains(repair.NotRepaired, line => line.Contains(missing, StringComparison.Ordinal) && line.Contains("no backup", StringComparison.Ordinal));
            Assert.Contains(repair.NotRepaired, line => line.Contains("npcs row 3", StringComparison.Ordinal) && line.Contains("restore it from a backup", StringComparison.Ordinal));
            Assert.Null(RawSql.Scalar(data.Folder.DatabasePath, "SELECT 1 FROM objects WHERE object_id = $0", orphanRow));
            Reports.AssertExactly(after, (IssueSeverity.Error, "missing_object", missing), (IssueSeverity.Error, "schema", "npcs row 3"));
        }
    }

    [Fact]
    public async Task A_database_too_damaged_to_read_the_catalog_is_reported_and_no_object_is_called_unreferenced()
    {
        var (data, _) = await CopyAsync(encrypted: false, large: false);
        var database = data.Folder.DatabasePath;
        await data.DisposeAsync();
        long root, pageSize;
        using (var connection = RawSql.Open(database))
        {
            RawSql.Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE)");
            root = (long)RawSql.Scalar(connection, "SELECT rootpage FROM sqlite_schema WHERE name = 'objects'")!;
            pageSize = (long)RawSql.Scalar(connection, "PRAGMA page_size")!;
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using (var file = new FileStream(database, FileMode.Open, FileAccess.Write))
        {
            file.Position = (root - 1) * pageSize;
            file.Write(new byte[pageSize]); // the catalog of objects: gone
        }

        await using var damaged = await OpenDataFolder.OpenAsync(_temp.Combine("data"));
        var report = await damaged.Checker.CheckAsync(new IntegrityOptions { ReadData = true });

        Assert.NotEmpty(report.Issues);
        Assert.All(report.Issues, i => Assert.Equal(("database", DataFolder.DatabaseFileName, IssueSeverity.Error), (i.Kind, i.Subject, i.Severity)));
        Assert.Contains(report.Issues, i => i.Message.Contains("catalog cannot be read", StringComparison.Ordinal));
        Assert.Equal(0, report.ObjectsRead);
    }

    [Fact]
    public async Task Repair_never_quarantines_an_object_that_an_import_recorded_since_the_check()
    {
        var (data, _) = await CopyAsync(encrypted: false, large: false);
        await using (data)
        {
            // An import that crashed after putting its object in place, before recording it: a stray object file.
            var content = BackupTesting.RandomBytes(5000, 77);
            var id = Folders.Sha256(content);
            BackupTesting.Write(data.Store.ObjectPath(id), content);
            var findings = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });
            Reports.AssertExactly(findings, (IssueSeverity.Warning, "unreferenced_object", id));

            // The same content is imported before the repair runs: the object is recorded and used now.
            var imported = await data.Store.ImportAsync(new MemoryStream(content), "imported-again.bin");
            var repair = await data.Checker.RepairAsync(findings);

            Assert.Equal(id, imported.File.ObjectId);
            Assert.Empty(repair.Quarantined);
            await using (var read = await data.Store.OpenReadAsync(imported.File.Id))
            {
                using var copy = new MemoryStream();
                await read.CopyToAsync(copy);
                Assert.Equal(content, copy.ToArray());
            }

            Reports.AssertClean(await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true }));
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(7)]
    public async Task Sliced_scheduled_checks_read_every_object_exactly_once_over_N_runs_and_record_them(int slices)
    {
        var (data, _) = await CopyAsync(encrypted: false);
        await using (data)
        {
            // Every object is damaged, so each run's findings say exactly which objects it read.
            var objects = RawSql.Column(data.Folder.DatabasePath, "SELECT object_id FROM objects WHERE size > 0 ORDER BY object_id");
            foreach (var id in objects)
            {
                Folders.FlipByte(data.Store.ObjectPath(id), 0);
            }

            var checker = data.CheckerWithoutBackups;
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            long read = 0;
            for (var run = 0; run < slices; run++)
            {
                var report = await checker.RunScheduledAsync(slices);
                Assert.All(report.Issues, i => Assert.Equal("damaged_object", i.Kind));
                foreach (var issue in report.Issues)
                {
                    seen[issue.Subject] = seen.GetValueOrDefault(issue.Subject) + 1;
                }

                Assert.True(report.ObjectsRead < objects.Count, $"run {run} read {report.ObjectsRead} of {objects.Count}");
                read += report.ObjectsRead;
            }

            Assert.Equal(objects, seen.Keys.Order(StringComparer.Ordinal));
            Assert.All(seen.Values, count => Assert.Equal(1, count));
            Assert.Equal(RawSql.Count(data.Folder.DatabasePath, "objects"), read); // the empty object is read too (and is fine)

            var history = await checker.LoadHistoryAsync(CancellationToken.None);
            Assert.Equal(0, history.NextSlice);
            Assert.Equal(Enumerable.Range(0, slices), history.Runs.Select(r => r.Slice));
            Assert.All(history.Runs, r => Assert.True(r.ReadData && r.Slices == slices && r.Errors == r.Issues.Count && r.ObjectsRead > 0));
            Assert.Equal(objects.Count, history.Runs.Sum(r => r.Errors));
            using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(checker.HistoryPath));
            Assert.Equal(slices, json.RootElement.GetProperty("runs").GetArrayLength());
            Assert.Equal(0, json.RootElement.GetProperty("next_slice").GetInt32());

            // The next run starts over with the first slice.
            var again = await checker.RunScheduledAsync(slices);
            Assert.Equal(history.Runs[0].Issues.Select(i => i.Subject), again.Issues.Select(i => i.Subject));
        }
    }

    [Fact]
    public async Task The_history_keeps_the_last_30_runs_and_a_damaged_history_starts_afresh()
    {
        var (data, _) = await CopyAsync(encrypted: false, large: false);
        await using (data)
        {
            var checker = data.CheckerWithoutBackups;
            for (var i = 0; i < 32; i++)
            {
                Reports.AssertClean(await checker.RunScheduledAsync(3));
            }

            var history = await checker.LoadHistoryAsync(CancellationToken.None);
            Assert.Equal(30, history.Runs.Count);
            Assert.Equal(32 % 3, history.NextSlice);
            Assert.Equal(history.Runs.Select(r => r.CheckedAt).Order(), history.Runs.Select(r => r.CheckedAt));

            await File.WriteAllTextAsync(checker.HistoryPath, "{ not json");
            await checker.RunScheduledAsync(3);
            Assert.Single((await checker.LoadHistoryAsync(CancellationToken.None)).Runs);
        }
    }

    [Fact]
    public async Task The_cli_check_exits_40_naming_the_damage_and_repair_yes_fixes_it()
    {
        var (data, template) = await CopyAsync(encrypted: true, large: false);
        var missing = PickObject(data, 6);
        await data.DisposeAsync();
        var environment = new Dictionary<string, string> { ["MDMAI_PASSWORD"] = OpenDataFolder.Password };
        async Task<(int Exit, string Out, string Err)> Run(params string[] args)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var exit = await MdmaiCli.RunAsync([.. args, "--data-dir", _temp.Combine("data")], stdout, stderr, environment.GetValueOrDefault, interactive: false);
            return (exit, stdout.ToString(), stderr.ToString());
        }

        var clean = await Run("check", "--read-data", "--json");
        Assert.True(clean.Exit == 0, clean.Out + clean.Err);
        File.Delete(Path.Combine(_temp.Combine("data"), "objects", missing[..2], missing));

        var check = await Run("check", "--read-data", "--json");
        var quick = await Run("check", "--no-backups");
        var dryRun = await Run("repair");
        Assert.False(File.Exists(Path.Combine(_temp.Combine("data"), "objects", missing[..2], missing)));
        var repair = await Run("repair", "--yes", "--json");
        var after = await Run("check", "--read-data");

        Assert.Equal(40, check.Exit);
        var issue = Assert.Single(JsonDocument.Parse(check.Out).RootElement.GetProperty("issues").EnumerateArray());
        Assert.Equal("missing_object", issue.GetProperty("kind").GetString());
        Assert.Equal(missing, issue.GetProperty("subject").GetString());
        Assert.Equal("error", issue.GetProperty("severity").GetString());
        Assert.Equal(40, quick.Exit);
        Assert.Contains($"[missing_object] {missing}", quick.Out, StringComparison.Ordinal);
        Assert.Equal(40, dryRun.Exit);
        Assert.Contains("repair --yes", dryRun.Out, StringComparison.Ordinal);
        Assert.True(repair.Exit == 0, repair.Out + repair.Err);
        Assert.Equal(template.SnapshotId, JsonDocument.Parse(repair.Out).RootElement.GetProperty("repair").GetProperty("restored").GetProperty(missing).GetString());
        Assert.True(after.Exit == 0, after.Out + after.Err);
        Assert.Contains("The data is whole.", after.Out, StringComparison.Ordinal);
    }
}
