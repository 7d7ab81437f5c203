using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Tests.Backup;
using Mdmai.DataManager.Tests.Integrity;
using Xunit.Abstractions;

namespace Mdmai.DataManager.Tests.Reliability;

/// <summary>
/// 16 concurrent clients on one <see cref="MdmaiDataManager"/> for a fixed time (5 s here; MDMAI_LOAD_SECONDS for
/// longer): reads, writes, imports, exports, searches and one backup mixed. No operation may fail, every write must
/// be there afterwards and the check must be clean. Throughput and latency are printed, never asserted.
/// </summary>
public sealed class LoadTests(ITestOutputHelper output) : IDisposable
{
    private const int Clients = 16;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private enum Op
    {
        GetNpc,
        ListNpcs,
        CreateNpc,
        UpdateNpc,
        Import,
        Export,
        ReadFile,
        Search,
        Backup,
    }

    [Fact]
    public async Task Sixteen_clients_mixing_reads_writes_imports_exports_searches_and_a_backup_run_without_an_error()
    {
        var seconds = double.Parse(Environment.GetEnvironmentVariable("MDMAI_LOAD_SECONDS") ?? "5", CultureInfo.InvariantCulture);
        var data = _temp.Combine("data");
        await (await OpenDataFolder.CreateAsync(data, encrypted: false)).DisposeAsync();
        await using var manager = await MdmaiDataManager.OpenAsync(new DataManagerOptions { DataFolder = data, BackgroundWork = false });

        // A starting set: campaigns, NPCs, files.
        var campaigns = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            campaigns.Add((await manager.Storage.Campaigns.CreateAsync(Samples.Campaign($"Campaign {i}"))).Id);
        }

        var npcs = new ConcurrentDictionary<Guid, string>();
        foreach (var npc in Enumerable.Range(0, 300).Select(i => Samples.Npc(campaigns[i % 5], $"Goblin {i}")).ToList())
        {
            npcs[(await manager.Storage.Npcs.CreateAsync(npc)).Id] = npc.Name;
        }

        var files = new ConcurrentDictionary<Guid, string>();
        for (var i = 0; i < 40; i++)
        {
            var content = i % 2 == 0 ? BackupTesting.RandomBytes(4000 + (i * 1000), i) : BackupTesting.Text(8000 + (i * 500), i);
            files[(await manager.Files.ImportAsync(new MemoryStream(content), $"seed-{i}.bin")).File.Id] = Folders.Sha256(content);
        }

        var exports = Directory.CreateDirectory(_temp.Combine("exports")).FullName;
        var latencies = new ConcurrentDictionary<Op, ConcurrentBag<double>>();
        var errors = new ConcurrentQueue<string>();
        var backupTaken = 0;
        var own = Enumerable.Range(0, Clients).Select(_ => new List<Guid>()).ToArray();
        var stopwatch = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);

        async Task ClientAsync(int client)
        {
            var random = new Random(1000 + client);
            var n = 0;
            while (stopwatch.Elapsed < deadline)
            {
                var op = client == 0 && stopwatch.Elapsed > deadline / 5 && Interlocked.Exchange(ref backupTaken, 1) == 0 ? Op.Backup : random.Next(100) switch
                {
                    < 20 => Op.GetNpc,
                    < 32 => Op.ListNpcs,
                    < 44 => Op.CreateNpc,
                    < 52 => Op.UpdateNpc,
                    < 62 => Op.Import,
                    < 70 => Op.Export,
                    < 82 => Op.ReadFile,
                    _ => Op.Search,
                };
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await RunAsync(op, random, client, n++);
                }
                catch (Exception ex) when (ex is MdmaiException or IOException or InvalidOperationException)
                {
                    errors.Enqueue($"client {client} {op}: {ex.GetType().Name}: {ex.Message}");
                }

                latencies.GetOrAdd(op, _ => []).Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }

        Guid Any(ConcurrentDictionary<Guid, string> set, Random random)
        {
            var keys = set.Keys.ToList();
            return keys[random.Next(keys.Count)];
        }

        async Task RunAsync(Op op, Random random, int client, int n)
        {
            switch (op)
            {
                case Op.GetNpc:
                {
                    var id = Any(npcs, random);
                    var npc = await manager.Storage.Npcs.GetAsync(id);
                    if (npc.Id != id || npc.Name.Length == 0)
                    {
                        throw new InvalidOperationException($"npc {id} reads '{npc.Name}'");
                    }

                    break;
                }

                case Op.ListNpcs:
                    await manager.Storage.Npcs.ListAsync(new ListQuery { Filters = new Dictionary<string, object?> { ["campaign_id"] = campaigns[random.Next(5)] }, Limit = 20, Offset = random.Next(3) * 20 });
                    break;
                case Op.CreateNpc:
                {
                    var npc = await manager.Storage.Npcs.CreateAsync(Samples.Npc(campaigns[random.Next(5)], $"Goblin c{client}-{n}"));
                    npcs[npc.Id] = npc.Name;
                    own[client].Add(npc.Id);
                    break;
                }

                case Op.UpdateNpc:
                {
                    // Each client renames only NPCs it created, so the last name written is known.
                    if (own[client].Count == 0)
                    {
                        goto case Op.CreateNpc;
                    }

                    var id = own[client][random.Next(own[client].Count)];
                    var npc = await manager.Storage.Npcs.GetAsync(id);
                    npc.Name = $"Renamed c{client}-{n}";
                    await manager.Storage.Npcs.UpdateAsync(npc);
                    npcs[id] = npc.Name;
                    break;
                }

                case Op.Import:
                {
                    var content = random.Next(3) == 0 ? BackupTesting.Text(random.Next(1000, 200_000), random.Next()) : BackupTesting.RandomBytes(random.Next(1000, 200_000), random.Next());
                    var result = await manager.Files.ImportAsync(new MemoryStream(content), $"c{client}-{n}.bin");
                    files[result.File.Id] = Folders.Sha256(content);
                    break;
                }

                case Op.Export:
                {
                    var id = Any(files, random);
                    var path = await manager.Files.ExportAsync(id, Path.Combine(exports, $"c{client}-{n}.bin"));
                    if (Folders.Sha256(await File.ReadAllBytesAsync(path)) != files[id])
                    {
                        throw new InvalidOperationException($"export of {id} differs");
                    }

                    File.Delete(path);
                    break;
                }

                case Op.ReadFile:
                {
                    var id = Any(files, random);
                    await using var stream = await manager.Files.OpenReadAsync(id);
                    if (Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)) != files[id])
                    {
                        throw new InvalidOperationException($"file {id} reads back different");
                    }

                    break;
                }

                case Op.Search:
                    await manager.Storage.SearchAsync(random.Next(2) == 0 ? "goblin" : "renamed", limit: 20);
                    break;
                case Op.Backup:
                    await manager.Backups!.BackupAsync(SnapshotKind.Manual, description: "under load");
                    break;
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(() => ClientAsync(c))));
        var elapsed = stopwatch.Elapsed.TotalSeconds;

        // Figures (printed, never asserted).
        var all = latencies.Values.SelectMany(l => l).Order().ToList();
        output.WriteLine($"{Clients} clients, {elapsed:F1} s, {all.Count} operations, {all.Count / elapsed:F0} ops/s, p50 {Percentile(all, 0.50):F1} ms, p99 {Percentile(all, 0.99):F1} ms");
        foreach (var (op, values) in latencies.OrderBy(l => l.Key))
        {
            var sorted = values.Order().ToList();
            output.WriteLine($"  {op,-10} {sorted.Count,6} ops  {sorted.Count / elapsed,7:F0} ops/s  p50 {Percentile(sorted, 0.50),7:F1} ms  p99 {Percentile(sorted, 0.99),7:F1} ms");
        }

        Assert.True(errors.IsEmpty, string.Join("\n", errors.Take(20)));
        Assert.Equal(1, backupTaken);
        Assert.Single(await manager.Backups!.Repository.ListSnapshotsAsync());

        // Every write is there, and the folder is whole.
        foreach (var (id, name) in npcs)
        {
            Assert.Equal(name, (await manager.Storage.Npcs.GetAsync(id)).Name);
        }

        Assert.Equal(files.Count, (await manager.Files.ListAsync()).TotalCount);
        Reports.AssertClean(await manager.Integrity.CheckAsync(new IntegrityOptions { ReadData = true, Backups = true }));
        Assert.Empty(Directory.GetFiles(exports));
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
