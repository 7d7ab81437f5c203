using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Backup;

public sealed partial class BackupRepository
{
    /// <summary>
    /// Finds good copies of <paramref name="paths"/> (snapshot paths, e.g. <c>data/objects/ab/ab…</c>): snapshots are
    /// searched newest first; each copy found is written to a temp file in <paramref name="tempFolder"/> and offered to
    /// <paramref name="accept"/>, which moves it into place and returns true, or returns false (the copy is bad: an
    /// older snapshot is tried). Returns the snapshot each accepted path came from.
    /// </summary>
    internal async Task<IReadOnlyDictionary<string, string>> RecoverFilesAsync(IReadOnlyCollection<string> paths, string tempFolder,
        Func<string, string, CancellationToken, Task<bool>> accept, CancellationToken cancellationToken)
    {
        var wanted = new HashSet<string>(paths, StringComparer.Ordinal);
        var recovered = new Dictionary<string, string>(StringComparer.Ordinal);
        Directory.CreateDirectory(tempFolder);
        foreach (var info in (await ListSnapshotsAsync(cancellationToken).ConfigureAwait(false)).Reverse())
        {
            if (wanted.Count == 0)
            {
                break;
            }

            SnapshotDocument snapshot;
            try
            {
                snapshot = await ReadSnapshotAsync(info.Id, cancellationToken).ConfigureAwait(false);
            }
            catch (MdmaiException)
            {
                continue;
            }

            var found = new List<TreeEntry>();
            try
            {
                await foreach (var entry in ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
                {
                    if (entry.Type == SnapshotEntryType.File && wanted.Contains(entry.Path))
                    {
                        found.Add(entry);
                    }
                }
            }
            catch (MdmaiException)
            {
                continue; // a damaged file list: try the next snapshot
            }

            foreach (var entry in found)
            {
                var temp = Path.Combine(tempFolder, $"recover-{Guid.NewGuid():N}");
                try
                {
                    await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                    await using (var content = new SnapshotFileStream(this, entry))
                    {
                        await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                        file.Flush(flushToDisk: true);
                    }

                    if (await accept(entry.Path, temp, cancellationToken).ConfigureAwait(false))
                    {
                        wanted.Remove(entry.Path);
                        recovered[entry.Path] = info.Id;
                    }
                }
                catch (MdmaiException)
                {
                    // this copy cannot be read: an older snapshot may have a good one
                }
                finally
                {
                    File.Delete(temp);
                }
            }
        }

        return recovered;
    }
}
