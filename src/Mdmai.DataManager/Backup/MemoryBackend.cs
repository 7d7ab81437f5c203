using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Mdmai.DataManager.Backup;

/// <summary>
/// A backup repository held in memory (nothing survives the process): for trying the repository format, and for the
/// library's own tests, which inject faults through its internal hooks (a failing write or read, damaged bytes) — hooks
/// that are not part of the public surface.
/// </summary>
public sealed class MemoryBackend : IBackupBackend
{
    private readonly ConcurrentDictionary<string, byte[]> _items = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _written = new(StringComparer.Ordinal);
    private long _put, _get, _list, _head, _delete;

    /// <summary>The store's clock, which stamps each item as it is written (tests move it to age locks).</summary>
    internal Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

    /// <summary>Called with an item's name before it is deleted; throw to make the delete fail (append-only credentials).</summary>
    internal Action<string>? BeforeDelete { get; set; }

    /// <summary>The calls made so far, counted as an object store's requests would be (a whole read is one GET).</summary>
    public BackendRequests? Requests => new(Interlocked.Read(ref _put), Interlocked.Read(ref _get), Interlocked.Read(ref _list), Interlocked.Read(ref _head), Interlocked.Read(ref _delete));

    /// <summary>The repository's place: "memory:" and a name of this instance's own.</summary>
    public string Location { get; } = $"memory:{Guid.NewGuid():N}";

    /// <summary>Called with an item's name before it is written; throw to make the write fail.</summary>
    internal Action<string>? BeforeWrite { get; set; }

    /// <summary>Called with an item's name before it is read; throw to make the read fail.</summary>
    internal Action<string>? BeforeRead { get; set; }

    /// <summary>The stored items by name (replace a value to simulate damage).</summary>
    internal ConcurrentDictionary<string, byte[]> Items => _items;

    /// <inheritdoc/>
    public async IAsyncEnumerable<BackendItem> ListAsync(string folder, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        Interlocked.Increment(ref _list);
        var prefix = folder.TrimEnd('/') + "/";
        foreach (var (name, bytes) in _items.ToArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                yield return new BackendItem(name, bytes.Length) { Modified = _written.TryGetValue(name, out var time) ? time : null };
            }
        }
    }

    /// <inheritdoc/>
    public Task<long?> LengthAsync(string name, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _head);
        return Task.FromResult(_items.TryGetValue(name, out var bytes) ? bytes.Length : (long?)null);
    }

    /// <inheritdoc/>
    public Task<byte[]> ReadAllAsync(string name, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _get);
        BeforeRead?.Invoke(name);
        return _items.TryGetValue(name, out var bytes)
            ? Task.FromResult(bytes.ToArray())
            : Task.FromException<byte[]>(new FileNotFoundException($"The repository has no '{name}'.", name));
    }

    /// <inheritdoc/>
    public Task<int> ReadAsync(string name, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _get);
        BeforeRead?.Invoke(name);
        if (!_items.TryGetValue(name, out var bytes))
        {
            throw new FileNotFoundException($"The repository has no '{name}'.", name);
        }

        if (offset >= bytes.Length)
        {
            return Task.FromResult(0);
        }

        var count = (int)Math.Min(destination.Length, bytes.Length - offset);
        bytes.AsMemory((int)offset, count).CopyTo(destination);
        return Task.FromResult(count);
    }

    /// <inheritdoc/>
    /// <remarks>One GET, as an object store's ranged read would be.</remarks>
    public Task<Stream> OpenReadAsync(string name, long offset, long length, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _get);
        BeforeRead?.Invoke(name);
        if (!_items.TryGetValue(name, out var bytes))
        {
            return Task.FromException<Stream>(new FileNotFoundException($"The repository has no '{name}'.", name));
        }

        var start = (int)Math.Min(offset, bytes.Length);
        return Task.FromResult<Stream>(new Internal.MemoryRangeStream(bytes.AsMemory(start, (int)Math.Min(length, bytes.Length - start)), name, length));
    }

    /// <inheritdoc/>
    public async Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (_items.ContainsKey(name))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"The repository already has '{name}'; items are written once and never replaced.");
        }

        Interlocked.Increment(ref _put);
        BeforeWrite?.Invoke(name);
        using var buffer = new MemoryStream();
        await write(buffer, cancellationToken).ConfigureAwait(false);
        var time = Clock();
        if (!_items.TryAdd(name, buffer.ToArray()))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"The repository already has '{name}'; items are written once and never replaced.");
        }

        _written[name] = time;
    }

    /// <inheritdoc/>
    public Task<int> DeleteIncompleteAsync(CancellationToken cancellationToken = default) => Task.FromResult(0); // writes are whole or absent

    /// <inheritdoc/>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _delete);
        BeforeDelete?.Invoke(name);
        _items.TryRemove(name, out _);
        _written.TryRemove(name, out _);
        return Task.CompletedTask;
    }
}
