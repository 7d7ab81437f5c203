using Mdmai.DataManager.Backup;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Integrity;

/// <summary>A seeded data folder with one snapshot, made once per test run and copied for each test.</summary>
internal sealed record Template(string Path, bool Encrypted, DataSetInfo Info, string SnapshotId)
{
    /// <summary>A fresh copy of the template at <paramref name="target"/>, opened.</summary>
    public async Task<OpenDataFolder> CopyToAsync(string target, bool backups = true)
    {
        Folders.Copy(Path, target);
        return await OpenDataFolder.OpenAsync(target, backups);
    }
}

/// <summary>
/// The templates: a few thousand entity rows over every entity type, a few hundred imported files (with
/// duplicates), a backup snapshot — unencrypted and encrypted. Built once (seeded, so always the same content) and
/// removed when the test process ends.
/// </summary>
internal static class Templates
{
    public const int Seed = 20260105;

    private static readonly string Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mdmai-templates-{Environment.ProcessId}-{Guid.NewGuid():N}");
    private static readonly Lazy<Task<Template>> Plain = new(() => BuildAsync(encrypted: false, "plain", 450, 300));
    private static readonly Lazy<Task<Template>> Encrypted = new(() => BuildAsync(encrypted: true, "encrypted", 450, 300));
    private static readonly Lazy<Task<Template>> SmallPlain = new(() => BuildAsync(encrypted: false, "small-plain", 60, 80));
    private static readonly Lazy<Task<Template>> SmallEncrypted = new(() => BuildAsync(encrypted: true, "small-encrypted", 60, 80));

    static Templates()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                if (Directory.Exists(Root))
                {
                    Directory.Delete(Root, recursive: true);
                }
            }
            catch (IOException)
            {
                // a temp folder; the OS cleans it eventually
            }
        };
    }

    /// <summary>The large data set (about 3,000 rows, 300 imports).</summary>
    public static Task<Template> GetAsync(bool encrypted) => (encrypted ? Encrypted : Plain).Value;

    /// <summary>A small one (about 550 rows, 80 imports) for tests that copy it many times.</summary>
    public static Task<Template> GetSmallAsync(bool encrypted) => (encrypted ? SmallEncrypted : SmallPlain).Value;

    private static async Task<Template> BuildAsync(bool encrypted, string name, int rowsPerKind, int files)
    {
        var path = System.IO.Path.Combine(Root, name);
        DataSetInfo info;
        string snapshot;
        await using (var data = await OpenDataFolder.CreateAsync(path, encrypted))
        {
            info = await SeededData.PopulateAsync(data.Database, data.Store, Seed + (encrypted ? 1 : 0), rowsPerKind: rowsPerKind, files: files);
            snapshot = (await data.Backups!.BackupAsync(SnapshotKind.Manual, description: "template")).Snapshot.Id;
        }

        SqliteConnection.ClearAllPools();
        return new Template(path, encrypted, info, snapshot);
    }
}
