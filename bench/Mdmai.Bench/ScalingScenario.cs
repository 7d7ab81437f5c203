using System.Globalization;
using System.Text;

namespace Mdmai.Bench;

/// <summary>
/// <c>Mdmai.Bench scaling [--sizes 10k,100k,1m] [--tiny-from 1m] [--runs N] [--ours-only] [--work DIR] [--seed N] [--mdmai PATH]</c>:
/// how the cost of each job grows with the number of files. At each size a tree of many small files
/// (<see cref="SmallFilesTree"/>; from <c>--tiny-from</c> on, tiny files) is made untimed, then each job runs against its
/// peer on it, in the same run, warm page cache: first backup (ours <c>--level 3</c>, restic, borg <c>-C zstd,3</c>),
/// the same backup again with nothing changed, a restore (ours, restic), a folder import into the encrypted data folder
/// (peer: <c>cp -r</c> + <c>sync</c> + <c>sha256sum</c> of the copy) and <c>dupes</c> (peer: <c>jdupes -r</c>). Every
/// measure is wall time, CPU (user+sys) and peak RSS; <c>--runs N</c> repeats each size (fresh repositories and folders,
/// each run starting with the next tool of each job: see <see cref="InTurn"/>) and the report gives medians; <c>--ours-only</c> skips the peers (to try a change quickly). Put <c>--work</c> on a journaled file system (see docs/benchmarks.md): everything the jobs
/// write goes there.
/// </summary>
internal static class ScalingScenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static readonly (string Job, string Ours, string Peer)[] Jobs =
    [
        ("first backup", "ours", "restic"),
        ("first backup", "ours", "borg"),
        ("no-change backup", "ours", "borg"),
        ("no-change backup", "ours", "restic"),
        ("restore", "ours", "restic"),
        ("folder import", "ours", "cp -r + sync + sha256sum"),
        ("dupes", "ours", "jdupes -r"),
    ];

    /// <summary>
    /// The tools of one job in the order they run in run <paramref name="run"/> (1-based): each run starts with the next
    /// one. Whichever tool runs first on the work file system pays for touching parts of it nothing used yet (a restore
    /// of 100k files first after a fresh mkfs took 7.2 s, then 4.9 s, the same for restic: 11.0 then 9.6–9.8 s), so
    /// no tool may always go first.
    /// </summary>
    private static IEnumerable<string> InTurn(int run, string[] tools) =>
        tools.Skip((run - 1) % tools.Length).Concat(tools.Take((run - 1) % tools.Length));

    public static Task<int> RunAsync(Options o)
    {
        var sizes = o.Get("sizes", "10k,100k,1m").Split(',').Select(s => (int)SmallFilesScenario.ParseCount(s.Trim())).ToList();
        var tinyFrom = SmallFilesScenario.ParseCount(o.Get("tiny-from", "1m"));
        var runs = int.Parse(o.Get("runs", "1"), Inv);
        var oursOnly = o.Has("ours-only");
        var seed = int.Parse(o.Get("seed", "20261206"), Inv);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var cli = new BackupScenario.Cli(BackupScenario.FindCli(o));
        var dir = Path.Combine(work, "runs", "scaling");
        Environment.SetEnvironmentVariable("MDMAI_PASSWORD", BackupScenario.Password);
        Environment.SetEnvironmentVariable("RESTIC_PASSWORD", BackupScenario.Password);
        Environment.SetEnvironmentVariable("BORG_PASSPHRASE", BackupScenario.Password);
        Environment.SetEnvironmentVariable("RESTIC_CACHE_DIR", Path.Combine(dir, "restic-cache"));
        Environment.SetEnvironmentVariable("BORG_BASE_DIR", Path.Combine(dir, "borg-home"));

        // (size, job, tool) → measurements over the runs.
        var results = new Dictionary<(int Size, string Job, string Tool), List<Measurement>>();
        var shapes = new Dictionary<int, string>();
        void Add(int size, string job, string tool, Func<Measurement> measure, string? reads = null)
        {
            if (oursOnly && tool != "ours")
            {
                return;
            }

            if (reads is not null)
            {
                // Read the tree once, untimed: every tool starts with it in the page cache ("warm"), whatever the job
                // before it evicted. At 1M files the import's writes evicted the tree's metadata, and the tool run
                // first after it paid for reading it back (dupes: 24 s cold against 9.6 s warm).
                ProcessMeter.RunShell($"sh -c 'find {ProcessMeter.Quote(reads)} -type f -print0 | xargs -0 cat > /dev/null'");
            }

            var m = measure();
            if (!results.TryGetValue((size, job, tool), out var list))
            {
                results[(size, job, tool)] = list = [];
            }

            list.Add(m);
            Datasets.Log($"scaling {size:N0} {job} {tool}: {m.WallSeconds:F2} s, CPU {m.CpuSeconds:F2} s, peak RSS {m.MaxRssKb / 1024} MB");
        }

        foreach (var size in sizes)
        {
            BackupScenario.DeleteFolder(dir);
            Directory.CreateDirectory(dir);
            var tree = Path.Combine(dir, "tree");
            var (count, bytes, median) = SmallFilesTree.Write(tree, size, 1, seed, tiny: size >= tinyFrom);
            shapes[size] = $"{count:N0} files, {bytes / 1e6:F0} MB, median {median:N0} bytes{(size >= tinyFrom ? " (tiny)" : "")}";
            Datasets.Log($"scaling: tree of {shapes[size]}");
            for (var run = 1; run <= runs; run++)
            {
                var data = Path.Combine(dir, "data");
                var ours = Path.Combine(dir, "ours-repo");
                var restic = Path.Combine(dir, "restic-repo");
                var borg = Path.Combine(dir, "borg-repo");
                foreach (var old in new[] { data, ours, restic, borg })
                {
                    BackupScenario.DeleteFolder(old);
                }

                cli.Run("--data-dir", data, "init", "--encrypt");
                BackupScenario.Exec("restic", "-r", restic, "init", "--repository-version", "2");
                BackupScenario.Exec("borg", "init", "-e", "repokey-blake2", borg);
                for (var pass = 0; pass < 2; pass++)
                {
                    var job = pass == 0 ? "first backup" : "no-change backup";
                    foreach (var tool in InTurn(run, ["ours", "restic", "borg"]))
                    {
                        NativeMethods.Sync();
                        Add(size, job, tool, tool switch
                        {
                            "ours" => () => cli.Run("--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", ours, "--include", tree),
                            "restic" => () => ProcessMeter.Run("restic", ["-r", restic, "backup", "-q", tree], parseResult: false),
                            _ => () => ProcessMeter.Run("borg", ["create", "-C", "zstd,3", $"{borg}::p{pass}", tree], parseResult: false),
                        }, tree);
                    }
                }

                BackupScenario.DeleteFolder(borg);

                // Untimed: a tree of the same files made and deleted, so that each restore creates its files where a
                // deleted tree's were (as the second of the two always did), not in parts of the file system nothing
                // used yet: see InTurn.
                var warm = Path.Combine(dir, "restore-warm-up");
                ProcessMeter.RunShell($"sh -c 'cp -r -- {ProcessMeter.Quote(tree)} {ProcessMeter.Quote(warm)}'");
                BackupScenario.DeleteFolder(warm);
                foreach (var tool in InTurn(run, ["ours", "restic"]))
                {
                    var target = Path.Combine(dir, "restore-" + tool);
                    Directory.CreateDirectory(target);
                    NativeMethods.Sync();
                    Add(size, "restore", tool, () => tool == "ours"
                        ? cli.Run("--data-dir", data, "--json", "backup", "restore", "latest", "--repo", ours, "--target", target)
                        : ProcessMeter.Run("restic", ["-r", restic, "restore", "latest", "--target", target], parseResult: false));
                    BackupScenario.DeleteFolder(target);
                    NativeMethods.Sync();
                }

                BackupScenario.DeleteFolder(ours);
                BackupScenario.DeleteFolder(restic);
                NativeMethods.Sync();
                foreach (var tool in InTurn(run, ["ours", "cp -r + sync + sha256sum"]))
                {
                    if (tool == "ours")
                    {
                        Add(size, "folder import", tool, () => cli.Run("--data-dir", data, "files", "import", tree), tree);
                        BackupScenario.DeleteFolder(data);
                    }
                    else
                    {
                        var copy = Path.Combine(dir, "copy");
                        Add(size, "folder import", tool,
                            () => ProcessMeter.RunShell($"sh -c 'cp -r -- {ProcessMeter.Quote(tree)} {ProcessMeter.Quote(copy)} && sync && find {ProcessMeter.Quote(copy)} -type f -exec sha256sum -- {{}} + > /dev/null'"), tree);
                        BackupScenario.DeleteFolder(copy);
                    }

                    NativeMethods.Sync();
                }

                foreach (var tool in InTurn(run, ["ours", "jdupes -r"]))
                {
                    Add(size, "dupes", tool, tool == "ours"
                        ? () => ProcessMeter.RunShell($"{cli.ShellCommand} dupes {ProcessMeter.Quote(tree)} > /dev/null")
                        : () => ProcessMeter.RunShell($"jdupes -r -q {ProcessMeter.Quote(tree)} > /dev/null"), tree);
                }
            }
        }

        var report = new StringBuilder();
        report.AppendLine(Inv, $"## scaling ({DateTime.Now:yyyy-MM-dd HH:mm}, --sizes {string.Join(',', sizes)}, --runs {runs}, seed {seed}; ours: {cli.Description})");
        foreach (var size in sizes)
        {
            report.AppendLine(Inv, $"- {size:N0}: {shapes[size]}");
        }

        report.AppendLine();
        report.AppendLine("| files | job | ours wall s | peer | peer wall s | ratio | ours CPU s | peer CPU s | ours peak RSS | peer peak RSS |");
        report.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var size in sizes)
        {
            foreach (var (job, us, peer) in Jobs)
            {
                var a = results[(size, job, us)];
                var wa = Runner.Median(a, x => x.WallSeconds);
                if (!results.TryGetValue((size, job, peer), out var b))
                {
                    report.AppendLine(Inv, $"| {size:N0} | {job} | {wa:F2} | {peer} | — | — | {Runner.Median(a, x => x.CpuSeconds):F2} | — | {Runner.Median(a, x => x.MaxRssKb) / 1024:F0} MB | — |");
                    continue;
                }

                var wb = Runner.Median(b, x => x.WallSeconds);
                report.AppendLine(Inv, $"| {size:N0} | {job} | {wa:F2} | {peer} | {wb:F2} | {wa / wb:F2}× | {Runner.Median(a, x => x.CpuSeconds):F2} | {Runner.Median(b, x => x.CpuSeconds):F2} | {Runner.Median(a, x => x.MaxRssKb) / 1024:F0} MB | {Runner.Median(b, x => x.MaxRssKb) / 1024:F0} MB |");
            }
        }

        // Linearity and flatness: ours per 1,000 files at each size, and peak RSS against the smallest size.
        report.AppendLine();
        report.AppendLine("| job (ours) | " + string.Join(" | ", sizes.Select(s => $"ms / 1k files at {s:N0}")) + " | " + string.Join(" | ", sizes.Select(s => $"peak RSS at {s:N0}")) + $" | RSS {sizes[^1]:N0} ÷ {sizes[0]:N0} |");
        report.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", sizes.Count * 2 + 1)));
        foreach (var job in Jobs.Select(j => j.Job).Distinct())
        {
            var perK = sizes.Select(s => (Runner.Median(results[(s, job, "ours")], x => x.WallSeconds) * 1e6 / s).ToString("F0", Inv));
            var rss = sizes.Select(s => Runner.Median(results[(s, job, "ours")], x => x.MaxRssKb) / 1024).ToList();
            report.AppendLine(Inv, $"| {job} | {string.Join(" | ", perK)} | {string.Join(" | ", rss.Select(r => $"{r:F0} MB"))} | {rss[^1] / rss[0]:F2}× |");
        }

        Console.WriteLine(report);
        File.WriteAllText(Path.Combine(work, $"results-scaling-{DateTime.Now:yyyyMMdd-HHmmss}.md"), report.ToString());
        BackupScenario.DeleteFolder(dir);
        return Task.FromResult(0);
    }
}
