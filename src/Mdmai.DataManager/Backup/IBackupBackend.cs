namespace Mdmai.DataManager.Backup;

/// <summary>One stored item of a backup backend: its name (a '/'-separated path) and length in bytes.</summary>
/// <param name="Name">The item's name, relative to the repository root, '/'-separated.</param>
/// <param name="Length">Length in bytes.</param>
public readonly record struct BackendItem(string Name, long Length)
{
    /// <summary>When the item was written, by the store's clock (an object store's Last-Modified, a file's mtime); null when the backend does not say.</summary>
    public DateTimeOffset? Modified { get; init; }
}

/// <summary>
/// The narrow storage interface a backup repository is reached through: list, read a range, write once
/// atomically, delete. A local folder (<see cref="LocalFolderBackend"/>), an S3 bucket (<see cref="S3Backend"/>),
/// memory for fault injection (<see cref="MemoryBackend"/>). Every implementation passes one conformance suite.
/// </summary>
public interface IBackupBackend
{
    /// <summary>Every item whose name starts with <paramref name="folder"/> + "/" (any depth), in no particular order.</summary>
    IAsyncEnumerable<BackendItem> ListAsync(string folder, CancellationToken cancellationToken = default);

    /// <summary>The item's length, or null when it does not exist.</summary>
    Task<long?> LengthAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads up to <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; returns how many were read
    /// (fewer only at the end of the item). A missing item is <see cref="FileNotFoundException"/>.
    /// </summary>
    Task<int> ReadAsync(string name, long offset, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a new item: <paramref name="write"/> produces its content on the stream it is given; the item becomes
    /// visible, whole and durable, only when it returns. An item of that name must not exist
    /// (<see cref="MdmaiException"/> with <see cref="MdmaiErrorCode.AlreadyExists"/>); a failure leaves nothing behind.
    /// </summary>
    Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes what writes that never completed left behind (a crash mid-write) and returns how many; only called
    /// when no writer can be active (under the repository's exclusive lock).
    /// </summary>
    Task<int> DeleteIncompleteAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes an item; deleting a missing one is not an error.</summary>
    Task DeleteAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens bytes <paramref name="offset"/> … <paramref name="offset"/> + <paramref name="length"/> of an item for reading
    /// front to back: many blobs of a pack in one request to an object store (resumed where it broke off), one handle
    /// for a folder. A missing item is <see cref="FileNotFoundException"/>; one that ends before the range,
    /// <see cref="EndOfStreamException"/> when the stream is read there.
    /// </summary>
    Task<Stream> OpenReadAsync(string name, long offset, long length, CancellationToken cancellationToken = default) =>
        Task.FromResult<Stream>(new Internal.BackendRangeStream(this, name, offset, length));

    /// <summary>How many large writes (packs) pay to have in flight at once: 1 for a disk, several for an object store far away.</summary>
    int ConcurrentWrites => 1;

    /// <summary>Where the repository is, for messages: a folder's path, an object store's <c>s3://BUCKET/PREFIX</c>.</summary>
    string Location => ToString() ?? GetType().Name;

    /// <summary>The requests sent so far by kind, for a backend that sends requests (an object store); null for one that does not.</summary>
    BackendRequests? Requests => null;

    /// <summary>
    /// Reads a whole item into memory (for the small ones: config, keys, index, snapshots, locks). A missing item is
    /// <see cref="FileNotFoundException"/>. The default asks the length, then reads; an object store does it in one request.
    /// </summary>
    async Task<byte[]> ReadAllAsync(string name, CancellationToken cancellationToken = default)
    {
        var length = await LengthAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new FileNotFoundException($"The repository has no '{name}'.", name);
        var bytes = new byte[length];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = await ReadAsync(name, read, bytes.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException($"'{name}' ended after {read} of {length} bytes.");
            }

            read += n;
        }

        return bytes;
    }
}

/// <summary>The rule for item names every backend applies: '/'-separated relative segments, none empty, '.' or '..'.</summary>
internal static class BackendNames
{
    /// <summary>Throws <see cref="MdmaiErrorCode.InvalidArgument"/> for a name that could leave the repository.</summary>
    public static void Validate(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name.Contains('\\', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal)
            || name.StartsWith('/') || name.Split('/').Any(s => s is "" or "." or ".."))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{name}' is not a valid repository item name.");
        }
    }
}

/// <summary>Helpers every backend user needs.</summary>
public static class BackupBackendExtensions
{
    /// <summary>Writes a small item from memory.</summary>
    public static Task WriteAllAsync(this IBackupBackend backend, string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        return backend.WriteAsync(name, (stream, ct) => stream.WriteAsync(content, ct).AsTask(), cancellationToken);
    }
}

/// <summary>How long new items stay locked against deletion and overwrite (S3 Object Lock), and in which mode.</summary>
/// <param name="Days">Days each item is retained after it is written (or its retention renewed).</param>
/// <param name="Compliance">Compliance mode (nobody can shorten or lift it, the account's root included) rather than governance mode (a user with the bypass permission can).</param>
public sealed record ObjectLockSettings(int Days, bool Compliance);

/// <summary>A backend that can keep items from being deleted or overwritten for a time: an S3 bucket with Object Lock.</summary>
public interface IObjectLockBackend
{
    /// <summary>The retention every write except a lock's is given; null for none.</summary>
    ObjectLockSettings? Retention { get; set; }

    /// <summary>Keeps <paramref name="name"/> retained until <paramref name="until"/> (a renewal; retention is only ever extended).</summary>
    Task ExtendRetentionAsync(string name, DateTimeOffset until, CancellationToken cancellationToken = default);
}
