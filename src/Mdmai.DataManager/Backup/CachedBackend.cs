using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Backup;

/// <summary>
/// A local cache in front of a remote repository (docs/s3.md, "The metadata cache"): the items every command reads
/// — key files, index files, snapshots — and the file lists' tree blobs are kept in a folder of this machine, so a
/// backup that changed nothing costs a handful of requests instead of one per item. The cache is checked against the
/// store, never trusted over it: a listing of a cached folder drops what the store no longer has, an item is served
/// from the cache only when the listing says the store has it with that length, and every cached file carries a
/// checksum (a damaged one is fetched again). Items are write-once under random names, so a name never comes back
/// with other content. What is cached is what the store holds: sealed (encrypted) bytes.
/// </summary>
internal sealed class CachedBackend : IBackupBackend, IDisposable
{
    private static readonly string[] CachedFolders = [RepositoryNames.Keys, RepositoryNames.Index, RepositoryNames.Snapshots];
    private const int TrailerSize = 8;

    private readonly IBackupBackend _inner;
    private readonly ConcurrentDictionary<string, long> _listed = new(StringComparer.Ordinal);
    private byte[]? _config;

    /// <summary>Caches <paramref name="inner"/>'s metadata under <paramref name="folder"/> (created when first needed).</summary>
    public CachedBackend(IBackupBackend inner, string folder)
    {
        _inner = inner;
        Folder = Path.GetFullPath(folder);
        Trees = new BlobCache(Path.Combine(Folder, "trees"));
    }

    /// <summary>The cache's folder.</summary>
    public string Folder { get; }

    /// <summary>The cache of tree blobs (sealed, by id).</summary>
    public BlobCache Trees { get; }

    /// <summary>The backend behind the cache.</summary>
    public IBackupBackend Inner => _inner;

    /// <summary>Items served from the cache (tests read it).</summary>
    internal long Hits => Interlocked.Read(ref _hits);

    private long _hits;

    /// <summary>Where repositories' caches are kept: <c>$XDG_CACHE_HOME/mdmai/repositories</c>, else <c>~/.cache/mdmai/repositories</c>.</summary>
    public static string DefaultRoot(Func<string, string?> variable) => Path.Combine(CacheHome(variable), "repositories");

    /// <summary>The user's cache folder of mdmai: <c>$XDG_CACHE_HOME/mdmai</c>, or <c>~/.cache/mdmai</c>.</summary>
    public static string CacheHome(Func<string, string?> variable)
    {
        var root = variable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(variable("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "mdmai");
    }

    /// <summary>One repository's cache folder under <paramref name="root"/>: named by a hash of where it is, so two never share one.</summary>
    public static string FolderFor(string root, string endpoint, string location) =>
        Path.Combine(root, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{endpoint}\n{location}")))[..32]);

    public int ConcurrentWrites => _inner.ConcurrentWrites;

    public string Location => _inner.Location;

    public BackendRequests? Requests => _inner.Requests;

    public async IAsyncEnumerable<BackendItem> ListAsync(string folder, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var cached = IsCachedFolder(folder);
        var seen = cached ? new HashSet<string>(StringComparer.Ordinal) : null;
        await foreach (var item in _inner.ListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            if (seen is not null)
            {
                seen.Add(item.Name);
                _listed[item.Name] = item.Length;
            }

            yield return item;
        }

        if (seen is not null)
        {
            // Whole listing read: what the store no longer has goes from the cache too.
            var path = Path.Combine(Folder, folder);
            if (Directory.Exists(path))
            {
                foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
                {
                    var name = Path.GetRelativePath(Folder, file).Replace('\\', '/');
                    if (!seen.Contains(name))
                    {
                        TryDelete(file);
                        _listed.TryRemove(name, out _);
                    }
                }
            }
        }
    }

    public Task<long?> LengthAsync(string name, CancellationToken cancellationToken = default) =>
        name == RepositoryNames.Config && _config is { } config ? Task.FromResult<long?>(config.Length) : _inner.LengthAsync(name, cancellationToken);

    /// <summary>
    /// Reads a range. A whole item of a cached folder (from offset 0, its listed length: the index files, each read into
    /// one buffer kept for the next) is served from the cache, and kept there when it was not, as
    /// <see cref="ReadAllAsync"/> does.
    /// </summary>
    public async Task<int> ReadAsync(string name, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (offset != 0 || destination.Length == 0 || !IsCached(name) || !_listed.TryGetValue(name, out var length) || length != destination.Length)
        {
            return await _inner.ReadAsync(name, offset, destination, cancellationToken).ConfigureAwait(false);
        }

        var path = PathOf(name);
        if (TryReadCached(path, destination.Span))
        {
            Interlocked.Increment(ref _hits);
            return destination.Length;
        }

        // Not cached: the whole item is fetched and kept as ReadAllAsync does (what is kept is the item, whatever its listed length).
        var bytes = await FetchAndKeepAsync(name, path, cancellationToken).ConfigureAwait(false);
        var read = Math.Min(bytes.Length, destination.Length);
        bytes.AsSpan(0, read).CopyTo(destination.Span);
        return read;
    }

    public Task<Stream> OpenReadAsync(string name, long offset, long length, CancellationToken cancellationToken = default) =>
        _inner.OpenReadAsync(name, offset, length, cancellationToken);

    public async Task<byte[]> ReadAllAsync(string name, CancellationToken cancellationToken = default)
    {
        if (name == RepositoryNames.Config)
        {
            // Read once per process: opening asks whether a repository is there, whether it is encrypted, then opens it.
            return (byte[])(_config ??= await _inner.ReadAllAsync(name, cancellationToken).ConfigureAwait(false)).Clone();
        }

        if (!IsCached(name))
        {
            return await _inner.ReadAllAsync(name, cancellationToken).ConfigureAwait(false);
        }

        var path = PathOf(name);
        if (_listed.TryGetValue(name, out var length) && TryReadCached(path, length) is { } hit)
        {
            Interlocked.Increment(ref _hits);
            return hit;
        }

        return await FetchAndKeepAsync(name, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a cached folder's item whole from the store and keeps it in the cache, as listed with its length.</summary>
    private async Task<byte[]> FetchAndKeepAsync(string name, string path, CancellationToken cancellationToken)
    {
        var bytes = await _inner.ReadAllAsync(name, cancellationToken).ConfigureAwait(false);
        Store(path, bytes);
        _listed[name] = bytes.Length;
        return bytes;
    }

    public async Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (!IsCached(name))
        {
            await _inner.WriteAsync(name, write, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Metadata items are small (an index file names at most 32 packs' blobs): kept in memory on the way to the store.
        byte[]? content = null;
        await _inner.WriteAsync(name, async (stream, ct) =>
        {
            using var copy = new MemoryStream();
            await write(copy, ct).ConfigureAwait(false);
            content = copy.ToArray();
            await stream.WriteAsync(content, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        if (content is not null)
        {
            Store(PathOf(name), content);
            _listed[name] = content.Length;
        }
    }

    public Task<int> DeleteIncompleteAsync(CancellationToken cancellationToken = default) => _inner.DeleteIncompleteAsync(cancellationToken);

    public async Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        await _inner.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
        if (IsCached(name))
        {
            TryDelete(PathOf(name));
            _listed.TryRemove(name, out _);
        }
    }

    public void Dispose() => (_inner as IDisposable)?.Dispose();

    public override string ToString() => _inner.Location;

    private static bool IsCachedFolder(string folder) => Array.IndexOf(CachedFolders, folder.Trim('/')) >= 0;

    private static bool IsCached(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && IsCachedFolder(name[..slash]);
    }

    private string PathOf(string name)
    {
        BackendNames.Validate(name);
        return Path.Combine(Folder, name);
    }

    /// <summary>The cached content when the file is whole, of <paramref name="length"/> bytes and matches its checksum.</summary>
    internal static byte[]? TryReadCached(string path, long length)
    {
        try
        {
            // No array before there is a cached file of that length to fill it.
            if (length < 0 || length > Array.MaxLength - TrailerSize || new FileInfo(path) is not { Exists: true } file || file.Length != length + TrailerSize)
            {
                return null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var content = GC.AllocateUninitializedArray<byte>((int)length);
        return TryReadCached(path, content) ? content : null;
    }

    /// <summary>
    /// Fills <paramref name="content"/> from the cached file at <paramref name="path"/> when it is whole, holds exactly
    /// that many bytes and matches its checksum (a file that does not match is removed).
    /// </summary>
    internal static bool TryReadCached(string path, Span<byte> content)
    {
        try
        {
            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                Span<byte> trailer = stackalloc byte[TrailerSize];
                if (RandomAccess.GetLength(handle) != content.Length + TrailerSize
                    || !UnixFileCalls.TryReadExactlyAt(handle, content, 0) || !UnixFileCalls.TryReadExactlyAt(handle, trailer, content.Length))
                {
                    return false;
                }

                if (XxHash3.HashToUInt64(content) == BinaryPrimitives.ReadUInt64LittleEndian(trailer))
                {
                    return true;
                }
            }

            TryDelete(path);
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Keeps <paramref name="content"/> at <paramref name="path"/> with its checksum: a temp file renamed into place,
    /// not flushed (a cache lost in a crash is fetched again; a torn one fails its checksum). A cache that cannot be
    /// written (disk full, read-only) is only slower.
    /// </summary>
    internal static void Store(string path, ReadOnlySpan<byte> content)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = $"{path}.{Guid.NewGuid():N}.tmp";
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
            {
                file.Write(content);
                Span<byte> trailer = stackalloc byte[TrailerSize];
                BinaryPrimitives.WriteUInt64LittleEndian(trailer, XxHash3.HashToUInt64(content));
                file.Write(trailer);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // only slower
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // the next listing tries again
        }
    }
}

/// <summary>Sealed blobs by id in a folder (<c>hh/id</c>), each with a checksum: the tree blobs of a remote repository.</summary>
internal sealed class BlobCache(string folder)
{
    private string PathOf(BlobId id)
    {
        var hex = id.ToString();
        return Path.Combine(folder, hex[..2], hex);
    }

    /// <summary>The blob's sealed bytes into <paramref name="stored"/> when cached whole with exactly that length.</summary>
    public bool TryRead(BlobId id, Span<byte> stored) => CachedBackend.TryReadCached(PathOf(id), stored);

    public void Write(BlobId id, ReadOnlySpan<byte> stored) => CachedBackend.Store(PathOf(id), stored);

    public void Remove(BlobId id) => CachedBackend.TryDelete(PathOf(id));

    /// <summary>Drops every cached blob for which <paramref name="keep"/> is false (after a prune).</summary>
    public void Trim(Func<BlobId, bool> keep)
    {
        if (!Directory.Exists(folder))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            if (!BlobId.TryParse(Path.GetFileName(file), out var id) || !keep(id))
            {
                CachedBackend.TryDelete(file);
            }
        }
    }
}
