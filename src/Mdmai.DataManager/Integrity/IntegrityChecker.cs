using System.Text.Json;
using System.Text.Json.Serialization;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Integrity;

/// <summary>How serious a finding is.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<IssueSeverity>))]
public enum IssueSeverity
{
    /// <summary>Worth knowing; nothing is wrong with the data (e.g. leftovers an interrupted operation will clean up).</summary>
    Info,
    /// <summary>Something is inconsistent but no data is lost (e.g. a reference count, an unreferenced object).</summary>
    Warning,
    /// <summary>Data is damaged or missing.</summary>
    Error,
}

/// <summary>One finding of a check, naming the exact row, object or file.</summary>
/// <param name="Severity">How serious it is.</param>
/// <param name="Kind">What was checked: database, schema, missing_object, damaged_object, unreferenced_object, ref_count, key_file, backup.</param>
/// <param name="Subject">The row, object id, file or snapshot concerned.</param>
/// <param name="Message">What is wrong and what to do.</param>
public sealed record IntegrityIssue(IssueSeverity Severity, string Kind, string Subject, string Message);

/// <summary>What to check.</summary>
public sealed record IntegrityOptions
{
    /// <summary>Read objects and re-hash them against their ids.</summary>
    public bool ReadData { get; init; }

    /// <summary>
    /// With <see cref="ReadData"/>: re-read only this slice of the objects (by id) — part <see cref="SliceIndex"/> of
    /// <see cref="SliceCount"/> — so scheduled checks cover everything over <see cref="SliceCount"/> runs.
    /// </summary>
    public int SliceCount { get; init; } = 1;

    /// <summary>Which slice (0-based) a sliced read-data check reads.</summary>
    public int SliceIndex { get; init; }

    /// <summary>Also verify the backup repository (structure; its data too with <see cref="ReadData"/>).</summary>
    public bool Backups { get; init; } = true;
}

/// <summary>The result of a check: every finding by severity, with counts.</summary>
public sealed record IntegrityReport
{
    /// <summary>When the check ran.</summary>
    public DateTimeOffset CheckedAt { get; init; }

    /// <summary>Wall time in seconds.</summary>
    public double DurationSeconds { get; init; }

    /// <summary>Objects the catalog records.</summary>
    public long Objects { get; init; }

    /// <summary>Objects read and re-hashed.</summary>
    public long ObjectsRead { get; init; }

    /// <summary>Every finding, most serious first.</summary>
    public IReadOnlyList<IntegrityIssue> Issues { get; init; } = [];

    /// <summary>Errors found.</summary>
    public int Errors => Issues.Count(i => i.Severity == IssueSeverity.Error);

    /// <summary>Warnings found.</summary>
    public int Warnings => Issues.Count(i => i.Severity == IssueSeverity.Warning);

    /// <summary>True when there is no error and no warning.</summary>
    public bool Ok => Errors == 0 && Warnings == 0;
}

/// <summary>A scheduled check as recorded: when it ran, what it found, how many objects it re-read.</summary>
/// <param name="CheckedAt">When it ran.</param>
/// <param name="Errors">Errors found.</param>
/// <param name="Warnings">Warnings found.</param>
/// <param name="ObjectsRead">Objects re-read (its slice).</param>
public sealed record ScheduledCheck(DateTimeOffset CheckedAt, int Errors, int Warnings, long ObjectsRead);

/// <summary>What <see cref="IntegrityChecker.RepairAsync"/> did and could not do.</summary>
public sealed record RepairReport
{
    /// <summary>Reference counts corrected.</summary>
    public int ReferenceCountsFixed { get; init; }

    /// <summary>Objects moved to the quarantine folder (never deleted).</summary>
    public IReadOnlyList<string> Quarantined { get; init; } = [];

    /// <summary>Objects restored from a backup (object id → snapshot id), each verified by hash before it replaced anything.</summary>
    public IReadOnlyDictionary<string, string> Restored { get; init; } = new Dictionary<string, string>();

    /// <summary>What could not be repaired, and what the user can do.</summary>
    public IReadOnlyList<string> NotRepaired { get; init; } = [];

    /// <summary>The quarantine folder, when something was moved there.</summary>
    public string? QuarantineFolder { get; init; }
}

/// <summary>
/// Proves a data folder is whole: the database (SQLite's integrity check, which also checks every CHECK and NOT NULL
/// rule of the schema, and the foreign keys), the catalog against the objects on disk, reference counts, the key
/// file, and the backups. Repairs what it can without ever taking damaged data as the new truth.
/// </summary>
public sealed class IntegrityChecker
{
    private readonly DataFolder _folder;
    private readonly MdmaiDatabase _database;
    private readonly FileStore _store;
    private readonly Func<CancellationToken, Task<BackupRepository?>>? _openBackups;

    /// <summary>
    /// A checker of <paramref name="folder"/>, whose database and store are open; <paramref name="openBackups"/> gives its
    /// backup repository (null when there is none), which stays the caller's to dispose.
    /// </summary>
    public IntegrityChecker(DataFolder folder, MdmaiDatabase database, FileStore store, Func<CancellationToken, Task<BackupRepository?>>? openBackups = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(store);
        _folder = folder;
        _database = database;
        _store = store;
        _openBackups = openBackups;
    }

    /// <summary>Runs the check; the report names every problem. Nothing is changed.</summary>
    public async Task<IntegrityReport> CheckAsync(IntegrityOptions? options = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new IntegrityOptions();
        var started = DateTimeOffset.UtcNow;
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var issues = new List<IntegrityIssue>();

        // The database: integrity_check covers pages, indexes, CHECK and NOT NULL rules; then foreign keys.
        // A database too damaged for SQLite to get through its own check, or to read the catalog, is a finding too:
        // the report says so instead of the check failing, and what needs the catalog is skipped (an unreadable
        // catalog must not make every object look unreferenced).
        try
        {
            var database = await _database.CheckAsync(cancellationToken).ConfigureAwait(false);
            issues.AddRange(database.Findings.Select(DatabaseIssue));
        }
        catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.Corrupt)
        {
            issues.Add(new IntegrityIssue(IssueSeverity.Error, "database", DataFolder.DatabaseFileName, $"SQLite cannot complete its integrity check: {ex.Message}"));
        }

        // The catalog against the disk.
        List<CatalogObject> objects;
        var catalogRead = true;
        try
        {
            objects = _store.Catalog.ObjectsWithUse(cancellationToken);
        }
        catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.Corrupt)
        {
            issues.Add(new IntegrityIssue(IssueSeverity.Error, "database", DataFolder.DatabaseFileName,
                $"The file catalog cannot be read, so the objects were not checked against it: {ex.Message}"));
            objects = [];
            catalogRead = false;
        }

        foreach (var o in objects)
        {
            var path = _store.ObjectPath(o.Id);
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                issues.Add(new IntegrityIssue(IssueSeverity.Error, "missing_object", o.Id,
                    $"Object {o.Id} ({o.Files} file(s), e.g. '{o.FirstName}') is missing from the store. 'mdmai repair' restores it from a backup."));
            }
            else if (info.Length != o.StoredSize)
            {
                issues.Add(new IntegrityIssue(IssueSeverity.Error, "damaged_object", o.Id,
                    $"Object {o.Id} ('{o.FirstName}') is {info.Length} bytes on disk, the catalog says {o.StoredSize}: it was truncated or changed. 'mdmai repair' restores it from a backup."));
            }

            if (o.RefCount != o.Files)
            {
                issues.Add(new IntegrityIssue(IssueSeverity.Warning, "ref_count", o.Id,
                    $"Object {o.Id} records {o.RefCount} reference(s) but {o.Files} catalog row(s) use it. 'mdmai repair' recounts."));
            }
        }

        var known = objects.Select(o => o.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var file in catalogRead ? EnumerateObjectFiles() : [])
        {
            var id = Path.GetFileName(file);
            if (!known.Contains(id))
            {
                issues.Add(new IntegrityIssue(IssueSeverity.Warning, "unreferenced_object", id,
                    $"'{Path.GetRelativePath(_folder.Path, file)}' is in the store but no catalog row uses it. 'mdmai repair' moves it to the quarantine folder."));
            }
        }

        foreach (var o in objects.Where(o => o.Files == 0))
        {
            issues.Add(new IntegrityIssue(IssueSeverity.Warning, "unreferenced_object", o.Id, $"Object {o.Id} is recorded but no catalog row uses it. 'mdmai repair' moves it to the quarantine folder."));
        }

        // Content (read-data), in slices for scheduled checks.
        long read = 0;
        if (options.ReadData && catalogRead)
        {
            var slices = Math.Max(1, options.SliceCount);
            var slice = ((options.SliceIndex % slices) + slices) % slices;
            bool Selected(string id) => slices == 1 || Convert.ToInt32(id[..4], 16) % slices == slice;
            var missing = issues.Where(i => i.Kind is "missing_object" or "damaged_object").Select(i => i.Subject).ToHashSet(StringComparer.Ordinal);
            read = objects.Count(o => Selected(o.Id) && !missing.Contains(o.Id));
            foreach (var problem in await _store.VerifyObjectsAsync(id => Selected(id) && !missing.Contains(id), progress, cancellationToken).ConfigureAwait(false))
            {
                issues.Add(new IntegrityIssue(IssueSeverity.Error, "damaged_object", problem.ObjectId,
                    problem.Problem.Contains(problem.ObjectId, StringComparison.Ordinal)
                        ? $"{problem.Problem.TrimEnd('.')} ('mdmai repair' does)."
                        : $"Object {problem.ObjectId}: {problem.Problem}. 'mdmai repair' restores it from a backup."));
            }
        }

        // The key file.
        if (_folder.Config.EncryptionEnabled)
        {
            try
            {
                await KeyFile.LoadAsync(_folder.KeyFilePath, cancellationToken).ConfigureAwait(false);
            }
            catch (MdmaiException ex)
            {
                issues.Add(new IntegrityIssue(IssueSeverity.Error, "key_file", KeyFile.FileName, ex.Message));
            }
        }

        // The backups.
        if (options.Backups && _openBackups is not null)
        {
            try
            {
                var repository = await _openBackups(cancellationToken).ConfigureAwait(false);
                if (repository is not null)
                {
                    var report = await repository.VerifyAsync(new VerifyOptions { ReadData = options.ReadData, SubsetPercent = 100.0 / Math.Max(1, options.SliceCount) }, null, cancellationToken).ConfigureAwait(false);
                    issues.AddRange(report.Errors.Select(e => new IntegrityIssue(IssueSeverity.Error, "backup", _folder.BackupRepositoryLocation, e)));
                }
            }
            catch (MdmaiException ex)
            {
                issues.Add(new IntegrityIssue(IssueSeverity.Error, "backup", _folder.BackupRepositoryLocation, $"The backup repository cannot be opened: {ex.Message}"));
            }
        }

        var leftovers = Directory.Exists(_store.TempPath) ? Directory.EnumerateFiles(_store.TempPath).Count() : 0;
        if (leftovers > 0)
        {
            issues.Add(new IntegrityIssue(IssueSeverity.Info, "temp_files", _store.TempPath, $"{leftovers} temp file(s) of an interrupted import; 'mdmai repair' removes them."));
        }

        return new IntegrityReport
        {
            CheckedAt = started,
            DurationSeconds = stopwatch.Elapsed.TotalSeconds,
            Objects = objects.Count,
            ObjectsRead = read,
            Issues = [.. issues.OrderByDescending(i => i.Severity).ThenBy(i => i.Kind, StringComparer.Ordinal).ThenBy(i => i.Subject, StringComparer.Ordinal)],
        };
    }

    /// <summary>
    /// Repairs what a check finds: recounts references; moves unreferenced objects to <c>quarantine/&lt;time&gt;/</c>
    /// (never deletes them); restores missing or damaged objects from the newest snapshot holding a copy that decodes
    /// and hashes to the object's id (a damaged object is moved to quarantine, not overwritten, and only once a good
    /// copy is in hand); removes temp files of interrupted imports. What it cannot repair is reported.
    /// </summary>
    public async Task<RepairReport> RepairAsync(IntegrityReport findings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(findings);
        var quarantine = Path.Combine(_folder.Path, "quarantine", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
        var quarantined = new List<string>();
        var notRepaired = new List<string>();

        // Reference counts: one statement recounts them all (audit and triggers do not apply to objects).
        var fixedCounts = await _store.Catalog.WriteAsync(catalog => catalog.RecountReferences(), cancellationToken).ConfigureAwait(false);

        // Unreferenced objects: to quarantine, their rows removed.
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var issue in findings.Issues.Where(i => i.Kind == "unreferenced_object"))
        {
            var id = issue.Subject;
            var deleted = await _store.Catalog.WriteAsync(catalog => catalog.RemoveObjectIfUnused(id), cancellationToken).ConfigureAwait(false);

            // After the commit, alone on the writer thread (where imports record objects): the file moves only if no
            // row records the object now and no import has claimed it. An import of the same content since the check
            // made it referenced again, and it stays.
            var moved = await _store.Catalog.WriteExclusiveAsync(catalog => _store.RemoveObjectFileIfUnused(catalog, id, unused => MoveToQuarantine(unused, quarantine)),
                cancellationToken).ConfigureAwait(false);
            if (moved)
            {
                quarantined.Add(id);
            }

            if (deleted)
            {
                removed.Add(id);
            }
        }

        // Missing or damaged objects: from the newest snapshot with a good copy.
        // (An object whose row went with the unreferenced ones above has nothing left to restore.)
        var broken = findings.Issues.Where(i => i.Kind is "missing_object" or "damaged_object" && !removed.Contains(i.Subject)).Select(i => i.Subject).Distinct(StringComparer.Ordinal).ToList();
        var restored = new Dictionary<string, string>(StringComparer.Ordinal);
        if (broken.Count > 0)
        {
            BackupRepository? repository = null;
            try
            {
                repository = _openBackups is null ? null : await _openBackups(cancellationToken).ConfigureAwait(false);
            }
            catch (MdmaiException ex)
            {
                notRepaired.Add($"The backup repository cannot be opened ({ex.Message}), so {broken.Count} missing or damaged object(s) cannot be restored.");
            }

            {
                if (repository is not null)
                {
                    var paths = broken.ToDictionary(id => $"data/objects/{id[..2]}/{id}", id => id, StringComparer.Ordinal);
                    var found = await repository.RecoverFilesAsync(paths.Keys, _store.TempPath, async (snapshotPath, candidate, ct) =>
                    {
                        var id = paths[snapshotPath];
                        if (await _store.CheckObjectFileAsync(id, candidate, ct).ConfigureAwait(false) is not null)
                        {
                            return false; // that copy is no good either: never accepted as the truth
                        }

                        // On the writer thread, between transactions: an import that moved a file to this place in a
                        // transaction still open could otherwise move this good copy back out when it rolls back. And
                        // through the store: an import's claim on the place must not remove it later.
                        return await _store.Catalog.WriteExclusiveAsync(_ =>
                        {
                            var target = _store.ObjectPath(id);
                            if (File.Exists(target))
                            {
                                MoveToQuarantine(target, quarantine);
                                quarantined.Add(id);
                            }

                            AtomicFile.FlushFolder(_store.MoveIntoPlace(candidate, id));
                            return true;
                        }, ct).ConfigureAwait(false);
                    }, cancellationToken).ConfigureAwait(false);
                    foreach (var (path, snapshot) in found)
                    {
                        restored[paths[path]] = snapshot;
                    }
                }

                foreach (var id in broken.Where(id => !restored.ContainsKey(id)))
                {
                    notRepaired.Add(repository is null
                        ? $"Object {id} is missing or damaged and there is no backup to restore it from. The files that use it cannot be read; delete them ('mdmai files rm') and import them again."
                        : $"Object {id} is missing or damaged and no snapshot holds a good copy. The files that use it cannot be read; delete them ('mdmai files rm') and import them again.");
                }
            }
        }

        foreach (var issue in findings.Issues.Where(i => i.Kind is "database" or "schema" or "key_file" or "backup"))
        {
            notRepaired.Add(issue.Kind switch
            {
                "key_file" => $"{issue.Message} Restore mdmai.keys from a backup: 'mdmai backup restore latest --target DIR --path data/mdmai.keys'.",
                "backup" => $"{issue.Message} ('mdmai backup prune' rebuilds a damaged index; a damaged pack's data is lost from the backups: take a new backup.)",
                _ => $"{issue.Message} The database itself cannot be repaired in place: restore it from a backup ('mdmai backup restore ID --in-place') or export what is readable ('mdmai db export-sql').",
            });
        }

        _store.CleanTemporaryFiles();
        return new RepairReport
        {
            ReferenceCountsFixed = fixedCounts,
            Quarantined = quarantined,
            Restored = restored,
            NotRepaired = notRepaired,
            QuarantineFolder = quarantined.Count > 0 ? quarantine : null,
        };
    }

    /// <summary>
    /// A problem of the database's own checks as a finding: a broken schema rule or a missing reference names its row
    /// or table (kind <c>schema</c>); damage to the file is kind <c>database</c>.
    /// </summary>
    private static IntegrityIssue DatabaseIssue(DatabaseProblem problem) => problem.Kind switch
    {
        DatabaseProblemKind.Damage => new IntegrityIssue(IssueSeverity.Error, "database", DataFolder.DatabaseFileName, problem.Message),
        _ => new IntegrityIssue(IssueSeverity.Error, "schema", problem.Subject, problem.Message),
    };

    private void MoveToQuarantine(string path, string quarantine)
    {
        var target = Path.Combine(quarantine, Path.GetRelativePath(_folder.Path, path));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Move(path, target, overwrite: true);
    }

    private IEnumerable<string> EnumerateObjectFiles() =>
        Directory.Exists(_store.ObjectsPath)
            ? Directory.EnumerateFiles(_store.ObjectsPath, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f).Length == 64)
            : [];

    /// <summary>The record of past checks (<c>integrity.json</c> in the data folder): the last results and where sliced checks continue.</summary>
    internal sealed record History
    {
        public int NextSlice { get; set; }
        public IReadOnlyList<HistoryEntry> Runs { get; set; } = [];
    }

    internal sealed record HistoryEntry(DateTimeOffset CheckedAt, bool ReadData, int Slice, int Slices, int Errors, int Warnings, long ObjectsRead, double DurationSeconds, IReadOnlyList<IntegrityIssue> Issues);

    internal static readonly JsonSerializerOptions HistoryJson = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true }.Generated(IntegrityJsonContext.Default);

    /// <summary>Path of the check history.</summary>
    public string HistoryPath => Path.Combine(_folder.Path, "integrity.json");

    /// <summary>
    /// One scheduled check: reads the next slice of the objects (so all are re-read every <paramref name="slices"/> runs),
    /// and records the result in <see cref="HistoryPath"/> (the last 30 runs).
    /// </summary>
    public async Task<IntegrityReport> RunScheduledAsync(int slices, CancellationToken cancellationToken = default)
    {
        var history = await LoadHistoryAsync(cancellationToken).ConfigureAwait(false);
        slices = Math.Max(1, slices);
        var slice = history.NextSlice % slices;
        var report = await CheckAsync(new IntegrityOptions { ReadData = true, SliceCount = slices, SliceIndex = slice }, null, cancellationToken).ConfigureAwait(false);
        var entry = new HistoryEntry(report.CheckedAt, true, slice, slices, report.Errors, report.Warnings, report.ObjectsRead, report.DurationSeconds, [.. report.Issues.Take(100)]);
        var updated = new History { NextSlice = (slice + 1) % slices, Runs = [.. history.Runs.TakeLast(29), entry] };
        await AtomicFile.WriteAllBytesAsync(HistoryPath, JsonSerializer.SerializeToUtf8Bytes(updated, HistoryJson.For<History>()), cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>The last scheduled check recorded in <paramref name="dataFolder"/>: when, with its error and warning counts (null when none).</summary>
    public static ScheduledCheck? LastRun(string dataFolder)
    {
        try
        {
            var history = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dataFolder, "integrity.json")), HistoryJson.For<History>());
            return history?.Runs.Count > 0 ? new ScheduledCheck(history.Runs[^1].CheckedAt, history.Runs[^1].Errors, history.Runs[^1].Warnings, history.Runs[^1].ObjectsRead) : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return null;
        }
    }

    internal async Task<History> LoadHistoryAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(HistoryPath))
        {
            return new History();
        }

        try
        {
            await using var stream = File.OpenRead(HistoryPath);
            return await JsonSerializer.DeserializeAsync(stream, HistoryJson.For<History>(), cancellationToken).ConfigureAwait(false) ?? new History();
        }
        catch (JsonException)
        {
            return new History(); // a damaged history only loses the record of past runs
        }
    }
}

/// <summary>The check history's JSON (integrity.json), with its code generated at build time (see <see cref="GeneratedJson"/>).</summary>
[JsonSerializable(typeof(IntegrityChecker.History))]
internal sealed partial class IntegrityJsonContext : JsonSerializerContext;
