using System.Diagnostics;
using System.Globalization;
using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.Bench;

/// <summary>
/// The measured side of each scenario, run in a child process (<c>Mdmai.Bench child NAME ...</c>) so that its CPU
/// time and peak RSS are its own. Each prints one result line (<see cref="ProcessMeter.ResultPrefix"/>).
/// </summary>
public static class ChildScenarios
{
    /// <summary>Runs the child scenario named by the first positional word.</summary>
    public static async Task<int> RunAsync(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var name = o.Positional.Count > 1 ? o.Positional[1] : throw new ArgumentException("child: which scenario?");
        using var sampler = new PeakAnonSampler();
        var metrics = name switch
        {
            "bulk-insert" => await BulkInsertAsync(o),
            "generate" => Generate(o),
            "raw-insert" => await RawInsertAsync(o),
            "exec-sql" => ExecSql(o),
            "point-ops" => await PointOpsAsync(o),
            "list-page" => await ListPageAsync(o),
            "export-sql" => await ExportAsync(o),
            "import-sql" => await ImportAsync(o),
            "concurrent-readers" => await ConcurrentReadersAsync(o),
            _ => throw new ArgumentException($"child: unknown scenario '{name}'."),
        };
        metrics["peak_anon_kb"] = sampler.PeakKb;
        ProcessMeter.Report(metrics);
        return 0;
    }

    private static int Seed(Options o) => (int)o.GetLong("seed", DataGenerator.DefaultSeed);

    /// <summary>N items into a fresh database through the typed API, one transaction; the close (WAL checkpoint) is timed too.</summary>
    private static async Task<Dictionary<string, double>> BulkInsertAsync(Options o)
    {
        var path = o.Require("db");
        var rows = o.GetLong("rows", 1_000_000);
        Datasets.DeleteDatabase(path);
        var db = await MdmaiDatabase.OpenAsync(path);
        var stopwatch = Stopwatch.StartNew();
        long inserted;
        try
        {
            inserted = await db.Items.BulkInsertAsync(new DataGenerator(rows, Seed(o)).GenerateItems(rows));
        }
        finally
        {
            await db.DisposeAsync();
        }

        stopwatch.Stop();
        return new() { ["seconds"] = stopwatch.Elapsed.TotalSeconds, ["rows"] = inserted };
    }

    /// <summary>
    /// The same rows through plain Microsoft.Data.Sqlite on the same schema: one prepared INSERT, values converted by
    /// the library's own column mapping, one transaction. What is left of ours above this is the typed layer's cost.
    /// </summary>
    private static async Task<Dictionary<string, double>> RawInsertAsync(Options o)
    {
        var path = o.Require("db");
        var rows = o.GetLong("rows", 1_000_000);
        Datasets.DeleteDatabase(path);
        EntityDescriptorAccess.Columns(out var columns, out var insertSql, await MdmaiDatabase.OpenAsync(path));
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using (var pragmas = connection.CreateCommand())
        {
            pragmas.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456; PRAGMA foreign_keys=ON;" + o.Get("pre-sql", "");
            pragmas.ExecuteNonQuery();
        }

        var stopwatch = Stopwatch.StartNew();
        using (var transaction = connection.BeginTransaction())
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = insertSql;
            for (var i = 0; i < columns.Length; i++)
            {
                insert.Parameters.Add(new SqliteParameter("$p" + i.ToString(CultureInfo.InvariantCulture), null));
            }

            insert.Prepare();
            foreach (var item in new DataGenerator(rows, Seed(o)).GenerateItems(rows))
            {
                for (var i = 0; i < columns.Length; i++)
                {
                    insert.Parameters[i].Value = columns[i].ToDb(item);
                }

                insert.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        connection.Close();
        stopwatch.Stop();
        return new() { ["seconds"] = stopwatch.Elapsed.TotalSeconds, ["rows"] = rows };
    }

    /// <summary>Runs SQL text on a database with the bundled SQLite (a diagnostic: compares it with the sqlite3 shell).</summary>
    private static Dictionary<string, double> ExecSql(Options o)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = o.Require("db"), Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = File.ReadAllText(o.Require("file"));
        var stopwatch = Stopwatch.StartNew();
        command.ExecuteNonQuery();
        return new() { ["seconds"] = stopwatch.Elapsed.TotalSeconds };
    }

    /// <summary>The generator alone (what the bulk insert spends making its input).</summary>
    private static Dictionary<string, double> Generate(Options o)
    {
        var rows = o.GetLong("rows", 1_000_000);
        var stopwatch = Stopwatch.StartNew();
        long chars = 0;
        foreach (var item in new DataGenerator(rows, Seed(o)).GenerateItems(rows))
        {
            chars += item.Description?.Length ?? 0;
        }

        return new() { ["seconds"] = stopwatch.Elapsed.TotalSeconds, ["rows"] = rows, ["description_chars"] = chars };
    }

    /// <summary>Latency of single GetAsync, CreateAsync and UpdateAsync calls, awaited one after another.</summary>
    private static async Task<Dictionary<string, double>> PointOpsAsync(Options o)
    {
        var gen = new DataGenerator(o.GetLong("rows", 1_000_000), Seed(o));
        var ops = (int)o.GetLong("ops", 10_000);
        var characters = gen.Ids(DataGenerator.Source.Characters, gen.CharacterCount).ToArray();
        var campaigns = gen.Ids(DataGenerator.Source.Campaigns, gen.Campaigns).ToArray();
        var random = new Random(Seed(o) + 1);
        var content = gen.RandomFor(DataGenerator.Source.Extra);
        var newIds = gen.RandomFor(DataGenerator.Source.Extra, ids: true);
        var text = new DataGenerator.TextMaker(content);
        await using var db = await MdmaiDatabase.OpenAsync(o.Require("db"));

        var made = 0;
        Character NewCharacter()
        {
            var campaign = random.Next(campaigns.Length);
            return DataGenerator.NewCharacter(content, text, DataGenerator.NextId(newIds), campaigns[campaign], campaign, 10_000 + made++);
        }

        var slowWithGc = new Dictionary<string, double>(StringComparer.Ordinal);
        async Task<double[]> Measure(int count, Func<Task<Func<Task>>> prepare, string? name = null)
        {
            var latencies = new double[count];
            int slow = 0, slowGc = 0;
            for (var i = 0; i < count; i++)
            {
                var op = await prepare(); // untimed: pick the id, build or fetch the record
                var collections = GC.CollectionCount(0);
                var start = Stopwatch.GetTimestamp();
                await op();
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (latencies[i] >= 1000)
                {
                    slow++;
                    slowGc += GC.CollectionCount(0) != collections ? 1 : 0;
                }
            }

            if (name is not null)
            {
                // Diagnostics: how many operations took 1 ms or more, and how many of those overlapped a GC.
                slowWithGc[name + "_slow_ops"] = slow;
                slowWithGc[name + "_slow_ops_with_gc"] = slowGc;
            }

            return latencies;
        }

        Task<Func<Task>> Get()
        {
            var id = characters[random.Next(characters.Length)];
            return Task.FromResult<Func<Task>>(() => db.Characters.GetAsync(id));
        }

        Task<Func<Task>> Create()
        {
            var character = NewCharacter();
            return Task.FromResult<Func<Task>>(() => db.Characters.CreateAsync(character));
        }

        async Task<Func<Task>> Update()
        {
            var character = await db.Characters.GetAsync(characters[random.Next(characters.Length)]);
            character.Level = random.Next(1, 21);
            character.Notes = text.Notes();
            return () => db.Characters.UpdateAsync(character);
        }

        // Warm-up: JIT, prepared statements, the pages the ids hit.
        var warm = Math.Max(100, ops / 20);
        await Measure(warm, Get);
        await Measure(warm, Create);
        await Measure(warm, Update);

        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        var total = Stopwatch.StartNew();
        Add(result, "get", await Measure(ops, Get, "get"));
        Add(result, "create", await Measure(ops, Create, "create"));
        Add(result, "update", await Measure(ops, Update, "update"));
        foreach (var (key, value) in slowWithGc)
        {
            result[key] = value;
        }

        result["gc_gen0"] = GC.CollectionCount(0);
        result["gc_gen1"] = GC.CollectionCount(1);
        result["gc_gen2"] = GC.CollectionCount(2);
        result["seconds"] = total.Elapsed.TotalSeconds;
        result["ops"] = ops;
        return result;
    }

    /// <summary>Latency of one filtered page of 100 records (with its total count).</summary>
    private static async Task<Dictionary<string, double>> ListPageAsync(Options o)
    {
        var gen = new DataGenerator(o.GetLong("rows", 1_000_000), Seed(o));
        var ops = (int)o.GetLong("ops", 2_000);
        var campaigns = gen.Ids(DataGenerator.Source.Campaigns, gen.Campaigns).ToArray();
        var random = new Random(Seed(o) + 2);
        await using var db = await MdmaiDatabase.OpenAsync(o.Require("db"));
        var characterPages = Math.Max(1, gen.CharactersPerCampaign / 100);
        var itemPages = Math.Max(1, (int)Math.Min(5, gen.ItemCount / DataGenerator.Systems.Length / 16 / 100));

        ListQuery ByCampaign() => new()
        {
            Filters = new Dictionary<string, object?> { ["campaign_id"] = campaigns[random.Next(campaigns.Length)] },
            Limit = 100,
            Offset = 100 * random.Next(characterPages),
        };

        ListQuery BySystemAndType() => new()
        {
            Filters = new Dictionary<string, object?>
            {
                ["system"] = DataGenerator.Systems[random.Next(DataGenerator.Systems.Length)],
                ["item_type"] = (ItemType)random.Next(16),
            },
            Limit = 100,
            Offset = 100 * random.Next(itemPages),
        };

        async Task<double[]> Measure(int count, Func<Task<int>> list)
        {
            var latencies = new double[count];
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var n = await list();
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (n == 0)
                {
                    throw new InvalidOperationException("A page came back empty: the data set does not match the generator.");
                }
            }

            return latencies;
        }

        async Task<int> Characters() => (await db.Characters.ListAsync(ByCampaign())).Items.Count;
        async Task<int> Items() => (await db.Items.ListAsync(BySystemAndType())).Items.Count;

        // Warm-up to steady state: in a fresh process the first ~1,000 calls run tier-0 and instrumented code
        // while the JIT recompiles them (4–6 ms a page instead of ~1.4). Their latencies are reported apart.
        var warm = (int)o.GetLong("warmup", 1_000);
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        AddWarmup(result, "characters_by_campaign", await Measure(warm, Characters));
        AddWarmup(result, "items_by_system_type", await Measure(warm, Items));
        var total = Stopwatch.StartNew();
        Add(result, "characters_by_campaign", await Measure(ops, Characters));
        Add(result, "items_by_system_type", await Measure(ops, Items));
        result["seconds"] = total.Elapsed.TotalSeconds;
        result["ops"] = ops;
        return result;
    }

    /// <summary>SqlDump.ExportAsync of a whole database to a file.</summary>
    private static async Task<Dictionary<string, double>> ExportAsync(Options o)
    {
        var output = o.Require("out");
        File.Delete(output);
        await using var db = await MdmaiDatabase.OpenAsync(o.Require("db"));
        var stopwatch = Stopwatch.StartNew();
        var rows = await SqlDump.ExportAsync(db, output);
        stopwatch.Stop();
        return new() { ["seconds"] = stopwatch.Elapsed.TotalSeconds, ["rows"] = rows, ["bytes"] = new FileInfo(output).Length };
    }

    /// <summary>SqlDump.ImportAsync of a dump into a new database.</summary>
    private static async Task<Dictionary<string, double>> ImportAsync(Options o)
    {
        var dump = o.Require("dump");
        var target = o.Require("db");
        Datasets.DeleteDatabase(target);
        var stopwatch = Stopwatch.StartNew();
        var statements = await SqlDump.ImportAsync(dump, target);
        stopwatch.Stop();
        return new() { ["seconds"] = stopwatch.Elapsed.TotalSeconds, ["statements"] = statements, ["bytes"] = new FileInfo(dump).Length };
    }

    /// <summary>
    /// Reader throughput of N concurrent readers (GetAsync 80 %, ListAsync page of 50 20 %) for a fixed time alone,
    /// then while one writer commits continuously (CreateAsync and UpdateAsync in turn), then alone again.
    /// </summary>
    private static async Task<Dictionary<string, double>> ConcurrentReadersAsync(Options o)
    {
        var gen = new DataGenerator(o.GetLong("rows", 1_000_000), Seed(o));
        var seconds = o.GetDouble("seconds", 5);
        var readers = (int)o.GetLong("readers", 8);
        var characters = gen.Ids(DataGenerator.Source.Characters, gen.CharacterCount).ToArray();
        var campaigns = gen.Ids(DataGenerator.Source.Campaigns, gen.Campaigns).ToArray();
        await using var db = await MdmaiDatabase.OpenAsync(o.Require("db"));

        async Task<(long Reads, long Writes, double Elapsed)> Phase(double duration, bool withWriter, int salt)
        {
            using var stop = new CancellationTokenSource();
            var counts = new long[readers];
            var tasks = new List<Task>();
            for (var r = 0; r < readers; r++)
            {
                var index = r;
                tasks.Add(Task.Factory.StartNew(async () =>
                {
                    var random = new Random((salt * 131) + index);
                    long n = 0;
                    while (!stop.IsCancellationRequested)
                    {
                        if (random.Next(10) < 8)
                        {
                            await db.Characters.GetAsync(characters[random.Next(characters.Length)]);
                        }
                        else
                        {
                            await db.Characters.ListAsync(new ListQuery
                            {
                                Filters = new Dictionary<string, object?> { ["campaign_id"] = campaigns[random.Next(campaigns.Length)] },
                                Limit = 50,
                            });
                        }

                        n++;
                    }

                    counts[index] = n;
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap());
            }

            long writes = 0;
            if (withWriter)
            {
                tasks.Add(Task.Factory.StartNew(async () =>
                {
                    var content = gen.RandomFor(DataGenerator.Source.Extra);
                    var ids = gen.RandomFor(DataGenerator.Source.Extra, ids: true);
                    var text = new DataGenerator.TextMaker(content);
                    var random = new Random(salt);
                    while (!stop.IsCancellationRequested)
                    {
                        if ((writes & 1) == 0)
                        {
                            var campaign = random.Next(campaigns.Length);
                            await db.Characters.CreateAsync(DataGenerator.NewCharacter(content, text, DataGenerator.NextId(ids), campaigns[campaign], campaign, 20_000 + (int)writes));
                        }
                        else
                        {
                            var character = await db.Characters.GetAsync(characters[random.Next(characters.Length)]);
                            character.Level = random.Next(1, 21);
                            character.Notes = text.Notes();
                            await db.Characters.UpdateAsync(character);
                        }

                        writes++;
                    }
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap());
            }

            var stopwatch = Stopwatch.StartNew();
            stop.CancelAfter(TimeSpan.FromSeconds(duration));
            await Task.WhenAll(tasks);
            return (counts.Sum(), writes, stopwatch.Elapsed.TotalSeconds);
        }

        // Warm-up as long as a phase (every reader connection opened, its cache and the mapped pages warm), then
        // alone, with the writer, alone again: the alone figure is the mean of the two, so drift cancels out.
        await Phase(seconds, withWriter: false, salt: 1);
        var alone1 = await Phase(seconds, withWriter: false, salt: 2);
        var contended = await Phase(seconds, withWriter: true, salt: 3);
        var alone2 = await Phase(seconds, withWriter: false, salt: 4);
        var aloneRate = (alone1.Reads + alone2.Reads) / (alone1.Elapsed + alone2.Elapsed);
        var contendedRate = contended.Reads / contended.Elapsed;
        return new()
        {
            ["seconds"] = alone1.Elapsed + contended.Elapsed + alone2.Elapsed,
            ["readers"] = readers,
            ["reads_per_s_alone"] = aloneRate,
            ["reads_per_s_alone_before"] = alone1.Reads / alone1.Elapsed,
            ["reads_per_s_alone_after"] = alone2.Reads / alone2.Elapsed,
            ["reads_per_s_with_writer"] = contendedRate,
            ["ratio"] = contendedRate / aloneRate,
            ["writes_per_s"] = contended.Writes / contended.Elapsed,
        };
    }

    private static void Add(Dictionary<string, double> result, string name, double[] latenciesMicros)
    {
        Array.Sort(latenciesMicros);
        result[name + "_p50_us"] = Percentile(latenciesMicros, 0.50);
        result[name + "_p99_us"] = Percentile(latenciesMicros, 0.99);
        result[name + "_max_us"] = latenciesMicros[^1];
        result[name + "_mean_us"] = latenciesMicros.Average();
    }

    private static void AddWarmup(Dictionary<string, double> result, string name, double[] latenciesMicros)
    {
        Array.Sort(latenciesMicros);
        result[name + "_warmup_p50_us"] = Percentile(latenciesMicros, 0.50);
        result[name + "_warmup_p99_us"] = Percentile(latenciesMicros, 0.99);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        var rank = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}

/// <summary>Reaches the library's column mapping of items (internal, visible to the benchmarks).</summary>
internal static class EntityDescriptorAccess
{
    public static void Columns(out Column<Item>[] columns, out string insertSql, MdmaiDatabase database)
    {
        columns = database.Items.Descriptor.Columns;
        insertSql = database.Items.Descriptor.InsertSql;
        database.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

/// <summary>
/// Samples the process's anonymous resident memory (RssAnon of /proc/self/status: heap, stacks, native buffers;
/// not the file pages SQLite maps with mmap_size) every 20 ms and keeps the peak; and the whole resident set (VmRSS).
/// </summary>
internal sealed class PeakAnonSampler : IDisposable
{
    private readonly Timer _timer;
    private long _peak;
    private long _peakRss;

    public PeakAnonSampler() => _timer = new Timer(_ => Sample(), null, 0, 20);

    public long PeakKb
    {
        get
        {
            Sample();
            return Interlocked.Read(ref _peak);
        }
    }

    /// <summary>Peak of the whole resident set (VmRSS) as sampled since the start or the last <see cref="Reset"/>.</summary>
    public long PeakRssKb
    {
        get
        {
            Sample();
            return Interlocked.Read(ref _peakRss);
        }
    }

    public void Dispose() => _timer.Dispose();

    /// <summary>Starts the peaks afresh from the current figures (to measure one operation after set-up); returns the anonymous one.</summary>
    public long Reset()
    {
        Interlocked.Exchange(ref _peak, 0);
        Interlocked.Exchange(ref _peakRss, 0);
        Sample();
        return Interlocked.Read(ref _peak);
    }

    private void Sample()
    {
        try
        {
            var found = 0;
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    Raise(ref _peak, line);
                    found++;
                }
                else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    Raise(ref _peakRss, line);
                    found++;
                }

                if (found == 2)
                {
                    return;
                }
            }
        }
        catch (IOException)
        {
            // Not Linux: no figure.
        }
    }

    private static void Raise(ref long peak, string line)
    {
        var kb = long.Parse(line.AsSpan(line.IndexOf(':', StringComparison.Ordinal) + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
        long seen;
        while (kb > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, kb, seen) != seen)
        {
        }
    }
}
