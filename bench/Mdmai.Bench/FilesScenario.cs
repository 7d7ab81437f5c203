using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.Bench;

/// <summary>
/// The <c>files</c> scenario: the file store with encryption on (see docs/benchmarks.md) —
/// import, export and read-stream of one large file (incompressible and text-like, 100 MiB and 1 GiB) against
/// <c>cp FILE DEST &amp;&amp; sha256sum DEST</c>, and our peak memory at both sizes; folder import of 20,000 small files
/// against <c>cp -r</c> + <c>sha256sum</c> of the copies; 16 concurrent clients in one process; and the cache's hit
/// rate on a Zipf-skewed read workload. Every measured side is its own child process under GNU time.
/// <c>Mdmai.Bench files [--files-parts single,folder,concurrent,cache] [--files-sizes 100m,1g] [--files-kinds incompressible,text]
/// [--runs N] [--big-runs N] [--folder-files N] [--clients N] [--concurrent-seconds S] [--preload N] [--cache-objects N]
/// [--cache-reads N] [--cache-mb 0,8,64] [--zipf S] [--work DIR] [--seed N]</c>.
/// Diagnostics (children, run by hand): <c>files child codec --data D --file F</c> (MB/s of each stage of an import) and
/// <c>files child codec-small --data D --tree T [--count N]</c> (µs per small file of each stage).
/// </summary>
public static class FilesScenario
{
    /// <summary>Password of the generated data folders.</summary>
    public const string Password = "mdmai bench files password";

    private const long MiB = 1024 * 1024;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private static readonly string[] AllParts = ["single", "folder", "concurrent", "cache"];
    private static readonly string[] Kinds = ["incompressible", "text"];
    private static readonly string[] Ops = ["import", "export", "read"];

    /// <summary>Runs the scenario, or its child side (<c>files child OP ...</c>).</summary>
    public static async Task<int> RunAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Positional.Count > 1 && o.Positional[1] == "child")
        {
            return await ChildAsync(o);
        }

        var parts = o.Get("files-parts", string.Join(',', AllParts)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        foreach (var part in parts.Where(p => !AllParts.Contains(p)))
        {
            throw new ArgumentException($"--files-parts: unknown part '{part}'; use {string.Join(", ", AllParts)}.");
        }

        var runs = (int)o.GetLong("runs", 3);
        var bigRuns = (int)o.GetLong("big-runs", runs);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var sizes = o.Get("files-sizes", "100m,1g").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseSize).Distinct().Order().ToList();
        foreach (var tool in new[] { "cp", "sha256sum", "sync", "find" })
        {
            if (Tool(tool) is null)
            {
                throw new InvalidOperationException($"{tool} is not installed (coreutils, findutils); the files scenario compares with it.");
            }
        }

        if (!ProcessMeter.HasGnuTime)
        {
            Datasets.Log("warning: /usr/bin/time is missing (apt-get install -y time); the peers' peak RSS will be unknown.");
        }

        var total = Stopwatch.StartNew();
        var home = Path.Combine(work, $"files-s{seed}");
        Directory.CreateDirectory(home);
        var runDir = Path.Combine(work, "runs", "files");
        DeleteFolder(runDir);
        Directory.CreateDirectory(runDir);
        var template = await TemplateAsync(home);
        var rows = new List<string>();
        var raw = new Dictionary<string, object>(StringComparer.Ordinal);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        var loadStart = LoadAverage();

        async Task WriteReportAsync(bool last)
        {
            var report = new StringBuilder();
            report.AppendLine(Inv, $"## files ({DateTime.Now:yyyy-MM-dd HH:mm}, --files-parts {string.Join(',', parts)}, --files-sizes {string.Join(',', sizes.Select(SizeLabel))}, --runs {runs}, --big-runs {bigRuns}, seed {seed}, total {total.Elapsed.TotalMinutes:F1} min{(last ? "" : ", partial")})");
            report.AppendLine();
            foreach (var line in Runner.MachineInfo().Where(l => !l.StartsWith("sqlite3", StringComparison.Ordinal)))
            {
                report.AppendLine(Inv, $"- {line}");
            }

            report.AppendLine(Inv, $"- load average at the start {loadStart}, at the end {LoadAverage()}; {Capture("cp", "--version").Split('\n')[0]}; warm page cache (every input read once before each run)");
            report.AppendLine("- ours: an encrypted data folder (Argon2id default KDF, AES-256-GCM objects), opened and unlocked in the child before the clock starts; MB = 10^6 bytes");
            report.AppendLine();
            report.AppendLine("| scenario | data | measure | ours | peer | ratio | target | met | ours CPU s | ours peak RSS | peer CPU s | peer peak RSS | runs |");
            report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var row in rows)
            {
                report.AppendLine(row);
            }

            report.AppendLine();
            report.AppendLine("Figures are medians of the runs. Ratios: for rates ours ÷ peer (higher is better); for memory large ÷ small.");
            if (last)
            {
                Console.WriteLine(report);
            }

            await File.WriteAllTextAsync(Path.Combine(work, $"results-files-{stamp}.md"), report.ToString());
            await File.WriteAllTextAsync(Path.Combine(work, $"results-files-{stamp}.json"), JsonSerializer.Serialize(raw, Indented));
        }

        if (parts.Contains("single"))
        {
            var kinds = o.Get("files-kinds", string.Join(',', Kinds)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            foreach (var kind in kinds.Where(k => !Kinds.Contains(k)))
            {
                throw new ArgumentException($"--files-kinds: unknown kind '{kind}'; use {string.Join(", ", Kinds)}.");
            }

            await SingleAsync(home, runDir, template, kinds, sizes, runs, bigRuns, seed, rows, raw);
            await WriteReportAsync(false);
        }

        if (parts.Contains("folder") || parts.Contains("concurrent"))
        {
            var count = (int)o.GetLong("folder-files", 20_000);
            var tree = PrepareFolder(home, count, seed, out var bytes);
            if (parts.Contains("folder"))
            {
                Folder(runDir, template, tree, count, bytes, runs, seed, rows, raw);
                await WriteReportAsync(false);
            }

            if (parts.Contains("concurrent"))
            {
                Concurrent(o, runDir, template, tree, runs, seed, rows, raw);
                await WriteReportAsync(false);
            }
        }

        if (parts.Contains("cache"))
        {
            await CacheAsync(o, home, runs, seed, rows, raw);
        }

        await WriteReportAsync(true);
        DeleteFolder(runDir);
        Datasets.Log($"files: results in {Path.Combine(work, $"results-files-{stamp}.md")} (and .json); total {total.Elapsed.TotalMinutes:F1} min");
        return 0;
    }

    // ================================================================ single file: import, export, read

    private static async Task SingleAsync(string home, string runDir, string template, List<string> kinds, List<long> sizes, int runs, int bigRuns, int seed,
        List<string> rows, Dictionary<string, object> raw)
    {
        var rss = new Dictionary<(string Kind, string Op), List<(long Size, double Rss, double OpRss, double Anon)>>();
        var hasOpenSsl = Tool("openssl") is not null;
        foreach (var kind in Kinds.Where(kinds.Contains))
        {
            foreach (var size in sizes)
            {
                var input = PrepareFile(home, kind, size, seed);
                var inputHash = await Sha256Async(input);
                var n = size == sizes[^1] && sizes.Count > 1 ? bigRuns : runs;
                var label = $"{SizeLabel(size)} {kind}";
                var m = new Dictionary<string, List<Measurement>>(StringComparer.Ordinal);
                void Add(string key, Measurement x)
                {
                    if (!m.TryGetValue(key, out var list))
                    {
                        m[key] = list = [];
                    }

                    list.Add(x);
                    Datasets.Log($"files {label} {key} run {list.Count}/{n}: {x.WallSeconds:F2} s ({size / 1e6 / x.WallSeconds:F0} MB/s; process {x.ProcessSeconds:F2} s), CPU {x.CpuSeconds:F2} s, peak RSS {MbText(x.MaxRssKb)}"
                        + (x.Metrics.TryGetValue("op_peak_anon_kb", out var a) ? $", anon during the op {a / 1024:F0} MB (before {x.Metrics["op_anon_before_kb"] / 1024:F0} MB)" : ""));
                }

                for (var run = 1; run <= n; run++)
                {
                    var dir = Path.Combine(runDir, "single");
                    DeleteFolder(dir);
                    Directory.CreateDirectory(dir);
                    var data = Path.Combine(dir, "data");
                    CopyFolder(template, data);
                    NativeMethods.Sync();

                    // Ours: import (fresh encrypted folder), export of it, read stream of it — three children.
                    Warm(input);
                    var import = Child(seed, "import", "--data", data, "--file", input);
                    Check(import.Metrics["bytes"] == size, $"files: import stored {import.Metrics["bytes"]} bytes of {size}");
                    Add("import", import);
                    NativeMethods.Sync();
                    Warm(Path.Combine(data, "objects"));
                    var exported = Path.Combine(dir, "export.out");
                    Add("export", Child(seed, "export", "--data", data, "--out", exported));
                    if (run == 1)
                    {
                        Check(await Sha256Async(exported) == inputHash, $"files: the export of {label} differs from the input");
                    }

                    File.Delete(exported);
                    NativeMethods.Sync();
                    var read = Child(seed, "read", "--data", data);
                    Check(read.Metrics["bytes"] == size, $"files: read {read.Metrics["bytes"]} bytes of {size}");
                    Add("read", read);
                    DeleteFolder(data);
                    NativeMethods.Sync();

                    // Peers: one copy and one hash of the same file (as the issue states it), the same with the copy
                    // made durable (as ours is), and sha256sum alone (reads and checks, as the read stream does).
                    var copy = ProcessMeter.Quote(Path.Combine(dir, "copy.out"));
                    var source = ProcessMeter.Quote(input);
                    Warm(input);
                    Add("peer", Shell($"cp -- {source} {copy} && sha256sum -- {copy} > /dev/null"));
                    File.Delete(Path.Combine(dir, "copy.out"));
                    NativeMethods.Sync();
                    Warm(input);
                    Add("peer-sync", Shell($"cp -- {source} {copy} && sha256sum -- {copy} > /dev/null && sync -- {copy}"));
                    File.Delete(Path.Combine(dir, "copy.out"));
                    NativeMethods.Sync();
                    Warm(input);
                    Add("peer-sha", Shell($"sha256sum -- {source} > /dev/null"));
                    if (hasOpenSsl)
                    {
                        // coreutils' sha256sum does not use the CPU's SHA instructions; OpenSSL (as .NET does) does.
                        Warm(input);
                        Add("peer-openssl", Shell($"cp -- {source} {copy} && openssl dgst -sha256 {copy} > /dev/null"));
                        File.Delete(Path.Combine(dir, "copy.out"));
                        NativeMethods.Sync();
                    }

                    DeleteFolder(dir);
                }

                double Rate(string key) => size / 1e6 / Runner.Median(m[key], x => x.WallSeconds);
                var stored = Runner.Median(m["import"], x => x.Metrics["stored_bytes"]);
                var what = $"{label} ({(stored < size * 0.95 ? $"stored compressed, {stored / size:P0}" : "stored uncompressed")})";
                var peer = Rate("peer");
                rows.Add(Row(what, "import (ImportFileAsync), MB/s — peer `cp F D && sha256sum D`", Rate("import"), peer, "≥ 0.8× peer", m["import"], m["peer"]));
                rows.Add(Row(what, "export (ExportAsync to a path), MB/s — peer `cp F D && sha256sum D`", Rate("export"), peer, "≥ 0.8× peer", m["export"], m["peer"]));
                rows.Add(Row(what, "import, MB/s — peer with the copy made durable: `cp && sha256sum && sync D`", Rate("import"), Rate("peer-sync"), "", m["import"], m["peer-sync"]));
                rows.Add(Row(what, "read stream (OpenReadAsync → Stream.Null), MB/s — peer `sha256sum F`", Rate("read"), Rate("peer-sha"), "", m["read"], m["peer-sha"]));
                if (hasOpenSsl)
                {
                    rows.Add(Row(what, "import, MB/s — peer hashing with OpenSSL: `cp F D && openssl dgst -sha256 D`", Rate("import"), Rate("peer-openssl"), "", m["import"], m["peer-openssl"]));
                    rows.Add(Row(what, "export, MB/s — peer hashing with OpenSSL: `cp F D && openssl dgst -sha256 D`", Rate("export"), Rate("peer-openssl"), "", m["export"], m["peer-openssl"]));
                }
                foreach (var op in Ops)
                {
                    if (!rss.TryGetValue((kind, op), out var list))
                    {
                        rss[(kind, op)] = list = [];
                    }

                    list.Add((size, Runner.Median(m[op], x => x.MaxRssKb), Runner.Median(m[op], x => x.Metrics["op_peak_rss_kb"]), Runner.Median(m[op], x => x.Metrics["op_peak_anon_kb"])));
                }

                raw[$"single {label}"] = m;
            }
        }

        foreach (var ((kind, op), list) in rss.Where(r => r.Value.Count > 1))
        {
            var (small, large) = (list[0], list[^1]);
            var growth = large.OpRss / small.OpRss;
            rows.Add($"| files | {kind}, {SizeLabel(small.Size)} → {SizeLabel(large.Size)} | {op}: our peak RSS MB during the op, small → large (anonymous part; whole process by GNU time) | "
                + $"{small.OpRss / 1024:F0} → {large.OpRss / 1024:F0} ({small.Anon / 1024:F0} → {large.Anon / 1024:F0}; {small.Rss / 1024:F0} → {large.Rss / 1024:F0}) |  | {growth:F2}× | the same (≤ 1.1×) | {Met(growth <= 1.1)} |  |  |  |  |  |");
        }
    }

    // ================================================================ folder import

    private static void Folder(string runDir, string template, string tree, int count, long bytes, int runs, int seed, List<string> rows, Dictionary<string, object> raw)
    {
        var ours = new List<Measurement>();
        var peer = new List<Measurement>();
        for (var run = 1; run <= runs; run++)
        {
            var dir = Path.Combine(runDir, "folder");
            DeleteFolder(dir);
            Directory.CreateDirectory(dir);
            var data = Path.Combine(dir, "data");
            CopyFolder(template, data);
            NativeMethods.Sync();
            Warm(tree);
            var m = Child(seed, "folder", "--data", data, "--tree", tree);
            Check(m.Metrics["files"] == count && m.Metrics["errors"] == 0, $"files: folder import imported {m.Metrics["files"]} of {count} files with {m.Metrics["errors"]} errors");
            ours.Add(m);
            Datasets.Log($"files folder ours run {run}/{runs}: {m.WallSeconds:F2} s ({count / m.WallSeconds:F0} files/s), CPU {m.CpuSeconds:F2} s, peak RSS {MbText(m.MaxRssKb)}");
            DeleteFolder(data);
            NativeMethods.Sync();
            Warm(tree);
            var copy = Path.Combine(dir, "copy");
            var p = Shell($"cp -r -- {ProcessMeter.Quote(tree)} {ProcessMeter.Quote(copy)} && find {ProcessMeter.Quote(copy)} -type f -exec sha256sum -- {{}} + > /dev/null");
            peer.Add(p);
            Datasets.Log($"files folder peer run {run}/{runs}: {p.WallSeconds:F2} s ({count / p.WallSeconds:F0} files/s), CPU {p.CpuSeconds:F2} s, peak RSS {MbText(p.MaxRssKb)}");
            DeleteFolder(dir);
            NativeMethods.Sync();
        }

        var data2 = $"{count:N0} files of 1–64 KiB, half text, half random ({bytes / 1e6:F0} MB)";
        const string peerText = "peer `cp -r T D && find D -type f -exec sha256sum {} +`";
        rows.Add(Row(data2, $"folder import (ImportPathsAsync, {Environment.ProcessorCount} at a time), files/s — {peerText}", count / Runner.Median(ours, x => x.WallSeconds), count / Runner.Median(peer, x => x.WallSeconds), "(none given)", ours, peer));
        rows.Add(Row(data2, "folder import, MB/s", bytes / 1e6 / Runner.Median(ours, x => x.WallSeconds), bytes / 1e6 / Runner.Median(peer, x => x.WallSeconds), "", ours, peer));
        raw["folder"] = new { ours, peer };
    }

    // ================================================================ concurrent clients

    private static void Concurrent(Options o, string runDir, string template, string tree, int runs, int seed, List<string> rows, Dictionary<string, object> raw)
    {
        var clients = (int)o.GetLong("clients", 16);
        var seconds = o.GetDouble("concurrent-seconds", 20);
        var preload = (int)o.GetLong("preload", 500);
        var ours = new List<Measurement>();
        for (var run = 1; run <= runs; run++)
        {
            var dir = Path.Combine(runDir, "concurrent");
            DeleteFolder(dir);
            Directory.CreateDirectory(dir);
            var data = Path.Combine(dir, "data");
            CopyFolder(template, data);
            NativeMethods.Sync();
            Warm(tree);
            var m = Child(seed + run, "concurrent", "--data", data, "--tree", tree, "--out", dir, "--clients", clients.ToString(Inv),
                "--concurrent-seconds", seconds.ToString(Inv), "--preload", preload.ToString(Inv), "--cache-mb", "0");
            ours.Add(m);
            Datasets.Log($"files concurrent run {run}/{runs}: {m.Metrics["ops"]:F0} ops in {m.WallSeconds:F1} s ({m.Metrics["ops"] / m.WallSeconds:F0} ops/s, {m.Metrics["bytes"] / 1e6 / m.WallSeconds:F0} MB/s), "
                + $"errors {m.Metrics["errors"]:F0}, verify problems {m.Metrics["verify_problems"]:F0}, CPU {m.CpuSeconds:F2} s, peak RSS {MbText(m.MaxRssKb)}");
            DeleteFolder(dir);
            NativeMethods.Sync();
        }

        var what = $"{clients} clients × {seconds:F0} s in one process, cache 0; 40 % import (new 1–64 KiB file), 30 % export, 30 % read of {preload} stored files";
        var opsPerSecond = Runner.Median(ours, x => x.Metrics["ops"] / x.WallSeconds);
        var mbPerSecond = Runner.Median(ours, x => x.Metrics["bytes"] / 1e6 / x.WallSeconds);
        rows.Add(Cells(what, "total ops/s (MB/s)", $"{opsPerSecond:N0} ({mbPerSecond:F1})", "—", "", "", null, ours, []));
        foreach (var op in Ops)
        {
            rows.Add(Cells(what, $"{op}: p50 / p99 (max) ms, count", $"{Runner.Median(ours, x => x.Metrics[op + "_p50_us"]) / 1000:F2} / {Runner.Median(ours, x => x.Metrics[op + "_p99_us"]) / 1000:F2} "
                + $"({Runner.Median(ours, x => x.Metrics[op + "_max_us"]) / 1000:F0}), {Runner.Median(ours, x => x.Metrics[op + "_count"]):N0}", "—", "", "", null, ours, []));
        }

        var errors = ours.Sum(x => x.Metrics["errors"] + x.Metrics["verify_problems"] + x.Metrics["catalog_mismatch"]);
        rows.Add(Cells(what, "errors + verify problems + catalog mismatches, all runs", errors.ToString("F0", Inv), "—", "", "0", errors == 0, ours, []));
        raw["concurrent"] = ours;
    }

    // ================================================================ cache

    private static async Task CacheAsync(Options o, string home, int runs, int seed, List<string> rows, Dictionary<string, object> raw)
    {
        var objects = (int)o.GetLong("cache-objects", 2_000);
        var reads = o.GetLong("cache-reads", 40_000);
        var zipf = o.GetDouble("zipf", 1.1);
        var sizes = o.Get("cache-mb", "0,8,64").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => long.Parse(s, Inv)).Distinct().Order().ToList();
        if (sizes[0] != 0)
        {
            sizes.Insert(0, 0);
        }

        var (data, bytes) = await PrepareCacheFolderAsync(home, objects, seed);
        var bySize = new Dictionary<long, List<Measurement>>();
        var accounting = new Dictionary<long, Measurement>();
        foreach (var mb in sizes)
        {
            Warm(Path.Combine(data, "objects"));
            var a = accounting[mb] = Child(seed, "cache", "--data", data, "--cache-mb", mb.ToString(Inv), "--cache-reads", reads.ToString(Inv), "--zipf", zipf.ToString(Inv), "--accounting");
            Datasets.Log($"files cache {mb} MiB accounting: hit rate {a.Metrics["hit_rate"]:P1}: content {a.Metrics["object_hit_rate"]:P1}, catalog rows {a.Metrics["catalog_hit_rate"]:P1} (together {a.Metrics["derived_hit_rate"]:P1})");
            Check(Math.Abs(a.Metrics["derived_hit_rate"] - a.Metrics["hit_rate"]) < 1e-9, "files cache: the accounting pass does not add up to the cache's statistics");
        }

        for (var run = 1; run <= runs; run++)
        {
            foreach (var mb in sizes)
            {
                Warm(Path.Combine(data, "objects"));
                var m = Child(seed, "cache", "--data", data, "--cache-mb", mb.ToString(Inv), "--cache-reads", reads.ToString(Inv), "--zipf", zipf.ToString(Inv));
                if (!bySize.TryGetValue(mb, out var list))
                {
                    bySize[mb] = list = [];
                }

                list.Add(m);
                Datasets.Log($"files cache {mb} MiB run {run}/{runs}: {m.Metrics["reads_per_s"]:F0} reads/s, hit rate {m.Metrics["hit_rate"]:P1}, CPU {m.CpuSeconds:F2} s, peak RSS {MbText(m.MaxRssKb)}; during the reads {m.Metrics["op_peak_rss_kb"] / 1024:F0} MB "
                    + $"(anon {m.Metrics["op_peak_anon_kb"] / 1024:F0} MB, GC heap {m.Metrics["gc_heap_mb"]:F0} MB of which fragmented {m.Metrics["gc_fragmented_mb"]:F0} MB, live after a full GC {m.Metrics["live_after_pass_mb"]:F0} MB, gen2 GCs {m.Metrics["gen2_during_timed"]:F0})");
            }
        }

        var baseline = Runner.Median(bySize[0], x => x.Metrics["reads_per_s"]);
        var label = $"{objects:N0} objects of 2–192 KiB ({bytes / 1e6:F0} MB), {reads:N0} reads Zipf s={zipf} after {reads / 4:N0} warm-up";
        foreach (var mb in sizes)
        {
            var list = bySize[mb];
            var rate = Runner.Median(list, x => x.Metrics["reads_per_s"]);
            rows.Add(Cells(label, $"cache {mb} MiB: hit rate (Cache.Statistics; objects / catalog rows)",
                $"{Runner.Median(list, x => x.Metrics["hit_rate"]):P1} ({accounting[mb].Metrics["object_hit_rate"]:P1} / {accounting[mb].Metrics["catalog_hit_rate"]:P1})", "", "", "", null, list, []));
            rows.Add(Cells(label, $"cache {mb} MiB: reads/s (content read whole) — peer: the same with cache 0", $"{rate:N0}", mb == 0 ? "" : $"{baseline:N0}", mb == 0 ? "" : $"{rate / baseline:F2}×", "", null, list, mb == 0 ? [] : bySize[0]));
            rows.Add(Cells(label, $"cache {mb} MiB: our peak RSS MB during the reads (anonymous; GC heap at the end, of it fragmented; live after a full GC)",
                $"{Runner.Median(list, x => x.Metrics["op_peak_rss_kb"]) / 1024:F0} ({Runner.Median(list, x => x.Metrics["op_peak_anon_kb"]) / 1024:F0}; {Runner.Median(list, x => x.Metrics["gc_heap_mb"]):F0}, {Runner.Median(list, x => x.Metrics["gc_fragmented_mb"]):F0}; {Runner.Median(list, x => x.Metrics["live_after_pass_mb"]):F0})",
                "", "", "", null, list, []));
        }

        raw["cache"] = new { timed = bySize.ToDictionary(kv => kv.Key.ToString(Inv), kv => kv.Value), accounting = accounting.ToDictionary(kv => kv.Key.ToString(Inv), kv => kv.Value) };
    }

    // ================================================================ children

    private static Measurement Child(int seed, string op, params string[] args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var list = new List<string>();
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            list.Add(typeof(FilesScenario).Assembly.Location);
        }

        list.AddRange(["files", "child", op, "--seed", seed.ToString(Inv)]);
        list.AddRange(args);
        return ProcessMeter.Run(host, list, parseResult: true);
    }

    private static async Task<int> ChildAsync(Options o)
    {
        var op = o.Positional.Count > 2 ? o.Positional[2] : throw new ArgumentException("files child: which operation?");
        using var sampler = new PeakAnonSampler();
        var folder = await DataFolder.OpenAsync(o.Require("data"));
        var keyFile = await KeyFile.LoadAsync(folder.KeyFilePath);
        using var keys = keyFile.Unlock(Password);
        await using var db = await folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys });
        var cacheBytes = o.Has("cache-mb") ? o.GetLong("cache-mb", 0) * MiB : folder.Config.CacheSizeLimitMb * MiB;
        var store = new FileStore(db, folder.Path, keys, cacheBytes);
        GC.Collect();
        var metrics = op switch
        {
            "import" => await ChildImportAsync(o, store, sampler),
            "export" => await ChildExportAsync(o, store, sampler),
            "read" => await ChildReadAsync(store, sampler),
            "folder" => await ChildFolderAsync(o, store, sampler),
            "concurrent" => await ChildConcurrentAsync(o, store, sampler),
            "cache" => await ChildCacheAsync(o, db, folder.Path, keys, cacheBytes, sampler),
            "codec" => await ChildCodecAsync(o, keys),
            "codec-small" => await ChildCodecSmallAsync(o, keys, store),
            _ => throw new ArgumentException($"files child: unknown operation '{op}'."),
        };
        metrics["peak_anon_kb"] = sampler.PeakKb;
        metrics["allocated_mb"] = GC.GetTotalAllocatedBytes() / 1e6;
        metrics["gc0"] = GC.CollectionCount(0);
        metrics["gc1"] = GC.CollectionCount(1);
        metrics["gc2"] = GC.CollectionCount(2);
        ProcessMeter.Report(metrics);
        return 0;
    }

    private static async Task<Dictionary<string, double>> ChildImportAsync(Options o, FileStore store, PeakAnonSampler sampler)
    {
        var file = o.Require("file");
        var before = sampler.Reset();
        var stopwatch = Stopwatch.StartNew();
        var result = await store.ImportFileAsync(file);
        stopwatch.Stop();
        return new()
        {
            ["seconds"] = stopwatch.Elapsed.TotalSeconds,
            ["bytes"] = result.File.Size,
            ["stored_bytes"] = result.File.StoredSize,
            ["op_anon_before_kb"] = before,
            ["op_peak_anon_kb"] = sampler.PeakKb,
            ["op_peak_rss_kb"] = sampler.PeakRssKb,
        };
    }

    private static async Task<Dictionary<string, double>> ChildExportAsync(Options o, FileStore store, PeakAnonSampler sampler)
    {
        var file = (await store.ListAsync(limit: 1)).Items.Single();
        var before = sampler.Reset();
        var stopwatch = Stopwatch.StartNew();
        var written = await store.ExportAsync(file.Id, o.Require("out"));
        stopwatch.Stop();
        return new()
        {
            ["seconds"] = stopwatch.Elapsed.TotalSeconds,
            ["bytes"] = new FileInfo(written).Length,
            ["op_anon_before_kb"] = before,
            ["op_peak_anon_kb"] = sampler.PeakKb,
            ["op_peak_rss_kb"] = sampler.PeakRssKb,
        };
    }

    private static async Task<Dictionary<string, double>> ChildReadAsync(FileStore store, PeakAnonSampler sampler)
    {
        var file = (await store.ListAsync(limit: 1)).Items.Single();
        var before = sampler.Reset();
        var stopwatch = Stopwatch.StartNew();
        long bytes;
        await using (var stream = await store.OpenReadAsync(file.Id))
        {
            var counter = new CountingStream();
            await stream.CopyToAsync(counter, 1 << 20);
            bytes = counter.Count;
        }

        stopwatch.Stop();
        return new()
        {
            ["seconds"] = stopwatch.Elapsed.TotalSeconds,
            ["bytes"] = bytes,
            ["op_anon_before_kb"] = before,
            ["op_peak_anon_kb"] = sampler.PeakKb,
            ["op_peak_rss_kb"] = sampler.PeakRssKb,
        };
    }

    private static async Task<Dictionary<string, double>> ChildFolderAsync(Options o, FileStore store, PeakAnonSampler sampler)
    {
        var before = sampler.Reset();
        var stopwatch = Stopwatch.StartNew();
        var result = await store.ImportPathsAsync([o.Require("tree")]);
        stopwatch.Stop();
        foreach (var error in result.Errors.Take(5))
        {
            Console.Error.WriteLine($"folder import error: {error.Path}: {error.Message}");
        }

        return new()
        {
            ["seconds"] = stopwatch.Elapsed.TotalSeconds,
            ["files"] = result.Imported.Count,
            ["errors"] = result.Errors.Count,
            ["bytes"] = result.Imported.Sum(r => r.File.Size),
            ["deduplicated"] = result.Imported.Count(r => r.Deduplicated),
            ["op_anon_before_kb"] = before,
            ["op_peak_anon_kb"] = sampler.PeakKb,
            ["op_peak_rss_kb"] = sampler.PeakRssKb,
        };
    }

    /// <summary>
    /// N clients (tasks) on one store for a fixed time: 40 % import a new file of the tree, 30 % export a stored file
    /// (to the client's own path, overwriting), 30 % read one whole. Latency per operation; every failure counted; at
    /// the end every object is verified and the catalog must hold exactly the preloaded and imported files.
    /// </summary>
    private static async Task<Dictionary<string, double>> ChildConcurrentAsync(Options o, FileStore store, PeakAnonSampler sampler)
    {
        var clients = (int)o.GetLong("clients", 16);
        var seconds = o.GetDouble("concurrent-seconds", 20);
        var preload = (int)o.GetLong("preload", 500);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var outDir = o.Require("out");
        var files = Directory.EnumerateFiles(o.Require("tree"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var shuffle = new Random(seed);
        shuffle.Shuffle(files);
        var loaded = await store.ImportPathsAsync(files.Take(preload));
        Check(loaded.Errors.Count == 0, "files concurrent: the preload failed");
        var pool = loaded.Imported.Select(r => r.File).ToArray();
        var next = preload - 1;
        long errors = 0, bytes = 0, importedFiles = 0, deduplicated = 0;
        var messages = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var latencies = Ops.ToDictionary(k => k, _ => new System.Collections.Concurrent.ConcurrentBag<List<double>>());
        sampler.Reset();
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(seed * 31 + c);
            var mine = latencies.ToDictionary(kv => kv.Key, _ => new List<double>());
            var target = Path.Combine(outDir, $"export-{c}.out");
            while (clock.Elapsed < deadline)
            {
                var roll = random.Next(10);
                var op = roll < 4 ? "import" : roll < 7 ? "export" : "read";
                var start = Stopwatch.GetTimestamp();
                try
                {
                    long done;
                    switch (op)
                    {
                        case "import":
                            var path = files[Interlocked.Increment(ref next) % files.Length];
                            var result = await store.ImportFileAsync(path);
                            Interlocked.Increment(ref importedFiles);
                            if (result.Deduplicated)
                            {
                                Interlocked.Increment(ref deduplicated);
                            }

                            done = result.File.Size;
                            break;
                        case "export":
                            var f = pool[random.Next(pool.Length)];
                            await store.ExportAsync(f.Id, target, overwrite: true);
                            done = f.Size;
                            break;
                        default:
                            var r = pool[random.Next(pool.Length)];
                            await using (var stream = await store.OpenReadAsync(r.Id))
                            {
                                var counter = new CountingStream();
                                await stream.CopyToAsync(counter);
                                done = counter.Count;
                            }

                            if (done != r.Size)
                            {
                                throw new InvalidDataException($"read {done} bytes of {r.Name}, which has {r.Size}");
                            }

                            break;
                    }

                    mine[op].Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                    Interlocked.Add(ref bytes, done);
                }
#pragma warning disable CA1031 // every failure is counted: the target is none
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Interlocked.Increment(ref errors);
                    if (messages.Count < 10)
                    {
                        messages.Enqueue($"{op}: {ex.GetType().Name}: {ex.Message}");
                    }
                }
            }

            foreach (var (op, list) in mine)
            {
                latencies[op].Add(list);
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        clock.Stop();
        var peakDuring = sampler.PeakKb;
        var peakRssDuring = sampler.PeakRssKb;
        foreach (var message in messages)
        {
            Console.Error.WriteLine($"concurrent error: {message}");
        }

        var problems = await store.VerifyAsync();
        foreach (var problem in problems.Take(5))
        {
            Console.Error.WriteLine($"verify: {problem.ObjectId}: {problem.Problem}");
        }

        var stats = await store.GetStatsAsync();
        var metrics = new Dictionary<string, double>
        {
            ["seconds"] = clock.Elapsed.TotalSeconds,
            ["bytes"] = bytes,
            ["errors"] = errors,
            ["imported"] = importedFiles,
            ["deduplicated"] = deduplicated,
            ["verify_problems"] = problems.Count,
            ["catalog_mismatch"] = stats.Files == preload + importedFiles ? 0 : 1,
            ["op_peak_anon_kb"] = peakDuring,
            ["op_peak_rss_kb"] = peakRssDuring,
        };
        long ops = 0;
        foreach (var (op, bags) in latencies)
        {
            var all = bags.SelectMany(l => l).Order().ToArray();
            ops += all.Length;
            metrics[op + "_count"] = all.Length;
            metrics[op + "_p50_us"] = Percentile(all, 0.50);
            metrics[op + "_p99_us"] = Percentile(all, 0.99);
            metrics[op + "_max_us"] = all.Length == 0 ? 0 : all[^1];
        }

        metrics["ops"] = ops;
        return metrics;
    }

    /// <summary>
    /// Zipf-skewed reads of small objects with a cache of <c>--cache-mb</c>: a warm-up of a quarter of the reads, then
    /// the timed reads (OpenReadAsync, content read whole). Hit rate from <see cref="FileStore.Cache"/>'s statistics
    /// (each read looks up the catalog row, then the content); memory of this pass (sampled RSS, GC heap). With
    /// <c>--accounting</c>, a second pass over the same sequence on a new store looks the row up first on its own, which
    /// splits the figure into content and catalog-row hits (the extra lookup always hits and is subtracted).
    /// </summary>
    private static async Task<Dictionary<string, double>> ChildCacheAsync(Options o, MdmaiDatabase db, string root, KeyRing keys, long cacheBytes, PeakAnonSampler sampler)
    {
        var reads = (int)o.GetLong("cache-reads", 40_000);
        var zipf = o.GetDouble("zipf", 1.1);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var lister = new FileStore(db, root, keys);
        var ids = new List<StoredFile>();
        for (var offset = 0; ; offset += 1000)
        {
            var page = await lister.ListAsync(sortBy: "name", descending: false, limit: 1000, offset: offset);
            ids.AddRange(page.Items);
            if (page.Items.Count < 1000)
            {
                break;
            }
        }

        // Popularity rank → object: a seeded permutation, so the popular objects are of every size.
        var ranked = ids.ToArray();
        new Random(seed + 7).Shuffle(ranked);
        var cdf = new double[ranked.Length];
        double sum = 0;
        for (var k = 0; k < ranked.Length; k++)
        {
            sum += 1 / Math.Pow(k + 1, zipf);
            cdf[k] = sum;
        }

        var random = new Random(seed + 11);
        var warmup = reads / 4;
        var sequence = new Guid[warmup + reads];
        for (var i = 0; i < sequence.Length; i++)
        {
            var index = Array.BinarySearch(cdf, random.NextDouble() * sum);
            sequence[i] = ranked[Math.Min(index < 0 ? ~index : index, ranked.Length - 1)].Id;
        }

        static async Task<long> ReadAsync(FileStore s, Guid id)
        {
            await using var stream = await s.OpenReadAsync(id);
            var counter = new CountingStream();
            await stream.CopyToAsync(counter);
            return counter.Count;
        }

        // Timed pass (the memory figures are of this pass: warm-up and timed reads).
        GC.Collect();
        var anonBefore = sampler.Reset();
        var store = new FileStore(db, root, keys, cacheBytes);
        for (var i = 0; i < warmup; i++)
        {
            await ReadAsync(store, sequence[i]);
        }

        var s0 = store.Cache.Statistics;
        long bytes = 0;
        var gen2Before = GC.CollectionCount(2);
        var stopwatch = Stopwatch.StartNew();
        for (var i = warmup; i < sequence.Length; i++)
        {
            bytes += await ReadAsync(store, sequence[i]);
        }

        stopwatch.Stop();
        var s1 = store.Cache.Statistics;
        var hits = s1.Hits - s0.Hits;
        var lookups = hits + s1.Misses - s0.Misses;
        var gcInfo = GC.GetGCMemoryInfo();
        var memory = new Dictionary<string, double>
        {
            ["op_anon_before_kb"] = anonBefore,
            ["op_peak_anon_kb"] = sampler.PeakKb,
            ["op_peak_rss_kb"] = sampler.PeakRssKb,
            ["gc_heap_mb"] = gcInfo.HeapSizeBytes / 1e6,
            ["gc_fragmented_mb"] = gcInfo.FragmentedBytes / 1e6,
            ["gc_committed_mb"] = gcInfo.TotalCommittedBytes / 1e6,
            ["gen2_during_timed"] = GC.CollectionCount(2) - gen2Before,
            ["gc_total_memory_mb"] = GC.GetTotalMemory(false) / 1e6,
        };
        store = null; // the accounting pass below has a cache of its own
        GC.Collect();
        memory["live_after_pass_mb"] = GC.GetTotalMemory(true) / 1e6;

        // Accounting pass: the same sequence on a fresh store of the same size, the row looked up on its own first
        // (the cache evolves exactly as in the timed pass; the extra lookup always hits and is subtracted).
        // Only with --accounting (hit rates are deterministic: the parent asks once per size, in a child of its own,
        // so that the timed children's memory is the timed pass's alone).
        var probe = new FileStore(db, root, keys, cacheBytes);
        long catalogHits = -reads, objectHits = -reads;
        if (o.Has("accounting"))
        {
            catalogHits = objectHits = 0;
        }

        for (var i = 0; i < sequence.Length && o.Has("accounting"); i++)
        {
            var a = probe.Cache.Statistics.Hits;
            await probe.GetAsync(sequence[i]);
            var b = probe.Cache.Statistics.Hits;
            await ReadAsync(probe, sequence[i]);
            var c = probe.Cache.Statistics.Hits;
            if (i >= warmup)
            {
                catalogHits += b - a;
                objectHits += Math.Max(0, c - b - (b - a == 1 || cacheBytes > 0 ? 1 : 0));
            }
        }

        return new Dictionary<string, double>
        {
            ["seconds"] = stopwatch.Elapsed.TotalSeconds,
            ["reads"] = reads,
            ["bytes"] = bytes,
            ["reads_per_s"] = reads / stopwatch.Elapsed.TotalSeconds,
            ["hit_rate"] = lookups == 0 ? 0 : (double)hits / lookups,
            ["lookups_per_read"] = (double)lookups / reads,
            ["object_hit_rate"] = (double)objectHits / reads,
            ["catalog_hit_rate"] = (double)catalogHits / reads,
            ["derived_hit_rate"] = o.Has("accounting") ? (double)(objectHits + catalogHits) / (2.0 * reads) : -1,
            ["evictions"] = s1.Evictions - s0.Evictions,
            ["cached_entries"] = s1.Count,
            ["cached_bytes"] = s1.Bytes,
            ["distinct_objects_read"] = sequence.Skip(warmup).Distinct().Count(),
        }.Concat(memory).ToDictionary();
    }

    /// <summary>
    /// Diagnostic (not part of the scenario's table): where an import's time goes. Each stage alone over the same file
    /// (warm page cache), to a sink: reading it, HMAC-SHA-256, zstd level 1 and 3 (and level 3 with one worker thread
    /// per core), sealing without compression, and the whole object writer (compress when it pays, then seal).
    /// </summary>
    private static async Task<Dictionary<string, double>> ChildCodecAsync(Options o, KeyRing keys)
    {
        var file = o.Require("file");
        var buffer = new byte[1 << 20];
        var metrics = new Dictionary<string, double>();
        long size = new FileInfo(file).Length;
        async Task Stage(string name, Func<Stream> sink, Func<Stream, Task>? complete = null, Action<byte[], int>? each = null)
        {
            await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var stopwatch = Stopwatch.StartNew();
            var target = sink();
            int read;
            while ((read = await input.ReadAsync(buffer)) > 0)
            {
                each?.Invoke(buffer, read);
                await target.WriteAsync(buffer.AsMemory(0, read));
            }

            if (complete is not null)
            {
                await complete(target);
            }

            await target.DisposeAsync();
            stopwatch.Stop();
            metrics[name + "_mb_s"] = size / 1e6 / stopwatch.Elapsed.TotalSeconds;
            Datasets.Log($"codec {name}: {size / 1e6 / stopwatch.Elapsed.TotalSeconds:F0} MB/s");
        }

        await Stage("read", () => Stream.Null);
        var hmacKey = new byte[32];
        using (var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey))
        {
            await Stage("hmac_sha256", () => Stream.Null, each: (b, n) => hmac.AppendData(b, 0, n));
        }

        await Stage("zstd1", () => new ZstdSharp.CompressionStream(Stream.Null, 1, leaveOpen: true));
        await Stage("zstd3", () => new ZstdSharp.CompressionStream(Stream.Null, 3, leaveOpen: true));
        await Stage("zstd3_workers", () =>
        {
            var z = new ZstdSharp.CompressionStream(Stream.Null, 3, leaveOpen: true);
            z.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_nbWorkers, Environment.ProcessorCount);
            return z;
        });
        ObjectWriter? writer = null;
        await Stage("seal", () => (writer = ObjectCodec.CreateWriter(Stream.Null, keys.Current, compress: false)).Stream, _ => writer!.CompleteAsync());
        await Stage("seal_zstd3", () => (writer = ObjectCodec.CreateWriter(Stream.Null, keys.Current, compress: true)).Stream, _ => writer!.CompleteAsync());
        metrics["seconds"] = 0;
        return metrics;
    }

    /// <summary>
    /// Diagnostic: the cost per small file of each step of an import, over the first <c>--count</c> files of
    /// <c>--tree</c> (sorted), one at a time: reading it, the compressibility test, the content hash, the object writer
    /// to memory (compressed when the test says so, sealed), and then the whole ImportFileAsync of the same files.
    /// </summary>
    private static async Task<Dictionary<string, double>> ChildCodecSmallAsync(Options o, KeyRing keys, FileStore store)
    {
        var count = (int)o.GetLong("count", 2000);
        var files = Directory.EnumerateFiles(o.Require("tree"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(count).ToArray();
        var contents = files.Select(File.ReadAllBytes).ToArray();
        var metrics = new Dictionary<string, double>();
        void Time(string name, Action<byte[]> step)
        {
            foreach (var content in contents.Take(500))
            {
                step(content); // warm-up: the code tiered up, buffers pooled
            }

            var cpu = NativeMethods.SelfUsage();
            var stopwatch = Stopwatch.StartNew();
            foreach (var content in contents)
            {
                step(content);
            }

            stopwatch.Stop();
            var after = NativeMethods.SelfUsage();
            metrics[name + "_us"] = stopwatch.Elapsed.TotalMicroseconds / contents.Length;
            metrics[name + "_cpu_us"] = (after.User + after.Sys - cpu.User - cpu.Sys) * 1e6 / contents.Length;
            Datasets.Log($"codec-small {name}: {metrics[name + "_us"]:F0} µs a file (CPU {metrics[name + "_cpu_us"]:F0} µs)");
        }

        var compressible = 0;
        Time("worth_compressing", c => compressible += ObjectCodec.IsWorthCompressing(c.AsSpan(0, Math.Min(c.Length, ObjectCodec.SampleSize))) ? 1 : 0);
        compressible = contents.Count(c => ObjectCodec.IsWorthCompressing(c.AsSpan(0, Math.Min(c.Length, ObjectCodec.SampleSize))));
        var hmacKey = new byte[32];
        Time("hmac", c =>
        {
            using var h = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey);
            h.AppendData(c);
            h.GetHashAndReset();
        });
        Time("compressor_level1_new", _ =>
        {
            using var compressor = new ZstdSharp.Compressor(1);
        });
        Time("writer_sealed_only", c =>
        {
            var writer = ObjectCodec.CreateWriter(Stream.Null, keys.Current, compress: false);
            writer.Stream.Write(c);
            writer.CompleteAsync().GetAwaiter().GetResult();
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
        Time("writer_as_import", c =>
        {
            var writer = ObjectCodec.CreateWriter(Stream.Null, keys.Current, ObjectCodec.IsWorthCompressing(c.AsSpan(0, Math.Min(c.Length, ObjectCodec.SampleSize))));
            writer.Stream.Write(c);
            writer.CompleteAsync().GetAwaiter().GetResult();
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
        var index = 0;
        var stopwatch = Stopwatch.StartNew();
        var before = NativeMethods.SelfUsage();
        foreach (var file in files)
        {
            await store.ImportFileAsync(file);
            index++;
        }

        stopwatch.Stop();
        var end = NativeMethods.SelfUsage();
        metrics["import_us"] = stopwatch.Elapsed.TotalMicroseconds / index;
        metrics["import_cpu_us"] = (end.User + end.Sys - before.User - before.Sys) * 1e6 / index;
        metrics["compressible"] = compressible;
        Datasets.Log($"codec-small ImportFileAsync one at a time: {metrics["import_us"]:F0} µs a file (CPU {metrics["import_cpu_us"]:F0} µs); {compressible} of {index} compressible");
        metrics["seconds"] = 0;
        return metrics;
    }

    // ================================================================ data

    /// <summary>An empty encrypted data folder (default KDF), made once and copied for every run.</summary>
    private static async Task<string> TemplateAsync(string home)
    {
        var path = Path.Combine(home, "template");
        if (File.Exists(Path.Combine(path, KeyFile.FileName)))
        {
            return path;
        }

        var temp = path + ".tmp";
        DeleteFolder(temp);
        var folder = await DataFolder.InitAsync(temp);
        await folder.EnableEncryptionAsync(Password);
        Directory.Move(temp, path);
        return path;
    }

    /// <summary>One input file, made once: random bytes, or pseudo-English text (compresses to about a third with zstd).</summary>
    internal static string PrepareFile(string home, string kind, long size, int seed)
    {
        var path = Path.Combine(home, kind == "text" ? $"text-{size}.txt" : $"random-{size}.bin");
        if (File.Exists(path))
        {
            return path;
        }

        var stopwatch = Stopwatch.StartNew();
        var temp = path + ".tmp";
        var random = new Random(unchecked((seed * 31) + (int)(size / MiB) + (kind == "text" ? 1 : 0)));
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buffer = new byte[1 << 20];
            var text = new DataGenerator.TextMaker(random);
            long written = 0;
            while (written < size)
            {
                int length;
                if (kind == "text")
                {
                    var paragraph = text.Paragraphs(2_000, 20_000) + "\n\n";
                    var bytes = Encoding.UTF8.GetBytes(paragraph);
                    length = (int)Math.Min(bytes.Length, size - written);
                    stream.Write(bytes, 0, length);
                }
                else
                {
                    random.NextBytes(buffer);
                    length = (int)Math.Min(buffer.Length, size - written);
                    stream.Write(buffer, 0, length);
                }

                written += length;
            }
        }

        File.Move(temp, path, overwrite: true);
        Datasets.Log($"files: made {path} ({size / 1e6:F0} MB) in {stopwatch.Elapsed.TotalSeconds:F0} s");
        return path;
    }

    /// <summary>The folder of small files, made once: 100 subfolders, sizes 1–64 KiB, half text and half random bytes.</summary>
    private static string PrepareFolder(string home, int files, int seed, out long bytes)
    {
        var root = Path.Combine(home, $"folder-{files}");
        var tree = Path.Combine(root, "tree");
        var sizeFile = Path.Combine(root, "bytes");
        if (Directory.Exists(tree) && File.Exists(sizeFile))
        {
            bytes = long.Parse(File.ReadAllText(sizeFile), Inv);
            return tree;
        }

        var stopwatch = Stopwatch.StartNew();
        var temp = tree + ".tmp";
        DeleteFolder(temp);
        var random = new Random(seed + 3);
        var text = new DataGenerator.TextMaker(random);
        var buffer = new byte[64 * 1024];
        long total = 0;
        for (var i = 0; i < files; i++)
        {
            var folder = Path.Combine(temp, $"d{i % 100:D2}");
            Directory.CreateDirectory(folder);
            var size = random.Next(1024, (64 * 1024) + 1);
            var isText = random.Next(2) == 0;
            byte[] content;
            if (isText)
            {
                var builder = new StringBuilder(size + 4096);
                while (builder.Length < size)
                {
                    builder.Append(text.Paragraphs(500, 4_000)).Append("\n\n");
                }

                content = Encoding.UTF8.GetBytes(builder.ToString());
            }
            else
            {
                random.NextBytes(buffer);
                content = buffer;
            }

            File.WriteAllBytes(Path.Combine(folder, isText ? $"note-{i:D5}.txt" : $"blob-{i:D5}.bin"), content.AsSpan(0, size));
            total += size;
        }

        Directory.Move(temp, tree);
        File.WriteAllText(sizeFile, total.ToString(Inv));
        bytes = total;
        Datasets.Log($"files: made {files:N0} files ({total / 1e6:F0} MB) under {tree} in {stopwatch.Elapsed.TotalSeconds:F0} s");
        return tree;
    }

    /// <summary>The cache data set, made once: an encrypted data folder holding N small objects (2–192 KiB, half text).</summary>
    private static async Task<(string Data, long Bytes)> PrepareCacheFolderAsync(string home, int objects, int seed)
    {
        var root = Path.Combine(home, $"cache-{objects}");
        var data = Path.Combine(root, "data");
        var sizeFile = Path.Combine(root, "bytes");
        if (Directory.Exists(data) && File.Exists(sizeFile))
        {
            return (data, long.Parse(File.ReadAllText(sizeFile), Inv));
        }

        var stopwatch = Stopwatch.StartNew();
        var temp = data + ".tmp";
        DeleteFolder(temp);
        CopyFolder(await TemplateAsync(home), temp);
        var random = new Random(seed + 5);
        var text = new DataGenerator.TextMaker(random);
        var plan = new List<(string Name, byte[] Content)>();
        long total = 0;
        for (var i = 0; i < objects; i++)
        {
            var size = random.Next(2 * 1024, (192 * 1024) + 1);
            Check(size < FileStore.CachedObjectLimit, "cache objects must be under FileStore.CachedObjectLimit");
            var content = new byte[size];
            var isText = random.Next(2) == 0;
            if (isText)
            {
                var builder = new StringBuilder(size + 4096);
                while (builder.Length < size)
                {
                    builder.Append(text.Paragraphs(2_000, 8_000)).Append("\n\n");
                }

                Encoding.UTF8.GetBytes(builder.ToString()).AsSpan(0, size).CopyTo(content);
            }
            else
            {
                random.NextBytes(content);
            }

            plan.Add(($"obj-{i:D5}.{(isText ? "txt" : "bin")}", content));
            total += size;
        }

        var folder = await DataFolder.OpenAsync(temp);
        var keyFile = await KeyFile.LoadAsync(folder.KeyFilePath);
        using (var keys = keyFile.Unlock(Password))
        {
            await using var db = await folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys });
            var store = new FileStore(db, folder.Path, keys);
            await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (item, ct) =>
            {
                using var stream = new MemoryStream(item.Content, writable: false);
                await store.ImportAsync(stream, item.Name, cancellationToken: ct);
            });
        }

        Directory.Move(temp, data);
        File.WriteAllText(sizeFile, total.ToString(Inv));
        Datasets.Log($"files: made the cache set ({objects:N0} objects, {total / 1e6:F0} MB) in {stopwatch.Elapsed.TotalSeconds:F0} s");
        return (data, total);
    }

    // ================================================================ helpers

    private static Measurement Shell(string script) => ProcessMeter.Run("/bin/sh", ["-c", script], parseResult: false);

    /// <summary>Reads a file, or every file under a folder, once (the page cache is warm for what follows).</summary>
    internal static void Warm(string path)
    {
        var buffer = new byte[1 << 20];
        foreach (var file in Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories) : [path])
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            while (stream.Read(buffer, 0, buffer.Length) > 0)
            {
            }
        }
    }

    private static async Task<string> Sha256Async(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static void DeleteFolder(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    /// <summary>Parses 100m, 1g (binary units: MiB, GiB) or a byte count.</summary>
    public static long ParseSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        var unit = t.EndsWith('g') ? 1024.0 * MiB : t.EndsWith('m') ? MiB : t.EndsWith('k') ? 1024 : 1;
        return double.TryParse(unit > 1 ? t[..^1] : t, NumberStyles.Float, Inv, out var n) && n > 0
            ? (long)(n * unit)
            : throw new ArgumentException($"--files-sizes: '{text}' is not a size (e.g. 100m, 1g).");
    }

    private static string SizeLabel(long size) =>
        size % (1024 * MiB) == 0 ? $"{size / (1024 * MiB)} GiB" : size % MiB == 0 ? $"{size / MiB} MiB" : $"{size:N0} B";

    private static string Row(string data, string measure, double ours, double peer, string target, List<Measurement> o, List<Measurement> p)
    {
        var ratio = ours / peer;
        bool? met = target.StartsWith("≥ 0.8", StringComparison.Ordinal) ? ratio >= 0.8 : null;
        return Cells(data, measure, ours.ToString(ours < 100 ? "F1" : "N0", Inv), peer.ToString(peer < 100 ? "F1" : "N0", Inv), $"{ratio:F2}×", target, met, o, p);
    }

    private static string Cells(string data, string measure, string ours, string peer, string ratio, string target, bool? met, List<Measurement> o, List<Measurement> p) =>
        $"| files | {data} | {measure} | {ours} | {peer} | {ratio} | {target} | {(met is null ? "" : Met(met.Value))} | "
        + $"{(o.Count == 0 ? "" : Runner.Median(o, m => m.CpuSeconds).ToString("F2", Inv))} | {(o.Count == 0 ? "" : MbText((long)Runner.Median(o, m => m.MaxRssKb)))} | "
        + $"{(p.Count == 0 ? "" : Runner.Median(p, m => m.CpuSeconds).ToString("F2", Inv))} | {(p.Count == 0 ? "" : MbText((long)Runner.Median(p, m => m.MaxRssKb)))} | {Math.Max(o.Count, p.Count)} |";

    private static string Met(bool met) => met ? "yes" : "**no**";

    private static string MbText(long kb) => kb < 0 ? "?" : $"{kb / 1024.0:F0} MB";

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new InvalidOperationException(message);
        }
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

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

    /// <summary>A write-only sink that counts bytes (Stream.Null that remembers how much it was given).</summary>
    private sealed class CountingStream : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Count;

        public override long Position { get => Count; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Count += count;

        public override void Write(ReadOnlySpan<byte> buffer) => Count += buffer.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count += buffer.Length;
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Count += count;
            return Task.CompletedTask;
        }
    }
}
