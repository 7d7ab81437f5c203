using System.Numerics;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// Large buffers for one pipeline, in size classes from 64 KiB growing by √2-ish steps (2^k and 1.5·2^k). Returned buffers are always kept and
/// reused, never dropped: what the pool ever allocates is bounded by what the pipeline holds at once (its byte
/// budget, which counts class sizes), and nothing becomes garbage for the collector — dropped large arrays would
/// sit on the large-object heap until a full collection and show up as memory.
/// </summary>
internal sealed class BufferPool
{
    private const int MinSize = 64 * 1024;
    private readonly Dictionary<int, Stack<byte[]>> _free = [];
    private readonly Lock _lock = new();

    /// <summary>The size a request of <paramref name="size"/> bytes really takes: the smallest class that holds it.</summary>
    public static int Rounded(int size)
    {
        if (size <= MinSize)
        {
            return MinSize;
        }

        var power = 1 << (31 - BitOperations.LeadingZeroCount((uint)size)); // 2^k <= size
        if (power == size)
        {
            return size;
        }

        var middle = power + (power >> 1);
        return size <= middle ? middle : power << 1;
    }

    public byte[] Rent(int size)
    {
        var rounded = Rounded(size);
        lock (_lock)
        {
            if (_free.TryGetValue(rounded, out var stack) && stack.TryPop(out var buffer))
            {
                return buffer;
            }
        }

        return GC.AllocateUninitializedArray<byte>(rounded);
    }

    public void Return(byte[] buffer)
    {
        if (Rounded(buffer.Length) != buffer.Length)
        {
            return; // not one of ours
        }

        lock (_lock)
        {
            if (!_free.TryGetValue(buffer.Length, out var stack))
            {
                _free[buffer.Length] = stack = new Stack<byte[]>();
            }

            stack.Push(buffer);
        }
    }
}
