using System.Formats.Tar;
using System.Text.Json;
using System.Text;
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

                            using var hashing = new HashingReadStream(content);
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
        using var hashing = new HashingReadStream(content);
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
            if (!root.TryGetProperty("format", out var format) || format.GetString() != PortableExport.ArchiveFormat)
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

/// <summary>How to write a portable export.</summary>
public sealed record ExportOptions
{
    /// <summary>The data folder's password, needed when the snapshot is of an encrypted folder (its files are decrypted into the archive).</summary>
    public string? Password { get; init; }

    /// <summary>Consent to write an encrypted data set's files in plain text (required for an encrypted snapshot).</summary>
    public bool AllowPlaintext { get; init; }

    /// <summary>zstd level of the archive (default 3).</summary>
    public int CompressionLevel { get; init; } = 3;

    /// <summary>Folder for the temporary copy of the database (default: the system temp folder).</summary>
    public string? TempFolder { get; init; }
}

/// <summary>What an export wrote.</summary>
/// <param name="Files">Catalog files written under their names.</param>
/// <param name="Bytes">Bytes of content written (before compression).</param>
/// <param name="Entries">Tar entries written.</param>
public sealed record ExportResult(long Files, long Bytes, long Entries);

/// <summary>
/// The export half of the portable archive: a snapshot written as <c>tar</c> + zstd that stock tools unpack — the data
/// folder's files under their own names, the database, and a manifest with every file's hash.
/// </summary>
internal sealed class PortableExport(BackupRepository repository)
{
    internal const string ArchiveFormat = "mdmai-export";

    public async Task<ExportResult> ExportAsync(string snapshotId, Stream destination, ExportOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new ExportOptions();
        var snapshot = await repository.FindSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        await using var repositoryLock = await repository.LockAsync(exclusive: false, cancellationToken).ConfigureAwait(false);

        // The objects and the three data folder files, by path; everything else is written as it comes.
        var objects = new Dictionary<string, TreeEntry>(StringComparer.Ordinal);
        TreeEntry? database = null, keys = null, config = null;
        await foreach (var entry in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
        {
            switch (entry.Path)
            {
                case "data/mdmai.db": database = entry; break;
                case "data/mdmai.keys": keys = entry; break;
                case "data/mdmai.json": config = entry; break;
                default:
                    if (entry.Type == SnapshotEntryType.File && entry.Path.StartsWith("data/objects/", StringComparison.Ordinal))
                    {
                        objects[RepositoryNames.Leaf(entry.Path)] = entry;
                    }

                    break;
            }
        }

        KeyRing? ring = null;
        if (keys is not null)
        {
            if (!options.AllowPlaintext)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "The snapshot is of an encrypted data folder: its export holds your files decrypted. Pass --allow-plaintext to confirm.");
            }

            if (string.IsNullOrEmpty(options.Password))
            {
                throw new MdmaiException(MdmaiErrorCode.WrongPassword, "The snapshot is of an encrypted data folder: give its password to decrypt the files.");
            }

            using var keyBytes = new MemoryStream();
            await using (var stream = new SnapshotFileStream(repository, keys))
            {
                await stream.CopyToAsync(keyBytes, cancellationToken).ConfigureAwait(false);
            }

            ring = KeyFile.Parse(keyBytes.ToArray(), "mdmai.keys (in the snapshot)").Unlock(options.Password);
        }

        var temp = Path.Combine(options.TempFolder ?? Path.GetTempPath(), $"mdmai-export-{Guid.NewGuid():N}.db");
        var manifest = new List<ManifestEntry>();
        long files = 0, bytes = 0, entries = 0;
        try
        {
            await using var zstd = Compression.Zstd.CreateCompressionStream(destination, options.CompressionLevel, Security.ObjectCodec.CompressionWorkers, leaveOpen: true);
            using var tar = new TarStreamWriter(zstd);
            async Task AddAsync(string name, TreeEntry entry, Stream content, string? fileId = null, string? objectId = null)
            {
                using var hash = new HashingReadStream(content);
                await tar.WriteFileAsync(name, entry.Size, entry.ToPublic().Modified, entry.Mode, hash, cancellationToken).ConfigureAwait(false);
                manifest.Add(new ManifestEntry(name, entry.Size, hash.Hex(), fileId, objectId));
                bytes += entry.Size;
                entries++;
                progress?.Report(new BackupProgress(entries, bytes, null, snapshot.Stats.Bytes, name));
            }

            foreach (var (name, entry) in new[] { ("mdmai.json", config), ("mdmai.keys", keys) })
            {
                if (entry is not null)
                {
                    await using var content = new SnapshotFileStream(repository, entry);
                    await AddAsync(name, entry, content).ConfigureAwait(false);
                }
            }

            if (database is not null)
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                await using (var content = new SnapshotFileStream(repository, database))
                {
                    await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                }

                await using (var file = new FileStream(temp, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan))
                {
                    await AddAsync("mdmai.db", database, file).ConfigureAwait(false);
                }

                foreach (var row in CatalogFiles(temp))
                {
                    if (!objects.TryGetValue(row.ObjectId, out var entry))
                    {
                        throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The snapshot's catalog names object {row.ObjectId} ('{row.Name}'), but the snapshot does not hold it.");
                    }

                    await using var raw = new SnapshotFileStream(repository, entry);
                    var content = row.Storage == "raw" ? raw : await ObjectCodec.OpenReadAsync(raw, ring, $"{row.ObjectId} ('{row.Name}')", cancellationToken).ConfigureAwait(false);
                    await using (content.ConfigureAwait(false))
                    {
                        await AddAsync(row.ArchiveName, entry with { Size = row.Size }, content, row.FileId, row.ObjectId).ConfigureAwait(false);
                    }

                    files++;
                }
            }

            await foreach (var entry in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
            {
                if (!entry.Path.StartsWith("include/", StringComparison.Ordinal))
                {
                    continue;
                }

                if (entry.Type == SnapshotEntryType.Directory)
                {
                    await tar.WriteDirectoryAsync(entry.Path, entry.ToPublic().Modified, entry.Mode, cancellationToken).ConfigureAwait(false);
                    entries++;
                }
                else if (entry.Type == SnapshotEntryType.File)
                {
                    await using var content = new SnapshotFileStream(repository, entry);
                    await AddAsync(entry.Path, entry, content).ConfigureAwait(false);
                }
            }

            var document = JsonSerializer.SerializeToUtf8Bytes(new ArchiveManifest(ArchiveFormat, 1, snapshot.Info, keys is not null, manifest), BackupRepository.Json.For<ArchiveManifest>());
            var now = DateTimeOffset.UtcNow;
            await tar.WriteFileAsync("manifest.json", document.Length, now, 0x1A4, new MemoryStream(document), cancellationToken).ConfigureAwait(false);
            var sums = Encoding.UTF8.GetBytes(string.Concat(manifest.Select(m => $"{m.Sha256}  {m.Path}\n")));
            await tar.WriteFileAsync("SHA256SUMS", sums.Length, now, 0x1A4, new MemoryStream(sums), cancellationToken).ConfigureAwait(false);
            await tar.FinishAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ring?.Dispose();
            File.Delete(temp);
        }

        return new ExportResult(files, bytes, entries + 2);
    }

    /// <summary>
    /// Writes the entries of a snapshot equal to or under any of <paramref name="paths"/> as a plain tar stream (the
    /// dashboard's "download selected"): files streamed blob by blob, each authenticated and re-hashed, with their
    /// snapshot paths, folders and links as they are. Memory is one blob, whatever the selection's size.
    /// </summary>
    public async Task<ExportResult> ExportSelectionAsync(string snapshotId, IReadOnlyCollection<string> paths, Stream destination, IProgress<BackupProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(destination);
        if (paths.Count == 0)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Select at least one entry to download.");
        }

        var snapshot = await repository.FindSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        var wanted = paths.Select(p => p.Trim('/')).ToList();
        using var tar = new TarStreamWriter(destination);
        long files = 0, bytes = 0, entries = 0;
        await foreach (var entry in repository.ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
        {
            if (!wanted.Any(w => entry.Path == w || entry.Path.StartsWith(w + "/", StringComparison.Ordinal)))
            {
                continue;
            }

            var modified = DateTimeOffset.UnixEpoch.AddTicks(entry.ModifiedNanoseconds / 100);
            switch (entry.Type)
            {
                case SnapshotEntryType.Directory:
                    await tar.WriteDirectoryAsync(entry.Path, modified, entry.Mode, cancellationToken).ConfigureAwait(false);
                    break;
                case SnapshotEntryType.File:
                    await using (var content = new SnapshotFileStream(repository, entry))
                    {
                        await tar.WriteFileAsync(entry.Path, entry.Size, modified, entry.Mode, content, cancellationToken).ConfigureAwait(false);
                    }

                    files++;
                    bytes += entry.Size;
                    progress?.Report(new BackupProgress(files, bytes, null, null, entry.Path));
                    break;
                default:
                    continue; // links are not written into a download: they would point outside what it holds
            }

            entries++;
        }

        await tar.FinishAsync(cancellationToken).ConfigureAwait(false);
        return new ExportResult(files, bytes, entries);
    }

    internal sealed record ManifestEntry(string Path, long Size, string Sha256, string? FileId, string? ObjectId);

    /// <summary><c>manifest.json</c> of a portable archive (docs/backup-format.md).</summary>
    internal sealed record ArchiveManifest(string Format, int Version, SnapshotInfo Snapshot, bool Encrypted, IReadOnlyList<ManifestEntry> Entries);

    private sealed record CatalogRow(string FileId, string Name, string Category, string ObjectId, long Size, string Storage)
    {
        public string ArchiveName { get; set; } = "";
    }

    /// <summary>The catalog of a database copy, each file with a unique archive name <c>files/&lt;category&gt;/&lt;name&gt;</c>.</summary>
    private static IEnumerable<CatalogRow> CatalogFiles(string database)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (file, size, storage) in FileCatalog.FilesOfCopy(database))
        {
            var row = new CatalogRow(file.Id, file.Name, file.Category, file.ObjectId, size, storage);
            var name = FileStore.SafeFileName(row.Name);
            var candidate = $"files/{row.Category}/{name}";
            for (var n = 2; !used.Add(candidate); n++)
            {
                candidate = $"files/{row.Category}/{Path.GetFileNameWithoutExtension(name)} ({n}){Path.GetExtension(name)}";
            }

            row.ArchiveName = candidate;
            yield return row;
        }
    }
}
