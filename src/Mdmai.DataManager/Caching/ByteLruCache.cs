namespace Mdmai.DataManager.Caching;

/// <summary>Counters of a cache since it was created.</summary>
/// <param name="Hits">Lookups that found their entry.</param>
/// <param name="Misses">Lookups that did not.</param>
/// <param name="Evictions">Entries dropped to make room.</param>
/// <param name="Count">Entries held now.</param>
/// <param name="Bytes">Bytes held now (as the cache's size function counts them).</param>
/// <param name="CapacityBytes">The limit.</param>
public sealed record CacheStatistics(long Hits, long Misses, long Evictions, long Count, long Bytes, long CapacityBytes)
{
    /// <summary>Hits over lookups, 0 when there were none.</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}

/// <summary>The cache counters of the last app session, kept in the data folder so <c>mdmai status</c> can show them.</summary>
public static class CacheStatisticsFile
{
    /// <summary>File name, in the data folder, of the last app session's cache counters.</summary>
    public const string FileName = "cache-stats.json";

    private static readonly System.Text.Json.JsonSerializerOptions Json = new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower, WriteIndented = true }.Generated(CachingJsonContext.Default);

    /// <summary>Records a session's counters (the app does this when it closes), atomically.</summary>
    public static Task SaveAsync(string dataFolder, CacheStatistics statistics, DateTimeOffset time, CancellationToken cancellationToken = default) =>
        IO.AtomicFile.WriteAllBytesAsync(Path.Combine(dataFolder, FileName), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new Saved(time, statistics), Json.For<Saved>()), cancellationToken);

    /// <summary>The last recorded session's counters and when it ended, or null when none was recorded (or the file is damaged).</summary>
    public static (DateTimeOffset Time, CacheStatistics Statistics)? Load(string dataFolder)
    {
        try
        {
            var saved = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dataFolder, FileName)), Json.For<Saved>());
            return saved?.Statistics is null ? null : (saved.Time, saved.Statistics);
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    internal sealed record Saved(DateTimeOffset Time, CacheStatistics Statistics);
}

/// <summary>
/// A least-recently-used cache bounded by bytes rather than by entry count (docs/adr/0003-cache.md):
/// adding an entry evicts the least recently used ones until the total fits. Thread-safe; every operation
/// is O(1) under one short lock.
/// </summary>
public sealed class ByteLruCache<TKey, TValue> where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value, long Size)>> _entries = [];
    private readonly LinkedList<(TKey Key, TValue Value, long Size)> _order = new();
    private readonly Func<TValue, long> _sizeOf;
    private readonly Lock _lock = new();
    private long _bytes, _hits, _misses, _evictions;

    /// <summary>Creates a cache holding at most <paramref name="capacityBytes"/>, sizing entries with <paramref name="sizeOf"/>.</summary>
    public ByteLruCache(long capacityBytes, Func<TValue, long> sizeOf)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        ArgumentNullException.ThrowIfNull(sizeOf);
        CapacityBytes = capacityBytes;
        _sizeOf = sizeOf;
    }

    /// <summary>The byte limit.</summary>
    public long CapacityBytes { get; }

    /// <summary>Looks an entry up, making it the most recently used.</summary>
    public bool TryGet(TKey key, out TValue value)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                _hits++;
                value = node.Value.Value;
                return true;
            }

            _misses++;
            value = default!;
            return false;
        }
    }

    /// <summary>Adds or replaces an entry; one larger than the whole cache is not kept.</summary>
    public void Set(TKey key, TValue value)
    {
        var size = Math.Max(1, _sizeOf(value));
        lock (_lock)
        {
            RemoveLocked(key);
            if (size > CapacityBytes)
            {
                return;
            }

            while (_bytes + size > CapacityBytes && _order.Last is { } oldest)
            {
                RemoveLocked(oldest.Value.Key);
                _evictions++;
            }

            _entries[key] = _order.AddFirst((key, value, size));
            _bytes += size;
        }
    }

    /// <summary>Evicts least recently used entries until at most <paramref name="bytes"/> are held; returns how many went.</summary>
    public int TrimTo(long bytes)
    {
        var trimmed = 0;
        lock (_lock)
        {
            while (_bytes > Math.Max(0, bytes) && _order.Last is { } oldest)
            {
                RemoveLocked(oldest.Value.Key);
                _evictions++;
                trimmed++;
            }
        }

        return trimmed;
    }

    /// <summary>Drops an entry (after the thing it caches changed or went away).</summary>
    public bool Remove(TKey key)
    {
        lock (_lock)
        {
            return RemoveLocked(key);
        }
    }

    private bool RemoveLocked(TKey key)
    {
        if (!_entries.Remove(key, out var node))
        {
            return false;
        }

        _order.Remove(node);
        _bytes -= node.Value.Size;
        return true;
    }

    /// <summary>The counters so far.</summary>
    public CacheStatistics Statistics
    {
        get
        {
            lock (_lock)
            {
                return new CacheStatistics(_hits, _misses, _evictions, _entries.Count, _bytes, CapacityBytes);
            }
        }
    }
}

/// <summary>The saved cache counters' JSON, with its code generated at build time (see <see cref="GeneratedJson"/>).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(CacheStatisticsFile.Saved))]
internal sealed partial class CachingJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
