using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.Bench;

/// <summary>
/// <c>s3</c>: backups to S3 against restic's own S3 backend and <c>rclone copy</c>, on the project's Ceph gateway
/// (<c>scripts/s3-start.sh</c>), every tool on the same gateway in the same run: first backup, no-change backup and
/// restore of the 1 GB / 5 GB data folders and of a tree of many small files; <c>backup copy</c> of a local repository
/// to S3 against <c>rclone copy</c> of that repository's folder. Requests are counted by the gateway itself (its ops
/// log), by kind, for every tool alike. <c>s3-kill</c>: backups to S3 killed with SIGKILL, or cut off from the
/// gateway, at random moments. See docs/benchmarks.md.
/// </summary>
internal static class S3Scenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    // ================================================================ the gateway

    /// <summary>The gateway: the one <c>MDMAI_TEST_S3_*</c> names, else the project's, started (or found running) by its script.</summary>
    internal sealed record Gateway(Uri Endpoint, string AccessKey, string SecretKey, string? OpsLog)
    {
        public static Gateway Start()
        {
            if (Environment.GetEnvironmentVariable("MDMAI_TEST_S3_ENDPOINT") is { Length: > 0 } endpoint)
            {
                var dir = Environment.GetEnvironmentVariable("MDMAI_TEST_S3_DIR");
                return new Gateway(new Uri(endpoint), Environment.GetEnvironmentVariable("MDMAI_TEST_S3_ACCESS_KEY")!, Environment.GetEnvironmentVariable("MDMAI_TEST_S3_SECRET_KEY")!,
                    dir is null ? null : Path.Combine(dir, "log", "ops.log"));
            }

            var script = Path.Combine(RepositoryRoot(), "scripts", "s3-start.sh");
            var info = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, UseShellExecute = false };
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"scripts/s3-start.sh failed ({process.ExitCode}).");
            }

            var values = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
            return new Gateway(new Uri(values["MDMAI_TEST_S3_ENDPOINT"]), values["MDMAI_TEST_S3_ACCESS_KEY"], values["MDMAI_TEST_S3_SECRET_KEY"], Path.Combine(values["MDMAI_TEST_S3_DIR"], "log", "ops.log"));
        }

        /// <summary>Every tool reads the same variables: ours and restic the AWS ones, rclone a remote named <c>ceph</c> from its own.</summary>
        public void Export(Uri? through = null)
        {
            var endpoint = (through ?? Endpoint).ToString().TrimEnd('/');
            Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL_S3", endpoint);
            Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", AccessKey);
            Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", SecretKey);
            Environment.SetEnvironmentVariable("AWS_CA_BUNDLE", null); // rclone 1.60 fails on it ("unsupported transport")
            Environment.SetEnvironmentVariable("RCLONE_CONFIG_CEPH_TYPE", "s3");
            Environment.SetEnvironmentVariable("RCLONE_CONFIG_CEPH_PROVIDER", "Ceph");
            Environment.SetEnvironmentVariable("RCLONE_CONFIG_CEPH_ENDPOINT", endpoint);
            Environment.SetEnvironmentVariable("RCLONE_CONFIG_CEPH_ACCESS_KEY_ID", AccessKey);
            Environment.SetEnvironmentVariable("RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY", SecretKey);
            Environment.SetEnvironmentVariable("RCLONE_CONFIG_CEPH_FORCE_PATH_STYLE", "true");
        }

        public string Restic(string bucket) => $"s3:{Endpoint.ToString().TrimEnd('/')}/{bucket}";

        /// <summary>Where the ops log ends now (read again after a step to count that step's requests).</summary>
        public long Mark() => OpsLog is not null && File.Exists(OpsLog) ? new FileInfo(OpsLog).Length : 0;

        /// <summary>The requests the gateway served for <paramref name="bucket"/> since <paramref name="mark"/>, by kind.</summary>
        public BackendRequests Requests(long mark, string bucket)
        {
            if (OpsLog is null || !File.Exists(OpsLog))
            {
                return default;
            }

            Thread.Sleep(300); // the gateway appends its lines a moment after answering
            using var file = new FileStream(OpsLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            file.Position = Math.Min(mark, file.Length);
            using var reader = new StreamReader(file);
            long put = 0, get = 0, list = 0, head = 0, delete = 0;
            while (reader.ReadLine() is { } line)
            {
                JsonNode? op;
                try
                {
                    op = JsonNode.Parse(line);
                }
                catch (JsonException)
                {
                    continue;
                }

                if (op?["bucket"]?.GetValue<string>() != bucket)
                {
                    continue;
                }

                var operation = op["operation"]?.GetValue<string>() ?? "";
                var method = (op["uri"]?.GetValue<string>() ?? "").Split(' ')[0];
                if (operation.StartsWith("list", StringComparison.Ordinal))
                {
                    list++;
                }
                else
                {
                    switch (method)
                    {
                        case "PUT" or "POST": put++; break;
                        case "GET": get++; break;
                        case "HEAD": head++; break;
                        case "DELETE": delete++; break;
                    }
                }
            }

            return new BackendRequests(put, get, list, head, delete);
        }

        /// <summary>Empties and removes a bucket, and has the gateway give the space back now (untimed, between runs).</summary>
        public void Drop(string bucket)
        {
            BackupScenario.TryExec("rclone", "purge", $"ceph:{bucket}");
            if (OpsLog is not null)
            {
                var conf = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(OpsLog)!)!, "ceph.conf");
                BackupScenario.TryExec("radosgw-admin", "-c", conf, "gc", "process", "--include-all");
            }
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mdmai.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Mdmai.slnx) was not found above the benchmark.");
    }

    private static string Text(BackendRequests r) => $"{r.Total} ({r.Put} PUT, {r.Get} GET, {r.List} LIST, {r.Head} HEAD, {r.Delete} DEL)";

    // ================================================================ s3

    private sealed record DataSet(string Label, string Data, string? Tree, long Bytes, long Files);

    public static async Task<int> RunAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var sizes = o.Get("s3-size", "1g").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BackupScenario.ParseSize).Order().ToList();
        var treeFiles = (int)SmallFilesScenario.ParseCount(o.Get("tree-files", "60k"));
        var runs = (int)o.GetLong("runs", 3);
        var bigRuns = (int)o.GetLong("big-runs", runs);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var cli = new BackupScenario.Cli(BackupScenario.FindCli(o));
        var restoreRoot = BackupScenario.RestoreRoot(o, Path.Combine(work, "runs", "s3"));
        foreach (var tool in new[] { "restic", "rclone" })
        {
            BackupScenario.Require(tool, "apt-get install -y restic rclone");
        }

        var gateway = Gateway.Start();
        gateway.Export();
        var total = Stopwatch.StartNew();
        var sets = new List<DataSet>();
        var library = await new Datasets(work, seed).LibraryAsync(o.GetLong("backup-rows", 100_000));
        foreach (var size in sizes)
        {
            var p = await BackupScenario.PrepareAsync(work, size, seed, library, $"backup-{BackupScenario.SizeLabel(size)}-{Datasets.Label(o.GetLong("backup-rows", 100_000))}-s{seed}");
            sets.Add(new DataSet(BackupScenario.SizeLabel(size), p.Data, null, p.FolderBytes, p.Catalogued));
        }

        if (treeFiles > 0)
        {
            sets.Add(await TreeAsync(work, treeFiles, seed, cli));
        }

        var rows = new List<string>();
        var raw = new Dictionary<string, object>(StringComparer.Ordinal);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        foreach (var set in sets)
        {
            var n = set == sets[^1] || set.Tree is null && set.Bytes >= 4_000_000_000 ? bigRuns : runs;
            var results = RunSet(work, restoreRoot, cli, gateway, set, n);
            rows.AddRange(Rows(set, results));
            raw[set.Label] = results;
            await ReportAsync(false);
        }

        await ReportAsync(true);
        return 0;

        async Task ReportAsync(bool last)
        {
            var report = new StringBuilder();
            report.AppendLine(Inv, $"## s3 ({DateTime.Now:yyyy-MM-dd HH:mm}, --s3-size {string.Join(',', sizes.Select(BackupScenario.SizeLabel))}, --tree-files {treeFiles}, --runs {runs}, --big-runs {bigRuns}, seed {seed}, total {total.Elapsed.TotalMinutes:F1} min{(last ? "" : ", partial")})");
            report.AppendLine();
            report.AppendLine(Inv, $"- machine: {Environment.ProcessorCount} cores (shared by the tools and the gateway), load average at the end {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; gateway {gateway.Endpoint} (Ceph RGW, one OSD on bluestore)");
            report.AppendLine(Inv, $"- restores into {restoreRoot}");
            report.AppendLine(Inv, $"- ours: {cli.Description}; {BackupScenario.Capture("restic", "version")}; {BackupScenario.Capture("rclone", "version").Split('\n')[0]}");
            report.AppendLine("- requests as the gateway's ops log counts them for each tool's bucket (PUT includes POST; LIST is any listing)");
            report.AppendLine();
            report.AppendLine("| step | data | tool | wall s | MB/s | CPU s | peak RSS | requests | ours ÷ peer | target | met | runs |");
            report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var row in rows)
            {
                report.AppendLine(row);
            }

            if (last)
            {
                Console.WriteLine(report);
            }

            await File.WriteAllTextAsync(Path.Combine(work, $"results-s3-{stamp}.md"), report.ToString());
            await File.WriteAllTextAsync(Path.Combine(work, $"results-s3-{stamp}.json"), JsonSerializer.Serialize(raw, Indented));
        }
    }

    /// <summary>The tree of many small files beside an empty encrypted data folder (ours backs it up with --include).</summary>
    private static async Task<DataSet> TreeAsync(string work, int files, int seed, BackupScenario.Cli cli)
    {
        var home = Path.Combine(work, $"s3-tree-{files}-s{seed}-v2"); // v2: the tree's near-copies as fixed on 2026-12-06
        var tree = Path.Combine(home, "tree");
        var data = Path.Combine(home, "data");
        var done = Path.Combine(home, "done");
        if (!File.Exists(done))
        {
            BackupScenario.DeleteFolder(home);
            Directory.CreateDirectory(home);
            SmallFilesTree.Write(tree, files, 1, seed);
            Environment.SetEnvironmentVariable("MDMAI_PASSWORD", BackupScenario.Password);
            cli.Exec("--data-dir", data, "init", "--encrypt");
            await File.WriteAllTextAsync(done, "");
        }

        var count = Directory.EnumerateFiles(tree, "*", SearchOption.AllDirectories).LongCount();
        return new DataSet($"tree {files / 1000}k", data, tree, BackupScenario.FolderBytes(tree), count);
    }

    private static Dictionary<string, List<Measurement>> RunSet(string work, string restoreRoot, BackupScenario.Cli cli, Gateway gateway, DataSet set, int runs)
    {
        var results = new Dictionary<string, List<Measurement>>(StringComparer.Ordinal);
        for (var run = 1; run <= runs; run++)
        {
            var dir = Path.Combine(work, "runs", "s3");
            BackupScenario.DeleteFolder(dir);
            Directory.CreateDirectory(dir);
            var data = Path.Combine(dir, "data");
            BackupScenario.CopyDataFolder(set.Data, data);
            Environment.SetEnvironmentVariable("MDMAI_PASSWORD", BackupScenario.Password);
            Environment.SetEnvironmentVariable("RESTIC_PASSWORD", BackupScenario.Password);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", Path.Combine(dir, "cache"));
            Environment.SetEnvironmentVariable("RESTIC_CACHE_DIR", Path.Combine(dir, "restic-cache"));
            var tag = $"{DateTime.UtcNow:HHmmss}-{run}";
            var ours = $"bench-ours-{tag}";
            var restic = $"bench-restic-{tag}";
            var copy = $"bench-copy-{tag}";
            var rclone = $"bench-rclone-{tag}";
            var oursRepo = $"s3://{ours}/repo";
            var source = set.Tree ?? data;
            cli.Exec("--data-dir", data, "backup", "init", "--repo", oursRepo);
            BackupScenario.Exec("restic", "-r", gateway.Restic(restic), "init", "--repository-version", "2");

            void Step(string step, string tool, string bucket, Func<Measurement> measure)
            {
                var mark = gateway.Mark();
                var m = measure();
                var requests = gateway.Requests(mark, bucket);
                m.Metrics["requests"] = requests.Total;
                m.Metrics["put"] = requests.Put;
                m.Metrics["get"] = requests.Get;
                m.Metrics["list"] = requests.List;
                m.Metrics["head"] = requests.Head;
                m.Metrics["delete"] = requests.Delete;
                var key = $"{step}/{tool}";
                if (!results.TryGetValue(key, out var list))
                {
                    results[key] = list = [];
                }

                list.Add(m);
                Datasets.Log($"s3 {set.Label} {step} {tool} run {run}/{runs}: {m.WallSeconds:F2} s, CPU {m.CpuSeconds:F2} s, peak RSS {m.MaxRssKb / 1024} MB, requests {Text(requests)}");
            }

            string[] Create() => set.Tree is null
                ? ["--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", oursRepo]
                : ["--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", oursRepo, "--include", set.Tree];

            // 1. First backup, 2. no change: each tool into its own bucket on the same gateway.
            foreach (var step in new[] { "first", "nochange" })
            {
                NativeMethods.Sync();
                Step(step, "ours", ours, () => cli.Run(Create()));
                Step(step, "restic", restic, () => ProcessMeter.Run("restic", ["-r", gateway.Restic(restic), "backup", "-q", source], parseResult: false));
            }

            // 3. Restore the latest snapshot into an empty folder; the content must come back whole.
            var target = Path.Combine(restoreRoot, "restore");
            foreach (var tool in new[] { "ours", "restic" })
            {
                BackupScenario.DeleteFolder(target);
                Directory.CreateDirectory(target);
                NativeMethods.Sync();
                Step("restore", tool, tool == "ours" ? ours : restic, () => tool == "ours"
                    ? cli.Run("--json", "backup", "restore", "latest", "--target", target, "--repo", oursRepo)
                    : ProcessMeter.Run("restic", ["-r", gateway.Restic(restic), "restore", "latest", "--target", target], parseResult: false));
                var restored = tool == "ours"
                    ? (set.Tree is null ? Path.Combine(target, "data", "objects") : Path.Combine(target, "include", set.Tree.TrimStart('/')))
                    : Path.Combine(target, (set.Tree ?? Path.Combine(data, "objects")).TrimStart('/'));
                var expected = set.Tree ?? Path.Combine(data, "objects");
                var (files, bytes) = (Directory.EnumerateFiles(restored, "*", SearchOption.AllDirectories).LongCount(), BackupScenario.FolderBytes(restored));
                var (wantFiles, wantBytes) = (Directory.EnumerateFiles(expected, "*", SearchOption.AllDirectories).LongCount(), BackupScenario.FolderBytes(expected));
                if (files != wantFiles || bytes != wantBytes)
                {
                    throw new InvalidOperationException($"s3: {tool}'s restore holds {files} files, {bytes} bytes; the source has {wantFiles}, {wantBytes}.");
                }
            }

            BackupScenario.DeleteFolder(target);

            // 4. backup copy of a local repository's snapshot to S3, against rclone copy of that repository's folder.
            if (set.Tree is null)
            {
                var local = Path.Combine(dir, "local-repo");
                cli.Exec("--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", local);
                BackupScenario.Exec("rclone", "mkdir", $"ceph:{rclone}");
                NativeMethods.Sync();
                Step("copy", "ours", copy, () => cli.Run("--json", "backup", "copy", "--from", local, "--to", $"s3://{copy}/repo"));
                Step("copy", "rclone", rclone, () => ProcessMeter.Run("rclone", ["copy", local, $"ceph:{rclone}/repo"], parseResult: false));
                results.GetValueOrDefault("copy/ours")?[^1].Metrics.TryAdd("source_bytes", BackupScenario.FolderBytes(local));
                results.GetValueOrDefault("copy/rclone")?[^1].Metrics.TryAdd("source_bytes", BackupScenario.FolderBytes(local));
            }

            foreach (var bucket in new[] { ours, restic, copy, rclone })
            {
                gateway.Drop(bucket);
            }

            BackupScenario.DeleteFolder(dir);
        }

        return results;
    }

    private static IEnumerable<string> Rows(DataSet set, Dictionary<string, List<Measurement>> r)
    {
        var data = $"{set.Label}: {set.Bytes / 1e9:F2} GB, {set.Files:N0} files";
        foreach (var (step, title, peer, target, limit, maxRequests) in new (string, string, string, string, double, long?)[]
        {
            ("first", "first backup to S3", "restic", "≤ 0.6× restic", 0.6, null),
            ("nochange", "no-change backup", "restic", "≤ 0.5× restic, ≤ 20 requests", 0.5, 20),
            ("restore", "restore from S3", "restic", "≤ 0.6× restic", 0.6, null),
            ("copy", "copy of a local repository to S3", "rclone", "≤ 1.2× rclone copy", 1.2, null),
        })
        {
            if (!r.TryGetValue($"{step}/ours", out var ours))
            {
                continue;
            }

            var ourWall = Runner.Median(ours, m => m.WallSeconds);
            var theirs = r[$"{step}/{peer}"];
            var theirWall = Runner.Median(theirs, m => m.WallSeconds);
            var ratio = ourWall / theirWall;
            var requests = (long)Runner.Median(ours, m => m.Metrics["requests"]);
            var met = ratio <= limit && (maxRequests is null || requests <= maxRequests) && Runner.Median(ours, m => m.MaxRssKb) <= 100 * 1024;
            foreach (var (tool, runs) in new[] { ("ours", ours), (peer, theirs) })
            {
                var wall = Runner.Median(runs, m => m.WallSeconds);
                var bytes = runs[0].Metrics.TryGetValue("source_bytes", out var b) ? b : set.Bytes;
                var req = new BackendRequests((long)Runner.Median(runs, m => m.Metrics["put"]), (long)Runner.Median(runs, m => m.Metrics["get"]), (long)Runner.Median(runs, m => m.Metrics["list"]),
                    (long)Runner.Median(runs, m => m.Metrics["head"]), (long)Runner.Median(runs, m => m.Metrics["delete"]));
                yield return string.Create(Inv, $"| {title} | {data} | {(tool == "ours" ? "ours (mdmai, --level 3)" : tool)} | {wall:F2} | {bytes / 1e6 / wall:F0} | {Runner.Median(runs, m => m.CpuSeconds):F1} | {Runner.Median(runs, m => m.MaxRssKb) / 1024:F0} MB | {Text(req)} | {(tool == "ours" ? "" : $"{ratio:F2}×")} | {(tool == "ours" ? "" : target + ", peak RSS ≤ 100 MB")} | {(tool == "ours" ? "" : met ? "yes" : "**no**")} | {runs.Count} |");
            }
        }
    }

    // ================================================================ s3-kill

    /// <summary>
    /// <c>s3-kill [--trials 20] [--kill-size 200m]</c>: odd trials SIGKILL a first backup to a new bucket at a random
    /// moment; even trials cut the connection to the gateway (every open connection reset, new ones refused) for 1–8 s
    /// at a random moment of a backup of new data into the repository of the trial before, through a proxy of the
    /// bench's own. After each: the repository must verify (reading all data), the next backup must complete, and no
    /// blob may be stored twice (no pack sent again).
    /// </summary>
    public static async Task<int> RunKillAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var trials = (int)o.GetLong("trials", 20);
        var size = BackupScenario.ParseSize(o.Get("kill-size", "200m"));
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var cli = new BackupScenario.Cli(BackupScenario.FindCli(o));
        var gateway = Gateway.Start();
        var total = Stopwatch.StartNew();
        var rows = o.GetLong("kill-rows", 10_000);
        var library = await new Datasets(work, seed).LibraryAsync(rows);
        var prepared = await BackupScenario.PrepareAsync(work, size, seed, library, $"backup-kill-{BackupScenario.SizeLabel(size)}-{Datasets.Label(rows)}-s{seed}");
        var dir = Path.Combine(work, "runs", "s3-kill");
        BackupScenario.DeleteFolder(dir);
        Directory.CreateDirectory(dir);
        var data = Path.Combine(dir, "data");
        BackupScenario.CopyDataFolder(prepared.Data, data);
        Environment.SetEnvironmentVariable("MDMAI_PASSWORD", BackupScenario.Password);
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", Path.Combine(dir, "cache"));
        await using var proxy = new Blackout(gateway.Endpoint);
        var random = new Random(seed + 7);

        // The normal duration of a first backup to a new bucket (median of 3): kill moments are drawn within it.
        var calibration = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            gateway.Export();
            var bucket = $"bench-kill-cal-{i}-{DateTime.UtcNow:HHmmss}";
            cli.Exec("--data-dir", data, "backup", "init", "--repo", $"s3://{bucket}/repo");
            calibration.Add(cli.Run("--data-dir", data, "--json", "backup", "create", "--repo", $"s3://{bucket}/repo").WallSeconds);
            gateway.Drop(bucket);
        }

        var duration = calibration.Order().ElementAt(1);
        Datasets.Log($"s3-kill: folder {prepared.FolderBytes / 1e6:F0} MB; a first backup to S3 takes {duration:F2} s");
        var results = new List<KillResult>();
        var failures = 0;
        string repo = "", current = "";
        for (var t = 1; t <= trials; t++)
        {
            var kill = t % 2 == 1;
            if (kill)
            {
                current = $"bench-kill-{t:D2}-{DateTime.UtcNow:HHmmss}";
                repo = $"s3://{current}/repo";
                gateway.Export();
                cli.Exec("--data-dir", data, "backup", "init", "--repo", repo);
            }
            else
            {
                // New data for this backup: a file imported through the CLI (untimed).
                var handout = Path.Combine(dir, $"handout-{t}.bin");
                var bytes = new byte[random.Next(8, 24) * 1024 * 1024];
                random.NextBytes(bytes);
                await File.WriteAllBytesAsync(handout, bytes);
                cli.Exec("--data-dir", data, "files", "import", handout);
            }

            var at = random.NextDouble() * duration;
            string outcome;
            if (kill)
            {
                gateway.Export();
                outcome = cli.StartAndKill(["--data-dir", data, "--json", "backup", "create", "--repo", repo], at) ? "killed" : "finished first";
            }
            else
            {
                gateway.Export(proxy.Endpoint);
                var blackout = TimeSpan.FromSeconds(1 + (random.NextDouble() * 7));
                var (exit, _) = proxy.RunWithBlackout(() => cli.Exec("--data-dir", data, "--json", "backup", "create", "--repo", repo), TimeSpan.FromSeconds(at), blackout);
                outcome = $"cut off {blackout.TotalSeconds:F1} s at {at:F2} s: exit {exit}";
            }

            gateway.Export();
            var (verify, verifyOut) = cli.Exec("--json", "backup", "verify", "--read-data", "--repo", repo);
            var noRepository = verify == 5;
            var (next, _) = cli.Exec("--data-dir", data, "--json", "backup", "create", "--repo", repo);
            var (after, _) = cli.Exec("--json", "backup", "verify", "--read-data", "--repo", repo);
            var twice = await StoredTwiceAsync(gateway, repo);
            var ok = (verify == 0 || noRepository) && next == 0 && after == 0 && twice == 0;
            failures += ok ? 0 : 1;
            results.Add(new KillResult(t, kill ? "SIGKILL, first backup" : "disconnect, backup of new data", at, outcome, verify, next, after, twice, ok));
            Datasets.Log($"s3-kill trial {t}/{trials}: {(kill ? "SIGKILL" : "disconnect")} at {at:F2} s ({outcome}); verify {verify}; next backup {next}; verify after {after}; blobs stored twice {twice}{(ok ? "" : "  FAILED")}");
            if (!kill)
            {
                gateway.Drop(current);
            }
        }

        var report = new StringBuilder();
        report.AppendLine(Inv, $"## s3-kill ({DateTime.Now:yyyy-MM-dd HH:mm}, --trials {trials}, seed {seed}, total {total.Elapsed.TotalMinutes:F1} min)");
        report.AppendLine();
        report.AppendLine(Inv, $"- data folder {prepared.FolderBytes / 1e6:F0} MB, encrypted; a first backup to S3 takes {duration:F2} s (median of 3); moments uniform in [0, that)");
        report.AppendLine(Inv, $"- {trials} trials, {failures} failed (a failure: the repository did not verify after the fault, the next backup did not complete, it did not verify after, or a blob was stored twice)");
        report.AppendLine();
        report.AppendLine("| trial | fault | at s | outcome | verify exit | next backup exit | verify after | blobs stored twice |");
        report.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            report.AppendLine(string.Create(Inv, $"| {r.Trial} | {r.Kind} | {r.At:F2} | {r.Outcome} | {r.Verify} | {r.Next} | {r.After} | {r.StoredTwice} |"));
        }

        Console.WriteLine(report);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        await File.WriteAllTextAsync(Path.Combine(work, $"results-s3-kill-{stamp}.md"), report.ToString());
        await File.WriteAllTextAsync(Path.Combine(work, $"results-s3-kill-{stamp}.json"), JsonSerializer.Serialize(results, Indented));
        BackupScenario.DeleteFolder(dir);
        return failures == 0 ? 0 : 1;
    }

    private sealed record KillResult(int Trial, string Kind, double At, string Outcome, int Verify, int Next, int After, int StoredTwice, bool Ok);

    /// <summary>Blobs held by more than one pack of the repository: what sending a pack again would leave.</summary>
    private static async Task<int> StoredTwiceAsync(Gateway gateway, string location)
    {
        var options = new S3Options { Endpoint = gateway.Endpoint, AccessKey = gateway.AccessKey, SecretKey = gateway.SecretKey, CacheFolder = "" };
        using var repository = await BackupRepository.OpenAsync(new S3Backend(location, options), BackupScenario.Password);
        var seen = new Dictionary<BlobId, int>();
        await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Data))
        {
            if (RepositoryNames.TryParsePack(item.Name, out var pack))
            {
                foreach (var entry in await PackFormat.ReadHeaderAsync(repository.Backend, repository.Crypto, item.Name, pack, CancellationToken.None, item.Length))
                {
                    seen[entry.Id] = seen.GetValueOrDefault(entry.Id) + 1;
                }
            }
        }

        return seen.Values.Count(n => n > 1);
    }

    /// <summary>A loopback relay to the gateway that can cut every connection and refuse new ones for a while: a dropped link.</summary>
    private sealed class Blackout : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Uri _upstream;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<(TcpClient Client, TcpClient Server)> _open = [];
        private readonly Task _accepting;
        private volatile bool _dark;

        public Blackout(Uri upstream)
        {
            _upstream = upstream;
            _listener.Start();
            Endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
            _accepting = Task.Run(AcceptAsync);
        }

        public Uri Endpoint { get; }

        /// <summary>Runs <paramref name="body"/>; after <paramref name="at"/> the link goes dark for <paramref name="length"/>.</summary>
        public T RunWithBlackout<T>(Func<T> body, TimeSpan at, TimeSpan length)
        {
            using var timer = new Timer(_ =>
            {
                _dark = true;
                lock (_open)
                {
                    foreach (var (client, server) in _open)
                    {
                        client.Client.LingerState = new LingerOption(true, 0);
                        client.Close();
                        server.Close();
                    }

                    _open.Clear();
                }

                Thread.Sleep(length);
                _dark = false;
            }, null, at, Timeout.InfiniteTimeSpan);
            var result = body();
            _dark = false;
            return result;
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }

                if (_dark)
                {
                    client.Client.LingerState = new LingerOption(true, 0);
                    client.Close();
                    continue;
                }

                _ = Task.Run(async () =>
                {
                    var server = new TcpClient();
                    try
                    {
                        await server.ConnectAsync(_upstream.Host, _upstream.Port, _stop.Token);
                        lock (_open)
                        {
                            _open.Add((client, server));
                        }

                        var a = client.GetStream().CopyToAsync(server.GetStream(), _stop.Token);
                        var b = server.GetStream().CopyToAsync(client.GetStream(), _stop.Token);
                        await Task.WhenAny(a, b);
                    }
                    catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                    {
                        // cut
                    }
                    finally
                    {
                        lock (_open)
                        {
                            _open.RemoveAll(p => p.Client == client);
                        }

                        client.Close();
                        server.Close();
                    }
                });
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
