using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Mdmai.Bench;

/// <summary>One line of the results table.</summary>
public sealed record ResultRow(
    string Scenario,
    string Data,
    string Measure,
    string Ours,
    string Peer,
    string Ratio,
    string Target,
    string Met,
    string OursCpu,
    string OursRss,
    string PeerCpu,
    string PeerRss,
    int Runs);

/// <summary>
/// The end-to-end runner: prepares the data sets (untimed, once), runs every measured scenario, ours and the
/// peer's, as child processes N times on the same data, and reports the medians.
/// </summary>
public sealed class Runner
{
    /// <summary>Scenario names, in the order <c>all</c> runs them.</summary>
    public static readonly string[] Scenarios = ["bulk-insert", "point-ops", "list-page", "export-sql", "import-sql", "concurrent-readers"];

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private readonly Options _o;
    private readonly long _rows;
    private readonly long _bulkRows;
    private readonly int _runs;
    private readonly int _bigRuns;
    private readonly int _seed;
    private readonly Datasets _data;
    private readonly List<ResultRow> _table = [];
    private readonly Dictionary<string, object> _raw = new(StringComparer.Ordinal);

    /// <summary>A runner for the given options.</summary>
    public Runner(Options o)
    {
        _o = o ?? throw new ArgumentNullException(nameof(o));
        _rows = o.GetLong("rows", 1_000_000);
        _bulkRows = o.GetLong("bulk-rows", _rows);
        _runs = (int)o.GetLong("runs", 3);
        _bigRuns = (int)o.GetLong("big-runs", _runs);
        _seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        _data = new Datasets(o.Get("work", "/tmp/mdmai-bench"), _seed);
    }

    private long SmallRows => Math.Max(1000, _rows / 10);

    private IEnumerable<long> Sizes => SmallRows < _rows ? [SmallRows, _rows] : [_rows];

    /// <summary>Makes the data sets only.</summary>
    public async Task<int> PrepareAsync(IReadOnlyList<string> scenarios)
    {
        ArgumentNullException.ThrowIfNull(scenarios);
        Directory.CreateDirectory(_data.Work);
        await _data.SchemaAsync();
        if (scenarios.Contains("bulk-insert"))
        {
            await _data.PeerInsertScriptAsync(_bulkRows);
        }

        if (scenarios.Any(s => s is "point-ops" or "list-page" or "concurrent-readers"))
        {
            await _data.LibraryAsync(_rows);
        }

        foreach (var size in scenarios.Any(s => s is "export-sql" or "import-sql") ? Sizes : [])
        {
            await _data.LibraryAsync(size);
            if (scenarios.Contains("import-sql"))
            {
                await _data.DumpAsync(size);
            }
        }

        return 0;
    }

    /// <summary>Runs the scenarios and prints the table.</summary>
    public async Task<int> RunAsync(IReadOnlyList<string> scenarios)
    {
        ArgumentNullException.ThrowIfNull(scenarios);
        if (!ProcessMeter.HasGnuTime)
        {
            Datasets.Log("warning: /usr/bin/time is missing (apt-get install -y time); the peers' peak RSS will be unknown.");
        }

        var total = Stopwatch.StartNew();
        await PrepareAsync(scenarios);
        Datasets.Log($"data sets ready after {total.Elapsed.TotalSeconds:F0} s");
        foreach (var scenario in scenarios)
        {
            var stopwatch = Stopwatch.StartNew();
            switch (scenario)
            {
                case "bulk-insert": await BulkInsertAsync(); break;
                case "point-ops": await PointOpsAsync(); break;
                case "list-page": await ListPageAsync(); break;
                case "export-sql": await ExportAsync(); break;
                case "import-sql": await ImportAsync(); break;
                case "concurrent-readers": await ConcurrentReadersAsync(); break;
                default: throw new ArgumentException($"Unknown scenario '{scenario}'; use one of {string.Join(", ", Scenarios)} or all.");
            }

            Datasets.Log($"{scenario} took {stopwatch.Elapsed.TotalSeconds:F0} s");
        }

        CleanRuns();
        var report = Report(total.Elapsed);
        Console.WriteLine(report);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        await File.WriteAllTextAsync(Path.Combine(_data.Work, $"results-{stamp}.md"), report);
        await File.WriteAllTextAsync(Path.Combine(_data.Work, $"results-{stamp}.json"), JsonSerializer.Serialize(_raw, Indented));
        Datasets.Log($"results written to {Path.Combine(_data.Work, $"results-{stamp}.md")} (and .json); total {total.Elapsed.TotalMinutes:F1} min");
        return 0;
    }

    // ---------------------------------------------------------------- scenarios

    private async Task BulkInsertAsync()
    {
        var schema = await _data.SchemaAsync();
        var script = await _data.PeerInsertScriptAsync(_bulkRows);
        var label = $"{Datasets.Label(_bulkRows)} items";
        var gen = Ours("generate", "--rows", Str(_bulkRows));
        Datasets.Log($"bulk-insert: generator alone {gen.WallSeconds:F1} s");
        var ours = new List<Measurement>();
        var peer = new List<Measurement>();
        for (var run = 1; run <= _bigRuns; run++)
        {
            var ourDb = Path.Combine(_data.Runs, "bulk-ours.db");
            var m = Ours("bulk-insert", "--db", ourDb, "--rows", Str(_bulkRows));
            if (run == 1)
            {
                Check(Datasets.Count(ourDb, "items") == _bulkRows && Datasets.Count(ourDb, "audit_logs") == _bulkRows, "bulk-insert (ours) did not insert every row and audit entry");
            }

            Datasets.DeleteDatabase(ourDb);
            ours.Add(Log("bulk-insert", "ours", run, _bigRuns, m));

            var peerDb = _data.ScratchCopy(schema, "bulk-peer.db");
            var p = ProcessMeter.RunShell($"sqlite3 -bail {ProcessMeter.Quote(peerDb)} < {ProcessMeter.Quote(script)}");
            if (run == 1)
            {
                Check(Datasets.Count(peerDb, "items") == _bulkRows && Datasets.Count(peerDb, "audit_logs") == _bulkRows, "bulk-insert (sqlite3) did not insert every row and audit entry");
            }

            Datasets.DeleteDatabase(peerDb);
            peer.Add(Log("bulk-insert", "sqlite3", run, _bigRuns, p));
        }

        var ourRate = _bulkRows / Median(ours, m => m.WallSeconds);
        var peerRate = _bulkRows / Median(peer, m => m.WallSeconds);
        Add("bulk-insert", label, "rows/s (one transaction)", Rate(ourRate), Rate(peerRate), ourRate / peerRate, "≥ 0.5× peer", ourRate / peerRate >= 0.5, ours, peer);
        Add("bulk-insert", label, "wall s", Sec(Median(ours, m => m.WallSeconds)), Sec(Median(peer, m => m.WallSeconds)), Median(ours, m => m.WallSeconds) / Median(peer, m => m.WallSeconds), "", null, ours, peer);
        Add("bulk-insert", label, "generator alone, s (inside ours)", Sec(gen.WallSeconds), "", null, "", null, [gen], []);
        _raw["bulk-insert"] = new { ours, peer, generator = gen };
    }

    private async Task PointOpsAsync()
    {
        var library = await _data.LibraryAsync(_rows);
        var ops = _o.GetLong("ops", 10_000);
        var ours = new List<Measurement>();
        for (var run = 1; run <= _runs; run++)
        {
            var scratch = _data.ScratchCopy(library, "point-ops.db");
            ours.Add(Log("point-ops", "ours", run, _runs, Ours("point-ops", "--db", scratch, "--rows", Str(_rows), "--ops", Str(ops))));
            Datasets.DeleteDatabase(scratch);
        }

        var data = $"{Datasets.Label(_rows)}-row library, {ops:N0} ops each";
        foreach (var op in new[] { "get", "create", "update" })
        {
            var p50 = Median(ours, m => m.Metrics[op + "_p50_us"]);
            var p99 = Median(ours, m => m.Metrics[op + "_p99_us"]);
            var max = Median(ours, m => m.Metrics[op + "_max_us"]);
            Add("point-ops", data, $"{Capitalize(op)}Async p50 / p99 (max) µs", $"{p50:F0} / {p99:F0} ({max:F0})", "—", null, "p99 < 1000 µs", p99 < 1000, ours, []);
        }

        _raw["point-ops"] = new { ours };
    }

    private async Task ListPageAsync()
    {
        var library = await _data.LibraryAsync(_rows);
        var ops = _o.GetLong("list-ops", 2_000);
        var ours = new List<Measurement>();
        for (var run = 1; run <= _runs; run++)
        {
            ours.Add(Log("list-page", "ours", run, _runs, Ours("list-page", "--db", library, "--rows", Str(_rows), "--ops", Str(ops))));
        }

        var gen = new DataGenerator(_rows, _seed);
        foreach (var (key, what) in new[]
        {
            ("characters_by_campaign", $"characters WHERE campaign_id (of {gen.CharacterCount:N0}; {gen.CharactersPerCampaign} match)"),
            ("items_by_system_type", $"items WHERE system AND item_type (of {gen.ItemCount:N0}; ~{gen.ItemCount / DataGenerator.Systems.Length / 16:N0} match)"),
        })
        {
            var p50 = Median(ours, m => m.Metrics[key + "_p50_us"]) / 1000;
            var p99 = Median(ours, m => m.Metrics[key + "_p99_us"]) / 1000;
            Add("list-page", $"{Datasets.Label(_rows)}-row library: {what}", "page of 100 + count, p50 / p99 ms (steady state)", $"{p50:F2} / {p99:F2}", "—", null, "p99 < 5 ms", p99 < 5, ours, []);
            var warmP50 = Median(ours, m => m.Metrics[key + "_warmup_p50_us"]) / 1000;
            var warmP99 = Median(ours, m => m.Metrics[key + "_warmup_p99_us"]) / 1000;
            Add("list-page", $"{Datasets.Label(_rows)}-row library: {what}", "first 1,000 pages of a fresh process (JIT warming up), p50 / p99 ms", $"{warmP50:F2} / {warmP99:F2}", "—", null, "", null, ours, []);
        }

        _raw["list-page"] = new { ours };
    }

    private async Task ExportAsync()
    {
        var rssBySize = new List<(long Size, double Rss, double Anon)>();
        var all = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var size in Sizes)
        {
            var library = await _data.LibraryAsync(size);
            var runs = size == _rows ? _bigRuns : _runs;
            var ours = new List<Measurement>();
            var peer = new List<Measurement>();
            for (var run = 1; run <= runs; run++)
            {
                Directory.CreateDirectory(_data.Runs);
                var ourOut = Path.Combine(_data.Runs, "export-ours.sql");
                ours.Add(Log($"export-sql {Datasets.Label(size)}", "ours", run, runs, Ours("export-sql", "--db", library, "--out", ourOut)));
                File.Delete(ourOut);
                var peerOut = Path.Combine(_data.Runs, "export-peer.sql");
                var p = ProcessMeter.RunShell($"sqlite3 {ProcessMeter.Quote(library)} .dump > {ProcessMeter.Quote(peerOut)}");
                p.Metrics["bytes"] = new FileInfo(peerOut).Length;
                File.Delete(peerOut);
                peer.Add(Log($"export-sql {Datasets.Label(size)}", "sqlite3 .dump", run, runs, p));
            }

            var data = $"{Datasets.Label(size)}-row library ({new FileInfo(library).Length / 1e6:F0} MB db)";
            var ourTime = Median(ours, m => m.WallSeconds);
            var peerTime = Median(peer, m => m.WallSeconds);
            Add("export-sql", data, "wall s", Sec(ourTime), Sec(peerTime), ourTime / peerTime, "≤ 1.5× peer time", ourTime / peerTime <= 1.5, ours, peer);
            Add("export-sql", data, "MB written / MB/s",
                $"{ours[0].Metrics["bytes"] / 1e6:F0} / {ours[0].Metrics["bytes"] / 1e6 / ourTime:F0}",
                $"{peer[0].Metrics["bytes"] / 1e6:F0} / {peer[0].Metrics["bytes"] / 1e6 / peerTime:F0}", null, "", null, ours, peer);
            rssBySize.Add((size, Median(ours, m => m.MaxRssKb), Median(ours, m => m.Metrics.GetValueOrDefault("peak_anon_kb", -1))));
            all[Datasets.Label(size)] = new { ours, peer };
        }

        if (rssBySize.Count == 2)
        {
            AddFlatness("export-sql", rssBySize);
        }

        _raw["export-sql"] = all;
    }

    private async Task ImportAsync()
    {
        var all = new Dictionary<string, object>(StringComparer.Ordinal);
        var rssBySize = new List<(long Size, double Rss, double Anon)>();
        foreach (var size in Sizes)
        {
            var dump = await _data.DumpAsync(size);
            var runs = size == _rows ? _bigRuns : _runs;
            var ours = new List<Measurement>();
            var peer = new List<Measurement>();
            for (var run = 1; run <= runs; run++)
            {
                Directory.CreateDirectory(_data.Runs);
                var ourDb = Path.Combine(_data.Runs, "import-ours.db");
                ours.Add(Log($"import-sql {Datasets.Label(size)}", "ours", run, runs, Ours("import-sql", "--dump", dump, "--db", ourDb)));
                var peerDb = Path.Combine(_data.Runs, "import-peer.db");
                Datasets.DeleteDatabase(peerDb);
                var p = ProcessMeter.RunShell($"sqlite3 -bail {ProcessMeter.Quote(peerDb)} < {ProcessMeter.Quote(dump)}");
                peer.Add(Log($"import-sql {Datasets.Label(size)}", "sqlite3 <", run, runs, p));
                if (run == 1)
                {
                    Check(Datasets.Count(ourDb, "characters") == Datasets.Count(peerDb, "characters")
                        && Datasets.Count(ourDb, "audit_logs") == Datasets.Count(peerDb, "audit_logs"), "import-sql: ours and sqlite3 loaded different row counts");
                }

                Datasets.DeleteDatabase(ourDb);
                Datasets.DeleteDatabase(peerDb);
            }

            var mb = new FileInfo(dump).Length / 1e6;
            var data = $"{Datasets.Label(size)}-row library ({mb:F0} MB dump)";
            var ourTime = Median(ours, m => m.WallSeconds);
            var peerTime = Median(peer, m => m.WallSeconds);
            Add("import-sql", data, "wall s", Sec(ourTime), Sec(peerTime), ourTime / peerTime, "≤ 1.5× peer time", ourTime / peerTime <= 1.5, ours, peer);
            Add("import-sql", data, "MB/s of dump read", $"{mb / ourTime:F1}", $"{mb / peerTime:F1}", null, "", null, ours, peer);
            rssBySize.Add((size, Median(ours, m => m.MaxRssKb), Median(ours, m => m.Metrics.GetValueOrDefault("peak_anon_kb", -1))));
            all[Datasets.Label(size)] = new { ours, peer };
        }

        if (rssBySize.Count == 2)
        {
            AddFlatness("import-sql", rssBySize);
        }

        _raw["import-sql"] = all;
    }

    private async Task ConcurrentReadersAsync()
    {
        var library = await _data.LibraryAsync(_rows);
        var seconds = _o.GetDouble("seconds", 5);
        var readers = _o.GetLong("readers", 8);
        var ours = new List<Measurement>();
        for (var run = 1; run <= _runs; run++)
        {
            var scratch = _data.ScratchCopy(library, "concurrent.db");
            ours.Add(Log("concurrent-readers", "ours", run, _runs, Ours("concurrent-readers", "--db", scratch, "--rows", Str(_rows),
                "--seconds", seconds.ToString(Inv), "--readers", Str(readers))));
            Datasets.DeleteDatabase(scratch);
        }

        var alone = Median(ours, m => m.Metrics["reads_per_s_alone"]);
        var contended = Median(ours, m => m.Metrics["reads_per_s_with_writer"]);
        var writes = Median(ours, m => m.Metrics["writes_per_s"]);
        var data = $"{Datasets.Label(_rows)}-row library, {readers} readers × {seconds:F0} s";
        var before = Median(ours, m => m.Metrics["reads_per_s_alone_before"]);
        var after = Median(ours, m => m.Metrics["reads_per_s_alone_after"]);
        Add("concurrent-readers", data, "reads/s: alone (before, after) → with 1 writer", $"{alone:N0} ({before:N0}, {after:N0}) → {contended:N0}", "—", contended / alone, "near 1 (≥ 0.8)", contended / alone >= 0.8, ours, []);
        Add("concurrent-readers", data, "writer commits/s (create/update)", $"{writes:N0}", "—", null, "", null, ours, []);
        _raw["concurrent-readers"] = new { ours };
    }

    // ---------------------------------------------------------------- helpers

    private void AddFlatness(string scenario, List<(long Size, double Rss, double Anon)> bySize)
    {
        var growth = bySize[1].Rss / bySize[0].Rss;
        Add(scenario, $"{Datasets.Label(bySize[0].Size)} → {Datasets.Label(bySize[1].Size)} rows", "our peak RSS MB, small → large (anonymous part)",
            $"{bySize[0].Rss / 1024:F0} → {bySize[1].Rss / 1024:F0} ({bySize[0].Anon / 1024:F0} → {bySize[1].Anon / 1024:F0})", "", growth, "flat (≤ 1.25×)", growth <= 1.25, [], []);
    }

    private Measurement Ours(string scenario, params string[] args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var list = new List<string>();
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            list.Add(typeof(Runner).Assembly.Location);
        }

        list.AddRange(["child", scenario, "--seed", Str(_seed)]);
        list.AddRange(args);
        Directory.CreateDirectory(_data.Runs);
        return ProcessMeter.Run(host, list, parseResult: true);
    }

    private static Measurement Log(string scenario, string side, int run, int runs, Measurement m)
    {
        Datasets.Log($"{scenario} {side} run {run}/{runs}: {m.WallSeconds:F2} s (process {m.ProcessSeconds:F2} s), CPU {m.CpuSeconds:F2} s, peak RSS {Mb(m.MaxRssKb)}");
        return m;
    }

    private void Add(string scenario, string data, string measure, string ours, string peer, double? ratio, string target, bool? met,
        List<Measurement> oursRuns, List<Measurement> peerRuns) =>
        _table.Add(new ResultRow(scenario, data, measure, ours, peer, ratio is { } r ? $"{r:F2}×" : "", target,
            met is null ? "" : met.Value ? "yes" : "**no**",
            oursRuns.Count == 0 ? "" : Median(oursRuns, m => m.CpuSeconds).ToString("F2", Inv),
            oursRuns.Count == 0 ? "" : Mb((long)Median(oursRuns, m => m.MaxRssKb)),
            peerRuns.Count == 0 ? "" : Median(peerRuns, m => m.CpuSeconds).ToString("F2", Inv),
            peerRuns.Count == 0 ? "" : Mb((long)Median(peerRuns, m => m.MaxRssKb)),
            Math.Max(oursRuns.Count, peerRuns.Count)));

    private string Report(TimeSpan elapsed)
    {
        var b = new StringBuilder();
        b.AppendLine(CultureInfo.InvariantCulture, $"## Results ({DateTime.Now:yyyy-MM-dd HH:mm}, --rows {_rows:N0}, --bulk-rows {_bulkRows:N0}, --runs {_runs}, --big-runs {_bigRuns}, total {elapsed.TotalMinutes:F1} min)");
        b.AppendLine();
        foreach (var line in MachineInfo())
        {
            b.AppendLine(CultureInfo.InvariantCulture, $"- {line}");
        }

        b.AppendLine();
        b.AppendLine("| scenario | data | measure | ours | peer | ratio | target | met | ours CPU s | ours peak RSS | peer CPU s | peer peak RSS | runs |");
        b.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in _table)
        {
            b.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {r.Data} | {r.Measure} | {r.Ours} | {r.Peer} | {r.Ratio} | {r.Target} | {r.Met} | {r.OursCpu} | {r.OursRss} | {r.PeerCpu} | {r.PeerRss} | {(r.Runs > 0 ? r.Runs.ToString(Inv) : "")} |");
        }

        b.AppendLine();
        b.AppendLine("Figures are medians of the runs. Ratios: for rates ours ÷ peer (higher is better), for times and RSS ours ÷ peer or large ÷ small (lower is better).");
        return b.ToString();
    }

    /// <summary>The machine and the versions, for the report.</summary>
    public static IEnumerable<string> MachineInfo()
    {
        var cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() : null;
        var mem = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() : null;
        yield return $"machine: {Environment.ProcessorCount} cores ({cpu ?? "unknown CPU"}), {mem ?? "unknown"} RAM, {RuntimeInformation.OSDescription}";
        yield return $"runtime: {RuntimeInformation.FrameworkDescription}, GC {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}";
        using (var connection = new SqliteConnection("Data Source=:memory:"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT sqlite_version()";
            yield return $"SQLite bundled with Microsoft.Data.Sqlite (ours): {command.ExecuteScalar()}";
        }

        yield return $"sqlite3 CLI (peer): {Capture("sqlite3", "--version")}";
        yield return $"CPU and peak RSS: {(ProcessMeter.HasGnuTime ? "GNU time (/usr/bin/time) per child process" : "getrusage(RUSAGE_CHILDREN); peer RSS unknown")}";
    }

    private static string Capture(string file, string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
            var text = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return text.Length > 40 ? text[..40] : text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not installed";
        }
    }

    private void CleanRuns()
    {
        if (Directory.Exists(_data.Runs))
        {
            Directory.Delete(_data.Runs, recursive: true);
        }
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new InvalidOperationException(message);
        }
    }

    /// <summary>Median of a figure over runs.</summary>
    public static double Median(IEnumerable<Measurement> runs, Func<Measurement, double> figure)
    {
        var values = runs.Select(figure).Order().ToArray();
        return values.Length == 0 ? double.NaN
            : values.Length % 2 == 1 ? values[values.Length / 2]
            : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }

    private static string Str(long n) => n.ToString(Inv);

    private static string Sec(double s) => s.ToString(s < 10 ? "F2" : "F1", Inv);

    private static string Rate(double r) => r.ToString("N0", Inv);

    private static string Mb(long kb) => kb < 0 ? "?" : $"{kb / 1024.0:F0} MB";

    private static string Capitalize(string s) => char.ToUpperInvariant(s[0]) + s[1..];
}
