using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.IO;

namespace Mdmai.Bench;

/// <summary>
/// The <c>dupes</c> scenario: <see cref="DuplicateFinder.FindAsync"/> (in a child process, as <c>mdmai dupes</c> runs it)
/// against <c>jdupes -r</c> on the same generated tree, N runs each, alternating; the groups must be the same.
/// <c>Mdmai.Bench dupes [--dupes-files N] [--runs N] [--work DIR] [--seed N]</c>.
/// </summary>
public static class DupesScenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Runs the scenario, or its child side (<c>dupes child --tree DIR --out FILE</c>).</summary>
    public static async Task<int> RunAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Positional.Count > 1 && o.Positional[1] == "child")
        {
            return await ChildAsync(o);
        }

        var files = (int)o.GetLong("dupes-files", 20_000);
        var runs = (int)o.GetLong("runs", 3);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        if (Tool("jdupes") is null)
        {
            throw new InvalidOperationException("jdupes is not installed (apt-get install -y jdupes); the dupes scenario compares with it.");
        }

        var tree = Prepare(work, files, seed, out var bytes);
        var runDir = Path.Combine(work, "runs", "dupes");
        Directory.CreateDirectory(runDir);
        var ours = new List<Measurement>();
        var peer = new List<Measurement>();
        List<string>? ourGroups = null, peerGroups = null;
        for (var run = 1; run <= runs; run++)
        {
            var ourOut = Path.Combine(runDir, "ours.txt");
            var m = Child(tree, ourOut, seed);
            ours.Add(Log("ours", run, runs, m));
            var peerOut = Path.Combine(runDir, "jdupes.txt");
            var p = ProcessMeter.RunShell($"jdupes -r -q {ProcessMeter.Quote(tree)} > {ProcessMeter.Quote(peerOut)}");
            peer.Add(Log("jdupes", run, runs, p));
            if (run == 1)
            {
                ourGroups = ByInode(Groups(ourOut));
                peerGroups = ByInode(Groups(peerOut));
            }
        }

        var same = ourGroups!.SequenceEqual(peerGroups!);
        var oursProcess = Runner.Median(ours, x => x.ProcessSeconds);
        var oursFind = Runner.Median(ours, x => x.WallSeconds);
        var peerWall = Runner.Median(peer, x => x.WallSeconds);
        var data = $"{files:N0} files, {bytes / 1e9:F1} GB, {ourGroups!.Count:N0} groups";
        var rows = new[]
        {
            Row(data, "wall s, whole process (ours incl. .NET start-up)", Sec(oursProcess), Sec(peerWall), $"{oursProcess / peerWall:F2}×", "< 1× (faster)", oursProcess < peerWall, ours, peer),
            Row(data, "wall s, the search alone (ours, as the child timed it)", Sec(oursFind), Sec(peerWall), $"{oursFind / peerWall:F2}×", "", null, ours, peer),
            Row(data, "same groups as jdupes -r (compared as sets of inodes)", same ? "yes" : "NO", $"{peerGroups!.Count:N0} groups", "", "equal", same, [], []),
        };
        var report = new StringBuilder();
        report.AppendLine(Inv, $"## dupes ({DateTime.Now:yyyy-MM-dd HH:mm}, --dupes-files {files:N0}, --runs {runs}, seed {seed}, warm page cache)");
        report.AppendLine();
        report.AppendLine(Inv, $"- machine: {Environment.ProcessorCount} cores; jdupes: {Capture("jdupes", "-v").Split('\n')[0]}");
        report.AppendLine();
        report.AppendLine("| scenario | data | measure | ours | peer | ratio | target | met | ours CPU s | ours peak RSS | peer CPU s | peer peak RSS | runs |");
        report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var row in rows)
        {
            report.AppendLine(row);
        }

        Console.WriteLine(report);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        await File.WriteAllTextAsync(Path.Combine(work, $"results-dupes-{stamp}.md"), report.ToString());
        await File.WriteAllTextAsync(Path.Combine(work, $"results-dupes-{stamp}.json"), JsonSerializer.Serialize(new { ours, peer, same_groups = same }));
        Directory.Delete(runDir, recursive: true);
        if (!same)
        {
            Datasets.Log("dupes: the groups differ from jdupes'");
            return 1;
        }

        return 0;
    }

    /// <summary>The measured side: one search over the tree; the groups go to a file (all names of each group, one group a line).</summary>
    private static async Task<int> ChildAsync(Options o)
    {
        var tree = o.Require("tree");
        using var sampler = new PeakAnonSampler();
        var stopwatch = Stopwatch.StartNew();
        var report = await new DuplicateFinder().FindAsync([tree]);
        stopwatch.Stop();
        await File.WriteAllLinesAsync(o.Require("out"), report.Groups.SelectMany(g => g.Files.Concat(g.HardLinks).Append("")));
        ProcessMeter.Report(new()
        {
            ["seconds"] = stopwatch.Elapsed.TotalSeconds,
            ["groups"] = report.Groups.Count,
            ["files"] = report.FilesScanned,
            ["bytes_read"] = report.BytesRead,
            ["peak_anon_kb"] = sampler.PeakKb,
            ["allocated_mb"] = GC.GetTotalAllocatedBytes() / 1e6,
            ["gc0"] = GC.CollectionCount(0),
            ["gc1"] = GC.CollectionCount(1),
            ["gc2"] = GC.CollectionCount(2),
        });
        return 0;
    }

    private static Measurement Child(string tree, string output, int seed)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var args = new List<string>();
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            args.Add(typeof(DupesScenario).Assembly.Location);
        }

        args.AddRange(["dupes", "child", "--tree", tree, "--out", output, "--seed", seed.ToString(Inv)]);
        return ProcessMeter.Run(host, args, parseResult: true);
    }

    /// <summary>
    /// The tree, made once per (files, seed) under a temporary name and renamed when complete. 400 folders two deep;
    /// sizes 1–64 KiB (78 %), 64–512 KiB (20 %), 1–4 MiB (2 %); about 30 % of the files are copies of another file,
    /// 5 % have the size (and the first and last 64 KiB) of another file but not its bytes, 3 % are hard links, and a
    /// few are empty files and symbolic links (which neither tool reports).
    /// </summary>
    public static string Prepare(string work, int files, int seed, out long bytes)
    {
        var home = Path.Combine(work, $"dupes-{files}-{seed}");
        var tree = Path.Combine(home, "tree");
        var sizeFile = Path.Combine(home, "bytes");
        if (Directory.Exists(tree) && File.Exists(sizeFile))
        {
            bytes = long.Parse(File.ReadAllText(sizeFile), Inv);
            return tree;
        }

        var stopwatch = Stopwatch.StartNew();
        var temp = tree + ".tmp";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        var random = new Random(seed);
        var folders = Enumerable.Range(0, 400).Select(i => Path.Combine(temp, $"d{i / 20}", $"s{i % 20}")).ToArray();
        foreach (var folder in folders)
        {
            Directory.CreateDirectory(folder);
        }

        var made = new List<(string Path, int Size, int Seed)>();
        var buffer = new byte[4 * 1024 * 1024];
        long total = 0;
        var count = 0;
        string Place(string name) => Path.Combine(folders[random.Next(folders.Length)], name);
        void Write(string path, int size, int contentSeed, int flipAt)
        {
            new Random(contentSeed).NextBytes(buffer.AsSpan(0, size));
            if (flipAt >= 0)
            {
                buffer[flipAt] ^= 0x5A;
            }

            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
            stream.Write(buffer, 0, size);
            total += size;
            count++;
        }

        while (count < files)
        {
            var roll = random.NextDouble();
            var name = $"f{count}.bin";
            if (roll < 0.30 && made.Count > 0)
            {
                var (_, size, contentSeed) = made[random.Next(made.Count)];
                Write(Place(name), size, contentSeed, -1);
            }
            else if (roll < 0.35 && made.Count > 0)
            {
                var (_, size, contentSeed) = made[random.Next(made.Count)];
                // Same size; over 128 KiB the same first and last 64 KiB with one byte different in the middle.
                Write(Place(name), size, size > 128 * 1024 ? contentSeed : random.Next(), size > 128 * 1024 ? size / 2 : -1);
            }
            else if (roll < 0.38 && made.Count > 0)
            {
                UnixFileCalls.Link(made[random.Next(made.Count)].Path, Place(name));
                count++;
            }
            else if (roll < 0.385)
            {
                File.WriteAllBytes(Place(name), []);
            }
            else if (roll < 0.39 && made.Count > 0)
            {
                var link = Place($"link{count}.bin");
                File.CreateSymbolicLink(link, Path.GetRelativePath(Path.GetDirectoryName(link)!, made[random.Next(made.Count)].Path));
            }
            else
            {
                var bucket = random.NextDouble();
                var size = bucket < 0.78 ? random.Next(1024, 64 * 1024)
                    : bucket < 0.98 ? random.Next(64 * 1024, 512 * 1024)
                    : random.Next(1024 * 1024, 4 * 1024 * 1024);
                var path = Place(name);
                var contentSeed = random.Next();
                Write(path, size, contentSeed, -1);
                made.Add((path, size, contentSeed));
            }
        }

        Directory.Move(temp, tree);
        bytes = total;
        File.WriteAllText(sizeFile, bytes.ToString(Inv));
        Datasets.Log($"dupes: made {files:N0} files ({bytes / 1e9:F2} GB) in {stopwatch.Elapsed.TotalSeconds:F0} s under {tree}");
        return tree;
    }

    /// <summary>Groups from a file: paths one a line, groups separated by an empty line (jdupes' output, and our child's).</summary>
    private static List<List<string>> Groups(string file)
    {
        var groups = new List<List<string>>();
        var current = new List<string>();
        foreach (var line in File.ReadLines(file).Append(""))
        {
            if (line.Length > 0)
            {
                current.Add(line);
            }
            else if (current.Count > 0)
            {
                groups.Add(current);
                current = [];
            }
        }

        return groups;
    }

    /// <summary>Each group as its sorted set of device:inode (names of one file are one file), the groups sorted.</summary>
    private static List<string> ByInode(List<List<string>> groups) => groups
        .Select(g => string.Join(' ', g.Select(Inode).Distinct().Order(StringComparer.Ordinal)))
        .Order(StringComparer.Ordinal)
        .ToList();

    private static string Inode(string path) => FileIdentity.TryGet(path, out var id, out _)
        ? $"{id.Device}:{id.Inode}"
        : throw new InvalidOperationException($"dupes: cannot stat {path}");

    private static Measurement Log(string side, int run, int runs, Measurement m)
    {
        Datasets.Log($"dupes {side} run {run}/{runs}: {m.WallSeconds:F2} s (process {m.ProcessSeconds:F2} s), CPU {m.CpuSeconds:F2} s, peak RSS {Mb(m.MaxRssKb)}");
        return m;
    }

    private static string Row(string data, string measure, string ours, string peer, string ratio, string target, bool? met, List<Measurement> o, List<Measurement> p) =>
        $"| dupes | {data} | {measure} | {ours} | {peer} | {ratio} | {target} | {(met is null ? "" : met.Value ? "yes" : "**no**")} | "
        + $"{(o.Count == 0 ? "" : Runner.Median(o, m => m.CpuSeconds).ToString("F2", Inv))} | {(o.Count == 0 ? "" : Mb((long)Runner.Median(o, m => m.MaxRssKb)))} | "
        + $"{(p.Count == 0 ? "" : Runner.Median(p, m => m.CpuSeconds).ToString("F2", Inv))} | {(p.Count == 0 ? "" : Mb((long)Runner.Median(p, m => m.MaxRssKb)))} | {Math.Max(o.Count, p.Count)} |";

    private static string Sec(double s) => s.ToString(s < 10 ? "F2" : "F1", Inv);

    private static string Mb(long kb) => kb < 0 ? "?" : $"{kb / 1024.0:F0} MB";

    private static string? Tool(string name) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, name))
        .FirstOrDefault(File.Exists);

    private static string Capture(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return text;
    }
}
