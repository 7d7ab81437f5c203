using System.Formats.Tar;
using System.Text.Json;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Backup;

/// <summary>What an import of a portable export restored.</summary>
/// <param name="Files">Stored files whose content was put back (each hashed to its catalog id).</param>
/// <param name="Bytes">Bytes of content read.</param>
/// <param name="SkippedIncludes">Entries of included folders, which are not part of a data folder and were left out (extract them with tar).</param>
public sealed record ImportResult(long Files, long Bytes, long SkippedIncludes);

/// <summary>Imports a portable export (<c>backup export</c>, a tar.zst) into a new data folder.</summary>
public static class PortableArchive
{
    /// <summary>
    /// Rebuilds a data folder at <paramref name="dataFolder"/> (which must not exist or be empty) from an export: the
    /// config, key file and database as they were, and every file's content stored again — each must hash to an
    /// object its catalog records, and every hash must match the manifest. Anything wrong (a foreign or truncated
    /// archive, a hostile path, a changed file) stops the import and removes what it wrote.
    /// </summary>
    public static async Task<ImportResult> ImportAsync(Stream source, string dataFolder, string? password, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(dataFolder);
        var root = Path.GetFullPath(dataFolder);
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"'{root}' is not empty: import into a new data folder (--data-dir), or restore in place from a snapshot.");
        }

        var created = !Directory.Exists(root);
        Directory.CreateDirectory(root);
        DataFolderSession? session = null;
        FileStore? store = null;
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        long files = 0, bytes = 0, skipped = 0;
        var manifestSeen = false;
        try
        {
            await using var zstd = new ZstdSharp.DecompressionStream(source, leaveOpen: true);
            await using var tar = new TarReader(zstd, leaveOpen: true);
            while (await tar.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                var name = entry.Name.TrimEnd('/');
                if (!SnapshotPaths.IsSafe(name))
                {
                    throw new MdmaiException(MdmaiErrorCode.UnsafePath, $"The archive holds the path '{entry.Name}', which could leave the target folder; nothing was imported.");
                }

                if (entry.EntryType is TarEntryType.Directory)
                {
                    continue;
                }

                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    throw new MdmaiException(MdmaiErrorCode.UnsafePath, $"The archive holds '{entry.Name}', a {entry.EntryType} entry; an mdmai export has only files and folders.");
                }

                var content = entry.DataStream ?? Stream.Null;
                switch (name)
                {
                    case DataFolder.ConfigFileName or KeyFile.FileName or DataFolder.DatabaseFileName:
                        if (store is not null)
                        {
                            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"'{name}' comes after the files in the archive: it was not written by mdmai.");
                        }

                        hashes[name] = await CopyAsync(content, Path.Combine(root, name), cancellationToken).ConfigureAwait(false);
                        bytes += entry.Length;
                        break;
                    case "manifest.json":
                        CheckManifest(await JsonDocument.ParseAsync(content, cancellationToken: cancellationToken).ConfigureAwait(false), hashes);
                        manifestSeen = true;
                        break;
                    case "SHA256SUMS":
                        break;
                    default:
                        if (name.StartsWith("include/", StringComparison.Ordinal))
                        {
                            skipped++;
                        }
                        else if (name.StartsWith("files/", StringComparison.Ordinal))
                        {
                            if (store is null)
                            {
                                // The folder as it came out of the archive, opened the one way and held alone while its files go in.
                                session = await DataFolderSession.OpenAsync(root, new DataFolderSessionOptions
                                {
                                    Access = FolderAccess.Exclusive,
                                    Password = () => password ?? throw new MdmaiException(MdmaiErrorCode.WrongPassword, "The archive is of an encrypted data folder: give its password."),
                                }, cancellationToken).ConfigureAwait(false);
                                store = session.Files;
                            }

                            using var hashing = new BackupRepository.HashingReadStream(content);
                            await store.RestoreObjectAsync(hashing, name, cancellationToken).ConfigureAwait(false);
                            hashes[name] = hashing.Hex();
                            files++;
                            bytes += entry.Length;
                        }
                        else
                        {
                            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"The archive holds '{name}', which an mdmai export does not: it was not written by mdmai.");
                        }

                        break;
                }

                progress?.Report(new BackupProgress(files, bytes, null, null, name));
            }

            if (!manifestSeen)
            {
                throw new MdmaiException(MdmaiErrorCode.Corrupt, "The archive has no manifest: it is truncated, or not an mdmai export. Nothing was imported.");
            }

            if (!File.Exists(Path.Combine(root, DataFolder.DatabaseFileName)))
            {
                throw new MdmaiException(MdmaiErrorCode.ForeignFormat, "The archive holds no database: it is not an mdmai export.");
            }

            if (store is not null)
            {
                var missing = store!.Catalog.ReferencedObjects(cancellationToken).Where(id => !File.Exists(store.ObjectPath(id))).ToList();
                if (missing.Count > 0)
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The archive lacks the content of {missing.Count} stored file(s) (first: object {missing[0]}). Nothing was imported.");
                }
            }

            return new ImportResult(files, bytes, skipped);
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or ZstdSharp.ZstdException or JsonException or FormatException)
        {
            await CleanUpAsync().ConfigureAwait(false);
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The archive is damaged or truncated ({ex.Message}). Nothing was imported.", ex);
        }
        catch
        {
            await CleanUpAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }

        async Task CleanUpAsync()
        {
            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
                session = null;
            }

            if (created)
            {
                Directory.Delete(root, recursive: true);
            }
            else
            {
                foreach (var item in Directory.EnumerateFileSystemEntries(root).ToList())
                {
                    if (Directory.Exists(item))
                    {
                        Directory.Delete(item, recursive: true);
                    }
                    else
                    {
                        File.Delete(item);
                    }
                }
            }
        }
    }

    private static async Task<string> CopyAsync(Stream content, string path, CancellationToken cancellationToken)
    {
        using var hashing = new BackupRepository.HashingReadStream(content);
        await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            await hashing.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }

        return hashing.Hex();
    }

    private static void CheckManifest(JsonDocument manifest, Dictionary<string, string> hashes)
    {
        using (manifest)
        {
            var root = manifest.RootElement;
            if (!root.TryGetProperty("format", out var format) || format.GetString() != BackupRepository.ArchiveFormat)
            {
                throw new MdmaiException(MdmaiErrorCode.ForeignFormat, "The archive's manifest is not an mdmai export manifest.");
            }

            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in root.GetProperty("entries").EnumerateArray())
            {
                var path = item.GetProperty("path").GetString() ?? "";
                listed.Add(path);
                if (hashes.TryGetValue(path, out var actual) && actual != item.GetProperty("sha256").GetString())
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{path}' in the archive does not match the manifest's hash: it was changed. Nothing was imported.");
                }
            }

            var unlisted = hashes.Keys.FirstOrDefault(k => !listed.Contains(k));
            if (unlisted is not null)
            {
                throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{unlisted}' is in the archive but not in its manifest. Nothing was imported.");
            }
        }
    }
}
