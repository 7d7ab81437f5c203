using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Backup;

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

public sealed partial class BackupRepository
{
    internal const string ArchiveFormat = "mdmai-export";

    /// <summary>
    /// Writes one snapshot as a standard tar stream compressed with zstd (docs/backup-format.md, "Portable export"):
    /// <c>mdmai.json</c>, <c>mdmai.keys</c> (when encrypted), <c>mdmai.db</c> (a plain SQLite file), every catalog file
    /// under <c>files/&lt;category&gt;/&lt;name&gt;</c> with its content decoded, included paths under <c>include/</c>, then
    /// <c>manifest.json</c> and <c>SHA256SUMS</c> (for <c>sha256sum -c</c>). Streamed: memory does not grow with file sizes.
    /// </summary>
    public async Task<ExportResult> ExportAsync(string snapshotId, Stream destination, ExportOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new ExportOptions();
        var snapshot = await FindSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        await using var repositoryLock = await RepositoryLock.AcquireAsync(Backend, exclusive: false, cancellationToken).ConfigureAwait(false);

        // The objects and the three data folder files, by path; everything else is written as it comes.
        var objects = new Dictionary<string, TreeEntry>(StringComparer.Ordinal);
        TreeEntry? database = null, keys = null, config = null;
        await foreach (var entry in ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
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
            await using (var stream = new SnapshotFileStream(this, keys))
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
            var tar = new TarStreamWriter(zstd);
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
                    await using var content = new SnapshotFileStream(this, entry);
                    await AddAsync(name, entry, content).ConfigureAwait(false);
                }
            }

            if (database is not null)
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                await using (var content = new SnapshotFileStream(this, database))
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

                    await using var raw = new SnapshotFileStream(this, entry);
                    var content = row.Storage == "raw" ? raw : await ObjectCodec.OpenReadAsync(raw, ring, $"{row.ObjectId} ('{row.Name}')", cancellationToken).ConfigureAwait(false);
                    await using (content.ConfigureAwait(false))
                    {
                        await AddAsync(row.ArchiveName, entry with { Size = row.Size }, content, row.FileId, row.ObjectId).ConfigureAwait(false);
                    }

                    files++;
                }
            }

            await foreach (var entry in ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
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
                    await using var content = new SnapshotFileStream(this, entry);
                    await AddAsync(entry.Path, entry, content).ConfigureAwait(false);
                }
            }

            var document = JsonSerializer.SerializeToUtf8Bytes(new ArchiveManifest(ArchiveFormat, 1, snapshot.Info, keys is not null, manifest), Json.For<ArchiveManifest>());
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

    /// <summary>A snapshot file's content as a read-only stream: one blob at a time, each checked against its id.</summary>
    internal sealed class SnapshotFileStream(BackupRepository repository, TreeEntry entry) : Stream
    {
        private readonly IReadOnlyList<string> _chunks = entry.Chunks ?? [];
        private int _next;
        private byte[]? _plain;
        private byte[]? _stored;
        private int _offset;
        private int _length;
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => entry.Size;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_offset == _length)
            {
                if (_next == _chunks.Count)
                {
                    return 0;
                }

                var id = BlobId.Parse(_chunks[_next++]);
                if (!repository._index.TryGet(id, out var location))
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Chunk {id} of '{entry.Path}' is not in the repository. Run 'mdmai backup verify'.");
                }

                Ensure(ref _stored, (int)location.StoredLength);
                Ensure(ref _plain, (int)location.RawLength);
                await repository.ReadBlobIntoAsync(id, location, _stored, _plain, cancellationToken).ConfigureAwait(false);
                _offset = 0;
                _length = (int)location.RawLength;
            }

            var n = Math.Min(buffer.Length, _length - _offset);
            _plain.AsMemory(_offset, n).CopyTo(buffer);
            _offset += n;
            _position += n;
            return n;
        }

        private static void Ensure(ref byte[]? buffer, int size)
        {
            if (buffer is null || buffer.Length < size)
            {
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }

                buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (_plain is not null)
            {
                ArrayPool<byte>.Shared.Return(_plain);
                _plain = null;
            }

            if (_stored is not null)
            {
                ArrayPool<byte>.Shared.Return(_stored);
                _stored = null;
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Passes reads through and hashes them (SHA-256).</summary>
    internal sealed class HashingReadStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public string Hex() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            _hash.AppendData(buffer.Span[..n]);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            _hash.AppendData(buffer, offset, n);
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
