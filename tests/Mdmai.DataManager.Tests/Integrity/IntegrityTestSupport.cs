using System.Security.Cryptography;
using System.Text;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Tests.Backup;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Integrity;

/// <summary>
/// A data folder opened piece by piece (as the CLI's check does): config, keys, database, file store and its backup
/// repository, with an <see cref="IntegrityChecker"/> over them.
/// </summary>
internal sealed class OpenDataFolder : IAsyncDisposable
{
    public const string Password = BackupTesting.Password;

    private OpenDataFolder(DataFolder folder, KeyRing? keys, MdmaiDatabase database, FileStore store, DataFolderBackups? backups)
    {
        Folder = folder;
        Keys = keys;
        Database = database;
        Store = store;
        Backups = backups;
    }

    public DataFolder Folder { get; }

    public KeyRing? Keys { get; }

    public MdmaiDatabase Database { get; }

    public FileStore Store { get; }

    public DataFolderBackups? Backups { get; private set; }

    public string Path => Folder.Path;

    /// <summary>A checker that verifies the backups too (when there are any).</summary>
    public IntegrityChecker Checker => new(Folder, Database, Store, _ => Task.FromResult(Backups?.Repository));

    /// <summary>A checker that knows of no backups.</summary>
    public IntegrityChecker CheckerWithoutBackups => new(Folder, Database, Store);

    /// <summary>A new data folder (encrypted with a fast KDF when asked) with a backup repository of small chunks.</summary>
    public static async Task<OpenDataFolder> CreateAsync(string path, bool encrypted, MdmaiConfig? config = null, bool backups = true)
    {
        var folder = await DataFolder.InitAsync(path, config ?? new MdmaiConfig { AutoBackupIntervalMinutes = 0 });
        if (encrypted)
        {
            folder = await folder.EnableEncryptionAsync(Password, BackupTesting.FastKdf);
        }

        if (backups)
        {
            using var created = await DataFolderBackups.OpenAsync(folder, encrypted ? Password : null, create: true, BackupTesting.SmallChunks());
        }

        return await OpenAsync(path, backups);
    }

    public static async Task<OpenDataFolder> OpenAsync(string path, bool backups = true)
    {
        var folder = await DataFolder.OpenAsync(path);
        var keys = folder.Config.EncryptionEnabled ? (await KeyFile.LoadAsync(folder.KeyFilePath)).Unlock(Password) : null;
        var database = await folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys });
        var store = new FileStore(database, folder.Path, keys);
        DataFolderBackups? repository = null;
        if (backups && await BackupRepository.ExistsAsync(new LocalFolderBackend(folder.BackupRepositoryLocation)))
        {
            repository = await DataFolderBackups.OpenAsync(folder, folder.Config.EncryptionEnabled ? Password : null, create: false);
        }

        return new OpenDataFolder(folder, keys, database, store, repository);
    }

    public async Task<string> SnapshotAsync(string? description = null) => (await Backups!.BackupAsync(SnapshotKind.Manual, description: description)).Snapshot.Id;

    public async ValueTask DisposeAsync()
    {
        Backups?.Dispose();
        Backups = null;
        await Database.DisposeAsync();
        Keys?.Dispose();
        SqliteConnection.ClearAllPools();
    }
}

/// <summary>What a seeded data set holds, for the assertions.</summary>
internal sealed record DataSetInfo(int EntityRows, int Files, int Duplicates, int DistinctContents, IReadOnlyList<string> ObjectIds);

/// <summary>
/// Seeded realistic content: thousands of entity rows over every entity type, and hundreds of imported files of
/// assorted sizes and kinds (compressible text, incompressible bytes, a few empty), a share imported twice under
/// other names.
/// </summary>
internal static class SeededData
{
    public static async Task<DataSetInfo> PopulateAsync(MdmaiDatabase db, FileStore store, int seed, int campaigns = 20, int rowsPerKind = 400, int files = 300)
    {
        var random = new Random(seed);
        var campaignIds = new List<Guid>();
        for (var i = 0; i < campaigns; i++)
        {
            campaignIds.Add((await db.Campaigns.CreateAsync(Samples.Campaign($"Campaign {seed}-{i}"))).Id);
        }

        Guid AnyCampaign() => campaignIds[random.Next(campaignIds.Count)];
        long rows = campaigns;
        rows += await db.Characters.BulkInsertAsync(Enumerable.Range(0, rowsPerKind).Select(i =>
        {
            var c = Samples.Character(AnyCampaign(), $"Hero {i} of {seed}");
            c.Level = random.Next(1, 21);
            return c;
        }).ToList());
        rows += await db.Npcs.BulkInsertAsync(Enumerable.Range(0, rowsPerKind).Select(i => Samples.Npc(AnyCampaign(), $"Npc {i} {Word(random)}")).ToList());
        rows += await db.Sessions.BulkInsertAsync(Enumerable.Range(0, rowsPerKind).Select(i => Samples.Session(campaignIds[i % campaigns], (i / campaigns) + 1)).ToList());
        rows += await db.Locations.BulkInsertAsync(Enumerable.Range(0, rowsPerKind).Select(i => Samples.Location(AnyCampaign(), $"Place {i} {Word(random)}")).ToList());
        rows += await db.Items.BulkInsertAsync(Enumerable.Range(0, rowsPerKind).Select(i => Samples.Item($"Item {i} {Word(random)}")).ToList());
        rows += await db.Spells.BulkInsertAsync(Enumerable.Range(0, rowsPerKind).Select(i => Samples.Spell($"Spell {i} {Word(random)}", random.Next(0, 10))).ToList());
        rows += await db.Rulebooks.BulkInsertAsync(Enumerable.Range(0, rowsPerKind / 8).Select(i => Samples.Rulebook($"Book {i}")).ToList());
        rows += await db.Assets.BulkInsertAsync(Enumerable.Range(0, rowsPerKind / 4).Select(i => Samples.Asset(AnyCampaign(), $"Asset {i}")).ToList());
        rows += await db.Settings.BulkInsertAsync(Enumerable.Range(0, rowsPerKind / 4).Select(i => Samples.Setting($"key-{i}", $"cat-{i % 7}")).ToList());
        rows += await db.Profiles.BulkInsertAsync(Enumerable.Range(0, rowsPerKind / 8).Select(i => Samples.Profile(null, $"Voice {i}")).ToList());

        // The contents first (seeded), then the imports, a few at a time so group commits happen as in real use.
        var contents = new List<(string Name, byte[] Content)>();
        var duplicates = 0;
        for (var i = 0; i < files; i++)
        {
            if (contents.Count > 10 && random.Next(5) == 0)
            {
                var original = contents[random.Next(contents.Count)];
                contents.Add(($"copy of {original.Name}", original.Content));
                duplicates++;
                continue;
            }

            contents.Add(($"file-{i}{(i % 3 == 0 ? ".txt" : ".bin")}", Content(random, i)));
        }

        var objectIds = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>();
        await Parallel.ForEachAsync(contents, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (item, ct) =>
        {
            var result = await store.ImportAsync(new MemoryStream(item.Content), item.Name, new FileImportOptions { CampaignId = item.Name.Length % 2 == 0 ? campaignIds[0] : null }, ct);
            objectIds.TryAdd(result.File.ObjectId, 0);
        });

        var distinct = contents.Select(c => Folders.Sha256(c.Content)).Distinct(StringComparer.Ordinal).Count();
        return new DataSetInfo((int)rows, contents.Count, duplicates, distinct, [.. objectIds.Keys.Order(StringComparer.Ordinal)]);
    }

    /// <summary>Seeded file content: a few empty, mostly small, some up to a few hundred KiB; text or random bytes.</summary>
    public static byte[] Content(Random random, int index)
    {
        if (index % 97 == 5)
        {
            return [];
        }

        var size = random.Next(10) switch
        {
            0 => random.Next(64 * 1024, 320 * 1024),
            1 or 2 => random.Next(8 * 1024, 64 * 1024),
            _ => random.Next(200, 8 * 1024),
        };
        if (random.Next(2) == 0)
        {
            var bytes = new byte[size];
            random.NextBytes(bytes);
            return bytes;
        }

        var text = new StringBuilder(size + 16);
        while (text.Length < size)
        {
            text.Append(Word(random)).Append(random.Next(9) == 0 ? '\n' : ' ');
        }

        return Encoding.UTF8.GetBytes(text.ToString(0, size));
    }

    private static readonly string[] Words = ["goblin", "wagon", "Triboar", "trail", "ambush", "dragon", "tavern", "Phandalin", "cragmaw", "wizard", "lich", "mimic", "the", "of", "a"];

    private static string Word(Random random) => Words[random.Next(Words.Length)];
}

/// <summary>File-level helpers: copying folders, damaging files, comparing folder states.</summary>
internal static class Folders
{
    public static void Copy(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var folder in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, folder)));
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }
    }

    /// <summary>Flips every bit of the byte at <paramref name="offset"/>.</summary>
    public static void FlipByte(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        var value = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(value ^ 0xFF));
    }

    public static void Truncate(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.SetLength(length);
    }

    /// <summary>SHA-256 of every file under <paramref name="folder"/> but those <paramref name="skip"/> names, by relative path.</summary>
    public static SortedDictionary<string, string> Hashes(string folder, Func<string, bool>? skip = null)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
        {
            return result;
        }

        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(folder, file);
            if (skip?.Invoke(relative) == true)
            {
                continue;
            }

            using var stream = File.OpenRead(file);
            result[relative] = Convert.ToHexStringLower(SHA256.HashData(stream));
        }

        return result;
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));
}

/// <summary>Assertions on reports.</summary>
internal static class Reports
{
    public static string Describe(IEnumerable<IntegrityIssue> issues) =>
        string.Join("\n", issues.Select(i => $"{i.Severity} [{i.Kind}] {i.Subject}: {i.Message}"));

    public static void AssertClean(IntegrityReport report)
    {
        Assert.True(report.Ok && report.Issues.Count == 0, "expected a clean report, got:\n" + Describe(report.Issues));
    }

    /// <summary>
    /// The report's findings are these (severity, kind, subject), nothing else; one finding may be reported more than
    /// once (a damaged pack: its header, and each snapshot whose file list was in it).
    /// </summary>
    public static void AssertOnly(IntegrityReport report, params (IssueSeverity Severity, string Kind, string Subject)[] expected)
    {
        var actual = report.Issues.Select(i => (i.Severity, i.Kind, i.Subject)).Distinct().Order().ToList();
        Assert.True(expected.Distinct().Order().SequenceEqual(actual),
            $"expected:\n{string.Join("\n", expected.Order().Select(e => $"{e.Severity} [{e.Kind}] {e.Subject}"))}\nactual:\n{Describe(report.Issues)}");
    }

    /// <summary>The report holds exactly these findings (severity, kind, subject), nothing else.</summary>
    public static void AssertExactly(IntegrityReport report, params (IssueSeverity Severity, string Kind, string Subject)[] expected)
    {
        var actual = report.Issues.Select(i => (i.Severity, i.Kind, i.Subject)).Order().ToList();
        Assert.True(expected.Order().SequenceEqual(actual),
            $"expected:\n{string.Join("\n", expected.Order().Select(e => $"{e.Severity} [{e.Kind}] {e.Subject}"))}\nactual:\n{Describe(report.Issues)}");
    }
}

/// <summary>
/// Spreads consecutive seeds apart (SplitMix64's finaliser): <see cref="Random"/> seeded with n, n+1, n+2… gives first
/// draws that climb in near-even steps, which would make "random" kill moments and damage offsets an arithmetic series.
/// </summary>
internal static class Seeds
{
    public static int Mix(int seed)
    {
        var z = (ulong)(uint)seed + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)(z ^ (z >> 31));
    }
}
