using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage.Entities;
using Mdmai.DataManager.Tests.Integrity;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Reliability;

/// <summary>
/// The process that gets killed: opens a data folder through <see cref="MdmaiDataManager"/> and runs a seeded
/// stream of operations — entity adds and renames, file imports (some of the same content again; some a folder at a
/// time) and deletes,
/// backups, forget and prune — printing one <c>ack …</c> line on standard output after each has returned, i.e.
/// once it is committed. An operation that changes or removes something already acknowledged first prints a
/// <c>begin …</c> line: killed before its ack, it may or may not have happened, and the parent accepts either. It never stops by itself (but after <c>--max-ops</c>): the parent kills it with SIGKILL.
/// </summary>
internal static class CrashWorker
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = CommandLine.Parse(args);
        var seed = int.Parse(options["seed"], CultureInfo.InvariantCulture);
        var maxOps = int.Parse(options.GetValueOrDefault("max-ops", "100000"), CultureInfo.InvariantCulture);
        await using var manager = await MdmaiDataManager.OpenAsync(
            new DataManagerOptions { DataFolder = options["data"], CreateIfMissing = false, BackgroundWork = false, ShutdownBackup = false },
            options.GetValueOrDefault("password"));
        var backups = manager.Backups ?? throw new InvalidOperationException("The folder has no backup repository.");
        var random = new Random(Seeds.Mix(seed));

        // What is there already (from earlier runs), to pick deletes and renames from.
        var files = new List<Guid>();
        for (var offset = 0; ; offset += 1000)
        {
            var page = await manager.Files.ListAsync(limit: 1000, offset: offset);
            files.AddRange(page.Items.Select(f => f.Id));
            if (!page.HasMore)
            {
                break;
            }
        }

        var campaigns = (await manager.Storage.Campaigns.ListAsync(new Storage.ListQuery { Limit = 1000 })).Items.Select(c => c.Id).ToList();
        var contents = new List<byte[]>();
        Console.WriteLine("ready");
        for (var i = 0; i < maxOps; i++)
        {
            var name = $"w{seed}-{i}";
            var op = random.Next(100);
            if (op < 12 || campaigns.Count == 0)
            {
                var campaign = await manager.Storage.Campaigns.CreateAsync(new Campaign { Name = name, System = "dnd5e", Notes = $"notes of {name}" });
                campaigns.Add(campaign.Id);
                Console.WriteLine($"ack entity campaigns {campaign.Id:D} {name}");
            }
            else if (op < 30)
            {
                var npc = await manager.Storage.Npcs.CreateAsync(new Npc { CampaignId = campaigns[random.Next(campaigns.Count)], Name = name, Notes = $"secret of {name}" });
                Console.WriteLine($"ack entity npcs {npc.Id:D} {name}");
            }
            else if (op < 36)
            {
                var spell = await manager.Storage.Spells.CreateAsync(Samples.Spell(name, random.Next(10)));
                Console.WriteLine($"ack entity spells {spell.Id:D} {name}");
            }
            else if (op < 42)
            {
                var id = campaigns[random.Next(campaigns.Count)];
                var campaign = await manager.Storage.Campaigns.GetAsync(id);
                campaign.Name = name;
                Console.WriteLine($"begin entity campaigns {id:D} {name}");
                await manager.Storage.Campaigns.UpdateAsync(campaign);
                Console.WriteLine($"ack entity campaigns {id:D} {name}");
            }
            else if (op < 66)
            {
                // A folder import: its files are written straight to their place and recorded in batches.
                var folder = Path.Combine(options["data"] + "-in", name);
                Directory.CreateDirectory(folder);
                var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
                for (var f = random.Next(2, 12); f > 0; f--)
                {
                    var content = contents.Count > 0 && random.Next(4) == 0 ? contents[random.Next(contents.Count)] : Content(random);
                    var fileName = $"{name}-{f}.bin";
                    await File.WriteAllBytesAsync(Path.Combine(folder, fileName), content);
                    hashes[fileName] = Convert.ToHexStringLower(SHA256.HashData(content));
                }

                var result = await manager.Files.ImportPathsAsync([folder]);
                if (result.Errors.Count > 0)
                {
                    throw new InvalidOperationException($"folder import failed: {result.Errors[0].Message}");
                }

                foreach (var imported in result.Imported)
                {
                    files.Add(imported.File.Id);
                    Console.WriteLine($"ack import {imported.File.Id:D} {hashes[imported.File.Name]}");
                }

                Directory.Delete(folder, recursive: true);
            }
            else if (op < 75)
            {
                var content = contents.Count > 0 && random.Next(6) == 0 ? contents[random.Next(contents.Count)] : Content(random);
                if (contents.Count < 64)
                {
                    contents.Add(content);
                }

                var result = await manager.Files.ImportAsync(new MemoryStream(content), $"{name}.bin");
                files.Add(result.File.Id);
                Console.WriteLine($"ack import {result.File.Id:D} {Convert.ToHexStringLower(SHA256.HashData(content))}");
            }
            else if (op < 83)
            {
                if (files.Count == 0)
                {
                    continue;
                }

                var index = random.Next(files.Count);
                var id = files[index];
                files.RemoveAt(index);
                Console.WriteLine($"begin delete {id:D}");
                await manager.Files.DeleteAsync(id);
                Console.WriteLine($"ack delete {id:D}");
            }
            else if (op < 95)
            {
                var snapshot = await backups.BackupAsync(SnapshotKind.Manual, description: name);
                Console.WriteLine($"ack backup {snapshot.Snapshot.Id}");
            }
            else
            {
                var snapshots = await backups.Repository.ListSnapshotsAsync();
                var forget = snapshots.Take(Math.Max(0, snapshots.Count - 2)).Select(s => s.Id).ToList();
                if (forget.Count > 0)
                {
                    Console.WriteLine($"begin forget {string.Join(',', forget)}");
                    await backups.Repository.ForgetSnapshotsAsync(forget);
                    Console.WriteLine($"ack forget {string.Join(',', forget)}");
                }

                await backups.Repository.PruneAsync();
                Console.WriteLine("ack prune");
            }
        }

        return 0;
    }

    /// <summary>Mostly small, some up to 4 MiB; text or random bytes.</summary>
    private static byte[] Content(Random random)
    {
        var size = random.Next(20) switch
        {
            0 => random.Next(1 << 20, 4 << 20),
            < 6 => random.Next(64 << 10, 1 << 20),
            _ => random.Next(1, 64 << 10),
        };
        var bytes = new byte[size];
        if (random.Next(2) == 0)
        {
            random.NextBytes(bytes);
        }
        else
        {
            var line = Encoding.ASCII.GetBytes($"The party rests at the inn; roll {random.Next(1, 21)} for the watch.\n");
            for (var i = 0; i < size; i++)
            {
                bytes[i] = line[i % line.Length];
            }
        }

        return bytes;
    }
}

/// <summary>Figures of a series of crash trials.</summary>
internal sealed record CrashSummary(int Trials, int Ok, int Lost, long Acked, int RepairedLeftovers, IReadOnlyDictionary<string, int> LeftoverKinds, IReadOnlyList<string> Failures)
{
    public override string ToString() =>
        $"trials={Trials} ok={Ok} lost={Lost} acked={Acked} trials_with_leftovers_repaired={RepairedLeftovers} leftovers={{{string.Join(", ", LeftoverKinds.Select(k => $"{k.Key}: {k.Value}"))}}}";
}

/// <summary>
/// The parent side: starts <see cref="CrashWorker"/> on a data folder, SIGKILLs it at a seeded random moment, then
/// proves the folder: the next open succeeds, temp files of the killed process are gone, <c>check --read-data</c>
/// (with the backups verified) finds no error — the only findings allowed are unreferenced objects (an object put in
/// place by an import whose transaction never committed, or one whose delete committed before its file went), which
/// <c>repair</c> moves to quarantine, after which the check must be clean — every acknowledged write is there (and
/// every acknowledged delete and forget stays done; the one operation the kill interrupted happened entirely or not
/// at all), and prune leaves no debris in the repository.
/// </summary>
internal static class CrashTrials
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    /// <summary>What the acknowledgements say must be true.</summary>
    private sealed class Ledger
    {
        public Dictionary<(string Table, Guid Id), string> Entities { get; } = [];
        public Dictionary<Guid, string> Files { get; } = [];
        public HashSet<Guid> Deleted { get; } = [];
        public HashSet<string> Snapshots { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Forgotten { get; } = new(StringComparer.Ordinal);
        public long Acked { get; set; }

        /// <summary>The <c>begin</c> line of an operation the kill interrupted (it may or may not have happened).</summary>
        public string? Pending { get; set; }

        public void Apply(string line)
        {
            var parts = line.Split(' ');
            if (parts[0] == "begin")
            {
                Pending = line;
                return;
            }

            if (parts[0] != "ack")
            {
                return;
            }

            Pending = null;
            Acked++;
            switch (parts[1])
            {
                case "entity":
                    Entities[(parts[2], Guid.Parse(parts[3]))] = parts[4];
                    break;
                case "import":
                    Files[Guid.Parse(parts[2])] = parts[3];
                    break;
                case "delete":
                    Files.Remove(Guid.Parse(parts[2]));
                    Deleted.Add(Guid.Parse(parts[2]));
                    break;
                case "backup":
                    Snapshots.Add(parts[2]);
                    break;
                case "forget":
                    foreach (var id in parts[2].Split(','))
                    {
                        Snapshots.Remove(id);
                        Forgotten.Add(id);
                    }

                    break;
            }
        }
    }

    /// <summary>Runs <paramref name="trials"/> trials, alternating an unencrypted and an encrypted folder under <paramref name="work"/>.</summary>
    public static async Task<CrashSummary> RunAsync(string work, int trials, int seed, TextWriter log)
    {
        var ledgers = new Dictionary<bool, Ledger> { [false] = new(), [true] = new() };
        foreach (var encrypted in new[] { false, true })
        {
            await using var created = await OpenDataFolder.CreateAsync(Folder(work, encrypted), encrypted);
        }

        SqliteConnection.ClearAllPools();
        int ok = 0, lost = 0, repaired = 0;
        var leftovers = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<string>();
        for (var trial = 0; trial < trials; trial++)
        {
            var encrypted = trial % 2 == 1;
            var trialSeed = (seed * 1000) + trial;
            var random = new Random(Seeds.Mix(trialSeed));
            var ledger = ledgers[encrypted];
            var path = Folder(work, encrypted);
            var problems = new List<string>();
            var delay = random.Next(100, 3000);

            var args = new List<string> { "crash-worker", "--data", path, "--seed", trialSeed.ToString(CultureInfo.InvariantCulture) };
            if (encrypted)
            {
                args.AddRange(["--password", OpenDataFolder.Password]);
            }

            int acksThisTrial;
            using (var worker = ChildProcess.Start([.. args]))
            {
                await worker.WaitForLineAsync(l => l == "ready", Wait);
                await Task.Delay(delay);
                worker.Kill();
                var (exit, lines, stderr) = await worker.WaitAsync(Wait);
                if (exit is not (137 or 0) || stderr.Length > 0)
                {
                    problems.Add($"the worker failed before the kill (exit {exit}): {stderr}");
                }

                var before = ledger.Acked;
                foreach (var line in lines)
                {
                    ledger.Apply(line);
                }

                acksThisTrial = (int)(ledger.Acked - before);
            }

            var trialLost = 0;
            var leftoverThisTrial = "";
            try
            {
                (trialLost, leftoverThisTrial) = await VerifyAsync(path, encrypted, ledger, problems);
            }
            catch (Exception ex) when (ex is MdmaiException or IOException or InvalidOperationException)
            {
                problems.Add($"verification failed: {ex}");
            }

            lost += trialLost;
            if (leftoverThisTrial.Length > 0)
            {
                repaired++;
                foreach (var kind in leftoverThisTrial.Split(','))
                {
                    leftovers[kind] = leftovers.GetValueOrDefault(kind) + 1;
                }
            }

            if (problems.Count == 0)
            {
                ok++;
            }
            else
            {
                failures.Add($"trial {trial} (seed {trialSeed}, {(encrypted ? "encrypted" : "plain")}, killed after {delay} ms): {string.Join("; ", problems)}");
            }

            log.WriteLine($"trial {trial,3} {(encrypted ? "encrypted" : "plain    ")} killed after {delay,4} ms, {acksThisTrial,3} ops acknowledged: " +
                (problems.Count == 0 ? "ok" : "FAILED " + string.Join("; ", problems)) + (leftoverThisTrial.Length > 0 ? $" (leftovers repaired: {leftoverThisTrial})" : ""));
        }

        return new CrashSummary(trials, ok, lost, ledgers.Values.Sum(l => l.Acked), repaired, leftovers, failures);
    }

    private static string Folder(string work, bool encrypted) => Path.Combine(work, encrypted ? "encrypted" : "plain");

    /// <summary>
    /// An operation interrupted between its <c>begin</c> and its ack either happened or not, atomically: the folder
    /// says which, and the ledger follows (anything else — half a rename, say — is a problem).
    /// </summary>
    private static async Task ResolvePendingAsync(MdmaiDataManager manager, Ledger ledger, List<string> problems)
    {
        if (ledger.Pending is not { } pending)
        {
            return;
        }

        ledger.Pending = null;
        var parts = pending.Split(' ');
        switch (parts[1])
        {
            case "delete":
            {
                var id = Guid.Parse(parts[2]);
                try
                {
                    await manager.Files.GetAsync(id);
                }
                catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.NotFound)
                {
                    ledger.Apply($"ack delete {id:D}");
                    ledger.Acked--;
                }

                break;
            }

            case "entity":
            {
                var id = Guid.Parse(parts[3]);
                var name = (await manager.Storage.Campaigns.FindAsync(id))?.Name;
                if (name == parts[4])
                {
                    ledger.Entities[(parts[2], id)] = name;
                }
                else if (name != ledger.Entities.GetValueOrDefault((parts[2], id)))
                {
                    problems.Add($"interrupted rename of {id}: found '{name}'");
                }

                break;
            }

            case "forget":
            {
                var present = (await manager.Backups!.Repository.ListSnapshotsAsync()).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
                var gone = parts[2].Split(',').Where(id => !present.Contains(id)).ToList();
                if (gone.Count > 0)
                {
                    ledger.Apply($"ack forget {string.Join(',', gone)}");
                    ledger.Acked--;
                }

                break;
            }
        }
    }

    private static async Task<(int Lost, string Leftovers)> VerifyAsync(string path, bool encrypted, Ledger ledger, List<string> problems)
    {
        var lost = 0;
        var leftovers = "";
        await using (var manager = await MdmaiDataManager.OpenAsync(new DataManagerOptions { DataFolder = path, CreateIfMissing = false, BackgroundWork = false, ShutdownBackup = false },
            encrypted ? OpenDataFolder.Password : null))
        {
            await ResolvePendingAsync(manager, ledger, problems);
            if (Directory.EnumerateFileSystemEntries(manager.Files.TempPath).Any())
            {
                problems.Add("temp files remain after the open");
            }

            var report = await manager.Integrity.CheckAsync(new IntegrityOptions { ReadData = true, Backups = true });
            var unexpected = report.Issues.Where(i => !(i.Severity == IssueSeverity.Warning && i.Kind == "unreferenced_object")).ToList();
            if (unexpected.Count > 0)
            {
                problems.Add("check: " + Reports.Describe(unexpected));
            }
            else if (!report.Ok)
            {
                leftovers = string.Join(",", report.Issues.Select(i => i.Kind).Distinct());
                var repair = await manager.Integrity.RepairAsync(report);
                var after = await manager.Integrity.CheckAsync(new IntegrityOptions { ReadData = true, Backups = true });
                if (!after.Ok || repair.NotRepaired.Count > 0)
                {
                    problems.Add("after repair: " + Reports.Describe(after.Issues) + string.Join("; ", repair.NotRepaired));
                }
            }

            // Every acknowledged write is there.
            foreach (var ((table, id), name) in ledger.Entities)
            {
                var found = table switch
                {
                    "campaigns" => (await manager.Storage.Campaigns.FindAsync(id))?.Name,
                    "npcs" => (await manager.Storage.Npcs.FindAsync(id))?.Name,
                    "spells" => (await manager.Storage.Spells.FindAsync(id))?.Name,
                    _ => throw new InvalidOperationException(table),
                };
                if (found != name)
                {
                    lost++;
                    problems.Add($"{table} {id}: expected '{name}', found '{found}'");
                }
            }

            foreach (var (id, sha256) in ledger.Files)
            {
                try
                {
                    await using var stream = await manager.Files.OpenReadAsync(id);
                    var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
                    if (actual != sha256)
                    {
                        lost++;
                        problems.Add($"file {id}: content changed");
                    }
                }
                catch (MdmaiException ex)
                {
                    lost++;
                    problems.Add($"file {id}: {ex.Code} {ex.Message}");
                }
            }

            foreach (var id in ledger.Deleted)
            {
                try
                {
                    await manager.Files.GetAsync(id);
                    problems.Add($"file {id} was deleted (acknowledged) but is back");
                }
                catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.NotFound)
                {
                    // as it should be
                }
            }

            var snapshots = (await manager.Backups!.Repository.ListSnapshotsAsync()).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var id in ledger.Snapshots.Where(s => !snapshots.Contains(s)))
            {
                lost++;
                problems.Add($"snapshot {id} is gone");
            }

            foreach (var id in ledger.Forgotten.Where(snapshots.Contains))
            {
                problems.Add($"snapshot {id} was forgotten (acknowledged) but is back");
            }

            // What the killed process left in the repository goes with the next prune.
            await manager.Backups.Repository.PruneAsync();
            var debris = Directory.EnumerateFiles(manager.Folder.BackupRepositoryLocation, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(f).StartsWith('.') || Path.GetRelativePath(manager.Folder.BackupRepositoryLocation, f).StartsWith("locks", StringComparison.Ordinal)).ToList();
            if (debris.Count > 0)
            {
                problems.Add("repository debris after prune: " + string.Join(", ", debris.Select(d => Path.GetRelativePath(path, d))));
            }

            var verify = await manager.Backups.Repository.VerifyAsync(new VerifyOptions { ReadData = true });
            if (!verify.Ok || verify.UnindexedPacks > 0)
            {
                problems.Add($"after prune: {verify.UnindexedPacks} unindexed pack(s); {string.Join("; ", verify.Errors)}");
            }
        }

        SqliteConnection.ClearAllPools();
        return (lost, leftovers);
    }

    /// <summary><c>crash-trials --trials N --seed S [--work DIR]</c>: prints each trial and the figures; exit 0 when all are ok.</summary>
    public static async Task<int> MainAsync(string[] args)
    {
        var options = CommandLine.Parse(args);
        var trials = int.Parse(options.GetValueOrDefault("trials", "50"), CultureInfo.InvariantCulture);
        var seed = int.Parse(options.GetValueOrDefault("seed", "1"), CultureInfo.InvariantCulture);
        var work = options.GetValueOrDefault("work") ?? Path.Combine(Path.GetTempPath(), $"mdmai-crash-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var summary = await RunAsync(work, trials, seed, Console.Out);
            Console.WriteLine(summary);
            foreach (var failure in summary.Failures)
            {
                Console.WriteLine("FAILED " + failure);
            }

            return summary.Ok == summary.Trials && summary.Lost == 0 ? 0 : 1;
        }
        finally
        {
            if (!options.ContainsKey("keep"))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }
}

/// <summary><c>--name value</c> pairs (a flag without a value gets "").</summary>
internal static class CommandLine
{
    public static Dictionary<string, string> Parse(string[] args)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                var hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
                result[args[i][2..]] = hasValue ? args[++i] : "";
            }
        }

        return result;
    }
}
