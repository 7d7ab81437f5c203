using System.Text.Json;
using Mdmai.DataManager.IO;

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

    /// <param name="Staging">Where the restored items wait.</param>
    /// <param name="Replaced">Where the current items are moved aside.</param>
    /// <param name="Items">The current items (moved aside first, all of them, before any restored item moves in).</param>
    /// <param name="Restored">The restored items.</param>
    internal sealed record Entry(
        [property: System.Text.Json.Serialization.JsonPropertyName("staging")] string Staging,
        [property: System.Text.Json.Serialization.JsonPropertyName("replaced")] string Replaced,
        [property: System.Text.Json.Serialization.JsonPropertyName("items")] IReadOnlyList<string> Items,
        [property: System.Text.Json.Serialization.JsonPropertyName("restored")] IReadOnlyList<string> Restored);

    private static readonly JsonSerializerOptions Json = new JsonSerializerOptions().Generated(ConfigurationJsonContext.Default);

    public static string PathIn(string dataFolder) => Path.Combine(dataFolder, FileName);

    public static async Task WriteAsync(string dataFolder, Entry entry, CancellationToken cancellationToken) =>
        await AtomicFile.WriteAllBytesAsync(PathIn(dataFolder), JsonSerializer.SerializeToUtf8Bytes(entry, Json.For<Entry>()), cancellationToken).ConfigureAwait(false);

    /// <summary>Rolls back an interrupted in-place restore; true when there was one.</summary>
    public static bool Recover(string dataFolder)
    {
        var path = PathIn(dataFolder);
        if (!File.Exists(path))
        {
            return false;
        }

        Entry? entry;
        try
        {
            entry = JsonSerializer.Deserialize(File.ReadAllBytes(path), Json.For<Entry>());
        }
        catch (JsonException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{path}' (the journal of an interrupted restore) is damaged. The original items are in the data folder's tmp/replaced-* folder; move them back by hand, then delete the journal.", ex);
        }

        if (entry is null || entry.Items is null || entry.Restored is null)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{path}' (the journal of an interrupted restore) is incomplete. The original items are in the data folder's tmp/replaced-* folder; move them back by hand, then delete the journal.");
        }

        RollBack(dataFolder, entry);
        File.Delete(path);
        AtomicFile.FlushFolder(dataFolder);
        return true;
    }

    /// <summary>
    /// Takes every restored item out (back to the staging folder) and puts every moved-aside item back. Restored items
    /// move in only after all current ones are aside, so an item in the folder is a restored one exactly when its name
    /// is restored and it is either new or its original is aside.
    /// </summary>
    public static void RollBack(string dataFolder, Entry entry)
    {
        var items = entry.Items.ToHashSet(StringComparer.Ordinal);
        foreach (var name in entry.Restored)
        {
            var current = Path.Combine(dataFolder, name);
            if (Path.Exists(current) && (!items.Contains(name) || Path.Exists(Path.Combine(entry.Replaced, name))))
            {
                Directory.CreateDirectory(entry.Staging);
                Move(current, Path.Combine(entry.Staging, name + ".rolled-back-" + Guid.NewGuid().ToString("N")));
            }
        }

        foreach (var name in entry.Items)
        {
            var aside = Path.Combine(entry.Replaced, name);
            if (Path.Exists(aside))
            {
                Move(aside, Path.Combine(dataFolder, name));
            }
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
