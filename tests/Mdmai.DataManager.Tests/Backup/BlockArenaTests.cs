using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

public sealed class BlockArenaTests
{
    private const int G = BlockArena.Granule;

    private static void GiveBack(params ArenaBlock[] blocks)
    {
        foreach (var block in blocks)
        {
            block.Dispose();
        }
    }

    [Fact]
    public async Task Blocks_are_whole_granules_apart_and_come_back_when_disposed()
    {
        var arena = new BlockArena(8 * G);
        var (a, b) = await arena.AllocateAsync(G + 1, 2 * G, CancellationToken.None);

        Assert.Equal(2 * G, a.Length);
        Assert.Equal(2 * G, b.Length);
        Assert.Equal(4 * G, arena.Available);
        a.Memory.Span.Fill(1);
        b.Memory.Span.Fill(2);
        Assert.All(a.Memory.ToArray(), x => Assert.Equal(1, x)); // no overlap
        a.Dispose();
        a.Dispose(); // once only
        Assert.Equal(6 * G, arena.Available);
        b.Dispose();
        Assert.Equal(8 * G, arena.Available);
    }

    [Fact]
    public async Task Shrink_gives_back_the_tail()
    {
        var arena = new BlockArena(8 * G);
        var (a, empty) = await arena.AllocateAsync(5 * G, 0, CancellationToken.None);

        Assert.Equal(0, empty.Length);
        a.Shrink(G + 10);
        Assert.Equal(2 * G, a.Length);
        Assert.Equal(6 * G, arena.Available);
        a.Shrink(0);
        Assert.Equal(8 * G, arena.Available);
        a.Dispose();
        empty.Dispose();
        Assert.Equal(8 * G, arena.Available);
    }

    [Fact]
    public async Task A_request_waits_until_enough_is_given_back_and_later_ones_wait_behind_it()
    {
        var arena = new BlockArena(4 * G);
        var (held, _) = await arena.AllocateAsync(3 * G, 0, CancellationToken.None);

        var big = arena.AllocateAsync(2 * G, 2 * G, CancellationToken.None).AsTask();
        var small = arena.AllocateAsync(G, 0, CancellationToken.None).AsTask();
        await Task.Delay(20);
        Assert.False(big.IsCompleted);
        Assert.False(small.IsCompleted); // one granule is free, but the larger request came first

        held.Dispose();
        var (x, y) = await big.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, arena.Available);
        Assert.False(small.IsCompleted);
        x.Dispose();
        (await small.WaitAsync(TimeSpan.FromSeconds(10))).First.Dispose();
        y.Dispose();
        Assert.Equal(4 * G, arena.Available);
    }

    [Fact]
    public async Task A_cancelled_request_leaves_the_line_and_lets_the_next_through()
    {
        var arena = new BlockArena(4 * G);
        var (held, _) = await arena.AllocateAsync(2 * G, 0, CancellationToken.None);
        using var cts = new CancellationTokenSource();

        var big = arena.AllocateAsync(4 * G, 0, cts.Token).AsTask();
        var small = arena.AllocateAsync(G, G, CancellationToken.None).AsTask();
        Assert.False(small.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => big);
        var (a, b) = await small.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, arena.Available);
        GiveBack(a, b, held);
        Assert.Equal(4 * G, arena.Available);
    }

    [Fact]
    public async Task A_pair_as_large_as_the_arena_fits_once_everything_is_back()
    {
        var arena = new BlockArena(4 * G);
        var (a, _) = await arena.AllocateAsync(G, 0, CancellationToken.None);
        var (b, _) = await arena.AllocateAsync(G, 0, CancellationToken.None);
        a.Dispose(); // placed after b, a pair of 2 + 2 would split the free space

        var whole = arena.AllocateAsync(2 * G, 2 * G, CancellationToken.None).AsTask();
        Assert.False(whole.IsCompleted);
        b.Dispose();
        var (x, y) = await whole.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, arena.Available);
        GiveBack(x, y);
    }

    [Fact]
    public async Task A_pair_is_placed_first_fit_so_that_a_gap_before_a_held_block_is_used()
    {
        var arena = new BlockArena(6 * G);
        var (x, _) = await arena.AllocateAsync(G, 0, CancellationToken.None);
        var (held, _) = await arena.AllocateAsync(G, 0, CancellationToken.None);
        x.Dispose(); // free: 0, 2-5

        // First fit: 1 at 0, 4 at 2-5 (placed after the held block, 1 at 2 would leave no run of 4).
        var (a, b) = await arena.AllocateAsync(G, 4 * G, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, arena.Available);
        GiveBack(a, b, held);
        Assert.Equal(6 * G, arena.Available);
    }

    [Fact]
    public async Task Blocks_given_back_are_reused_from_the_front_so_that_a_small_load_touches_only_the_front()
    {
        var arena = new BlockArena(64 * G);
        var (held, _) = await arena.AllocateAsync(G, 0, CancellationToken.None); // the arena is never all free
        var seen = new HashSet<int>();
        for (var i = 0; i < 200; i++)
        {
            // Two files in flight at a time, a chunk and its compressed copy each: never more than four granules held.
            var (a, b) = await arena.AllocateAsync(G, G, CancellationToken.None);
            var (c, d) = await arena.AllocateAsync(G, G, CancellationToken.None);
            foreach (var block in new[] { a, b, c, d })
            {
                Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment));
                seen.Add(segment.Offset / G);
            }

            GiveBack(a, b, c, d);
        }

        Assert.Equal([1, 2, 3, 4], seen.Order());
        GiveBack(held);
        Assert.Equal(64 * G, arena.Available);
    }

    [Fact]
    public async Task Giving_a_block_back_twice_is_refused_and_leaves_the_arena_as_it_was()
    {
        var arena = new BlockArena(4 * G);
        var (a, b) = await arena.AllocateAsync(G, G, CancellationToken.None);
        a.Dispose();

        Assert.Throws<InvalidOperationException>(() => arena.Release(0, 2)); // granule 0 is free again, 1 is b's
        Assert.Equal(3 * G, arena.Available);
        b.Dispose();
        Assert.Equal(4 * G, arena.Available);
    }

    [Fact]
    public async Task A_block_is_one_run_of_free_granules()
    {
        var arena = new BlockArena(6 * G);
        var blocks = new List<ArenaBlock>();
        for (var i = 0; i < 3; i++)
        {
            var (a, b) = await arena.AllocateAsync(G, G, CancellationToken.None);
            blocks.Add(a);
            blocks.Add(b);
        }

        // Free granules 1, 2 and 4: three are free, but not three in a row.
        blocks[1].Dispose();
        blocks[2].Dispose();
        blocks[4].Dispose();
        var run = arena.AllocateAsync(3 * G, 0, CancellationToken.None);
        Assert.False(run.IsCompleted);
        blocks[3].Dispose();
        var (three, _) = await run.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3 * G, three.Length);
        Assert.Equal(G, arena.Available);
    }

    [Fact]
    public async Task A_request_larger_than_the_arena_gets_memory_of_its_own_at_once()
    {
        var arena = new BlockArena(4 * G);
        var (held, _) = await arena.AllocateAsync(4 * G, 0, CancellationToken.None);

        var (a, b) = await arena.AllocateAsync(3 * G, (2 * G) + 1, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3 * G, a.Length);
        Assert.Equal((2 * G) + 1, b.Length);
        a.Shrink(1);
        a.Dispose();
        b.Dispose();
        Assert.Equal(0, arena.Available);
        held.Dispose();
        Assert.Equal(4 * G, arena.Available);
    }
}
