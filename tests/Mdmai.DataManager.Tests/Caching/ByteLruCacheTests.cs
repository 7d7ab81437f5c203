using Mdmai.DataManager.Caching;

namespace Mdmai.DataManager.Tests.Caching;

public sealed class ByteLruCacheTests
{
    private static ByteLruCache<string, byte[]> Cache(long capacity) => new(capacity, b => b.Length);

    [Fact]
    public void The_least_recently_used_entries_go_first_when_bytes_run_out()
    {
        var cache = Cache(300);
        cache.Set("a", new byte[100]);
        cache.Set("b", new byte[100]);
        cache.Set("c", new byte[100]);
        Assert.True(cache.TryGet("a", out _));

        cache.Set("d", new byte[150]);

        Assert.True(cache.TryGet("a", out _));
        Assert.False(cache.TryGet("b", out _));
        Assert.False(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("d", out _));
        Assert.Equal(2, cache.Statistics.Evictions);
        Assert.True(cache.Statistics.Bytes <= 300);
    }

    [Fact]
    public void Trimming_lets_the_least_recently_used_entries_go_down_to_the_size_asked()
    {
        var cache = Cache(1000);
        cache.Set("a", new byte[100]);
        cache.Set("b", new byte[100]);
        cache.Set("c", new byte[100]);
        Assert.True(cache.TryGet("a", out _));

        var trimmed = cache.TrimTo(150);

        Assert.Equal(2, trimmed);
        Assert.Equal(100, cache.Statistics.Bytes);
        Assert.True(cache.TryGet("a", out _));
        Assert.False(cache.TryGet("b", out _));
        Assert.Equal(0, cache.TrimTo(100));
    }

    [Fact]
    public void An_entry_larger_than_the_cache_is_not_kept_and_evicts_nothing()
    {
        var cache = Cache(100);
        cache.Set("small", new byte[50]);

        cache.Set("huge", new byte[101]);

        Assert.False(cache.TryGet("huge", out _));
        Assert.True(cache.TryGet("small", out _));
        Assert.Equal(0, cache.Statistics.Evictions);
    }

    [Fact]
    public void Counters_track_hits_misses_and_replacements()
    {
        var cache = Cache(1000);
        cache.Set("x", new byte[10]);
        cache.Set("x", new byte[20]);
        cache.TryGet("x", out var value);
        cache.TryGet("y", out _);
        cache.Remove("x");

        var stats = cache.Statistics;
        Assert.Equal(20, value.Length);
        Assert.Equal((1, 1, 0, 0), (stats.Hits, stats.Misses, stats.Count, stats.Bytes));
        Assert.Equal(0.5, stats.HitRate);
    }

    [Fact]
    public async Task Concurrent_use_keeps_the_byte_total_within_the_limit()
    {
        var cache = Cache(10_000);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            var random = new Random(t);
            for (var i = 0; i < 5000; i++)
            {
                var key = random.Next(200).ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (!cache.TryGet(key, out _))
                {
                    cache.Set(key, new byte[random.Next(1, 500)]);
                }
            }
        })));

        var stats = cache.Statistics;
        Assert.InRange(stats.Bytes, 1, 10_000);
        Assert.Equal(40_000, stats.Hits + stats.Misses);
    }
}
