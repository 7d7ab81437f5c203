using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Enumeration;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Mdmai.DataManager.Caching;
using Mdmai.DataManager.Files.Internal;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Files;

/// <summary>
/// The content-addressed file store. Each import reads the file once: hash, sample, compress, encrypt and
/// write to a temp file in one streaming pass with constant memory; identical content is stored once and
/// shared (reference counted by the catalog in the same transaction). Objects live under
/// <c>objects/ab/&lt;id&gt;</c>, named by content id, written once and atomically. Layout and formats:
/// docs/file-store.md and docs/object-format.md.
/// </summary>
public sealed class FileStore
{
    private const int BufferSize = 1 << 20;
    private readonly MdmaiDatabase _database;
    private readonly FileCatalog _catalog;
    private readonly KeyRing? _keys;
    private readonly byte[]? _idKey;

    /// <summary>Objects up to this size are kept in the cache after a read.</summary>
    public const int CachedObjectLimit = 256 * 1024;

    /// <summary>
    /// Opens the store in <paramref name="root"/> (the data folder). Pass the unlocked keys when encryption is
    /// on, and the cache size (config <c>cache_size_limit_mb</c>) for hot small objects and catalog lookups.
    /// </summary>
    public FileStore(MdmaiDatabase database, string root, KeyRing? keys = null, long cacheBytes = 0)
    {
        // One budget for both: catalog rows are small, objects up to CachedObjectLimit.
        Cache = new ByteLruCache<string, object>(cacheBytes, value => value switch
        {
            byte[] bytes => bytes.Length + 64,
            StoredFile file => 512 + (file.Name.Length * 2),
            _ => 256,
        });
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(root);
        _database = database;
        _catalog = new FileCatalog(database);
        _keys = keys;
        ObjectsPath = Path.Combine(Path.GetFullPath(root), "objects");
        TempPath = Path.Combine(Path.GetFullPath(root), "tmp");
        Directory.CreateDirectory(ObjectsPath);
        Directory.CreateDirectory(TempPath);
        if (keys is not null)
        {
            // Keyed content ids: object names reveal nothing about content. The key comes from the oldest
            // epoch, so ids (and deduplication) stay stable across key rotation.
            _idKey = new byte[32];
            keys.ForEpoch(keys.Epochs.First()).Derive([], "mdmai/content-id/v1"u8, _idKey);
        }
    }

    /// <summary>The catalog of this store's files and objects (integrity and the portable import read and repair it).</summary>
    internal FileCatalog Catalog => _catalog;

    /// <summary>The cache of small object contents (key <c>o:&lt;id&gt;</c>) and catalog rows (<c>f:&lt;id&gt;</c>).</summary>
    public ByteLruCache<string, object> Cache { get; }

    /// <summary>Folder of the objects.</summary>
    public string ObjectsPath { get; }

    /// <summary>Folder of in-progress writes (same file system as the objects, so a rename finishes them).</summary>
    public string TempPath { get; }

    /// <summary>Removes temp files left by an interrupted import (call when no import is running).</summary>
    public int CleanTemporaryFiles()
    {
        var count = 0;
        foreach (var file in Directory.EnumerateFiles(TempPath))
        {
            File.Delete(file);
            count++;
        }

        return count;
    }

    /// <summary>The content id's hash: SHA-256, or HMAC-SHA-256 under the id key when encrypted. Import and verify share it.</summary>
    private IncrementalHash NewContentHash() =>
        _idKey is null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _idKey);

    /// <summary>The content id of content held whole in memory, in one call: the id <see cref="NewContentHash"/> makes of it.</summary>
    private string ContentId(ReadOnlySpan<byte> content)
    {
        Span<byte> id = stackalloc byte[SHA256.HashSizeInBytes];
        if (_idKey is null)
        {
            SHA256.HashData(content, id);
        }
        else
        {
            HMACSHA256.HashData(_idKey, content, id);
        }

        return Convert.ToHexStringLower(id);
    }

    private static readonly SearchValues<char> LowerHexDigits = SearchValues.Create("0123456789abcdef");

    internal string ObjectPath(string objectId)
    {
        if (objectId.Length != 64 || objectId.AsSpan().ContainsAnyExcept(LowerHexDigits))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{objectId}' is not an object id.");
        }

        return Path.Combine(ObjectsPath, objectId[..2], objectId);
    }

    /// <summary>Imports a file from disk; its name in the catalog is its file name.</summary>
    public async Task<FileImportResult> ImportFileAsync(string path, FileImportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var source = OpenSource(path, followLinks: true);
        await using (source.ConfigureAwait(false))
        {
            return await ImportAsync(source, Path.GetFileName(path), options, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens a file to import. A folder import passes <paramref name="followLinks"/> false: it opens with
    /// <c>open(O_NOFOLLOW)</c> where it can, without the advisory lock and the extra calls of <see cref="FileStream"/>'s own
    /// open, and reads with plain calls (<see cref="LocalFileReadStream"/>), each file on the worker that prepares it.
    /// </summary>
    private static Stream OpenSource(string path, bool followLinks)
    {
        try
        {
            return !followLinks && UnixFileCalls.TryOpenForReading(path) is { } handle
                ? new LocalFileReadStream(handle)
                : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new MdmaiException(MdmaiErrorCode.NotFound, $"No file at '{path}'.", ex);
        }
    }

    /// <summary>Imports content from a stream under <paramref name="name"/>, in one pass.</summary>
    public async Task<FileImportResult> ImportAsync(Stream content, string name, FileImportOptions? options = null, CancellationToken cancellationToken = default)
    {
        var prepared = await PrepareAsync(content, name, options, null, durable: true, place: false, cancellationToken).ConfigureAwait(false);
        try
        {
            var changed = new List<string>();
            var result = await _catalog.WriteAsync(catalog =>
            {
                changed.Clear(); // the work may run again (see SqliteWriter.ExecuteAsync)
                return Record(catalog, prepared, null, changed);
            }, cancellationToken).ConfigureAwait(false);
            ForgetRows(changed);
            return result;
        }
        catch (Exception ex) when (Translate(ex, name) is { } translated)
        {
            throw translated;
        }
        finally
        {
            File.Delete(prepared.Temp);
        }
    }

    /// <summary>
    /// An import read and written (to a temp file, or to its place), with its row — also in the catalog's form, made by the
    /// thread that prepared it rather than on the writer's: what is left is to move it into place and record it.
    /// </summary>
    private sealed record PreparedImport(string Temp, StoredFile Row, CatalogFile Catalog, ObjectEncoding Encoding, bool Placed)
    {
        /// <summary>
        /// Its temp file is in place: moved there by the recording transaction — or by an earlier run of it that was rolled
        /// back, when the undo could not move it back (it normally does: see <see cref="MoveIntoPlace(FileCatalog.Transaction, string, string, Action?)"/>).
        /// </summary>
        public bool Moved { get; set; }
    }

    /// <summary>
    /// The part of an import that needs no catalog: reads <paramref name="content"/> into a temp file (flushed to disk
    /// when <paramref name="durable"/>; a folder import flushes a whole batch at once) and makes its catalog row.
    /// </summary>
    private async Task<PreparedImport> PrepareAsync(Stream content, string name, FileImportOptions? options, Action<int>? read, bool durable, bool place, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "A file needs a name.");
        }

        options ??= new FileImportOptions();
        var start = content.CanSeek ? content.Position : (long?)null;
        var temp = Path.Combine(TempPath, Guid.NewGuid().ToString("N"));
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        ObjectDraft? written = null;
        try
        {
            var draft = await WriteDraftAsync(content, temp, buffer, read, durable, place, cancellationToken).ConfigureAwait(false);
            written = draft;
            var sample = buffer.AsMemory(0, draft.Sampled);
            var mime = ContentSniffer.MimeType(sample.Span);
            var metadata = ContentSniffer.Metadata(mime, sample.Span);
            if (mime == "application/pdf")
            {
                // Page count and title need the PDF's cross-reference table at its end: PdfPig reads just those
                // structures back, from the buffer when the content fitted in it, else from a seekable source.
                if (draft.Size < BufferSize)
                {
                    PdfMetadata.Read(new MemoryStream(buffer, 0, (int)draft.Size, writable: false), metadata);
                }
                else if (start is { } origin)
                {
                    content.Position = origin;
                    PdfMetadata.Read(content, metadata);
                }
            }

            var stamp = Timestamps.Truncate(_database.Clock.GetUtcNow());
            var row = new StoredFile(Guid.CreateVersion7(stamp), name.Trim(), options.Category ?? ContentSniffer.DefaultCategory(mime), mime, draft.Size, draft.Stored,
                draft.ObjectId, metadata, new JsonArray([.. options.Tags.Select(t => (JsonNode?)JsonValue.Create(t))]), options.CampaignId, options.AssetId, options.RulebookId, stamp, stamp);
            return new PreparedImport(temp, row, ToCatalog(row), new ObjectEncoding(draft.Stored, draft.Framed, draft.Compressed, Epoch), draft.Placed);
        }
        catch (Exception ex)
        {
            File.Delete(temp);
            if (written is { Placed: true } placed)
            {
                ReleaseClaim(placed.ObjectId, remove: true);
            }

            if (Translate(ex, name) is { } translated)
            {
                throw translated;
            }

            throw;
        }
        finally
        {
            ReturnReadBuffer(buffer, written);
        }
    }

    /// <summary>
    /// Returns a read buffer to the pool, cleared of the plaintext it held when the store is encrypted (only what was
    /// read: a small file's few kilobytes, not the whole 1 MiB; all of it when the read failed part way).
    /// </summary>
    private void ReturnReadBuffer(byte[] buffer, ObjectDraft? written)
    {
        if (_keys is not null)
        {
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, written is { } draft ? (int)Math.Min(draft.Size, BufferSize) : BufferSize));
        }

        ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>
    /// Records a prepared import in the catalog and moves its object from the temp file into place, on the writer thread
    /// (an object written straight to its place was claimed instead: either way a delete or a repair, which remove object
    /// files there, cannot take it meanwhile). The rename is made durable at once, or — when <paramref name="folders"/> is
    /// given — the folder is added to it for the caller to flush before the transaction commits. When the catalog knew
    /// the object but its file had gone, the file this import put there is what the catalog records from then on (its
    /// encoding and key epoch, and the stored size of every file using it: their ids go to <paramref name="changed"/>,
    /// for the caller to drop from the cache once the transaction commits). Runs again cleanly if the transaction is
    /// retried.
    /// </summary>
    private FileImportResult Record(FileCatalog.Transaction catalog, PreparedImport prepared, HashSet<string>? folders, List<string> changed)
    {
        var row = prepared.Row;
        long? knownStoredSize;
        bool ours; // the file at the object's place is the one this import wrote
        if (prepared.Placed)
        {
            // Written at its place (and claimed): nothing to move. No object file was there, so the catalog is all but
            // certain not to know it (it would only if its file had gone missing): added first, looked up if it was not.
            knownStoredSize = catalog.TryAddObject(row.ObjectId, row.Size, prepared.Encoding, prepared.Catalog.CreatedAt) ? null : catalog.StoredSizeOf(row.ObjectId);
            ours = true;
        }
        else
        {
            var final = ObjectPath(row.ObjectId);
            knownStoredSize = catalog.StoredSizeOf(row.ObjectId);
            ours = prepared.Moved; // by an earlier run of this transaction, which was rolled back and not undone

            // Deduplicated when the object and its file are there (a claimed file may still be being written: this
            // copy goes over it instead). The temp file stays, for the caller to remove once the transaction is over:
            // should it roll back, a run again may find the file it shared moved back out, and move its own in.
            var shared = !ours && knownStoredSize is not null && File.Exists(final) && !IsClaimed(row.ObjectId);
            if (ours)
            {
                folders?.Add(Path.GetDirectoryName(final)!);
                MarkTakenOver(row.ObjectId);
            }
            else if (!shared && File.Exists(prepared.Temp))
            {
                var folder = MoveIntoPlace(catalog, prepared.Temp, row.ObjectId, () => prepared.Moved = false);
                prepared.Moved = ours = true;
                if (folders is null)
                {
                    AtomicFile.FlushFolder(folder, throwOnError: true);
                }
                else
                {
                    folders.Add(folder);
                }
            }

            if (knownStoredSize is null)
            {
                catalog.TryAddObject(row.ObjectId, row.Size, prepared.Encoding, prepared.Catalog.CreatedAt);
            }
        }

        if (knownStoredSize is not null && ours)
        {
            // The catalog knew the object, but its file had gone: the file now in place is this import's, sealed under
            // the current key and stored as this import chose, which the catalog and the files using it must say.
            if (!catalog.SetEncoding(row.ObjectId, row.Size, prepared.Encoding))
            {
                throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The catalog records object {row.ObjectId} with a size other than its content's ({row.Size} bytes). Run 'mdmai check'.");
            }

            changed.AddRange(catalog.SetStoredSize(row.ObjectId, row.StoredSize));
        }

        var storedSize = ours ? row.StoredSize : knownStoredSize ?? row.StoredSize;
        catalog.AddFile(prepared.Catalog with { StoredSize = storedSize });
        return new FileImportResult(row with { StoredSize = storedSize }, Deduplicated: knownStoredSize is not null);
    }

    /// <summary>The clear error for a disk that is full or a folder that cannot be written during an import; null for anything else.</summary>
    private static MdmaiException? Translate(Exception ex, string name) => ex switch
    {
        IOException io when MdmaiException.IsDiskFull(io) =>
            new MdmaiException(MdmaiErrorCode.DiskFull, $"The disk is full while importing '{name}'; nothing was stored. Free some space and try again.", ex),
        UnauthorizedAccessException =>
            new MdmaiException(MdmaiErrorCode.ReadOnly, $"The data folder cannot be written while importing '{name}' ({ex.Message}); nothing was stored. Check its permissions, or whether it is on a read-only disk.", ex),
        _ => null,
    };

    /// <summary>
    /// An object written, not yet in the catalog: its content id and sizes; <see cref="Placed"/> when it was written
    /// straight to its place in the store (claimed until recorded), else it is in the temp file.
    /// </summary>
    private readonly record struct ObjectDraft(string ObjectId, long Size, long Stored, bool Compressed, bool Framed, int Sampled, bool Placed);

    /// <summary>
    /// The one pass of an import: reads <paramref name="content"/>, hashes it into its content id, and writes the
    /// object (compressed when that pays, sealed when encryption is on). Content that ends inside
    /// <paramref name="buffer"/> is stored from memory (<see cref="WriteWhole"/>: straight to its place in the store when
    /// <paramref name="place"/>); longer content streams to <paramref name="temp"/>. The sample stays at the start of
    /// <paramref name="buffer"/>; <paramref name="read"/> hears of each stretch read.
    /// </summary>
    private async Task<ObjectDraft> WriteDraftAsync(Stream content, string temp, byte[] buffer, Action<int>? read, bool durable, bool place, CancellationToken cancellationToken)
    {
        var have = await content.ReadAtLeastAsync(buffer.AsMemory(0, BufferSize), BufferSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        read?.Invoke(have);
        return have < BufferSize
            ? WriteWhole(buffer.AsSpan(0, have), temp, durable, place)
            : await WriteStreamedAsync(content, temp, buffer, read, durable, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores content held whole in memory: its id first, then the object — compressed once if that pays, sealed when
    /// encryption is on — made in one buffer and written with one call, straight to its place when
    /// <paramref name="place"/> and no object file is there yet (no temp file, no rename), else to <paramref name="temp"/>.
    /// </summary>
    private ObjectDraft WriteWhole(ReadOnlySpan<byte> content, string temp, bool durable, bool place)
    {
        var objectId = ContentId(content);

        // One buffer of a fixed size (one pool bucket, whatever the files' sizes): the frame is compressed to where
        // the object's first segment goes, and sealed there.
        var buffer = ArrayPool<byte>.Shared.Rent(ObjectCodec.EncodedLength(BufferSize));
        var used = 0;
        try
        {
            var frame = buffer.AsSpan(ObjectHeader.Size, content.Length);
            used = ObjectHeader.Size + content.Length; // a frame that did not fit may have filled its space
            var frameLength = content.Length >= 64 ? ObjectCodec.TryCompressWhole(content, frame) : 0;
            var compress = frameLength > 0;
            var framed = compress || _keys is not null;
            ReadOnlySpan<byte> bytes = content;
            if (framed)
            {
                var length = ObjectCodec.EncodeWhole(compress ? frame[..frameLength] : content, _keys?.Current, compress, buffer);
                used = Math.Max(used, length);
                bytes = buffer.AsSpan(0, length);
            }

            var file = place ? TryCreateAtPlace(objectId) : null;
            var placed = file is not null;
            try
            {
                using (file ??= CreateTemp(temp, FileOptions.None))
                {
                    UnixFileCalls.WriteAt(file, bytes, 0);
                    if (durable)
                    {
                        RandomAccess.FlushToDisk(file);
                    }
                }
            }
            catch when (placed)
            {
                ReleaseClaim(objectId, remove: true);
                throw;
            }

            return new ObjectDraft(objectId, content.Length, bytes.Length, compress, framed, Math.Min(content.Length, ObjectCodec.SampleSize), placed);
        }
        finally
        {
            // Compressed plaintext (and, unencrypted, the object itself) must not linger in a shared buffer.
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, used));
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Stores content longer than <paramref name="buffer"/>, which holds its start: compressed when a sample of that
    /// start says it pays, hashed and written stretch by stretch to <paramref name="temp"/>.
    /// </summary>
    private async Task<ObjectDraft> WriteStreamedAsync(Stream content, string temp, byte[] buffer, Action<int>? read, bool durable, CancellationToken cancellationToken)
    {
        using var hash = NewContentHash();
        const int sampled = ObjectCodec.SampleSize;
        var compress = ObjectCodec.IsWorthCompressing(buffer.AsSpan(0, sampled));
        var framed = compress || _keys is not null;
        hash.AppendData(buffer, 0, BufferSize);
        long size = BufferSize, stored;
        await using (var file = new FileStream(CreateTemp(temp, FileOptions.Asynchronous), FileAccess.Write, 1))
        {
            var length = content.CanSeek ? content.Length - content.Position + BufferSize : 0;
            var writer = framed
                ? ObjectCodec.CreateWriter(file, _keys?.Current, compress, ObjectCodec.DefaultCompressionLevel,
                    length >= ObjectCodec.ParallelCompressionThreshold ? ObjectCodec.CompressionWorkers : 0, length)
                : null;
            try
            {
                var target = writer?.Stream ?? file;
                await target.WriteAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false);

                // Whole stretches, not whatever each read returns: a network body (an upload to the dashboard) comes
                // in pieces of a few kilobytes, and a write, a hash update and a progress report per piece cost the
                // server four times the CPU of an import from disk.
                const int space = BufferSize - sampled;
                int n;
                while ((n = await content.ReadAtLeastAsync(buffer.AsMemory(sampled, space), space / 2, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, sampled, n);
                    await target.WriteAsync(buffer.AsMemory(sampled, n), cancellationToken).ConfigureAwait(false);
                    size += n;
                    read?.Invoke(n);
                }

                if (writer is not null)
                {
                    await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                if (writer is not null)
                {
                    await writer.DisposeAsync().ConfigureAwait(false);
                }
            }

            file.Flush(flushToDisk: durable);
            stored = file.Length;
        }

        return new ObjectDraft(Convert.ToHexStringLower(hash.GetHashAndReset()), size, stored, compress, framed, sampled, Placed: false);
    }

    /// <summary>
    /// Object ids written straight to their place by a folder import whose batch is not recorded yet. Deletes and
    /// repairs leave those files alone, and a second import of the same content does not write there meanwhile; every
    /// test and change of the set, and every removal of an object file because no row uses it, holds its lock.
    /// </summary>
    private readonly Dictionary<string, bool> _claims = new(StringComparer.Ordinal); // value: another import moved its own copy over it

    /// <summary>Object folders (by the id's first byte) known to exist.</summary>
    private readonly bool[] _objectFolders = new bool[256];

    /// <summary>
    /// Creates the object file of <paramref name="objectId"/> at its place and claims it, or returns null when a file
    /// is there already, another import has claimed it, or <c>open(O_EXCL)</c> is not available (the temp file then serves).
    /// The claim comes first and the file after it, outside the lock: creating a file is the slowest call of a small
    /// import, and the other workers would wait on the lock for it; a claimed place is left alone meanwhile.
    /// </summary>
    internal SafeFileHandle? TryCreateAtPlace(string objectId)
    {
        var path = ObjectPath(objectId);
        lock (_claims)
        {
            if (!_claims.TryAdd(objectId, false))
            {
                return null;
            }
        }

        SafeFileHandle? handle = null;
        try
        {
            var folder = Convert.ToByte(objectId[..2], 16);
            if (!Volatile.Read(ref _objectFolders[folder]))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                Volatile.Write(ref _objectFolders[folder], true);
            }

            handle = UnixFileCalls.TryCreateNew(path, out _);
            return handle;
        }
        finally
        {
            if (handle is null)
            {
                ReleaseClaim(objectId, remove: false); // nothing of it was written
            }
        }
    }

    /// <summary>
    /// Ends a claim of <see cref="TryCreateAtPlace"/>; with <paramref name="remove"/> (the import failed) its file goes too
    /// — unless another import moved its own copy over it meanwhile (<see cref="MoveIntoPlace(string, string)"/>): that one may be recorded.
    /// </summary>
    internal void ReleaseClaim(string objectId, bool remove)
    {
        lock (_claims)
        {
            if (_claims.Remove(objectId, out var takenOver) && remove && !takenOver)
            {
                File.Delete(ObjectPath(objectId));
            }
        }
    }

    /// <summary>
    /// Moves a finished object file to the place of <paramref name="objectId"/> (over whatever is there, its folder made if
    /// need be), noting it when an import has claimed that place: the claimant's failure then leaves the file alone.
    /// Returns the folder, for the caller to flush.
    /// </summary>
    internal string MoveIntoPlace(string temp, string objectId) => MoveIntoPlace(temp, objectId, out _);

    /// <summary>What was at an object's place when a file was moved there: a file, a folder import's claim (and its flag).</summary>
    private readonly record struct PlaceBefore(bool Existed, bool Claimed, bool TakenOver);

    private string MoveIntoPlace(string temp, string objectId, out PlaceBefore before)
    {
        var final = ObjectPath(objectId);
        var folder = Path.GetDirectoryName(final)!;
        lock (_claims)
        {
            var claimed = _claims.TryGetValue(objectId, out var takenOver);
            before = new PlaceBefore(File.Exists(final), claimed, takenOver);
            Directory.CreateDirectory(folder);
            File.Move(temp, final, overwrite: true);
            MarkTakenOver(objectId);
        }

        return folder;
    }

    /// <summary>
    /// <see cref="MoveIntoPlace(string, string)"/> for a write of <paramref name="catalog"/>, undone on the writer thread if
    /// that write is rolled back (before any later write can take the file for the object's: an import of the same
    /// content grouped in the same transaction keeps its own temp file until the transaction is over). Where neither a
    /// file nor a claim was there, it goes back to <paramref name="temp"/> (and <paramref name="movedBack"/> hears of it):
    /// a write that runs again moves it again, and one that fails leaves the place as it found it — where the catalog knew
    /// the object but its file had gone, that file would otherwise stay under a catalog that, rolled back, describes the
    /// lost one (its encoding, key epoch and stored size). A claim made since cannot have written there (its file is
    /// created only where none is). A place a folder import had claimed (its file there, or about to be created) keeps
    /// the file, of the same content, and the claimant gets its flag back, so that its own outcome decides the file
    /// again; where a file was there without a claim, it stays as well.
    /// </summary>
    private string MoveIntoPlace(FileCatalog.Transaction catalog, string temp, string objectId, Action? movedBack = null)
    {
        var folder = MoveIntoPlace(temp, objectId, out var before);
        var final = ObjectPath(objectId);
        catalog.OnRollback(() =>
        {
            lock (_claims)
            {
                if (before.Claimed && _claims.ContainsKey(objectId))
                {
                    _claims[objectId] = before.TakenOver; // the claimant's outcome decides the file again
                    return;
                }

                if (before.Existed)
                {
                    return;
                }

                File.Move(final, temp);
            }

            movedBack?.Invoke();
        });
        return folder;
    }

    /// <summary>Notes that a file moved to a claimed place is not the claimant's (see <see cref="ReleaseClaim"/>).</summary>
    private void MarkTakenOver(string objectId)
    {
        lock (_claims)
        {
            if (_claims.ContainsKey(objectId))
            {
                _claims[objectId] = true;
            }
        }
    }

    /// <summary>Whether a folder import has claimed the object (its file, if any, may still be being written).</summary>
    private bool IsClaimed(string objectId)
    {
        lock (_claims)
        {
            return _claims.ContainsKey(objectId);
        }
    }

    /// <summary>
    /// Removes the object file of <paramref name="objectId"/> when no catalog row records the object and no import has
    /// claimed it (a delete's last reference, a repair's quarantine: <paramref name="remove"/> does it). Run on the writer
    /// thread, after the commit that let the object go. False when it stays.
    /// </summary>
    internal bool RemoveObjectFileIfUnused(FileCatalog.Transaction catalog, string objectId, Action<string> remove)
    {
        var path = ObjectPath(objectId);
        lock (_claims)
        {
            if (catalog.HasObject(objectId) || _claims.ContainsKey(objectId) || !File.Exists(path))
            {
                return false;
            }

            remove(path);
            return true;
        }
    }

    /// <summary>
    /// A new temp file for an object: <c>open(O_EXCL)</c> where it is available, without the advisory lock and the extra
    /// <c>fstat</c> that <see cref="File.OpenHandle"/> adds — a folder import may create one per file.
    /// </summary>
    private static SafeFileHandle CreateTemp(string temp, FileOptions options) =>
        UnixFileCalls.TryCreateNew(temp, out _) ?? File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, options);

    /// <summary>
    /// Puts back the content of an object the catalog already records (an import of a portable export): the content
    /// is stored as an import would store it, and must hash to an object id of the catalog — content that matches
    /// none is refused. Returns the object id.
    /// </summary>
    internal async Task<string> RestoreObjectAsync(Stream content, string name, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(TempPath);
        var temp = Path.Combine(TempPath, Guid.NewGuid().ToString("N"));
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        ObjectDraft? written = null;
        try
        {
            var draft = await WriteDraftAsync(content, temp, buffer, null, durable: true, place: false, cancellationToken).ConfigureAwait(false);
            written = draft;
            var changed = new List<string>();
            var moved = false;
            var restored = await _catalog.WriteAsync(catalog =>
            {
                changed.Clear(); // the work may run again (see SqliteWriter.ExecuteAsync)
                if (!catalog.SetEncoding(draft.ObjectId, draft.Size, new ObjectEncoding(draft.Stored, draft.Framed, draft.Compressed, Epoch)))
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{name}' does not match any file of the archive's catalog (its content was changed, or it belongs elsewhere).");
                }

                changed.AddRange(catalog.SetStoredSize(draft.ObjectId, draft.Stored));
                if (!moved)
                {
                    // Not when an earlier run, rolled back, left it in place (over a file that was there): no temp is left.
                    AtomicFile.FlushFolder(MoveIntoPlace(catalog, temp, draft.ObjectId, () => moved = false), throwOnError: true);
                    moved = true;
                }

                return draft.ObjectId;
            }, cancellationToken).ConfigureAwait(false);
            ForgetRows(changed);
            return restored;
        }
        finally
        {
            ReturnReadBuffer(buffer, written);
            File.Delete(temp);
        }
    }

    /// <summary>The key epoch new objects are sealed under (null: not encrypted).</summary>
    private long? Epoch => _keys is null ? null : _keys.Current.Epoch;

    private static CatalogFile ToCatalog(StoredFile row)
    {
        static string? Id(Guid? id) => id?.ToString("D");
        return new CatalogFile(row.Id.ToString("D"), row.Name, EnumText.ToText(row.Category), row.MimeType, row.Size, row.StoredSize, row.ObjectId,
            row.Metadata.ToJsonString(), row.Tags.ToJsonString(), Id(row.CampaignId), Id(row.AssetId), Id(row.RulebookId),
            Timestamps.Format(row.CreatedAt), Timestamps.Format(row.UpdatedAt));
    }

    private static StoredFile FromCatalog(CatalogFile r)
    {
        static Guid? Id(string? id) => id is null ? null : Guid.Parse(id);
        return new StoredFile(Guid.Parse(r.Id), r.Name, EnumText.Parse<FileCategory>(r.Category, "category"), r.MimeType, r.Size, r.StoredSize,
            r.ObjectId, JsonNode.Parse(r.Metadata)!.AsObject(), JsonNode.Parse(r.Tags)!.AsArray(), Id(r.CampaignId), Id(r.AssetId), Id(r.RulebookId),
            Timestamps.Parse(r.CreatedAt), Timestamps.Parse(r.UpdatedAt));
    }

    /// <summary>
    /// Imports files and folders (recursively; symbolic links are not followed) on all cores, a bounded
    /// number at a time. A file that fails is reported in the result and the rest go on.
    /// </summary>
    public async Task<FolderImportResult> ImportPathsAsync(IEnumerable<string> paths, FileImportOptions? options = null, IProgress<FolderImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var imported = new List<FileImportResult>();
        var errors = await ImportPathsAsync(paths, options, progress, imported.AddRange, cancellationToken).ConfigureAwait(false);
        return new FolderImportResult([.. imported.OrderBy(r => r.File.Name, StringComparer.Ordinal)], errors);
    }

    /// <summary>
    /// As <see cref="ImportPathsAsync(IEnumerable{string}, FileImportOptions?, IProgress{FolderImportProgress}?, CancellationToken)"/>,
    /// but each imported file is handed to <paramref name="imported"/> (one call at a time, as its batch is recorded)
    /// instead of being collected, and the folders are walked (twice with a progress: once for the totals) rather than listed: memory
    /// stays flat however many files they hold. Returns the counts and what failed.
    /// </summary>
    public async Task<FolderImportSummary> ImportPathsStreamingAsync(IEnumerable<string> paths, Action<FileImportResult> imported, FileImportOptions? options = null,
        IProgress<FolderImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(imported);
        long count = 0, deduplicated = 0, bytes = 0;
        var errors = await ImportPathsAsync(paths, options, progress, results =>
        {
            foreach (var result in results)
            {
                count++;
                deduplicated += result.Deduplicated ? 1 : 0;
                bytes += result.File.Size;
                imported(result);
            }
        }, cancellationToken).ConfigureAwait(false);
        return new FolderImportSummary(count, deduplicated, bytes, errors);
    }

    /// <summary>
    /// The files a folder import takes, walked afresh each time (symbolic links are not followed); what cannot be read goes
    /// to <paramref name="failed"/>. The sizes of a folder's files are read (a <c>stat</c> each) only when
    /// <paramref name="sizes"/>: the import itself learns them as it reads.
    /// </summary>
    private static IEnumerable<(string Path, long Size, bool Named)> ImportFiles(IReadOnlyList<string> paths, bool sizes, Action<FileImportError>? failed)
    {
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                yield return (Path.GetFullPath(path), new FileInfo(path).Length, true); // named by the caller: a link to it is followed, as a single import does
            }
            else if (Directory.Exists(path))
            {
                var enumeration = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = false, ReturnSpecialDirectories = false };
                var walk = new FileSystemEnumerable<(string, long, bool)>(Path.GetFullPath(path), (ref entry) => (entry.ToFullPath(), sizes ? entry.Length : 0, false), enumeration)
                {
                    ShouldIncludePredicate = (ref entry) => !entry.IsDirectory,
                };
                using var files = walk.GetEnumerator();
                while (true)
                {
                    try
                    {
                        if (!files.MoveNext())
                        {
                            break;
                        }
                    }
                    catch (UnauthorizedAccessException ex)
                    {
                        failed?.Invoke(new FileImportError(path, ex.Message));
                        break;
                    }

                    yield return files.Current;
                }
            }
            else
            {
                failed?.Invoke(new FileImportError(path, "no such file or folder"));
            }
        }
    }

    /// <summary>The one folder import: <paramref name="recorded"/> hears of each batch once it is in the catalog (one call at a time). Returns the errors.</summary>
    private async Task<IReadOnlyList<FileImportError>> ImportPathsAsync(IEnumerable<string> paths, FileImportOptions? options, IProgress<FolderImportProgress>? progress,
        Action<FileImportResult[]> recorded, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var roots = paths.ToList();
        long totalFiles = 0, totalBytes = 0;
        foreach (var (_, size, _) in progress is null ? [] : ImportFiles(roots, sizes: true, null))
        {
            // The totals are for the progress alone: without one the folders are walked once (a stat a file less).
            totalFiles++;
            totalBytes += size;
        }

        var errors = new ConcurrentBag<FileImportError>();
        long doneFiles = 0, doneBytes = 0;

        // Files are read and written on all cores without a pause (a small one straight to its place in the store, a
        // larger one to a temp file; not flushed one by one) and handed over as each is done; every ImportBatchFiles
        // files (or ImportBatchBytes) are made durable at once and recorded in one catalog transaction while the reading
        // goes on. A small file costs a few calls instead of three fsyncs and a transaction, and no core waits for the
        // slowest file of a batch. The hand-over holds a few hundred files, and at most two batches wait to be recorded:
        // memory is bounded whatever the number of files. The catalog writer sets the pace, and sharing a core with a
        // reader it was preempted for 4.6 s of an 18 s import (100k files, `perf sched`): with more than one core, it
        // takes one of the readers' places (once that reader's file is done) for as long as it records a batch, and the
        // readers use what it leaves. Preempted less, not never: the pool's and the GC's threads, and the zstd workers of
        // a file of 16 MiB or more, are not counted. Not disposed: a batch still being recorded when a failure leaves
        // early releases its place later (a SemaphoreSlim whose wait handle is never asked for holds nothing).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var done = Channel.CreateBounded<PreparedImport>(new BoundedChannelOptions(256) { SingleReader = true });
        var cores = Environment.ProcessorCount > 1 ? new SemaphoreSlim(Environment.ProcessorCount) : null;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = stop.Token };
        var reading = Task.Run(async () =>
        {
            try
            {
                await Parallel.ForEachAsync(ImportFiles(roots, sizes: progress is not null, errors.Add), parallel, async (file, ct) =>
                {
                    // Bytes are counted as they are read, so the progress moves while a large file streams; once the file is
                    // done, whatever it did not deliver (it shrank, or failed) is counted too, so the total is reached.
                    long delivered = 0;
                    void Read(int n)
                    {
                        delivered += n;
                        progress?.Report(new FolderImportProgress(Interlocked.Read(ref doneFiles), totalFiles, Interlocked.Add(ref doneBytes, n), totalBytes));
                    }

                    PreparedImport? prepared = null;
                    if (cores is not null)
                    {
                        await cores.WaitAsync(ct).ConfigureAwait(false);
                    }

                    try
                    {
                        var source = OpenSource(file.Path, followLinks: file.Named);
                        await using (source.ConfigureAwait(false))
                        {
                            prepared = await PrepareAsync(source, Path.GetFileName(file.Path), options, progress is null ? null : Read, durable: !OperatingSystem.IsLinux(), place: true, ct).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex) when (ex is MdmaiException { Code: not MdmaiErrorCode.DiskFull } or IOException or UnauthorizedAccessException or NotSupportedException)
                    {
                        errors.Add(new FileImportError(file.Path, ex.Message));
                    }
                    finally
                    {
                        cores?.Release();
                    }

                    try
                    {
                        progress?.Report(new FolderImportProgress(Interlocked.Increment(ref doneFiles), totalFiles, Interlocked.Add(ref doneBytes, Math.Max(0, file.Size - delivered)), totalBytes));
                        if (prepared is not null)
                        {
                            await done.Writer.WriteAsync(prepared, ct).ConfigureAwait(false);
                        }
                    }
                    catch when (prepared is not null)
                    {
                        Discard([prepared], removePlaced: true); // not handed over: no batch will record it
                        throw;
                    }
                }).ConfigureAwait(false);
                done.Writer.Complete();
            }
            catch (Exception ex)
            {
                done.Writer.Complete(ex);
            }
        }, CancellationToken.None);

        var recording = Task.CompletedTask;
        var older = Task.CompletedTask;
        var batch = new List<PreparedImport>();
        try
        {
            long bytes = 0;
            async Task HandOverAsync()
            {
                await older.ConfigureAwait(false); // at most two batches wait to be recorded
                var current = batch.ToArray();
                batch.Clear();
                bytes = 0;
                older = recording;
                var previous = recording;
                recording = Task.Run(() => RecordAfterAsync(previous, current, cores, recorded, cancellationToken), CancellationToken.None);
            }

            await foreach (var prepared in done.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (batch.Count > 0 && bytes + prepared.Row.Size > ImportBatchBytes)
                {
                    await HandOverAsync().ConfigureAwait(false);
                }

                batch.Add(prepared);
                bytes += prepared.Row.Size;
                if (batch.Count >= ImportBatchFiles)
                {
                    await HandOverAsync().ConfigureAwait(false);
                }
            }

            if (batch.Count > 0)
            {
                await HandOverAsync().ConfigureAwait(false);
            }

            await recording.ConfigureAwait(false);
        }
        catch
        {
            // Stop the reading, then leave nothing behind that no batch will record: what is in hand, what was handed over
            // meanwhile. A batch being recorded removes its own temp files; its failure, if any, is not the one to report.
            await stop.CancelAsync().ConfigureAwait(false);
            await reading.ConfigureAwait(false);
            while (done.Reader.TryRead(out var left))
            {
                batch.Add(left);
            }

            Discard(batch, removePlaced: true);

            await recording.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            throw;
        }

        await reading.ConfigureAwait(false);
        return [.. errors.OrderBy(e => e.Path, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Removes what prepared imports left in the temp folder and ends their claims; <paramref name="removePlaced"/> when
    /// they were not recorded, so the objects written at their place go too.
    /// </summary>
    private void Discard(IEnumerable<PreparedImport> prepared, bool removePlaced)
    {
        foreach (var p in prepared)
        {
            if (p.Placed)
            {
                ReleaseClaim(p.Row.ObjectId, removePlaced); // it never had a temp file
            }
            else
            {
                File.Delete(p.Temp);
            }
        }
    }

    /// <summary>
    /// At most this many files, and <see cref="ImportBatchBytes"/> (unless one file is larger), are recorded by one
    /// transaction of a folder import. A transaction of 1,000 new files rewrote ~1,650 pages of the catalog (its random
    /// keys — object ids, names — land on a different index page each), so larger batches write the WAL less per file:
    /// on a catalog of 100k files, 4,000 new files wrote ~21 MB of WAL (5.5 KB a file), 16,000 ~43 MB (2.7 KB). Each
    /// waiting file holds its row (~2 KB), and at most two batches wait. Settable for the tests (a few thousand files
    /// make several batches).
    /// </summary>
    internal int ImportBatchFiles { get; set; } = 8000;

    private const long ImportBatchBytes = 64L << 20;

    /// <summary>
    /// Makes a folder import's batch durable and records it once the batch before it is recorded: what its files wrote
    /// reaches the disk (one <c>syncfs</c> on Linux, while the batch before is still being recorded; elsewhere each file
    /// was flushed as it was written), then, in one catalog transaction of its own, the objects written to temp files are
    /// moved into place, the folders they moved into are flushed, and the rows commit — a crash leaves at most
    /// unreferenced objects, never a row without its object. If the batch before failed, this one is discarded. The
    /// transaction holds one of <paramref name="cores"/> (when given), the places the readers take a file at a time.
    /// </summary>
    private async Task RecordAfterAsync(Task previous, PreparedImport[] batch, SemaphoreSlim? cores, Action<FileImportResult[]> recorded, CancellationToken cancellationToken)
    {
        var done = false;
        try
        {
            ExceptionDispatchInfo? unsynced = null;
            try
            {
                AtomicFile.SyncFileSystem(ObjectsPath, throwOnError: true);
            }
#pragma warning disable CA1031 // any failure is rethrown below, once the batch before is done: it must not be left running
            catch (Exception ex)
#pragma warning restore CA1031
            {
                unsynced = ExceptionDispatchInfo.Capture(ex);
            }

            await previous.ConfigureAwait(false);
            unsynced?.Throw();
            var changed = new List<string>();
            if (cores is not null)
            {
                await cores.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            FileImportResult[] results;
            try
            {
                results = await _catalog.WriteAloneAsync(catalog =>
                {
                    var moved = new HashSet<string>(StringComparer.Ordinal);
                    var results = new FileImportResult[batch.Length];
                    for (var i = 0; i < batch.Length; i++)
                    {
                        results[i] = Record(catalog, batch[i], moved, changed);
                    }

                    foreach (var folder in moved)
                    {
                        AtomicFile.FlushFolder(folder, throwOnError: true);
                    }

                    catalog.IndexSearch();
                    return results;
                }, cancellationToken).ConfigureAwait(false);
                done = true;
            }
            finally
            {
                cores?.Release();
            }

            ForgetRows(changed);
            recorded(results);
        }
        catch (Exception ex) when (Translate(ex, batch[0].Row.Name) is { } translated)
        {
            throw translated;
        }
        finally
        {
            Discard(batch, removePlaced: !done);
        }
    }

    /// <summary>
    /// Replaces the object file at <paramref name="final"/> with <paramref name="temp"/> in one rename (an open reader
    /// keeps the old file) for a write of <paramref name="catalog"/>, and undoes it should that write be rolled back: the
    /// old file, kept reachable under <paramref name="kept"/> (a hard link made first), goes back in one rename, and the
    /// new one back to <paramref name="temp"/>, so that the catalog's row, rolled back, describes the file in place again
    /// and a write run again swaps it again. The caller removes <paramref name="kept"/> once the write is over. Where a
    /// hard link cannot be made, the swap is not undone (<c>check</c> reports a file the row does not describe).
    /// </summary>
    private static void SwapIntoPlace(FileCatalog.Transaction catalog, string temp, string final, string kept)
    {
        var undoable = true;
        try
        {
            File.Delete(kept); // left by a run of this write that was rolled back and whose undo failed
            UnixFileCalls.Link(final, kept);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or EntryPointNotFoundException or DllNotFoundException)
        {
            undoable = false;
        }

        File.Move(temp, final, overwrite: true);
        if (undoable)
        {
            catalog.OnRollback(() =>
            {
                UnixFileCalls.Link(final, temp);
                File.Move(kept, final, overwrite: true);
            });
        }
    }

    /// <summary>Reads a catalog row (from the cache when it is there).</summary>
    public Task<StoredFile> GetAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var key = "f:" + id.ToString("D");
        if (Cache.TryGet(key, out var cached))
        {
            return Task.FromResult((StoredFile)cached);
        }

        var file = FromCatalog(_catalog.GetFile(id.ToString("D"), cancellationToken) ?? throw NotFound(id));
        Cache.Set(key, file);
        return Task.FromResult(file);
    }

    /// <summary>Drops cached catalog rows that a committed change made stale (their stored size).</summary>
    private void ForgetRows(List<string> ids)
    {
        foreach (var id in ids)
        {
            Cache.Remove("f:" + id);
        }
    }

    private static MdmaiException NotFound(Guid id) => new(MdmaiErrorCode.NotFound, $"No stored file has id '{id:D}'. List them with 'mdmai files ls'.");

    /// <summary>
    /// Lists catalog rows, newest first unless sorted otherwise, with optional filters (category,
    /// campaign, MIME type, name prefix) and paging.
    /// </summary>
    public Task<Page<StoredFile>> ListAsync(FileCategory? category = null, Guid? campaignId = null, string? namePrefix = null, string sortBy = "created_at", bool descending = true, int limit = 50, int offset = 0, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000 || offset < 0)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "limit must be between 1 and 1000 and offset not negative.");
        }

        var (items, total) = _catalog.ListFiles(category is { } k ? EnumText.ToText(k) : null, campaignId?.ToString("D"), namePrefix, sortBy, descending, limit, offset, cancellationToken);
        return Task.FromResult(new Page<StoredFile>([.. items.Select(FromCatalog)], total, limit, offset));
    }

    /// <summary>Opens a stored file's content: decrypted and decompressed while it streams.</summary>
    public async Task<Stream> OpenReadAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var file = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var key = "o:" + file.ObjectId;
        if (Cache.TryGet(key, out var cached))
        {
            return new MemoryStream((byte[])cached, writable: false);
        }

        var (storage, size) = ObjectInfo(file.ObjectId, cancellationToken);
        var stream = await OpenObjectAsync(file.ObjectId, storage, file.Name, cancellationToken).ConfigureAwait(false);
        if (size > CachedObjectLimit || size > Cache.CapacityBytes)
        {
            return stream;
        }

        // Small and hot: read it whole once (it is at most CachedObjectLimit), verify it came out at its size, keep it.
        await using (stream.ConfigureAwait(false))
        {
            var bytes = new byte[size];
            await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            if (await stream.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false) != 0)
            {
                throw new InvalidDataException($"Object {file.ObjectId} ('{file.Name}') is longer than the catalog records. Run 'mdmai files verify'.");
            }

            Cache.Set(key, bytes);
            return new MemoryStream(bytes, writable: false);
        }
    }

    private (string Storage, long Size) ObjectInfo(string objectId, CancellationToken cancellationToken) =>
        _catalog.GetObject(objectId, cancellationToken)
            ?? throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The catalog names object {objectId}, which it does not record. Run 'mdmai check'.");

    private async Task<Stream> OpenObjectAsync(string objectId, string storage, string name, CancellationToken cancellationToken, string? path = null)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path ?? ObjectPath(objectId), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The content of '{name}' (object {objectId}) is missing from the store. Restore it from a backup.", ex);
        }

        if (storage == "raw")
        {
            return stream;
        }

        try
        {
            return await ObjectCodec.OpenReadAsync(stream, _keys, $"{objectId} ('{name}')", cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Writes a stored file to <paramref name="destination"/> atomically (temp file beside it, flush, rename). A
    /// destination folder gets the file's name (reduced to a plain file name: a stored name can never steer the
    /// write elsewhere). A raw object is copied by the kernel (copy_file_range), not through user space.
    /// Returns the path written.
    /// </summary>
    public async Task<string> ExportAsync(Guid id, string destination, bool overwrite = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var file = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var target = Path.GetFullPath(destination);
        if (Directory.Exists(target))
        {
            target = Path.Combine(target, SafeFileName(file.Name));
        }

        if (File.Exists(target) && !overwrite)
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"'{target}' exists. Choose another destination or allow overwriting.");
        }

        var folder = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(folder))
        {
            throw new MdmaiException(MdmaiErrorCode.NotFound, $"The folder '{folder}' does not exist.");
        }

        var temp = Path.Combine(folder, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        var (storage, _) = ObjectInfo(file.ObjectId, cancellationToken);
        try
        {
            if (storage == "raw")
            {
                var source = ObjectPath(file.ObjectId);
                if (!File.Exists(source))
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The content of '{file.Name}' (object {file.ObjectId}) is missing from the store. Restore it from a backup.");
                }

                File.Copy(source, temp); // .NET uses copy_file_range on Linux: the bytes never enter user space
                using var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite);
                RandomAccess.FlushToDisk(handle);
            }
            else
            {
                await using var input = await OpenObjectAsync(file.ObjectId, storage, file.Name, cancellationToken).ConfigureAwait(false);
                await using var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
                await input.CopyToAsync(output, BufferSize, cancellationToken).ConfigureAwait(false);
                output.Flush(flushToDisk: true);
            }

            File.Move(temp, target, overwrite);
            AtomicFile.FlushFolder(folder);
            return target;
        }
        catch (IOException ex) when (MdmaiException.IsDiskFull(ex))
        {
            throw new MdmaiException(MdmaiErrorCode.DiskFull, $"The disk is full while exporting to '{target}'; nothing was written. Free some space and try again.", ex);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>A stored name as a plain file name: no folders, no "..", nothing empty.</summary>
    internal static string SafeFileName(string name)
    {
        var plain = Path.GetFileName(name.Replace('\\', '/').Split('/')[^1]).Trim();
        foreach (var bad in Path.GetInvalidFileNameChars())
        {
            plain = plain.Replace(bad, '_');
        }

        return plain is "" or "." or ".." ? "file" : plain;
    }

    /// <summary>Deletes a catalog row; when it was the last reference to its content, the object goes too.</summary>
    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        Cache.Remove("f:" + id.ToString("D"));
        var removed = await _catalog.WriteAsync(catalog => catalog.RemoveFile(id.ToString("D")), cancellationToken).ConfigureAwait(false)
            ?? throw NotFound(id);
        var orphan = removed.Orphaned ? removed.ObjectId : null;

        if (orphan is not null)
        {
            Cache.Remove("o:" + orphan);
            // After the commit, alone on the writer thread: the file goes only if no row has claimed it since.
            await _catalog.WriteExclusiveAsync(catalog => RemoveObjectFileIfUnused(catalog, orphan, File.Delete), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Re-encrypts every object written under an older key epoch with the current data key (after
    /// <see cref="KeyFile.AddEpochAsync"/>). Each object is rewritten to a temp file and swapped in atomically
    /// with its catalog row, so reads keep working throughout (an open reader keeps the old file, whose
    /// epoch the key ring still holds), and an interruption loses nothing: running it again finishes the
    /// objects still on old epochs. Returns how many objects it re-encrypted.
    /// </summary>
    public async Task<long> ReencryptAsync(IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (_keys is null)
        {
            throw new MdmaiException(MdmaiErrorCode.WrongKey, "Re-encryption needs the data folder unlocked with its password.");
        }

        var current = (long)_keys.Current.Epoch;
        var pending = _catalog.ObjectsBeforeEpoch(current, cancellationToken);
        long done = 0;
        await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (o, ct) =>
        {
            var temp = Path.Combine(TempPath, Guid.NewGuid().ToString("N"));
            var kept = temp + ".old";
            try
            {
                long stored;
                await using (var input = await OpenObjectAsync(o.Id, "framed", o.Id, ct).ConfigureAwait(false))
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                {
                    await using (var writer = ObjectCodec.CreateWriter(file, _keys.Current, o.Compressed))
                    {
                        await input.CopyToAsync(writer.Stream, BufferSize, ct).ConfigureAwait(false);
                        await writer.CompleteAsync(ct).ConfigureAwait(false);
                    }

                    file.Flush(flushToDisk: true);
                    stored = file.Length;
                }

                var changed = new List<string>();
                await _catalog.WriteAsync(catalog =>
                {
                    changed.Clear(); // the work may run again (see SqliteWriter.ExecuteAsync)
                    if (catalog.SetEpoch(o.Id, current, stored) && File.Exists(temp))
                    {
                        changed.AddRange(catalog.SetStoredSize(o.Id, stored));
                        SwapIntoPlace(catalog, temp, ObjectPath(o.Id), kept);
                        AtomicFile.FlushFolder(Path.GetDirectoryName(ObjectPath(o.Id))!);
                    }

                    return true;
                }, ct).ConfigureAwait(false);
                ForgetRows(changed);
            }
            finally
            {
                File.Delete(temp);
                File.Delete(kept);
            }

            var count = Interlocked.Increment(ref done);
            progress?.Report(count);
        }).ConfigureAwait(false);
        return done;
    }

    /// <summary>
    /// How the store grew: for each day (UTC) files were imported on, the files, bytes and stored bytes held by then
    /// (of the files still in the store), oldest first.
    /// </summary>
    public Task<IReadOnlyList<StoreGrowth>> GetGrowthAsync(CancellationToken cancellationToken = default)
    {
        var growth = new List<StoreGrowth>();
        long files = 0, bytes = 0, stored = 0;
        foreach (var (day, n, size, storedSize) in _catalog.ImportsByDay(cancellationToken))
        {
            files += n;
            bytes += size;
            stored += storedSize;
            if (DateOnly.TryParseExact(day, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var date))
            {
                growth.Add(new StoreGrowth(date, files, bytes, stored));
            }
        }

        return Task.FromResult<IReadOnlyList<StoreGrowth>>(growth);
    }

    /// <summary>Counts, sizes, and the bytes saved by deduplication and by compression.</summary>
    public Task<FileStoreStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        var totals = _catalog.Totals(cancellationToken);
        var byCategory = new SortedDictionary<string, CategoryStats>(StringComparer.Ordinal);
        foreach (var (category, (files, bytes)) in totals.ByCategory)
        {
            byCategory[category] = new CategoryStats(files, bytes);
        }

        return Task.FromResult(new FileStoreStats(byCategory.Values.Sum(c => c.Files), totals.Objects, byCategory.Values.Sum(c => c.Bytes), totals.ObjectBytes, totals.StoredBytes, byCategory));
    }

    /// <summary>
    /// Re-reads every object (on all cores, a bounded number at a time), checks each segment, re-hashes the
    /// content and compares it with the object's id. Returns every object that failed, with why.
    /// </summary>
    public Task<IReadOnlyList<ObjectProblem>> VerifyAsync(IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        VerifyObjectsAsync(null, progress, cancellationToken);

    /// <summary>Verifies the objects <paramref name="include"/> selects by id (all when null); see <see cref="VerifyAsync"/>.</summary>
    internal async Task<IReadOnlyList<ObjectProblem>> VerifyObjectsAsync(Func<string, bool>? include, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var objects = _catalog.ListObjects(include, cancellationToken);
        var problems = new ConcurrentBag<ObjectProblem>();
        long done = 0;
        await Parallel.ForEachAsync(objects, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (o, ct) =>
        {
            if (await CheckObjectAsync(o.Id, o.Storage, o.Size, ct).ConfigureAwait(false) is { } problem)
            {
                problems.Add(new ObjectProblem(o.Id, problem));
            }

            progress?.Report(Interlocked.Increment(ref done));
        }).ConfigureAwait(false);
        return [.. problems.OrderBy(p => p.ObjectId, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Checks a candidate copy of an object (restored from a backup, say) at <paramref name="path"/> against what the
    /// catalog records for <paramref name="objectId"/>: null when it decodes and hashes to the id with the recorded size.
    /// </summary>
    internal async Task<string?> CheckObjectFileAsync(string objectId, string path, CancellationToken cancellationToken)
    {
        var (storage, size) = ObjectInfo(objectId, cancellationToken);
        return await CheckObjectAsync(objectId, storage, size, cancellationToken, path).ConfigureAwait(false);
    }

    private async Task<string?> CheckObjectAsync(string objectId, string storage, long size, CancellationToken cancellationToken, string? path = null)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using var hash = NewContentHash();
            await using var stream = await OpenObjectAsync(objectId, storage, objectId, cancellationToken, path).ConfigureAwait(false);
            long total = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
            }

            if (total != size)
            {
                return $"content is {total} bytes, the catalog says {size}";
            }

            return Convert.ToHexStringLower(hash.GetHashAndReset()) == objectId ? null : "content no longer matches its id (damaged)";
        }
        catch (MdmaiException ex)
        {
            return ex.Message;
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException)
        {
            return ex.Message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
