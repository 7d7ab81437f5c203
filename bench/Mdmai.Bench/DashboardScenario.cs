using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Microsoft.Playwright;

namespace Mdmai.Bench;

/// <summary>
/// The <c>dashboard</c> scenario (docs/benchmarks.md, "Dashboard"): <c>mdmai serve</c> as its own process over a data
/// folder holding the 1M-row library and a repository of 2,000 snapshots. API latency of the overview, an entity page
/// of 100 (at random offsets, and a campaign's), a search and the snapshot list — as the server measured it
/// (<c>Server-Timing</c>) and as the client saw it; the server's resident memory idle and during a 1 GiB upload; and
/// upload and download of that file through the page in Chromium against <c>mdmai files import</c> and
/// <c>files export</c> of the same file in the same run.
/// <c>Mdmai.Bench dashboard [--rows 1M] [--snapshots 2000] [--requests 400] [--upload-size 1g] [--runs 3] [--mdmai PATH] [--work DIR] [--seed N]</c>.
/// </summary>
public static class DashboardScenario
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static async Task<int> RunAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var rows = o.GetLong("rows", 1_000_000);
        var snapshots = (int)o.GetLong("snapshots", 2000);
        var requests = (int)o.GetLong("requests", 400);
        var uploadSize = FilesScenario.ParseSize(o.Get("upload-size", "1g"));
        var runs = (int)o.GetLong("runs", 3);
        var seed = (int)o.GetLong("seed", DataGenerator.DefaultSeed);
        var work = Path.GetFullPath(o.Get("work", "/tmp/mdmai-bench"));
        var cli = new BackupScenario.Cli(BackupScenario.FindCli(o));
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"Chromium is not at {Chromium} (apt-get install -y chromium); the upload and download go through it.");
        }

        var total = Stopwatch.StartNew();
        var home = await PrepareAsync(work, rows, snapshots, seed, cli);
        var inputs = Directory.CreateDirectory(Path.Combine(work, $"files-s{seed}")).FullName;
        var input = FilesScenario.PrepareFile(inputs, "incompressible", uploadSize, seed);
        var runDir = Path.Combine(work, "runs", "dashboard");
        BackupScenario.DeleteFolder(runDir);
        Directory.CreateDirectory(runDir);
        var data = Path.Combine(runDir, "data");
        Datasets.Log("dashboard: copying the data folder (untimed)…");
        CopyFolder(Path.Combine(home, "data"), data);
        var cliData = Path.Combine(runDir, "cli-data");
        cli.Exec("--data-dir", cliData, "init");

        var results = new Results();
        await using (var server = await Server.StartAsync(cli, data))
        {
            results.Start = server.Memory();
            using var client = new HttpClient { BaseAddress = server.Address };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Token);
            var random = new Random(seed);
            var npcs = (await GetJsonAsync(client, "/api/v1/entities/npc?limit=1"))["total_count"]!.GetValue<long>();
            var campaigns = (await GetJsonAsync(client, "/api/v1/entities/campaign?limit=1000"))["items"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()).ToArray();
            var snapshotCount = (await GetJsonAsync(client, "/api/v1/backups/snapshots?limit=1"))["total_count"]!.GetValue<long>();
            string[] words = [.. DataGenerator.Words.Names.Take(30), .. DataGenerator.Words.Classes, .. DataGenerator.Words.Races];
            var routes = new (string Name, Func<string> Path)[]
            {
                ("overview", () => "/api/v1/overview"),
                ("entity page of 100 (random offset)", () => $"/api/v1/entities/npc?limit=100&offset={random.NextInt64(0, Math.Max(1, npcs - 100))}"),
                ("entity page of 100 (a campaign's)", () => $"/api/v1/entities/npc?limit=100&campaign_id={campaigns[random.Next(campaigns.Length)]}&sort=name"),
                ("search", () => $"/api/v1/search?q={Uri.EscapeDataString(words[random.Next(words.Length)])}&limit=20"),
                ("snapshot list (random page of 50)", () => $"/api/v1/backups/snapshots?limit=50&offset={random.NextInt64(0, Math.Max(1, snapshotCount - 50))}"),
            };
            results.Context = $"{npcs:N0} NPCs of {rows:N0} records, {campaigns.Length:N0} campaigns, {snapshotCount:N0} snapshots";

            for (var run = 1; run <= runs; run++)
            {
                foreach (var (name, path) in routes)
                {
                    for (var i = 0; i < 20; i++)
                    {
                        await TimeAsync(client, path());
                    }

                    var serverMs = new List<double>(requests);
                    var clientMs = new List<double>(requests);
                    for (var i = 0; i < requests; i++)
                    {
                        var (s, c) = await TimeAsync(client, path());
                        serverMs.Add(s);
                        clientMs.Add(c);
                    }

                    if (!results.Latency.TryGetValue(name, out var list))
                    {
                        results.Latency[name] = list = [];
                    }

                    list.Add(new LatencyRun(Percentile(serverMs, 0.5), Percentile(serverMs, 0.99), Percentile(clientMs, 0.5), Percentile(clientMs, 0.99), clientMs.Max()));
                    Datasets.Log($"  {name}: run {run}: server p50 {Percentile(serverMs, 0.5):F1} ms p99 {Percentile(serverMs, 0.99):F1} ms; client p99 {Percentile(clientMs, 0.99):F1} ms");
                }
            }

            await Task.Delay(3000);
            results.Idle = server.Memory();

            // Upload and download through the page, in Chromium; the CLI on the same file in the same run.
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions { AcceptDownloads = true });
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(600_000);
            await page.GotoAsync(server.SignInUrl.ToString());
            await page.WaitForSelectorAsync("main[data-screen='overview']");
            Datasets.Log("  signed in through the page");
            var expected = await Sha256Async(input);
            for (var run = 1; run <= runs; run++)
            {
                // A fresh files screen (the last run's upload rows gone).
                await page.GotoAsync(new Uri(server.Address, "#/overview").ToString());
                await page.WaitForSelectorAsync("main[data-screen='overview']");
                await page.GotoAsync(new Uri(server.Address, "#/files").ToString());
                await page.WaitForSelectorAsync("main[data-screen='files']");
                Check(await page.Locator("[data-upload]").CountAsync() == 0, "the files screen still shows an earlier upload");
                FilesScenario.Warm(input);
                Datasets.Log($"  run {run}: upload through the page…");
                var before = server.Cpu();
                var browserBefore = ChromiumCpu();
                var rssBefore = server.Memory();
                using var sampler = new RssSampler(server.Pid);
                var stopwatch = Stopwatch.StartNew();
                await page.SetInputFilesAsync("#dropzone input[type=file]", input);
                Datasets.Log($"  run {run}: file chosen…");
                try
                {
                    await page.WaitForSelectorAsync($"[data-upload='{Path.GetFileName(input)}'][data-state]", new() { Timeout = 120_000 });
                }
                catch (TimeoutException)
                {
                    await page.ScreenshotAsync(new() { Path = Path.Combine(runDir, "upload-stuck.png"), FullPage = true });
                    throw new InvalidOperationException($"the upload through the page did not end within 2 minutes; the page shows: {await page.InnerTextAsync("body")}");
                }
                var uploadSeconds = stopwatch.Elapsed.TotalSeconds;
                var state = await page.GetAttributeAsync($"[data-upload='{Path.GetFileName(input)}']", "data-state");
                Check(state == "done", $"the upload through the page ended '{state}'");
                var upload = new Transfer(uploadSeconds, server.Cpu() - before, ChromiumCpu() - browserBefore, sampler.PeakKb, sampler.PeakAnonKb, rssBefore.Rss, rssBefore.Anon);

                Datasets.Log($"  run {run}: uploaded in {uploadSeconds:F2} s; download…");
                var file = (await GetJsonAsync(client, $"/api/v1/files?name={Uri.EscapeDataString(Path.GetFileName(input))}&limit=1"))["items"]![0]!;
                var id = file["id"]!.GetValue<string>();
                await page.GotoAsync(new Uri(server.Address, "#/files").ToString());
                await page.WaitForSelectorAsync($"a[data-download='{id}']");
                before = server.Cpu();
                browserBefore = ChromiumCpu();
                stopwatch.Restart();
                var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync($"a[data-download='{id}']"));
                var saved = await download.PathAsync();
                var downloadSeconds = stopwatch.Elapsed.TotalSeconds;
                var downloaded = new Transfer(downloadSeconds, server.Cpu() - before, ChromiumCpu() - browserBefore, sampler.PeakKb, sampler.PeakAnonKb, rssBefore.Rss, rssBefore.Anon);
                Check(new FileInfo(saved).Length == uploadSize && await Sha256Async(saved) == expected, "the downloaded file differs from the uploaded one");
                await download.DeleteAsync();
                using (var delete = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/files/{id}") { Content = new StringContent("{\"confirm\": true}", Encoding.UTF8, "application/json") }))
                {
                    Check(delete.IsSuccessStatusCode, $"deleting the uploaded file: {(int)delete.StatusCode}");
                }

                // The CLI, on its own folder (the server holds its one), same file.
                FilesScenario.Warm(input);
                var import = cli.Run("--data-dir", cliData, "files", "import", input, "--json");
                var cliId = JsonNode.Parse(import.Output)!["imported"]![0]!["file"]!["id"]!.GetValue<string>();
                var target = Path.Combine(runDir, "exported.bin");
                var export = cli.Run("--data-dir", cliData, "files", "export", cliId, target);
                Check(new FileInfo(target).Length == uploadSize, "the CLI's export has the wrong size");
                File.Delete(target);
                cli.Exec("--data-dir", cliData, "files", "rm", cliId, "--yes");

                results.Uploads.Add(upload);
                results.Downloads.Add(downloaded);
                results.Imports.Add(import);
                results.Exports.Add(export);
                Datasets.Log($"  run {run}: page upload {uploadSize / 1e6 / uploadSeconds:F0} MB/s (server peak RSS {sampler.PeakKb / 1024} MB), download {uploadSize / 1e6 / downloadSeconds:F0} MB/s; "
                    + $"CLI import {uploadSize / 1e6 / import.WallSeconds:F0} MB/s, export {uploadSize / 1e6 / export.WallSeconds:F0} MB/s");
            }

            results.End = server.Memory();
        }

        var report = Report(results, cli, rows, snapshots, requests, uploadSize, runs, seed, total.Elapsed);
        Console.WriteLine(report);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv);
        await File.WriteAllTextAsync(Path.Combine(work, $"results-dashboard-{stamp}.md"), report);
        await File.WriteAllTextAsync(Path.Combine(work, $"results-dashboard-{stamp}.json"), JsonSerializer.Serialize(results, Indented));
        return 0;
    }

    /// <summary>The data folder, made once: <c>mdmai init</c>, the library as its database, and a repository with <paramref name="snapshots"/> snapshots.</summary>
    private static async Task<string> PrepareAsync(string work, long rows, int snapshots, int seed, BackupScenario.Cli cli)
    {
        var library = await new Datasets(work, seed).LibraryAsync(rows);
        var home = Path.Combine(work, $"dashboard-{Datasets.Label(rows)}-{snapshots}-s{seed}");
        var done = Path.Combine(home, "done");
        if (File.Exists(done))
        {
            return home;
        }

        var stopwatch = Stopwatch.StartNew();
        BackupScenario.DeleteFolder(home);
        var data = Path.Combine(home, "data");
        cli.Exec("--data-dir", data, "init");
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(Path.Combine(data, DataFolder.DatabaseFileName + suffix));
        }

        File.Copy(library, Path.Combine(data, DataFolder.DatabaseFileName));

        // The snapshots: each of a small folder of notes with one of them changed, as an hourly auto backup of a year
        // would leave them (the list and the overview read every snapshot; what they hold does not matter here).
        var notes = Path.Combine(home, "notes");
        Directory.CreateDirectory(notes);
        for (var i = 0; i < 20; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(notes, $"session-{i:D2}.md"), $"# Session {i}\n");
        }

        var folder = await DataFolder.OpenAsync(data);
        using (var backups = await DataFolderBackups.OpenAsync(folder, null, create: true))
        {
            for (var i = 0; i < snapshots; i++)
            {
                await File.AppendAllTextAsync(Path.Combine(notes, $"session-{i % 20:D2}.md"), $"- note {i}\n");
                await backups.Repository.CreateSnapshotAsync(new BackupSources { Includes = [notes] },
                    new SnapshotOptions { Kind = i % 10 == 0 ? SnapshotKind.Manual : SnapshotKind.Auto, Description = i % 10 == 0 ? $"before session {i / 10}" : null });
                if ((i + 1) % 200 == 0)
                {
                    Datasets.Log($"dashboard: {i + 1} of {snapshots} snapshots ({stopwatch.Elapsed.TotalSeconds:F0} s)");
                }
            }
        }

        await File.WriteAllTextAsync(done, "");
        Datasets.Log($"dashboard: data folder ready in {stopwatch.Elapsed.TotalSeconds:F0} s");
        return home;
    }

    /// <summary>User + system CPU seconds so far of every Chromium process (browser, renderer, network and GPU services).</summary>
    private static double ChromiumCpu()
    {
        double total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
            {
                continue;
            }

            try
            {
                if (!File.ReadAllText(Path.Combine(dir, "cmdline")).StartsWith("/usr/lib/chromium/", StringComparison.Ordinal))
                {
                    continue;
                }

                var fields = File.ReadAllText(Path.Combine(dir, "stat")).Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                total += (long.Parse(fields[11], Inv) + long.Parse(fields[12], Inv)) / 100.0;
            }
            catch (IOException)
            {
                // gone meanwhile
            }
        }

        return total;
    }

    private static async Task<(double Server, double Client)> TimeAsync(HttpClient client, string path)
    {
        var stopwatch = Stopwatch.StartNew();
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseContentRead);
        var clientMs = stopwatch.Elapsed.TotalMilliseconds;
        Check(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var timing = response.Headers.TryGetValues("Server-Timing", out var values) ? values.First() : "";
        var server = timing.Split("dur=") is [_, var ms] ? double.Parse(ms, Inv) : double.NaN;
        return (server, clientMs);
    }

    private static async Task<JsonNode> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Check(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static string Report(Results r, BackupScenario.Cli cli, long rows, int snapshots, int requests, long size, int runs, int seed, TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.AppendLine(Inv, $"## dashboard ({DateTime.Now:yyyy-MM-dd HH:mm}, --rows {Datasets.Label(rows)}, --snapshots {snapshots}, --requests {requests}, --upload-size {size / (1 << 20)} MiB, --runs {runs}, seed {seed}, total {elapsed.TotalMinutes:F1} min)");
        text.AppendLine();
        foreach (var line in Runner.MachineInfo().Where(l => !l.StartsWith("sqlite3", StringComparison.Ordinal)))
        {
            text.AppendLine(Inv, $"- {line}");
        }

        text.AppendLine(Inv, $"- server: `{cli.Description} serve` over a copy of the library ({r.Context}); requests one at a time over loopback with the bearer token, 20 warm-up requests per route; load average at the end {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        text.AppendLine();
        text.AppendLine("| request | server p50 ms | server p99 ms | client p50 ms | client p99 ms | client max ms | target | met | runs |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var (name, list) in r.Latency)
        {
            var p99 = Median(list, l => l.ClientP99);
            text.AppendLine(Inv, $"| {name} | {Median(list, l => l.ServerP50):F1} | {Median(list, l => l.ServerP99):F1} | {Median(list, l => l.ClientP50):F1} | {p99:F1} | {Median(list, l => l.ClientMax):F1} | p99 ≤ 100 ms | {(p99 <= 100 ? "yes" : "**no**")} | {list.Count} |");
        }

        text.AppendLine();
        text.AppendLine(Inv, $"Each run is {requests} requests per route; figures are medians over the runs of each run's percentile. Server: the `Server-Timing` the dashboard sends (arrival to first byte); client: until the last byte was read (the target is judged on it).");
        text.AppendLine();
        text.AppendLine("| transfer of a 1 GiB file (random bytes) | wall s | MB/s | CPU s | peak RSS | page ÷ CLI | target | met | runs |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        var up = Median(r.Uploads.Select(u => u.Seconds));
        var down = Median(r.Downloads.Select(u => u.Seconds));
        var import = Runner.Median(r.Imports, m => m.WallSeconds);
        var export = Runner.Median(r.Exports, m => m.WallSeconds);
        text.AppendLine(Inv, $"| upload through the page (Chromium → mdmai serve) | {up:F2} | {size / 1e6 / up:F0} | {Median(r.Uploads.Select(u => u.ServerCpu)):F1} server + {Median(r.Uploads.Select(u => u.BrowserCpu)):F1} Chromium | {Median(r.Uploads.Select(u => (double)u.PeakRssKb)) / 1024:F0} MB (server; RssAnon {Median(r.Uploads.Select(u => (double)u.PeakAnonKb)) / 1024:F0} MB) | {import / up:F2}× | ≥ 0.8× | {(import / up >= 0.8 ? "yes" : "**no**")} | {r.Uploads.Count} |");
        text.AppendLine(Inv, $"| `mdmai files import` | {import:F2} | {size / 1e6 / import:F0} | {Runner.Median(r.Imports, m => m.CpuSeconds):F1} | {Runner.Median(r.Imports, m => m.MaxRssKb) / 1024:F0} MB | | | | {r.Imports.Count} |");
        text.AppendLine(Inv, $"| download through the page (mdmai serve → Chromium) | {down:F2} | {size / 1e6 / down:F0} | {Median(r.Downloads.Select(u => u.ServerCpu)):F1} server + {Median(r.Downloads.Select(u => u.BrowserCpu)):F1} Chromium | | {export / down:F2}× | ≥ 0.8× | {(export / down >= 0.8 ? "yes" : "**no**")} | {r.Downloads.Count} |");
        text.AppendLine(Inv, $"| `mdmai files export` | {export:F2} | {size / 1e6 / export:F0} | {Runner.Median(r.Exports, m => m.CpuSeconds):F1} | {Runner.Median(r.Exports, m => m.MaxRssKb) / 1024:F0} MB | | | | {r.Exports.Count} |");
        text.AppendLine();
        static string Mb(double kb) => string.Create(Inv, $"{kb / 1024:F0} MB");
        text.AppendLine(Inv, $"Server memory, VmRSS (RssAnon: heap, stacks and native buffers, without the database file SQLite maps): just started {Mb(r.Start.Rss)} ({Mb(r.Start.Anon)}); idle after the latency runs {Mb(r.Idle.Rss)} ({Mb(r.Idle.Anon)}); "
            + $"before each 1 GiB upload {Mb(Median(r.Uploads.Select(u => (double)u.RssBeforeKb)))} ({Mb(Median(r.Uploads.Select(u => (double)u.AnonBeforeKb)))}), peak during the upload and download {Mb(Median(r.Downloads.Select(u => (double)u.PeakRssKb)))} ({Mb(Median(r.Downloads.Select(u => (double)u.PeakAnonKb)))}); at the end {Mb(r.End.Rss)} ({Mb(r.End.Anon)}). Medians over the runs. The CLI's peak RSS is the whole process (GNU time).");
        return text.ToString();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static double Median(List<LatencyRun> runs, Func<LatencyRun, double> figure) => Median(runs.Select(figure));

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }

    private static async Task<string> Sha256Async(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        }

        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new InvalidOperationException("dashboard: " + message);
        }
    }

    private sealed record LatencyRun(double ServerP50, double ServerP99, double ClientP50, double ClientP99, double ClientMax);

    private sealed record Transfer(double Seconds, double ServerCpu, double BrowserCpu, long PeakRssKb, long PeakAnonKb, long RssBeforeKb, long AnonBeforeKb);

    private sealed class Results
    {
        public string Context { get; set; } = "";

        public Dictionary<string, List<LatencyRun>> Latency { get; } = new(StringComparer.Ordinal);

        public List<Transfer> Uploads { get; } = [];

        public List<Transfer> Downloads { get; } = [];

        public List<Measurement> Imports { get; } = [];

        public List<Measurement> Exports { get; } = [];

        public (long Rss, long Anon) Start { get; set; }

        public (long Rss, long Anon) Idle { get; set; }

        public (long Rss, long Anon) End { get; set; }
    }

    /// <summary><c>mdmai serve --json</c> as a child process: its URL and token from its first line, its memory and CPU from /proc.</summary>
    private sealed class Server : IAsyncDisposable
    {
        private readonly Process _process;

        private Server(Process process, Uri signIn, string token)
        {
            _process = process;
            SignInUrl = signIn;
            Token = token;
            Address = new Uri(signIn.GetLeftPart(UriPartial.Authority) + "/");
        }

        public Uri SignInUrl { get; }

        public Uri Address { get; }

        public string Token { get; }

        public int Pid => _process.Id;

        public static async Task<Server> StartAsync(BackupScenario.Cli cli, string data)
        {
            var process = Process.Start(cli.StartInfo("--data-dir", data, "serve", "--json"))!;
            _ = process.StandardError.ReadToEndAsync();
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2))
                ?? throw new InvalidOperationException("mdmai serve ended without printing its address");
            var json = JsonNode.Parse(line)!;
            return new Server(process, new Uri(json["url"]!.GetValue<string>()), json["token"]!.GetValue<string>());
        }

        public (long Rss, long Anon) Memory() => RssSampler.Read(Pid);

        /// <summary>User + system CPU seconds of the server so far.</summary>
        public double Cpu()
        {
            var fields = File.ReadAllText($"/proc/{Pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return (long.Parse(fields[11], Inv) + long.Parse(fields[12], Inv)) / 100.0;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(); // Ctrl+C would also do; the bench does not need the graceful close
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }

    /// <summary>Samples a process's VmRSS and RssAnon (heap, stacks, native buffers: not the mapped database file) every 20 ms and keeps their peaks.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly Timer _timer;
        private readonly int _pid;
        private long _peak;
        private long _peakAnon;

        public RssSampler(int pid)
        {
            _pid = pid;
            _timer = new Timer(_ => Sample(), null, 0, 20);
        }

        public long PeakKb
        {
            get
            {
                Sample();
                return Interlocked.Read(ref _peak);
            }
        }

        public long PeakAnonKb
        {
            get
            {
                Sample();
                return Interlocked.Read(ref _peakAnon);
            }
        }

        /// <summary>VmRSS and RssAnon of <paramref name="pid"/>, in KiB.</summary>
        public static (long Rss, long Anon) Read(int pid)
        {
            long rss = -1, anon = -1;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv);
                }
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    anon = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv);
                }
            }

            return (rss, anon);
        }

        private void Sample()
        {
            var (rss, anon) = Read(_pid);
            Raise(ref _peak, rss);
            Raise(ref _peakAnon, anon);
        }

        private static void Raise(ref long peak, long now)
        {
            long seen;
            while (now > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, now, seen) != seen)
            {
            }
        }

        public void Dispose() => _timer.Dispose();
    }
}
