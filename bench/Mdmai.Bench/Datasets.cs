using System.Diagnostics;
using System.Globalization;
using System.Text;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;
using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;

namespace Mdmai.Bench;

/// <summary>
/// The data sets of the end-to-end benchmarks, made once (untimed) under the work folder and reused. Each file
/// is written under a temporary name and renamed when complete, so an interrupted run never leaves a half
/// data set that a later run would trust.
/// </summary>
public sealed class Datasets(string work, int seed)
{
    /// <summary>The work folder.</summary>
    public string Work { get; } = Path.GetFullPath(work);

    /// <summary>Scratch folder for one run's outputs (deleted after each run).</summary>
    public string Runs => Path.Combine(Work, "runs");

    /// <summary>An empty database with the full schema (migrations, triggers, FTS).</summary>
    public async Task<string> SchemaAsync()
    {
        var path = Path.Combine(Work, $"schema-v{MdmaiDatabase.LatestSchemaVersion}.db");
        if (File.Exists(path))
        {
            return path;
        }

        var temp = path + ".tmp";
        DeleteDatabase(temp);
        await using (await MdmaiDatabase.OpenAsync(temp))
        {
        }

        File.Move(temp, path);
        return path;
    }

    /// <summary>A realistic library of about <paramref name="rows"/> records (see <see cref="DataGenerator"/>).</summary>
    public async Task<string> LibraryAsync(long rows)
    {
        var path = Path.Combine(Work, $"library-{Label(rows)}-s{seed}.db");
        if (File.Exists(path))
        {
            return path;
        }

        var temp = path + ".tmp";
        DeleteDatabase(temp);
        var gen = new DataGenerator(rows, seed);
        Log($"making {Path.GetFileName(path)} ({gen.ActualRows:N0} records: {gen.Campaigns:N0} campaigns × ({gen.CharactersPerCampaign} characters, {gen.NpcsPerCampaign} NPCs, {gen.SessionsPerCampaign} sessions, {gen.LocationsPerCampaign} locations, {gen.ProfilesPerCampaign} profiles), {gen.ItemCount:N0} items, {gen.SpellCount:N0} spells, {gen.RulebookCount} rulebooks)…");
        var stopwatch = Stopwatch.StartNew();
        await using (var db = await MdmaiDatabase.OpenAsync(temp))
        {
            await db.Campaigns.BulkInsertAsync(gen.GenerateCampaigns());
            await db.Characters.BulkInsertAsync(gen.GenerateCharacters());
            await db.Npcs.BulkInsertAsync(gen.GenerateNpcs());
            await db.Sessions.BulkInsertAsync(gen.GenerateSessions());
            await db.Locations.BulkInsertAsync(gen.GenerateLocations());
            await db.Profiles.BulkInsertAsync(gen.GenerateProfiles());
            await db.Rulebooks.BulkInsertAsync(gen.GenerateRulebooks());
            await db.Items.BulkInsertAsync(gen.GenerateItems());
            await db.Spells.BulkInsertAsync(gen.GenerateSpells());
        }

        File.Move(temp, path);
        Log($"  done in {stopwatch.Elapsed.TotalSeconds:F1} s, {new FileInfo(path).Length / 1e6:F0} MB");
        return path;
    }

    /// <summary>The stock sqlite3 shell's input for the bulk-insert peer: the same items as INSERT statements in one transaction.</summary>
    public async Task<string> PeerInsertScriptAsync(long rows)
    {
        var path = Path.Combine(Work, $"items-{Label(rows)}-s{seed}.sql");
        if (File.Exists(path))
        {
            return path;
        }

        Log($"writing {Path.GetFileName(path)} ({rows:N0} INSERT statements)…");
        var temp = path + ".tmp";
        Directory.CreateDirectory(Runs);
        var probe = Path.Combine(Runs, "descriptor.db");
        DeleteDatabase(probe);
        await using (var db = await MdmaiDatabase.OpenAsync(probe))
        {
            var columns = db.Items.Descriptor.Columns;
            await using var file = new StreamWriter(temp, false, new UTF8Encoding(false), 1 << 16) { NewLine = "\n" };
            // The same per-connection settings the library applies to its own connections (ConnectionFactory).
            await file.WriteLineAsync("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456; PRAGMA foreign_keys=ON;");
            await file.WriteLineAsync("BEGIN;");
            var prefix = $"INSERT INTO items ({string.Join(", ", columns.Select(c => EntityDescriptor<Item>.Quote(c.Name)))}) VALUES (";
            var line = new StringBuilder(4096);
            foreach (var item in new DataGenerator(rows, seed).GenerateItems(rows))
            {
                line.Clear().Append(prefix);
                for (var i = 0; i < columns.Length; i++)
                {
                    if (i > 0)
                    {
                        line.Append(", ");
                    }

                    AppendLiteral(line, columns[i].ToDb(item));
                }

                line.Append(");");
                await file.WriteLineAsync(line);
            }

            await file.WriteLineAsync("COMMIT;");
        }

        DeleteDatabase(probe);
        File.Move(temp, path);
        Log($"  {new FileInfo(path).Length / 1e6:F0} MB");
        return path;
    }

    /// <summary>Our own SQL dump of the library of <paramref name="rows"/> records (the import benchmarks load it).</summary>
    public async Task<string> DumpAsync(long rows)
    {
        var path = Path.Combine(Work, $"library-{Label(rows)}-s{seed}.dump.sql");
        if (File.Exists(path))
        {
            return path;
        }

        var library = await LibraryAsync(rows);
        Log($"exporting {Path.GetFileName(path)}…");
        await using (var db = await MdmaiDatabase.OpenAsync(library))
        {
            await SqlDump.ExportAsync(db, path);
        }

        Log($"  {new FileInfo(path).Length / 1e6:F0} MB");
        return path;
    }

    /// <summary>Copies a database to the scratch folder (untimed) for a scenario that writes to it.</summary>
    public string ScratchCopy(string database, string name)
    {
        Directory.CreateDirectory(Runs);
        var target = Path.Combine(Runs, name);
        DeleteDatabase(target);
        File.Copy(database, target);
        // Gigabytes of freshly copied dirty pages would be written back during the measured run and stall its
        // commits and checkpoints behind them: flush them first (untimed).
        NativeMethods.Sync();
        return target;
    }

    /// <summary>Deletes a database file with its WAL and shared-memory files.</summary>
    public static void DeleteDatabase(string path)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
        {
            File.Delete(path + suffix);
        }
    }

    /// <summary>Row count of a table (for checking a run did what it claims).</summary>
    public static long Count(string database, string table)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM \"{table}\"";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>1000000 → 1M, 100000 → 100k.</summary>
    public static string Label(long rows) =>
        rows % 1_000_000 == 0 ? $"{rows / 1_000_000}M" : rows % 1000 == 0 ? $"{rows / 1000}k" : rows.ToString(CultureInfo.InvariantCulture);

    /// <summary>A progress line on stderr.</summary>
    public static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    private static void AppendLiteral(StringBuilder line, object value)
    {
        switch (value)
        {
            case DBNull:
                line.Append("NULL");
                break;
            case string s:
                line.Append('\'').Append(s.Replace("'", "''", StringComparison.Ordinal)).Append('\'');
                break;
            case double d:
                line.Append(SqlDump.FormatReal(d));
                break;
            case IFormattable f:
                line.Append(f.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                throw new InvalidOperationException($"No SQL literal for {value.GetType()}.");
        }
    }
}
