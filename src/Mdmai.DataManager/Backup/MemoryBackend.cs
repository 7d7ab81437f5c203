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
        var prefix = folder.TrimEnd('/') + "/";
        foreach (var (name, bytes) in _items.ToArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                yield return new BackendItem(name, bytes.Length);
            }
        }
    }

    /// <inheritdoc/>
    public Task<long?> LengthAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(_items.TryGetValue(name, out var bytes) ? bytes.Length : (long?)null);

    /// <inheritdoc/>
    public Task<int> ReadAsync(string name, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
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
    public async Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (_items.ContainsKey(name))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"The repository already has '{name}'; items are written once and never replaced.");
        }

        BeforeWrite?.Invoke(name);
        using var buffer = new MemoryStream();
        await write(buffer, cancellationToken).ConfigureAwait(false);
        if (!_items.TryAdd(name, buffer.ToArray()))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"The repository already has '{name}'; items are written once and never replaced.");
        }
    }

    /// <inheritdoc/>
    public Task<int> DeleteIncompleteAsync(CancellationToken cancellationToken = default) => Task.FromResult(0); // writes are whole or absent

    /// <inheritdoc/>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        _items.TryRemove(name, out _);
        return Task.CompletedTask;
    }
}
