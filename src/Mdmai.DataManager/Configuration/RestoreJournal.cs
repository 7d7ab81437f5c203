using System.Text.Json;

namespace Mdmai.DataManager.Configuration;

/// <summary>
/// The journal of an in-place restore (<c>.mdmai-restore.json</c> in the data folder): written before the first item
/// of the data folder is moved aside, removed after the last restored item is in place. If a restore is interrupted
/// between the two, <see cref="Recover"/> (run whenever the folder is opened) moves the original items back, so the
/// folder is exactly as it was before the restore began.
/// </summary>
internal static class RestoreJournal
{
    public const string FileName = ".mdmai-restore.json";

    internal sealed record Entry(string Staging, string Replaced, IReadOnlyList<string> Items);

    public static string PathIn(string dataFolder) => Path.Combine(dataFolder, FileName);

    public static async Task WriteAsync(string dataFolder, Entry entry, CancellationToken cancellationToken) =>
        await AtomicFile.WriteAllBytesAsync(PathIn(dataFolder), JsonSerializer.SerializeToUtf8Bytes(entry), cancellationToken).ConfigureAwait(false);

    /// <summary>Rolls back an interrupted in-place restore; true when there was one.</summary>
    public static bool Recover(string dataFolder)
    {
        var path = PathIn(dataFolder);
        if (!File.Exists(path))
        {
            return false;
        }

        var entry = JsonSerializer.Deserialize<Entry>(File.ReadAllBytes(path))
            ?? throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{path}' (the journal of an interrupted restore) is damaged. Its original items are in the folder it names; move them back by hand.");
        RollBack(dataFolder, entry);
        File.Delete(path);
        AtomicFile.FlushFolder(dataFolder);
        return true;
    }

    /// <summary>Puts every moved-aside item back; a restored item in its place goes back to the staging folder.</summary>
    public static void RollBack(string dataFolder, Entry entry)
    {
        foreach (var name in entry.Items)
        {
            var aside = Path.Combine(entry.Replaced, name);
            if (!Path.Exists(aside))
            {
                continue; // never moved aside
            }

            var current = Path.Combine(dataFolder, name);
            if (Path.Exists(current))
            {
                Directory.CreateDirectory(entry.Staging);
                Move(current, Path.Combine(entry.Staging, name + ".rolled-back-" + Guid.NewGuid().ToString("N")));
            }

            Move(aside, current);
        }

        AtomicFile.FlushFolder(dataFolder);
    }

    public static void Move(string from, string to)
    {
        if (Directory.Exists(from) && new FileInfo(from).LinkTarget is null)
        {
            Directory.Move(from, to);
        }
        else
        {
            File.Move(from, to);
        }
    }
}
