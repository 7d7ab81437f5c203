namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// All the memory one backup pipeline holds chunks in: one array allocated once, handed out in blocks of whole
/// granules. A stage that wants more than is free waits (first come, first served) until blocks are given back, so the
/// pipeline's chunk memory is this array and nothing else, however long the run: no buffer is allocated per chunk, and
/// none is left for the garbage collector. Blocks are asked for in pairs (a chunk and the room for its compressed copy),
/// so a worker never waits for memory while holding some; a block can give its unused tail back
/// (<see cref="ArenaBlock.Shrink"/>).
/// </summary>
internal sealed class BlockArena
{
    /// <summary>The unit of allocation.</summary>
    public const int Granule = 16 * 1024;

    private readonly byte[] _memory;
    private readonly bool[] _used;
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private int _free;

    /// <param name="capacity">Bytes, rounded up to whole granules.</param>
    public BlockArena(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, Granule);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, (long)Array.MaxLength / Granule * Granule);
        var granules = (int)((capacity + Granule - 1) / Granule);
        // Pinned: a compacting collection never moves it (a move would copy, and so make resident, all of it).
        _memory = GC.AllocateUninitializedArray<byte>(granules * Granule, pinned: true);
        _used = new bool[granules];
        _free = granules;
    }

    /// <summary>Bytes not handed out.</summary>
    public int Available
    {
        get
        {
            lock (_lock)
            {
                return _free * Granule;
            }
        }
    }

    /// <summary>Bytes a request of <paramref name="size"/> really takes (whole granules).</summary>
    public static int Rounded(int size) => Granules(size) * Granule;

    /// <summary>Granules a request of <paramref name="size"/> bytes takes.</summary>
    public static int Granules(int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return (int)(((long)size + Granule - 1) / Granule);
    }

    /// <summary>
    /// Two blocks of at least <paramref name="first"/> and <paramref name="second"/> bytes (either may be 0: an empty
    /// block), given together once both fit, after every earlier request. Two that could never fit together (more than
    /// the whole arena: the list of a snapshot's entries holding one huge file's chunk list) get memory of their own at
    /// once, outside the arena.
    /// </summary>
    public ValueTask<(ArenaBlock First, ArenaBlock Second)> AllocateAsync(int first, int second, CancellationToken cancellationToken)
    {
        var request = (First: Granules(first), Second: Granules(second));
        if (request.First + request.Second > _used.Length)
        {
            return ValueTask.FromResult((new ArenaBlock(GC.AllocateUninitializedArray<byte>(first)), new ArenaBlock(GC.AllocateUninitializedArray<byte>(second))));
        }

        lock (_lock)
        {
            if (_waiters.Count == 0 && TryTake(request) is { } blocks)
            {
                return ValueTask.FromResult(blocks);
            }

            var waiter = new Waiter(request, new TaskCompletionSource<(ArenaBlock, ArenaBlock)>(TaskCreationOptions.RunContinuationsAsynchronously));
            var node = _waiters.AddLast(waiter);
            if (cancellationToken.CanBeCanceled)
            {
                waiter.Registration = cancellationToken.Register(() =>
                {
                    lock (_lock)
                    {
                        if (node.List is null)
                        {
                            return; // already served
                        }

                        _waiters.Remove(node);
                        waiter.Ready.TrySetCanceled(cancellationToken);
                        ServeWaiters(); // the next in line may fit where this one did not
                    }
                });
            }

            return new ValueTask<(ArenaBlock, ArenaBlock)>(waiter.Ready.Task);
        }
    }

    internal Memory<byte> Memory(int start, int length) => _memory.AsMemory(start * Granule, length);

    /// <summary>Gives back granules [<paramref name="start"/>, +<paramref name="count"/>) and serves whoever now fits.</summary>
    internal void Release(int start, int count)
    {
        if (count == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (Array.IndexOf(_used, false, start, count) >= 0)
            {
                throw new InvalidOperationException("An arena block was given back twice."); // and the arena is left as it was
            }

            Unmark(start, count);
            ServeWaiters();
        }
    }

    private void ServeWaiters()
    {
        while (_waiters.First is { } head && TryTake(head.Value.Request) is { } blocks)
        {
            // A waiter still in the list was not cancelled (cancelling removes it under the lock). Unregister, not
            // Dispose: Dispose would wait for a callback that may be running, and waiting for this lock.
            _waiters.RemoveFirst();
            head.Value.Registration.Unregister();
            head.Value.Ready.SetResult(blocks);
        }
    }

    /// <summary>
    /// Places the pair first fit, from the start of the arena. The blocks in use then gather at its front, so a backup
    /// writes the arena only as far as the highest block it ever placed: for a backup of small files, a few granules a
    /// file, that stays near what it holds at once and most of the array is never written (never made resident). Placed
    /// in turn after the last block instead, every page was written within the first few hundred files (~15 MB of a
    /// 100k-file backup's peak). And a pair that fits the whole arena always fits an empty one, so a request never
    /// waits once everything has been given back.
    /// </summary>
    private (ArenaBlock First, ArenaBlock Second)? TryTake((int First, int Second) request)
    {
        if (request.First + request.Second > _free)
        {
            return null;
        }

        var first = Find(request.First);
        if (first < 0)
        {
            return null;
        }

        Mark(first, request.First);
        var second = Find(request.Second);
        if (second < 0)
        {
            Unmark(first, request.First);
            return null;
        }

        Mark(second, request.Second);
        return (new ArenaBlock(this, first, request.First), new ArenaBlock(this, second, request.Second));
    }

    /// <summary>The start of the first run of <paramref name="count"/> free granules; -1 if none.</summary>
    private int Find(int count)
    {
        if (count == 0)
        {
            return 0; // an empty block takes nothing
        }

        var used = _used.AsSpan();
        var start = used.IndexOf(false);
        while (start >= 0 && start + count <= used.Length)
        {
            var taken = used.Slice(start, count).IndexOf(true);
            if (taken < 0)
            {
                return start;
            }

            var next = used[(start + taken)..].IndexOf(false);
            start = next < 0 ? -1 : start + taken + next;
        }

        return -1;
    }

    private void Mark(int start, int count)
    {
        Array.Fill(_used, true, start, count);
        _free -= count;
    }

    private void Unmark(int start, int count)
    {
        Array.Fill(_used, false, start, count);
        _free += count;
    }

    private sealed class Waiter((int First, int Second) request, TaskCompletionSource<(ArenaBlock, ArenaBlock)> ready)
    {
        public (int First, int Second) Request { get; } = request;
        public TaskCompletionSource<(ArenaBlock, ArenaBlock)> Ready { get; } = ready;
        public CancellationTokenRegistration Registration { get; set; }
    }
}

/// <summary>A block of an <see cref="BlockArena"/> (or, for a request larger than the arena, an array of its own), given back once when disposed.</summary>
internal sealed class ArenaBlock : IDisposable
{
    private readonly BlockArena? _arena;
    private readonly byte[]? _own;
    private readonly int _start;
    private int _granules;
    private bool _disposed;

    internal ArenaBlock(BlockArena arena, int start, int granules)
    {
        _arena = arena;
        _start = start;
        _granules = granules;
    }

    internal ArenaBlock(byte[] own) => _own = own;

    /// <summary>The block's bytes (whole granules).</summary>
    public Memory<byte> Memory
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _own ?? _arena!.Memory(_start, Length);
        }
    }

    /// <summary>Bytes the block holds.</summary>
    public int Length => _own?.Length ?? _granules * BlockArena.Granule;

    /// <summary>Gives back the granules past the first <paramref name="length"/> bytes.</summary>
    public void Shrink(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var keep = BlockArena.Granules(length);
        if (_arena is not null && keep < _granules)
        {
            _arena.Release(_start + keep, _granules - keep);
            _granules = keep;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _arena?.Release(_start, _granules);
    }
}
