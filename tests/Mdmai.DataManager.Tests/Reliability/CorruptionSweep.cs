using System.Buffers.Binary;
using System.Globalization;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Tests.Integrity;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Reliability;

/// <summary>What a sweep case damages.</summary>
internal enum SweepTarget
{
    Database,
    Object,
    Pack,
    Index,
    Snapshot,
}

/// <summary>How it is damaged.</summary>
internal enum Mutation
{
    /// <summary>One byte inverted.</summary>
    Flip,
    /// <summary>Up to 64 bytes set to zero (at least one of them changes).</summary>
    Zero,
    /// <summary>Cut short.</summary>
    Truncate,
}

internal sealed record SweepCase(bool Encrypted, SweepTarget Target, Mutation Mutation, int Seed)
{
    public override string ToString() => $"{(Encrypted ? "encrypted" : "plain")} {Target} {Mutation} (seed {Seed})";
}

/// <summary>One case's result: what was damaged, whether (and how) it was found, and whether it was repaired or reported.</summary>
internal sealed record SweepOutcome(SweepCase Case, string Item, string Damage, bool Detected, string How, bool Repaired, bool Reported, string Detail)
{
    public bool Handled => Detected && (Repaired || Reported);

    public override string ToString() =>
        $"{Case,-40} {Item,-44} {Damage,-32} {(Detected ? "detected" : "UNDETECTED"),-10} {(Repaired ? "repaired" : Reported ? "reported" : "UNHANDLED"),-9} {How.ReplaceLineEndings(" ")} => {Detail}";
}

internal sealed record SweepSummary(IReadOnlyList<SweepOutcome> Outcomes)
{
    public int Cases => Outcomes.Count;

    public int Detected => Outcomes.Count(o => o.Detected);

    public int Repaired => Outcomes.Count(o => o.Detected && o.Repaired);

    public int Reported => Outcomes.Count(o => o.Detected && !o.Repaired && o.Reported);

    public int Unhandled => Outcomes.Count(o => !o.Handled);

    public override string ToString() =>
        $"cases={Cases} detected={Detected} repaired={Repaired} reported={Reported} undetected={Cases - Detected} unhandled={Unhandled}";
}

/// <summary>
/// Seeded corruption: bytes flipped, zeroed or cut off in the database, an object, a pack, an index file and a snapshot
/// file of a copy of a seeded data folder (with a backup). Each case must be detected — by opening the folder, by
/// <c>check --read-data</c> or by the backup verify it runs, naming the damaged item — and then repaired (objects from
/// the backup, the index by prune, the database by an in-place restore of the snapshot) or reported (what cannot be
/// repaired: a pack's or a snapshot's lost data).
/// </summary>
/// <remarks>
/// The database cases damage its structure (a b-tree page's type or cell count, a whole page in use, the file's end):
/// SQLite keeps no checksums of its pages, so a byte changed inside a row's value is a valid database with another
/// value, which no check can tell from an edit. Everything else mutates bytes anywhere in the file.
/// </remarks>
internal static class CorruptionSweep
{
    public static IEnumerable<SweepCase> Cases(int seed)
    {
        var i = 0;
        foreach (var encrypted in new[] { false, true })
        {
            foreach (var target in Enum.GetValues<SweepTarget>())
            {
                foreach (var mutation in Enum.GetValues<Mutation>())
                {
                    yield return new SweepCase(encrypted, target, mutation, (seed * 1000) + i++);
                }
            }
        }
    }

    public static async Task<SweepSummary> RunAsync(IEnumerable<SweepCase> cases, string work, TextWriter log)
    {
        var outcomes = new List<SweepOutcome>();
        foreach (var c in cases)
        {
            var outcome = await RunCaseAsync(c, Path.Combine(work, $"case-{c.Seed}"));
            outcomes.Add(outcome);
            log.WriteLine(outcome);
        }

        return new SweepSummary(outcomes);
    }

    public static async Task<SweepOutcome> RunCaseAsync(SweepCase c, string path)
    {
        var template = await Templates.GetSmallAsync(c.Encrypted);
        Folders.Copy(template.Path, path);
        try
        {
            return await RunCopyAsync(c, path, template);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(path, recursive: true);
        }
    }

    private static async Task<SweepOutcome> RunCopyAsync(SweepCase c, string path, Template template)
    {
        var random = new Random(Seeds.Mix(c.Seed));
        var repository = Path.Combine(path, "backups");
        var (file, item) = c.Target switch
        {
            SweepTarget.Database => (Path.Combine(path, "mdmai.db"), "mdmai.db"),
            SweepTarget.Object => ObjectFile(path, random),
            SweepTarget.Pack => RepositoryFile(repository, "data", random),
            SweepTarget.Index => RepositoryFile(repository, "index", random),
            _ => RepositoryFile(repository, "snapshots", random),
        };
        var damage = c.Target == SweepTarget.Database ? DamageDatabase(file, c.Mutation, random) : DamageAnywhere(file, c.Mutation, random);

        // Detection: the open, or the check (with the backups verified, reading all data).
        string how;
        IntegrityReport? report = null;
        OpenDataFolder? data = null;
        try
        {
            data = await OpenDataFolder.OpenAsync(path);
            report = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true, Backups = true });
            var naming = report.Issues.Where(i => Names(i, c.Target, item)).ToList();
            how = naming.Count > 0 ? $"check: [{naming[0].Kind}] {Short(naming[0].Message)}" : "";
        }
        catch (MdmaiException ex)
        {
            // Refused with an error naming the item (a damaged database: Corrupt, "the database file is damaged").
            var names = ex.Message.Contains(item, StringComparison.Ordinal) || ex.Message.Contains(Path.GetFileName(file), StringComparison.Ordinal)
                || (c.Target == SweepTarget.Database && ex.Code == MdmaiErrorCode.Corrupt && ex.Message.Contains("database", StringComparison.Ordinal));
            how = names ? $"{(data is null ? "open" : "check")} refused: {ex.Code}: {Short(ex.Message)}" : "";
        }

        if (data is not null)
        {
            await data.DisposeAsync();
        }

        var detected = how.Length > 0;
        if (!detected)
        {
            if (Environment.GetEnvironmentVariable("MDMAI_SWEEP_KEEP") is { Length: > 0 } keep)
            {
                Folders.Copy(path, Path.Combine(keep, $"undetected-{c.Seed}")); // for a closer look
            }

            return new SweepOutcome(c, item, damage, false, report is null ? "" : Reports.Describe(report.Issues), false, false, "");
        }

        // Repair what can be, report the rest.
        var (repaired, reported, detail) = c.Target switch
        {
            SweepTarget.Object => await RepairWithCheckerAsync(path, report!, item),
            SweepTarget.Index => await PruneAsync(path),
            SweepTarget.Database => await RestoreDatabaseAsync(path, template),
            _ => await ReportAsync(path, report, item),
        };
        return new SweepOutcome(c, item, damage, true, how, repaired, reported, detail);
    }

    private static string Short(string message) => message.Length > 110 ? message[..110] + "…" : message;

    /// <summary>Whether a finding names the damaged item.</summary>
    private static bool Names(IntegrityIssue issue, SweepTarget target, string item) => target switch
    {
        SweepTarget.Database => issue.Kind is "database" or "schema",
        SweepTarget.Object => issue.Kind is "missing_object" or "damaged_object" && issue.Subject == item,
        _ => issue.Kind == "backup" && issue.Message.Contains(Path.GetFileName(item), StringComparison.Ordinal),
    };

    private static (string File, string Item) ObjectFile(string path, Random random)
    {
        var ids = RawSql.Column(Path.Combine(path, "mdmai.db"), "SELECT object_id FROM objects WHERE stored_size > 64 ORDER BY object_id");
        var id = ids[random.Next(ids.Count)];
        return (Path.Combine(path, "objects", id[..2], id), id);
    }

    private static (string File, string Item) RepositoryFile(string repository, string folder, Random random)
    {
        var files = Directory.EnumerateFiles(Path.Combine(repository, folder), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        var file = files[random.Next(files.Count)];
        return (file, Path.GetRelativePath(repository, file).Replace('\\', '/'));
    }

    /// <summary>Flips, zeroes or truncates at a seeded place anywhere in the file; returns what it did.</summary>
    private static string DamageAnywhere(string file, Mutation mutation, Random random)
    {
        var length = new FileInfo(file).Length;
        switch (mutation)
        {
            case Mutation.Flip:
            {
                var offset = random.NextInt64(length);
                Folders.FlipByte(file, offset);
                return $"byte {offset} of {length} flipped";
            }

            case Mutation.Zero:
            {
                var bytes = File.ReadAllBytes(file);
                for (var attempt = 0; attempt < 1000; attempt++)
                {
                    var offset = random.Next(bytes.Length);
                    var count = Math.Min(64, bytes.Length - offset);
                    if (bytes.AsSpan(offset, count).ContainsAnyExcept((byte)0))
                    {
                        using var stream = new FileStream(file, FileMode.Open, FileAccess.Write);
                        stream.Position = offset;
                        stream.Write(new byte[count]);
                        return $"{count} bytes zeroed at {offset} of {length}";
                    }
                }

                throw new InvalidOperationException($"{file} is all zeros");
            }

            default:
            {
                var to = random.NextInt64(length);
                Folders.Truncate(file, to);
                return $"cut from {length} to {to} bytes";
            }
        }
    }

    /// <summary>Damages the database's structure: a b-tree page's type or cell count, a whole b-tree page, or the file's end.</summary>
    private static string DamageDatabase(string file, Mutation mutation, Random random)
    {
        using (var connection = RawSql.Open(file))
        {
            RawSql.Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE)");
        }

        SqliteConnection.ClearAllPools();
        var bytes = File.ReadAllBytes(file);
        var pageSize = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(16)) is var p && p == 1 ? 65536 : p;
        var pages = bytes.Length / pageSize;
        int HeaderOf(int page) => ((page - 1) * pageSize) + (page == 1 ? 100 : 0);
        // Pages on the freelist keep whatever they held before they were freed (a b-tree page's header, say):
        // damage there harms nothing and no check can see it, so they are left out.
        var free = new HashSet<int>();
        for (var trunk = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(32)); trunk != 0; trunk = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan((trunk - 1) * pageSize)))
        {
            free.Add(trunk);
            var leaves = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(((trunk - 1) * pageSize) + 4));
            for (var i = 0; i < leaves; i++)
            {
                free.Add((int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(((trunk - 1) * pageSize) + 8 + (4 * i))));
            }
        }

        var btree = Enumerable.Range(1, pages).Where(page => !free.Contains(page) && bytes[HeaderOf(page)] is 2 or 5 or 10 or 13).ToList();
        var target = btree[random.Next(btree.Count)];
        switch (mutation)
        {
            case Mutation.Flip:
            {
                var (offset, what) = random.Next(2) == 0 ? (0, "type") : (4, "cell count");
                Folders.FlipByte(file, HeaderOf(target) + offset);
                return $"page {target}'s {what} flipped";
            }

            case Mutation.Zero:
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Write);
                stream.Position = (long)(target - 1) * pageSize;
                stream.Write(new byte[pageSize]);
                return $"page {target} of {pages} zeroed";
            }

            default:
            {
                var keep = random.Next(1, pages);
                Folders.Truncate(file, (long)keep * pageSize);
                return $"cut from {pages} to {keep} pages";
            }
        }
    }

    private static async Task<(bool, bool, string)> RepairWithCheckerAsync(string path, IntegrityReport report, string id)
    {
        await using var data = await OpenDataFolder.OpenAsync(path);
        var repair = await data.Checker.RepairAsync(report);
        var after = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });
        return after.Ok && repair.Restored.ContainsKey(id)
            ? (true, false, $"restored from {repair.Restored[id][..8]}")
            : (false, repair.NotRepaired.Any(l => l.Contains(id, StringComparison.Ordinal)), string.Join("; ", repair.NotRepaired) + Reports.Describe(after.Issues));
    }

    private static async Task<(bool, bool, string)> PruneAsync(string path)
    {
        await using var data = await OpenDataFolder.OpenAsync(path);
        await data.Backups!.Repository.PruneAsync();
        var verify = await data.Backups.Repository.VerifyAsync(new VerifyOptions { ReadData = true });
        var after = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });
        return verify.Ok && after.Ok ? (true, false, "index rebuilt by prune") : (false, false, string.Join("; ", verify.Errors) + Reports.Describe(after.Issues));
    }

    /// <summary>The database cannot be repaired in place: it is restored from the snapshot (the way 'repair' tells the user to).</summary>
    private static async Task<(bool, bool, string)> RestoreDatabaseAsync(string path, Template template)
    {
        try
        {
            var folder = await Configuration.DataFolder.OpenAsync(path);
            using (var backups = await DataFolderBackups.OpenAsync(folder, template.Encrypted ? OpenDataFolder.Password : null, create: false))
            {
                await backups.RestoreInPlaceAsync(template.SnapshotId);
            }

            await using var data = await OpenDataFolder.OpenAsync(path);
            var after = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });
            return after.Ok ? (true, false, "restored in place from the snapshot") : (false, false, "after restore: " + Reports.Describe(after.Issues));
        }
        catch (MdmaiException ex)
        {
            return (false, true, $"restore refused: {ex.Code}: {Short(ex.Message)}");
        }
    }

    /// <summary>Damage the checker cannot repair (a pack's or snapshot's lost data): repair must say so, naming it, and change nothing else.</summary>
    private static async Task<(bool, bool, string)> ReportAsync(string path, IntegrityReport? report, string item)
    {
        await using var data = await OpenDataFolder.OpenAsync(path);
        report ??= await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true });
        var repair = await data.Checker.RepairAsync(report);
        var live = await data.Checker.CheckAsync(new IntegrityOptions { ReadData = true, Backups = false });
        var reported = repair.NotRepaired.Any(l => l.Contains(Path.GetFileName(item), StringComparison.Ordinal)) && live.Ok && repair.Quarantined.Count == 0 && repair.Restored.Count == 0;
        return (false, reported, reported ? "reported by repair; the live data is whole" : string.Join("; ", repair.NotRepaired) + Reports.Describe(live.Issues));
    }

    /// <summary><c>corruption-sweep [--seeds N] [--seed S]</c>: runs N seeded rounds of every case; prints each and the figures.</summary>
    public static async Task<int> MainAsync(string[] args)
    {
        var options = CommandLine.Parse(args);
        var seeds = int.Parse(options.GetValueOrDefault("seeds", "5"), CultureInfo.InvariantCulture);
        var first = int.Parse(options.GetValueOrDefault("seed", "1"), CultureInfo.InvariantCulture);
        var work = Path.Combine(Path.GetTempPath(), $"mdmai-sweep-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var summary = await RunAsync(Enumerable.Range(first, seeds).SelectMany(Cases), work, Console.Out);
            Console.WriteLine(summary);
            return summary.Unhandled == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
