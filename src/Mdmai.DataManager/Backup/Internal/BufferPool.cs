using System.Numerics;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// Large buffers for one pipeline. Sizes are rounded up to a class (64 KiB, then 2^k and 1.5·2^k). A request is served
/// by the smallest free buffer that holds it, whatever its class, and returned buffers are always kept, never dropped:
/// a new buffer is allocated only when no free one is large enough, so what the pool ever holds stays near the most
/// the pipeline held at once (its byte budget), and nothing becomes garbage — dropped large arrays would sit on the
/// large-object heap until a full collection and show up as memory.
/// </summary>
internal sealed class BufferPool
{
    private const int MinSize = 64 * 1024;
    private readonly List<byte[]> _free = [];
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
            var best = -1;
            for (var i = 0; i < _free.Count; i++)
            {
                if (_free[i].Length >= rounded && (best < 0 || _free[i].Length < _free[best].Length))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                var buffer = _free[best];
                _free[best] = _free[^1];
                _free.RemoveAt(_free.Count - 1);
                return buffer;
            }
        }

        return GC.AllocateUninitializedArray<byte>(rounded);
    }

    public void Return(byte[] buffer)
    {
        lock (_lock)
        {
            _free.Add(buffer);
        }
    }
}
