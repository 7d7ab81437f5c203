using System.Globalization;
using System.Text;

namespace Mdmai.Bench;

/// <summary>
/// <c>Mdmai.Bench tree-versions [--tree-files 60k] [--versions 4] [--work DIR] [--seed N] [--mdmai PATH]</c>: the
/// four-versions scenario on a tree of many small files (<see cref="SmallFilesTree"/>) — back up version 1, then 2, 3
/// and 4 of the same tree, each tool into its own repository, then restore the last; the time, CPU, peak memory of each
/// run and each repository's size after it. Ours backs the tree up with <c>--include</c> beside an empty encrypted data
/// folder; restic and borg back up the tree. One pass (the data changes between the runs); the tree is made untimed.
/// </summary>
internal static class SmallFilesScenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Task<int> RunAsync(Options o)
    {
        var files = (int)ParseCount(o.Get("tree-files", "60k"));
        var versions = int.Parse(o.Get("versions", "4"), Inv);
        var seed = int.Parse(o.Get("seed", "20261204"), Inv);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var cli = new BackupScenario.Cli(BackupScenario.FindCli(o));
        var dir = Path.Combine(work, "runs", "tree-versions");
        BackupScenario.DeleteFolder(dir);
        Directory.CreateDirectory(dir);
        var tree = Path.Combine(dir, "tree");
        var (count, bytes, median) = SmallFilesTree.Write(tree, files, 1, seed);
        Datasets.Log($"tree-versions: version 1 of the tree: {count:N0} files, {bytes / 1e6:F0} MB, median {median:N0} bytes");

        var data = Path.Combine(dir, "data");
        Environment.SetEnvironmentVariable("MDMAI_PASSWORD", BackupScenario.Password);
        Environment.SetEnvironmentVariable("RESTIC_PASSWORD", BackupScenario.Password);
        Environment.SetEnvironmentVariable("BORG_PASSPHRASE", BackupScenario.Password);
        Environment.SetEnvironmentVariable("RESTIC_CACHE_DIR", Path.Combine(dir, "restic-cache"));
        Environment.SetEnvironmentVariable("BORG_BASE_DIR", Path.Combine(dir, "borg-home"));
        cli.Run("--data-dir", data, "init", "--encrypt");
        var ours = Path.Combine(dir, "ours-repo");
        var restic = Path.Combine(dir, "restic-repo");
        var borg = Path.Combine(dir, "borg-repo");
        BackupScenario.Exec("restic", "-r", restic, "init", "--repository-version", "2");
        BackupScenario.Exec("borg", "init", "-e", "repokey-blake2", borg);

        var rows = new List<string>();
        void Row(string step, string tool, Measurement m, string? repo)
        {
            var size = repo is null ? "" : (BackupScenario.FolderBytes(repo) / 1e6).ToString("F0", Inv);
            rows.Add($"| {step} | {tool} | {m.WallSeconds:F2} | {m.CpuSeconds:F2} | {m.MaxRssKb / 1024} MB | {size} |");
            Datasets.Log($"tree-versions {step} {tool}: {m.WallSeconds:F2} s, CPU {m.CpuSeconds:F2} s, peak RSS {m.MaxRssKb / 1024} MB, repo {size} MB");
        }

        for (var v = 1; v <= versions; v++)
        {
            if (v > 1)
            {
                var (changed, added, removed) = SmallFilesTree.Advance(tree, files, v, seed);
                Datasets.Log($"tree-versions: version {v}: {changed} changed, {added} added, {removed} removed");
            }

            NativeMethods.Sync();
            var step = $"backup of version {v}";
            Row(step, "ours (--level 3)", cli.Run("--data-dir", data, "--json", "backup", "create", "--level", "3", "--repo", ours, "--include", tree), ours);
            Row(step, "restic", ProcessMeter.Run("restic", ["-r", restic, "backup", "-q", tree], parseResult: false), restic);
            Row(step, "borg -C zstd,3", ProcessMeter.Run("borg", ["create", "-C", "zstd,3", $"{borg}::v{v}", tree], parseResult: false), borg);
        }

        foreach (var tool in new[] { "ours", "restic", "borg" })
        {
            var target = Path.Combine(BackupScenario.RestoreRoot(o, dir), "restore-" + tool);
            Directory.CreateDirectory(target);
            NativeMethods.Sync();
            var m = tool switch
            {
                "ours" => cli.Run("--data-dir", data, "--json", "backup", "restore", "latest", "--repo", ours, "--target", target),
                "restic" => ProcessMeter.Run("restic", ["-r", restic, "restore", "latest", "--target", target], parseResult: false),
                _ => ProcessMeter.Run("/bin/sh", ["-c", $"cd {ProcessMeter.Quote(target)} && exec borg extract {ProcessMeter.Quote($"{borg}::v{versions}")}"], parseResult: false),
            };
            Row($"restore of version {versions}", tool, m, null);
        }

        var report = new StringBuilder();
        report.AppendLine(Inv, $"## tree-versions ({DateTime.Now:yyyy-MM-dd HH:mm}, --tree-files {files}, --versions {versions}, seed {seed}; ours: {cli.Description})");
        report.AppendLine(Inv, $"- version 1: {count:N0} files, {bytes / 1e6:F0} MB, median file {median:N0} bytes");
        report.AppendLine();
        report.AppendLine("| step | tool | wall s | CPU s | peak RSS | repo MB after |");
        report.AppendLine("|---|---|---|---|---|---|");
        rows.ForEach(r => report.AppendLine(r));
        Console.WriteLine(report);
        File.WriteAllText(Path.Combine(work, $"results-tree-versions-{DateTime.Now:yyyyMMdd-HHmmss}.md"), report.ToString());
        BackupScenario.DeleteFolder(dir);
        return Task.FromResult(0);
    }

    /// <summary><c>tree --out DIR [--tree-files 100k] [--version 1] [--tiny]</c>: writes the tree alone, untimed.</summary>
    public static int WriteTree(Options o)
    {
        var root = Path.GetFullPath(o.Get("out", ""));
        if (root.Length == 0 || Directory.Exists(root))
        {
            throw new ArgumentException("tree needs --out DIR, a folder that does not exist yet.");
        }

        var (count, bytes, median) = SmallFilesTree.Write(root, (int)ParseCount(o.Get("tree-files", "100k")),
            int.Parse(o.Get("version", "1"), Inv), int.Parse(o.Get("seed", "20261206"), Inv), tiny: o.Has("tiny"));
        Console.WriteLine($"{root}: {count:N0} files, {bytes / 1e6:F0} MB, median {median:N0} bytes");
        return 0;
    }

    internal static long ParseCount(string text) =>
        text.EndsWith('k') ? long.Parse(text[..^1], Inv) * 1000 : text.EndsWith('m') ? long.Parse(text[..^1], Inv) * 1_000_000 : long.Parse(text, Inv);
}
