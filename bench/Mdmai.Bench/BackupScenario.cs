using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;
using Microsoft.Data.Sqlite;

namespace Mdmai.Bench;

/// <summary>
/// The <c>backup</c> scenario: <c>mdmai backup</c> (the real CLI, as a child process) against <c>restic</c>, <c>borg</c>
/// and <c>tar | zstd -T0</c> on the same generated, encrypted data folder — first backup, no-change backup, backup after
/// a 1 % change, restore of the latest snapshot, and a verification that reads all the data; and <c>backup-kill</c>:
/// <c>mdmai backup create</c> killed with SIGKILL at random moments, after which the repository must verify and the next
/// backup must complete. See docs/benchmarks.md.
/// <c>Mdmai.Bench backup [--backup-size 1g[,5g]] [--runs N] [--big-runs N] [--work DIR] [--seed N]</c>,
/// <c>Mdmai.Bench backup-kill [--trials 20] [--kill-size 200m] [--work DIR] [--seed N]</c>.
/// </summary>
public static class BackupScenario
{
    /// <summary>The password of the generated data folders (and of every tool's repository).</summary>
    public const string Password = "mdmai bench backup password";

    private const long Mb = 1_000_000;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    // ================================================================ backup

    /// <summary>Runs the <c>backup</c> scenario.</summary>
    public static async Task<int> RunAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var sizes = o.Get("backup-size", "1g").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseSize).Order().ToList();
        var runs = (int)o.GetLong("runs", 3);
        var bigRuns = (int)o.GetLong("big-runs", runs);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var cli = new Cli(FindCli(o));
        foreach (var tool in new[] { "restic", "borg", "zstd", "tar" })
        {
            if (Tool(tool) is null)
            {
                throw new InvalidOperationException($"{tool} is not installed (apt-get install -y restic borgbackup zstd tar); the backup scenario compares with it.");
            }
        }

        var total = Stopwatch.StartNew();
        var rows = o.GetLong("backup-rows", 100_000);
        var library = await new Datasets(work, seed).LibraryAsync(rows);
        var tables = new List<string>();
        var raw = new Dictionary<string, object>(StringComparer.Ordinal);
        var firstRss = new List<(long Size, double Rss, double Baseline)>();
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        foreach (var size in sizes)
        {
            var prepared = await PrepareAsync(work, size, seed, library, $"backup-{SizeLabel(size)}-{Datasets.Label(rows)}-s{seed}");
            var n = size == sizes[^1] && sizes.Count > 1 ? bigRuns : runs;
            var results = await RunSizeAsync(work, cli, prepared, n, seed);
            tables.AddRange(Rows(prepared, results));
            firstRss.Add((size, Runner.Median(results[Key("first", "ours")], m => m.MaxRssKb), Runner.Median(results[Key("list", "ours")], m => m.MaxRssKb)));
            raw[SizeLabel(size)] = new { prepared, results = results.ToDictionary(r => r.Key, r => r.Value) };
            await WriteReportAsync(size == sizes[^1]); // after each size, so a failure later keeps what was measured
        }

        async Task WriteReportAsync(bool last)
        {
            var memory = new List<string>();
            foreach (var (size, rss, baseline) in firstRss)
            {
                memory.Add(Row("memory", SizeLabel(size), "ours: peak RSS of the first backup (`backup list` baseline)", "", "", "", $"{rss / 1024:F0} MB ({baseline / 1024:F0} MB)", "", "", "≤ 80 MB", rss <= 80 * 1024, 0));
            }

            if (firstRss.Count > 1)
            {
                var growth = firstRss[^1].Rss / firstRss[0].Rss;
                memory.Add(Row("memory", $"{SizeLabel(firstRss[0].Size)} → {SizeLabel(firstRss[^1].Size)}", "ours: peak RSS of the first backup, small → large",
                    "", "", "", $"{firstRss[0].Rss / 1024:F0} → {firstRss[^1].Rss / 1024:F0} MB", "", $"{growth:F2}×", "the same (≤ 1.1×)", growth <= 1.1, 0));
            }

            var report = new StringBuilder();
            report.AppendLine(Inv, $"## backup ({DateTime.Now:yyyy-MM-dd HH:mm}, --backup-size {string.Join(',', sizes.Select(SizeLabel))}, --runs {runs}, --big-runs {bigRuns}, seed {seed}, total {total.Elapsed.TotalMinutes:F1} min{(last ? "" : ", partial")})");
            report.AppendLine();
            report.AppendLine(Inv, $"- machine: {Environment.ProcessorCount} cores, load average at the end {LoadAverage()}; warm page cache");
            report.AppendLine(Inv, $"- ours: {cli.Description}");
            report.AppendLine(Inv, $"- {Capture("restic", "version")}; {Capture("borg", "--version")}; {Capture("zstd", "--version")}; {Capture("tar", "--version").Split('\n')[0]}");
            report.AppendLine("- every tool backs up the same encrypted data folder (the file store's objects are AES-GCM sealed, so incompressible for all; only the SQLite database compresses)");
            report.AppendLine("- MB/s = MB of the data folder ÷ wall s; `repo MB` = size of the repository (archive) after the step; `ours ÷ tool` = our wall time ÷ that tool's");
            report.AppendLine();
            report.AppendLine("| step | data | tool | wall s | MB/s | CPU s | peak RSS | repo MB | ours ÷ tool | target | met | runs |");
            report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var row in tables.Concat(memory))
            {
                report.AppendLine(row);
            }

            if (last)
            {
                Console.WriteLine(report);
            }

            await File.WriteAllTextAsync(Path.Combine(work, $"results-backup-{stamp}.md"), report.ToString());
            await File.WriteAllTextAsync(Path.Combine(work, $"results-backup-{stamp}.json"), JsonSerializer.Serialize(raw, Indented));
        }

        Datasets.Log($"backup: results in {Path.Combine(work, $"results-backup-{stamp}.md")} (and .json); total {total.Elapsed.TotalMinutes:F1} min");
        return 0;
    }

    private static string Key(string step, string tool) => $"{step}/{tool}";

    /// <summary>Every run of one size: fresh repositories, the five steps for every tool, then clean up.</summary>
    private static async Task<Dictionary<string, List<Measurement>>> RunSizeAsync(string work, Cli cli, Prepared p, int runs, int seed)
    {
        var results = new Dictionary<string, List<Measurement>>(StringComparer.Ordinal);
        var label = SizeLabel(p.Size);
        for (var run = 1; run <= runs; run++)
        {
            var dir = Path.Combine(work, "runs", "backup");
            DeleteFolder(dir);
            Directory.CreateDirectory(dir);
            var data = Path.Combine(dir, "data");
            CopyDataFolder(p.Data, data);
            Environment.SetEnvironmentVariable("RESTIC_CACHE_DIR", Path.Combine(dir, "restic-cache"));
            Environment.SetEnvironmentVariable("BORG_BASE_DIR", Path.Combine(dir, "borg-home"));
            Environment.SetEnvironmentVariable("MDMAI_PASSWORD", Password);
            Environment.SetEnvironmentVariable("RESTIC_PASSWORD", Password);
            Environment.SetEnvironmentVariable("BORG_PASSPHRASE", Password);
            var ours = Path.Combine(dir, "ours-repo");
            var ours6 = Path.Combine(dir, "ours-level6-repo");
            var restic = Path.Combine(dir, "restic-repo");
            var borg = Path.Combine(dir, "borg-repo");
            Exec("restic", "-r", restic, "init", "--repository-version", "2");
            Exec("borg", "init", "-e", "repokey-blake2", borg);
            NativeMethods.Sync();
            var before = FolderBytes(data);

            void Add(string step, string tool, Measurement m, string? repo = null, long? sourceBytes = null)
            {
                m.Metrics["source_bytes"] = sourceBytes ?? before;
                if (repo is not null)
                {
                    m.Metrics["repo_bytes"] = File.Exists(repo) ? new FileInfo(repo).Length : FolderBytes(repo);
                }

                if (tool == "ours" && step != "list" && m.Output.Length > 0)
                {
                    OursStats(m);
                }

                var key = Key(step, tool);
                if (!results.TryGetValue(key, out var list))
                {
                    results[key] = list = [];
                }

                list.Add(m);
                Datasets.Log($"backup {label} {step} {tool} run {run}/{runs}: {m.WallSeconds:F2} s, CPU {m.CpuSeconds:F2} s, peak RSS {MbText(m.MaxRssKb)}"
                    + (m.Metrics.TryGetValue("repo_bytes", out var r) ? $", repo {r / Mb:F0} MB" : ""));
            }

            // 1. First backup (ours at the peers' level 3, then at our default 6 into a repository of its own).
            Add("first", "ours", cli.Run("--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", ours), ours);
            Add("first", "restic", ProcessMeter.Run("restic", ["-r", restic, "backup", "-q", data], parseResult: false), restic);
            Add("first", "borg", ProcessMeter.Run("borg", ["create", "-C", "zstd,3", borg + "::first", data], parseResult: false), borg);
            var tarFirst = Path.Combine(dir, "first.tar.zst");
            Add("first", "tar", TarCreate(dir, tarFirst), tarFirst);
            File.Delete(tarFirst); // only the last archive is restored; disk space matters at 5 GB
            Add("first-l6", "ours", cli.Run("--data-dir", data, "--json", "backup", "create", "--level", "6", "--repo", ours6), ours6);
            DeleteFolder(ours6);
            NativeMethods.Sync();

            // 2. No change.
            Add("nochange", "ours", cli.Run("--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", ours), ours);
            Add("nochange", "restic", ProcessMeter.Run("restic", ["-r", restic, "backup", "-q", data], parseResult: false), restic);
            Add("nochange", "borg", ProcessMeter.Run("borg", ["create", "-C", "zstd,3", borg + "::nochange", data], parseResult: false), borg);
            var tarSecond = Path.Combine(dir, "nochange.tar.zst");
            Add("nochange", "tar", TarCreate(dir, tarSecond), tarSecond);
            File.Delete(tarSecond);

            // 3. A 1 % change, made through the library, then every tool backs up the changed folder.
            var change = await ApplyChangeAsync(data, p, seed);
            Datasets.Log($"backup {label}: change: {change}");
            NativeMethods.Sync();
            var after = FolderBytes(data);
            Add("change", "ours", cli.Run("--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", ours), ours, after);
            Add("change", "restic", ProcessMeter.Run("restic", ["-r", restic, "backup", "-q", data], parseResult: false), restic, after);
            Add("change", "borg", ProcessMeter.Run("borg", ["create", "-C", "zstd,3", borg + "::change", data], parseResult: false), borg, after);
            var tar = Path.Combine(dir, "change.tar.zst");
            Add("change", "tar", TarCreate(dir, tar), tar, after);

            // 4. Restore the latest snapshot into an empty folder; the objects must come back exactly.
            var (objectFiles, objectBytes) = Tree(Path.Combine(data, "objects"));
            var target = Path.Combine(dir, "restore");
            foreach (var (tool, restored) in new[] { ("ours", "data"), ("restic", data.TrimStart('/')), ("borg", data.TrimStart('/')), ("tar", "data") })
            {
                DeleteFolder(target);
                Directory.CreateDirectory(target);
                NativeMethods.Sync();
                var m = tool switch
                {
                    "ours" => cli.Run("--json", "backup", "restore", "latest", "--target", target, "--repo", ours),
                    "restic" => ProcessMeter.Run("restic", ["-r", restic, "restore", "latest", "--target", target], parseResult: false),
                    "borg" => ProcessMeter.Run("/bin/sh", ["-c", $"cd {ProcessMeter.Quote(target)} && exec borg extract {ProcessMeter.Quote(borg + "::change")}"], parseResult: false),
                    _ => ProcessMeter.RunShell($"zstd -d -q -c {ProcessMeter.Quote(tar)} | tar -xf - -C {ProcessMeter.Quote(target)}"),
                };
                var root = Path.Combine(target, restored);
                var (files, bytes) = Tree(Path.Combine(root, "objects"));
                Check(files == objectFiles && bytes == objectBytes && File.Exists(Path.Combine(root, DataFolder.DatabaseFileName)),
                    $"backup: {tool}'s restore holds {files} objects, {bytes} bytes (and {(File.Exists(Path.Combine(root, DataFolder.DatabaseFileName)) ? "a" : "no")} database); the folder has {objectFiles}, {objectBytes}");
                Add("restore", tool, m, null, after);
            }

            DeleteFolder(target);

            // 5. Verify, reading all the data.
            Add("verify", "ours", cli.Run("--json", "backup", "verify", "--read-data", "--repo", ours), null, after);
            Add("verify", "restic", ProcessMeter.Run("restic", ["-r", restic, "check", "--read-data", "-q"], parseResult: false), null, after);
            Add("verify", "borg", ProcessMeter.Run("borg", ["check", "--verify-data", borg], parseResult: false), null, after);
            Add("verify", "tar", ProcessMeter.Run("zstd", ["-t", "-q", tar], parseResult: false), null, after);

            // The CLI's own floor on the same repository: start-up, unlocking the key (Argon2id), loading the index.
            Add("list", "ours", cli.Run("--json", "backup", "list", "--repo", ours), null, after);
            DeleteFolder(dir);
        }

        return results;
    }

    private static Measurement TarCreate(string dir, string output) =>
        ProcessMeter.RunShell($"tar -cf - -C {ProcessMeter.Quote(dir)} data | zstd -T0 -3 -q -o {ProcessMeter.Quote(output)}");

    /// <summary>Figures from our CLI's JSON output (snapshot stats of create, bytes of restore/verify).</summary>
    private static void OursStats(Measurement m)
    {
        try
        {
            var json = JsonNode.Parse(m.Output);
            var stats = json?["snapshot"]?["stats"];
            foreach (var name in new[] { "bytes_read", "stored_bytes", "new_files", "changed_files", "unchanged_files", "duration_seconds" })
            {
                if (stats?[name] is JsonValue v)
                {
                    m.Metrics[name] = v.GetValue<double>();
                }
            }

            foreach (var name in new[] { "bytes", "files", "duration_seconds", "bytes_read", "unindexed_packs" })
            {
                if (json?[name] is JsonValue v && v.TryGetValue<double>(out var d))
                {
                    m.Metrics[name] = d;
                }
            }
        }
        catch (JsonException)
        {
            // not JSON: nothing to add
        }
    }

    private static IEnumerable<string> Rows(Prepared p, Dictionary<string, List<Measurement>> r)
    {
        var data = $"{SizeLabel(p.Size)}: {p.FolderBytes / 1e9:F2} GB folder, {p.Catalogued:N0} files";
        var first = new (string Tool, string Name)[] { ("ours", "ours (mdmai, --level 3)"), ("restic", "restic"), ("borg", "borg -C zstd,3"), ("tar", "tar \\| zstd -T0 -3") };
        foreach (var (step, title, target, targetTool, limit) in new (string, string, string, string, double)[]
        {
            ("first", "first backup", "≤ 0.6× restic", "restic", 0.6),
            ("nochange", "no-change backup", "≤ 0.5× borg", "borg", 0.5),
            ("change", "backup after a 1 % change", "", "", 0),
            ("restore", "restore latest", "≤ 0.7× restic", "restic", 0.7),
            ("verify", "verify, reading all data", "", "", 0),
        })
        {
            var ours = r[Key(step, "ours")];
            var ourWall = Runner.Median(ours, m => m.WallSeconds);
            foreach (var (tool, name) in first)
            {
                var runs = r[Key(step, tool)];
                var wall = Runner.Median(runs, m => m.WallSeconds);
                var toolName = (step, tool) switch
                {
                    ("restore", "ours") => "ours (backup restore latest --target)",
                    ("restore", "restic") => "restic restore latest --target",
                    ("restore", "borg") => "borg extract",
                    ("restore", "tar") => "zstd -d \\| tar -x",
                    ("verify", "ours") => "ours (backup verify --read-data)",
                    ("verify", "restic") => "restic check --read-data",
                    ("verify", "borg") => "borg check --verify-data",
                    ("verify", "tar") => "zstd -t (checksums only)",
                    ("nochange" or "change", "tar") => "tar \\| zstd -T0 -3 (full archive again)",
                    _ => name,
                };
                var ratio = tool == "ours" ? "" : $"{ourWall / wall:F2}×";
                var isTarget = tool == targetTool;
                yield return Row(title, data, toolName, Sec(wall), $"{Runner.Median(runs, m => m.Metrics["source_bytes"]) / Mb / wall:F0}",
                    Runner.Median(runs, m => m.CpuSeconds).ToString("F1", Inv), MbText((long)Runner.Median(runs, m => m.MaxRssKb)),
                    runs[0].Metrics.ContainsKey("repo_bytes") ? $"{Runner.Median(runs, m => m.Metrics["repo_bytes"]) / Mb:F0}" : "",
                    ratio, isTarget ? target : "", isTarget ? ourWall / wall <= limit : null, runs.Count);
                if (step == "first" && tool == "ours")
                {
                    var l6 = r[Key("first-l6", "ours")];
                    var w6 = Runner.Median(l6, m => m.WallSeconds);
                    yield return Row(title, data, "ours (default --level 6)", Sec(w6), $"{Runner.Median(l6, m => m.Metrics["source_bytes"]) / Mb / w6:F0}",
                        Runner.Median(l6, m => m.CpuSeconds).ToString("F1", Inv), MbText((long)Runner.Median(l6, m => m.MaxRssKb)),
                        $"{Runner.Median(l6, m => m.Metrics["repo_bytes"]) / Mb:F0}", "", "", null, l6.Count);
                }
            }
        }

        var list = r[Key("list", "ours")];
        yield return Row("baseline", data, "ours: `backup list` (start-up, Argon2id unlock, index)", Sec(Runner.Median(list, m => m.WallSeconds)), "",
            Runner.Median(list, m => m.CpuSeconds).ToString("F1", Inv), MbText((long)Runner.Median(list, m => m.MaxRssKb)), "", "", "", null, list.Count);
    }

    private static string Row(string step, string data, string tool, string wall, string rate, string cpu, string rss, string repo, string ratio, string target, bool? met, int runs) =>
        $"| {step} | {data} | {tool} | {wall} | {rate} | {cpu} | {rss} | {repo} | {ratio} | {target} | {(met is null ? "" : met.Value ? "yes" : "**no**")} | {(runs > 0 ? runs.ToString(Inv) : "")} |";

    // ================================================================ the data folder

    /// <summary>What <see cref="PrepareAsync"/> made.</summary>
    public sealed record Prepared
    {
        /// <summary>The prepared data folder (never changed by a run: runs work on a copy).</summary>
        public string Data { get; init; } = "";

        /// <summary>The requested size (bytes of distinct file content).</summary>
        public long Size { get; init; }

        /// <summary>Files in the catalog (duplicates included).</summary>
        public long Catalogued { get; init; }

        /// <summary>Distinct objects in the store.</summary>
        public long Objects { get; init; }

        /// <summary>Text, image, PDF files and duplicate imports.</summary>
        public int Texts { get; init; }

        /// <inheritdoc cref="Texts"/>
        public int Images { get; init; }

        /// <inheritdoc cref="Texts"/>
        public int Pdfs { get; init; }

        /// <inheritdoc cref="Texts"/>
        public int Duplicates { get; init; }

        /// <summary>Bytes of distinct content imported.</summary>
        public long ContentBytes { get; init; }

        /// <summary>Bytes of the whole data folder (objects, database, config, keys).</summary>
        public long FolderBytes { get; init; }

        /// <summary>Bytes of the database.</summary>
        public long DatabaseBytes { get; init; }

        /// <summary>Text, image and PDF sizes, to scale the 1 % change.</summary>
        public long TextBytes { get; init; }
    }

    private sealed record PlanItem(string Name, char Kind, long Size, int ContentSeed);

    /// <summary>
    /// The data folder of one size, made once (deterministic content from the seed; the keys and object names are
    /// random, as a user's would be) under a temporary name and renamed when complete: init, the library database
    /// copied in as mdmai.db, encryption on (default Argon2id), then every file imported through the file store.
    /// </summary>
    public static async Task<Prepared> PrepareAsync(string work, long size, int seed, string library, string name)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(library);
        var home = Path.Combine(work, name);
        var data = Path.Combine(home, "data");
        var manifest = Path.Combine(home, "manifest.json");
        if (Directory.Exists(data) && File.Exists(manifest))
        {
            return JsonSerializer.Deserialize<Prepared>(await File.ReadAllTextAsync(manifest))!;
        }

        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(home);
        var temp = data + ".tmp";
        DeleteFolder(temp);
        var folder = await DataFolder.InitAsync(temp);
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(folder.DatabasePath + suffix);
        }

        File.Copy(library, folder.DatabasePath);
        folder = await folder.EnableEncryptionAsync(Password);

        // The plan: ~3,000 small texts per GB, images for 30 % of the bytes, PDFs of 20–60 MB for the rest; then ~10 % duplicates.
        var random = new Random(HashCode.Combine(seed, size) & int.MaxValue);
        var plan = new List<PlanItem>();
        var texts = (int)Math.Max(20, Math.Round(3000.0 * size / 1e9));
        long textBytes = 0, imageBytes = 0;
        for (var i = 0; i < texts; i++)
        {
            var s = random.Next(1024, (50 * 1024) + 1);
            plan.Add(new PlanItem($"notes-{i:D5}.txt", 't', s, random.Next()));
            textBytes += s;
        }

        var images = 0;
        while (imageBytes < size * 0.30)
        {
            var s = random.Next(100_000, 3_000_001);
            plan.Add(new PlanItem(images % 2 == 0 ? $"map-{images:D4}.png" : $"art-{images:D4}.jpg", images % 2 == 0 ? 'p' : 'j', s, random.Next()));
            imageBytes += s;
            images++;
        }

        var remaining = size - textBytes - imageBytes;
        var pdfs = 0;
        while (remaining >= 5 * Mb)
        {
            var s = Math.Min(random.Next(20 * 1024 * 1024, (60 * 1024 * 1024) + 1), remaining);
            if (remaining - s < 20 * 1024 * 1024 && remaining <= 60 * 1024 * 1024)
            {
                s = remaining;
            }

            plan.Add(new PlanItem($"rulebook-{pdfs:D3}.pdf", 'd', s, random.Next()));
            remaining -= s;
            pdfs++;
        }

        var originals = plan.Count;
        var duplicates = (int)Math.Round(originals * 0.10);
        var pdfItems = plan.Where(x => x.Kind == 'd').ToList();
        var copies = new List<PlanItem>();
        for (var i = 0; i < duplicates; i++)
        {
            // The same rulebook imported twice under another name; the rest any file.
            var of = i < Math.Min(2, pdfItems.Count) ? pdfItems[i] : plan[random.Next(originals)];
            copies.Add(of with { Name = $"copy {i:D4} of {of.Name}" });
        }

        var keyFile = await KeyFile.LoadAsync(folder.KeyFilePath);
        using (var keys = keyFile.Unlock(Password))
        {
            await using var db = await folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys });
            var store = new FileStore(db, folder.Path, keys);
            Datasets.Log($"backup: importing {originals:N0} files ({texts:N0} texts, {images:N0} images, {pdfs:N0} PDFs, {size / 1e9:F2} GB) and {duplicates:N0} duplicates into {temp}…");
            await ImportAsync(store, plan);
            await ImportAsync(store, copies);
        }

        var stats = await CountObjectsAsync(folder);
        Directory.Move(temp, data);
        var prepared = new Prepared
        {
            Data = data, Size = size, Catalogued = originals + duplicates, Objects = stats, Texts = texts, Images = images, Pdfs = pdfs,
            Duplicates = duplicates, ContentBytes = size - remaining, FolderBytes = FolderBytes(data),
            DatabaseBytes = new FileInfo(Path.Combine(data, DataFolder.DatabaseFileName)).Length, TextBytes = textBytes,
        };
        await File.WriteAllTextAsync(manifest, JsonSerializer.Serialize(prepared, Indented));
        Datasets.Log($"backup: made {data} in {stopwatch.Elapsed.TotalSeconds:F0} s: {prepared.Catalogued:N0} files, {prepared.Objects:N0} objects, folder {prepared.FolderBytes / 1e9:F2} GB (database {prepared.DatabaseBytes / 1e6:F0} MB)");
        return prepared;
    }

    private static async Task<long> CountObjectsAsync(DataFolder folder)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = folder.DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM objects";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static Task ImportAsync(FileStore store, List<PlanItem> items) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (item, ct) =>
        {
            await using var stream = Content(item);
            await store.ImportAsync(stream, item.Name, cancellationToken: ct);
        });

    /// <summary>The content of a planned file: pseudo-English text, or random bytes behind a PNG, JPEG or PDF header.</summary>
    private static Stream Content(PlanItem item)
    {
        if (item.Kind == 't')
        {
            var text = new DataGenerator.TextMaker(new Random(item.ContentSeed));
            var builder = new StringBuilder((int)item.Size + 512);
            while (builder.Length < item.Size)
            {
                builder.Append(text.Sentence()).Append(builder.Length % 7 == 0 ? "\n\n" : " ");
            }

            var bytes = Encoding.UTF8.GetBytes(builder.ToString());
            return new MemoryStream(bytes, 0, (int)Math.Min(bytes.Length, item.Size), writable: false);
        }

        var header = item.Kind switch
        {
            'p' => Png(item.ContentSeed),
            'j' => Jpeg(item.ContentSeed),
            _ => "%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n"u8.ToArray(),
        };
        return new GeneratedStream(header, item.Size, item.ContentSeed);
    }

    private static byte[] Png(int seed)
    {
        var header = new byte[33];
        new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R' }.CopyTo(header, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(16), 800 + (seed % 2000));
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(20), 600 + (seed % 1500));
        header[24] = 8;
        header[25] = 2;
        return header;
    }

    private static byte[] Jpeg(int seed)
    {
        byte[] header = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
            0xFF, 0xC0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(25), (ushort)(600 + (seed % 1500)));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(27), (ushort)(800 + (seed % 2000)));
        return header;
    }

    /// <summary>A header, then seeded random bytes, up to a length; not seekable (so the store does not parse a "PDF").</summary>
    private sealed class GeneratedStream(byte[] header, long length, int seed) : Stream
    {
        private readonly Random _random = new(seed);
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            if (n <= 0)
            {
                return 0;
            }

            var span = buffer[..n];
            var fromHeader = 0;
            if (_position < header.Length)
            {
                fromHeader = (int)Math.Min(n, header.Length - _position);
                header.AsSpan((int)_position, fromHeader).CopyTo(span);
            }

            _random.NextBytes(span[fromHeader..]);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>
    /// The 1 % change, the same every run, through the library: deletes every 100th stored file (by name), imports
    /// new files (1 % of the texts, and images up to 1 % of the bytes), and renames every 100th row of the entity tables.
    /// </summary>
    private static async Task<string> ApplyChangeAsync(string data, Prepared p, int seed)
    {
        var folder = await DataFolder.OpenAsync(data);
        var keyFile = await KeyFile.LoadAsync(folder.KeyFilePath);
        using var keys = keyFile.Unlock(Password);
        await using var db = await folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys });
        var store = new FileStore(db, folder.Path, keys);
        var all = new List<StoredFile>();
        for (var offset = 0; ; offset += 1000)
        {
            var page = await store.ListAsync(sortBy: "name", descending: false, limit: 1000, offset: offset);
            all.AddRange(page.Items);
            if (page.Items.Count < 1000)
            {
                break;
            }
        }

        var deleted = 0;
        for (var i = 50; i < all.Count; i += 100)
        {
            await store.DeleteAsync(all[i].Id);
            deleted++;
        }

        var random = new Random(seed + 1);
        var plan = new List<PlanItem>();
        long bytes = 0;
        for (var i = 0; i < Math.Max(1, p.Texts / 100); i++)
        {
            var s = random.Next(1024, (50 * 1024) + 1);
            plan.Add(new PlanItem($"new-notes-{i:D4}.txt", 't', s, random.Next()));
            bytes += s;
        }

        for (var i = 0; bytes < p.ContentBytes / 100; i++)
        {
            var s = random.Next(100_000, 3_000_001);
            plan.Add(new PlanItem($"new-map-{i:D4}.png", 'p', s, random.Next()));
            bytes += s;
        }

        await ImportAsync(store, plan);

        var rows = 0;
        await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = folder.DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
        {
            await connection.OpenAsync();
            var patches = new List<Task>();
            foreach (var (table, field) in new[] { ("campaigns", "name"), ("characters", "name"), ("npcs", "name"), ("sessions", "title"), ("locations", "name"), ("items", "name"), ("spells", "name") })
            {
                await using var command = connection.CreateCommand();
                command.CommandText = $"SELECT id, {field} FROM {table} ORDER BY id";
                await using var reader = await command.ExecuteReaderAsync();
                var n = 0;
                while (await reader.ReadAsync())
                {
                    if (n++ % 100 != 0)
                    {
                        continue;
                    }

                    var id = Guid.Parse(reader.GetString(0));
                    var changes = new JsonObject { [field] = "Revised " + reader.GetString(1) };
                    patches.Add(table switch
                    {
                        "campaigns" => db.Campaigns.PatchAsync(id, changes),
                        "characters" => db.Characters.PatchAsync(id, changes),
                        "npcs" => db.Npcs.PatchAsync(id, changes),
                        "sessions" => db.Sessions.PatchAsync(id, changes),
                        "locations" => db.Locations.PatchAsync(id, changes),
                        "items" => db.Items.PatchAsync(id, changes),
                        _ => db.Spells.PatchAsync(id, changes),
                    });
                    rows++;
                }
            }

            await Task.WhenAll(patches);
        }

        return $"{deleted} files deleted (of {all.Count:N0}), {plan.Count} imported ({bytes / 1e6:F1} MB), {rows:N0} database rows updated";
    }

    // ================================================================ backup-kill

    /// <summary>One kill trial.</summary>
    public sealed record KillTrial(int Trial, string Kind, double KillAtSeconds, bool Killed, int TmpAfterKill, int LocksAfterKill, int VerifyExit, bool VerifyPassed, string VerifyNote,
        long UnindexedAfterKill, long UnindexedLeft, int NextExit, int AfterVerifyExit, int TmpFiles, long UnindexedPacks, int KeyFiles, int TmpAfterPrune, int PruneExit, int VerifyAfterPruneExit);

    /// <summary>Runs <c>backup-kill</c>.</summary>
    public static async Task<int> RunKillAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var trials = (int)o.GetLong("trials", 20);
        var size = ParseSize(o.Get("kill-size", "200m"));
        var rows = o.GetLong("kill-rows", 10_000);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var cli = new Cli(FindCli(o));
        var total = Stopwatch.StartNew();
        var library = await new Datasets(work, seed).LibraryAsync(rows);
        var name = $"backup-kill-{SizeLabel(size)}-{Datasets.Label(rows)}-s{seed}";
        var prepared = await PrepareAsync(work, size, seed, library, name);
        var extra = MakeExtra(Path.Combine(work, name, "extra"), seed);
        var dir = Path.Combine(work, "runs", "backup-kill");
        DeleteFolder(dir);
        Directory.CreateDirectory(dir);
        var data = Path.Combine(dir, "data");
        CopyDataFolder(prepared.Data, data);
        Environment.SetEnvironmentVariable("MDMAI_PASSWORD", Password);

        // Normal durations (whole process): a first backup, and a backup with --include of new data into a repository that has one snapshot.
        var calibration = Path.Combine(dir, "calibration");
        string[] Create(string repo, bool include) => include
            ? ["--data-dir", data, "--json", "backup", "create", "--repo", repo, "--include", extra]
            : ["--data-dir", data, "--json", "backup", "create", "--repo", repo];
        // The median of three of each (a single run on this shared machine can be far off, and kills after the end test nothing).
        var firstRuns = new List<Measurement>();
        var includeRuns = new List<Measurement>();
        for (var i = 0; i < 3; i++)
        {
            firstRuns.Add(cli.Run(Create(calibration, false)));
            includeRuns.Add(cli.Run(Create(calibration, true)));
            DeleteFolder(calibration);
        }

        var firstDuration = Runner.Median(firstRuns, m => m.WallSeconds);
        var includeDuration = Runner.Median(includeRuns, m => m.WallSeconds);
        static double Median(IEnumerable<double> values) => Runner.Median(values.Select(v => new Measurement { WallSeconds = v }), m => m.WallSeconds);
        Datasets.Log($"backup-kill: folder {prepared.FolderBytes / 1e6:F0} MB (+ {FolderBytes(extra) / 1e6:F0} MB to --include); normal durations: first backup {firstDuration:F2} s, backup with --include {includeDuration:F2} s");

        var random = new Random(seed + 2);
        var results = new List<KillTrial>();
        string? repository = null;
        long unindexedBefore = 0;
        // Until --trials backups were really killed (an attempt the backup outlives is recorded, not counted; at most 3× attempts).
        // The kill moment is uniform in [0, D), D the median of the last three normal runs of that kind (the calibration, then
        // each trial's "next backup"), so it follows the load of this shared machine.
        var durations = new Dictionary<bool, List<double>> { [false] = [.. firstRuns.Select(m => m.WallSeconds)], [true] = [.. includeRuns.Select(m => m.WallSeconds)] };
        double Recent(bool include) => Median(durations[include].TakeLast(3));
        var killedCount = 0;
        var last = false;
        for (var t = 1; !last && t <= 3 * trials; t++)
        {
            var fresh = t % 2 == 1;
            if (fresh)
            {
                repository = Path.Combine(dir, $"repo-{t:D2}");
                unindexedBefore = 0;
            }

            var duration = Recent(!fresh);
            var killAt = random.NextDouble() * duration;
            var tmpBefore = CountTemp(repository!);
            var killed = cli.StartAndKill(Create(repository!, !fresh), killAt);
            var tmpAfterKill = CountTemp(repository!) - tmpBefore; // what this kill left (the trial before may have left some too)
            var locksAfterKill = Directory.Exists(Path.Combine(repository!, "locks")) ? Directory.GetFiles(Path.Combine(repository!, "locks")).Length : 0;
            var (verifyExit, verifyOutput) = cli.Exec("--json", "backup", "verify", "--read-data", "--repo", repository!);
            var noRepository = verifyExit == 5 && !File.Exists(Path.Combine(repository!, "config"));
            var verifyNote = verifyExit == 0 ? "" : noRepository ? "no repository yet (killed before its config was written)" : "FAILED";
            if (killed)
            {
                killedCount++;
            }

            last = killedCount >= trials && !fresh; // end after a whole pair
            var nextClock = Stopwatch.StartNew();
            var (nextExit, _) = cli.Exec(Create(repository!, !fresh));
            if (killed && nextExit == 0)
            {
                // After a kill the next backup redoes the whole run (blobs in unindexed packs are not known); after a finished one it would have nothing to do.
                durations[!fresh].Add(nextClock.Elapsed.TotalSeconds);
            }

            var (afterExit, afterOutput) = cli.Exec("--json", "backup", "verify", "--read-data", "--repo", repository!);
            var unindexed = JsonLong(afterOutput, "unindexed_packs");
            var tmp = CountTemp(repository!);
            var keyFiles = Directory.Exists(Path.Combine(repository!, "keys")) ? Directory.GetFiles(Path.Combine(repository!, "keys")).Length : 0;
            var unindexedAfterKill = JsonLong(verifyOutput, "unindexed_packs");
            var unindexedLeft = Math.Max(0, unindexedAfterKill - unindexedBefore); // packs this kill left complete but unindexed
            unindexedBefore = Math.Max(unindexedBefore, unindexed);
            int prune = -1, tmpAfterPrune = -1, verifyAfterPrune = -1;
            if (!fresh || last)
            {
                (prune, _) = cli.Exec("--json", "backup", "prune", "--repo", repository!);
                tmpAfterPrune = CountTemp(repository!);
                (verifyAfterPrune, _) = cli.Exec("--json", "backup", "verify", "--read-data", "--repo", repository!);
                DeleteFolder(repository!);
            }

            var trial = new KillTrial(t, fresh ? "first backup (new repository)" : "backup --include (repository with 1 snapshot)", killAt, killed, tmpAfterKill, locksAfterKill, verifyExit,
                verifyExit == 0 || noRepository, verifyNote, unindexedAfterKill, unindexedLeft, nextExit, afterExit, tmp, unindexed, keyFiles, tmpAfterPrune, prune, verifyAfterPrune);
            results.Add(trial);
            Datasets.Log($"backup-kill trial {t}/{trials}: {trial.Kind}, kill at {killAt:F2} s ({(killed ? "killed" : "had finished")}; left {tmpAfterKill} .tmp, {locksAfterKill} lock(s)); verify {verifyExit} (unindexed packs {trial.UnindexedAfterKill}){(verifyNote.Length > 0 ? $" ({verifyNote})" : "")}; next backup {nextExit}; verify after {afterExit} (unindexed packs {unindexed}); .tmp files {tmp}"
                + (prune >= 0 ? $"; prune {prune}, .tmp after prune {tmpAfterPrune}, verify after prune {verifyAfterPrune}" : ""));
        }

        var staged = Directory.Exists(Path.Combine(data, "tmp")) ? Directory.GetFiles(Path.Combine(data, "tmp")) : [];
        var stagedBytes = staged.Sum(f => new FileInfo(f).Length);
        var failures = results.Count(r => !r.VerifyPassed || r.NextExit != 0 || r.AfterVerifyExit != 0 || (r.PruneExit >= 0 && (r.PruneExit != 0 || r.VerifyAfterPruneExit != 0 || r.TmpAfterPrune != 0)));
        var report = new StringBuilder();
        report.AppendLine(Inv, $"## backup-kill ({DateTime.Now:yyyy-MM-dd HH:mm}, --trials {trials}: {results.Count} attempts, {results.Count(r => r.Killed)} killed, seed {seed}, total {total.Elapsed.TotalMinutes:F1} min)");
        report.AppendLine();
        report.AppendLine(Inv, $"- data folder {prepared.FolderBytes / 1e6:F0} MB ({prepared.Catalogued:N0} files, database {prepared.DatabaseBytes / 1e6:F0} MB, {Datasets.Label(rows)} rows), encrypted; --include folder {FolderBytes(extra) / 1e6:F0} MB");
        report.AppendLine(Inv, $"- ours: {cli.Description}");
        report.AppendLine(Inv, $"- normal durations (whole process, median of 3 before the trials): first backup {firstDuration:F2} s; backup with --include into a repository with one snapshot {includeDuration:F2} s. SIGKILL at a seeded uniform moment in [0, D), D = median of the last 3 normal runs of that kind (the next backups after kills count), so D follows the machine's load; an attempt that finished before its kill is listed but not counted, and attempts go on until --trials backups were killed");
        report.AppendLine("- odd trials kill the first backup of a new repository; even trials kill a backup with new data (--include) into the repository of the trial before (which holds one complete snapshot); after each pair: `backup prune`, .tmp count, verify again");
        report.AppendLine();
        report.AppendLine("| attempts | killed mid-run | verify --read-data passed | next backup completed | verify after next backup passed | failures | left by the kills: .tmp files / stale locks / complete unindexed packs (in N trials) | .tmp files in the repository after the next backup (sum over trials) | orphan key files (interrupted init) | .tmp after prune | staged database copies left in data/tmp |");
        report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        report.AppendLine(Inv, $"| {results.Count} | {results.Count(r => r.Killed)} | {results.Count(r => r.VerifyPassed)} ({results.Count(r => r.VerifyNote.StartsWith("no repository", StringComparison.Ordinal))} before the repository existed) | {results.Count(r => r.NextExit == 0)} | {results.Count(r => r.AfterVerifyExit == 0)} | {failures} | {results.Sum(r => r.TmpAfterKill)} / {results.Sum(r => r.LocksAfterKill)} / {results.Sum(r => r.UnindexedLeft)} ({results.Count(r => r.UnindexedLeft > 0)}) | {results.Sum(r => r.TmpFiles)} | {results.Where(r => r.Kind.StartsWith("first", StringComparison.Ordinal)).Sum(r => Math.Max(0, r.KeyFiles - 1))} | {results.Where(r => r.TmpAfterPrune >= 0).Sum(r => r.TmpAfterPrune)} | {staged.Length} ({stagedBytes / 1e6:F0} MB) |");
        report.AppendLine();
        report.AppendLine("| trial | kind | kill at s | killed | left by the kill: .tmp / locks | verify exit (unindexed packs) | next backup exit | verify after exit (unindexed packs) | .tmp in the repository | prune exit | .tmp after prune | verify after prune |");
        report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            report.AppendLine(Inv, $"| {r.Trial} | {r.Kind} | {r.KillAtSeconds:F2} | {(r.Killed ? "yes" : "finished")} | {r.TmpAfterKill} / {r.LocksAfterKill} | {r.VerifyExit}{(r.VerifyNote.Length > 0 ? $" ({r.VerifyNote})" : $" ({r.UnindexedAfterKill})")} | {r.NextExit} | {r.AfterVerifyExit} ({r.UnindexedPacks}) | {r.TmpFiles} | {(r.PruneExit >= 0 ? r.PruneExit.ToString(Inv) : "")} | {(r.TmpAfterPrune >= 0 ? r.TmpAfterPrune.ToString(Inv) : "")} | {(r.VerifyAfterPruneExit >= 0 ? r.VerifyAfterPruneExit.ToString(Inv) : "")} |");
        }

        Console.WriteLine(report);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        await File.WriteAllTextAsync(Path.Combine(work, $"results-backup-kill-{stamp}.md"), report.ToString());
        await File.WriteAllTextAsync(Path.Combine(work, $"results-backup-kill-{stamp}.json"), JsonSerializer.Serialize(new { firstDuration, includeDuration, results, staged_files = staged.Length, staged_bytes = stagedBytes }, Indented));
        DeleteFolder(dir);
        return failures == 0 ? 0 : 1;
    }

    /// <summary>A folder of new, incompressible data (24 files of 1–4 MB) for the --include backups of the kill test.</summary>
    private static string MakeExtra(string folder, int seed)
    {
        if (Directory.Exists(folder))
        {
            return folder;
        }

        var temp = folder + ".tmp";
        DeleteFolder(temp);
        Directory.CreateDirectory(temp);
        var random = new Random(seed + 3);
        for (var i = 0; i < 24; i++)
        {
            var bytes = new byte[random.Next(1024 * 1024, (4 * 1024 * 1024) + 1)];
            random.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(temp, $"handout-{i:D2}.bin"), bytes);
        }

        Directory.Move(temp, folder);
        return folder;
    }

    private static int CountTemp(string repository) =>
        Directory.Exists(repository) ? Directory.EnumerateFiles(repository, "*.tmp", SearchOption.AllDirectories).Count() : 0;

    private static long JsonLong(string output, string name)
    {
        try
        {
            return JsonNode.Parse(output)?[name] is JsonValue v && v.TryGetValue<long>(out var n) ? n : -1;
        }
        catch (JsonException)
        {
            return -1;
        }
    }

    // ================================================================ helpers

    /// <summary>Our CLI: the native executable as published (or, given a <c>mdmai.dll</c>, <c>dotnet mdmai.dll ...</c>).</summary>
    internal sealed class Cli(string path)
    {
        private static string DotnetHost => Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

        private bool Managed => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);

        /// <summary>The program to start and the arguments before ours.</summary>
        private (string Program, string[] Prefix) Command => Managed ? (DotnetHost, [path]) : (path, []);

        /// <summary>The program and the arguments before ours, quoted for sh (for a command line with redirections).</summary>
        public string ShellCommand => string.Join(' ', new[] { Command.Program }.Concat(Command.Prefix).Select(ProcessMeter.Quote));

        /// <summary>What runs, for the report.</summary>
        public string Description => Managed ? $"dotnet {path} (JIT)" : $"{path} (native AOT)";

        /// <summary>Runs and measures it (under GNU time); a non-zero exit throws.</summary>
        public Measurement Run(params string[] args) => ProcessMeter.Run(Command.Program, [.. Command.Prefix, .. args], parseResult: false);

        /// <summary>How to start it with <paramref name="args"/> (standard output and error redirected).</summary>
        public ProcessStartInfo StartInfo(params string[] args)
        {
            var info = new ProcessStartInfo(Command.Program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in Command.Prefix.Concat(args))
            {
                info.ArgumentList.Add(a);
            }

            return info;
        }

        /// <summary>Runs it unmeasured and returns its exit code and stdout.</summary>
        public (int Exit, string Output) Exec(params string[] args)
        {
            using var process = Process.Start(StartInfo(args))!;
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                Datasets.Log($"  mdmai {string.Join(' ', args.Where(a => a != "--json"))} exited with {process.ExitCode}: {Last(error.Result)}{Last(output)}");
            }

            return (process.ExitCode, output);
        }

        /// <summary>Starts it and sends SIGKILL after <paramref name="seconds"/>; false when it had finished by then (it must have succeeded).</summary>
        public bool StartAndKill(string[] args, double seconds)
        {
            using var process = Process.Start(StartInfo(args))!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (process.WaitForExit(TimeSpan.FromSeconds(seconds)))
            {
                process.WaitForExit();
                Check(process.ExitCode == 0, $"backup-kill: the backup finished before the kill with exit {process.ExitCode}: {Last(error.Result)}");
                return false;
            }

            process.Kill(); // SIGKILL
            process.WaitForExit();
            _ = output.Result;
            return true;
        }

        private static string Last(string text) => text.Length > 500 ? text[^500..].Trim() : text.Trim();
    }

    internal static string FindCli(Options o)
    {
        if (o.Has("mdmai"))
        {
            return Path.GetFullPath(o.Get("mdmai", ""));
        }

        // The shipped CLI is the native one (`dotnet publish src/Mdmai.Cli -c Release -r linux-x64`); the JIT build is
        // only a fallback, and the report says which ran.
        string[] candidates = [Path.Combine("bin", "Release", "net10.0", "linux-x64", "publish", "mdmai"), Path.Combine("bin", "Release", "net10.0", "mdmai.dll")];
        foreach (var candidate in candidates)
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                var path = Path.Combine(folder.FullName, "src", "Mdmai.Cli", candidate);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        throw new InvalidOperationException("mdmai not found: publish the CLI first (dotnet publish src/Mdmai.Cli -c Release -r linux-x64) or give --mdmai PATH.");
    }

    /// <summary>A working copy: the store's objects (written once, never modified) as hard links, everything else copied.</summary>
    internal static void CopyDataFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in Directory.EnumerateFileSystemEntries(from))
        {
            var name = Path.GetFileName(entry);
            Exec("cp", name == "objects" ? "-al" : "-a", entry, Path.Combine(to, name));
        }

        NativeMethods.Sync();
    }

    /// <summary>Fails with how to install <paramref name="tool"/> when it is not on the PATH.</summary>
    internal static void Require(string tool, string install)
    {
        if (Tool(tool) is null)
        {
            throw new InvalidOperationException($"{tool} is not installed ({install}).");
        }
    }

    /// <summary>Runs a command for its effect, ignoring its exit code (clean-up between runs).</summary>
    internal static void TryExec(string file, params string[] args)
    {
        try
        {
            Exec(file, args);
        }
        catch (InvalidOperationException)
        {
            // best effort
        }
    }

    internal static void Exec(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {error.Result}");
        }
    }

    /// <summary>
    /// Where restores are written: <c>--restore-dir DIR</c>, else <paramref name="fallback"/>. On ext4 without a journal
    /// (as on the reference VM's root) creating many files soon after as many were deleted runs into the kernel's
    /// scan for recently deleted inodes (<c>recently_deleted</c> in <c>find_inode_bit</c>): a restore of 60k files
    /// after deleting the last one took 27–30 s, 40 s of it system time, instead of 5 s — for every tool alike. Point it
    /// at a journaled file system (as users' disks are) to measure the restore rather than that.
    /// </summary>
    internal static string RestoreRoot(Options o, string fallback)
    {
        var root = Path.GetFullPath(o.Get("restore-dir", fallback));
        Directory.CreateDirectory(root);
        return root;
    }

    internal static void DeleteFolder(string folder)
    {
        if (Directory.Exists(folder))
        {
            Exec("rm", "-rf", folder);
        }
    }

    /// <summary>Bytes of the regular files under a folder (its tmp folder left out, as every tool sees it empty).</summary>
    internal static long FolderBytes(string folder) => Tree(folder).Bytes;

    private static (long Files, long Bytes) Tree(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return (0, 0);
        }

        long files = 0, bytes = 0;
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            files++;
            bytes += file.Length;
        }

        return (files, bytes);
    }

    /// <summary>Parses 200m, 1g, 5g, 1.5g (decimal units) or a byte count.</summary>
    public static long ParseSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        var unit = t.EndsWith('g') ? 1e9 : t.EndsWith('m') ? 1e6 : t.EndsWith('k') ? 1e3 : 1;
        return double.TryParse(unit > 1 ? t[..^1] : t, NumberStyles.Float, Inv, out var n) && n > 0
            ? (long)(n * unit)
            : throw new ArgumentException($"--backup-size: '{text}' is not a size (e.g. 1g, 5g, 200m).");
    }

    internal static string SizeLabel(long size) => size % 1_000_000_000 == 0 ? $"{size / 1_000_000_000}g" : size % 1_000_000 == 0 ? $"{size / 1_000_000}m" : size.ToString(Inv);

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new InvalidOperationException(message);
        }
    }

    private static string Sec(double s) => s.ToString(s < 10 ? "F2" : "F1", Inv);

    private static string MbText(long kb) => kb < 0 ? "?" : $"{kb / 1024.0:F0} MB";

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string? Tool(string name) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, name))
        .FirstOrDefault(File.Exists);

    internal static string Capture(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return text.Replace("*** ", "", StringComparison.Ordinal).Replace(" ***", "", StringComparison.Ordinal);
    }
}
