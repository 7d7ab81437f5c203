using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>Content-defined chunking parameters (docs/backup-format.md).</summary>
internal sealed record ChunkerParameters(int MinSize, int AverageSize, int MaxSize)
{
    public static ChunkerParameters Default { get; } = new(512 * 1024, 1024 * 1024, 8 * 1024 * 1024);

    public void Validate()
    {
        if (MinSize < 64 || !BitOperations.IsPow2(AverageSize) || MinSize >= AverageSize || AverageSize >= MaxSize || MaxSize > 64 * 1024 * 1024)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The repository's chunker parameters ({MinSize}/{AverageSize}/{MaxSize}) are not valid.");
        }
    }
}

/// <summary>
/// FastCDC-style content-defined chunking: a gear rolling hash (shift left, add a random 64-bit value per byte)
/// over a 64-byte window; a cut where the hash's top bits are all zero. Normalized chunking: before the average
/// size the test uses two more bits (harder), after it two fewer (easier), which narrows the size spread. Nothing
/// is cut before the minimum; a cut is forced at the maximum. The gear table comes from the repository key, so
/// chunk boundaries reveal nothing about the content to someone without it.
/// </summary>
internal sealed class Chunker
{
    private readonly ulong[] _gear;
    private readonly ulong _maskHard;
    private readonly ulong _maskEasy;

    public Chunker(ChunkerParameters parameters, ReadOnlySpan<byte> seed)
    {
        Parameters = parameters;
        _gear = new ulong[256];
        var bytes = new byte[256 * 8];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, seed, bytes, [], "mdmai/backup/gear/v1"u8);
        for (var i = 0; i < 256; i++)
        {
            _gear[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * 8));
        }

        var bits = BitOperations.Log2((uint)parameters.AverageSize);
        _maskHard = ulong.MaxValue << (64 - (bits + 2));
        _maskEasy = ulong.MaxValue << (64 - (bits - 2));
    }

    public ChunkerParameters Parameters { get; }

    /// <summary>The length of the first chunk of <paramref name="data"/>; 0 when more data is needed to decide; <paramref name="final"/> says no more data follows.</summary>
    public int Cut(ReadOnlySpan<byte> data, bool final)
    {
        var position = 0;
        ulong hash = 0;
        return Scan(data, final, ref position, ref hash);
    }

    /// <summary>
    /// Like <see cref="Cut"/>, resumable: <paramref name="position"/> and <paramref name="hash"/> carry the scan over
    /// calls on a growing prefix of one chunk (start both at 0), so no byte is hashed twice.
    /// </summary>
    public int Scan(ReadOnlySpan<byte> data, bool final, ref int position, ref ulong hash)
    {
        var p = Parameters;
        if (data.Length <= p.MinSize)
        {
            return final ? data.Length : 0;
        }

        var end = Math.Min(data.Length, p.MaxSize);
        var normal = Math.Min(end, p.AverageSize);
        // The hot loop of a backup: indexes are in range by construction (i < end <= data.Length, a byte < 256 = the
        // table's length), so the bounds checks the JIT cannot drop on its own are left out.
        ref var gear = ref MemoryMarshal.GetArrayDataReference(_gear);
        ref var bytes = ref MemoryMarshal.GetReference(data);
        var i = position;
        var h = hash;
        if (i < p.MinSize - 64)
        {
            i = p.MinSize - 64;
            h = 0;
        }

        for (; i < p.MinSize; i++)
        {
            h = (h << 1) + Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i));
        }

        for (; i < normal; i++)
        {
            h = (h << 1) + Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i));
            if ((h & _maskHard) == 0)
            {
                return i + 1;
            }
        }

        for (; i < end; i++)
        {
            h = (h << 1) + Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i));
            if ((h & _maskEasy) == 0)
            {
                return i + 1;
            }
        }

        if (end == p.MaxSize || final)
        {
            return end;
        }

        position = i;
        hash = h;
        return 0;
    }
}

/// <summary>
/// Splits a stream into chunks with one reusable buffer of the maximum chunk size plus one read: the scan resumes
/// where it stopped when more data arrives, and after a cut only the bytes read past it (less than one read) are
/// moved — memory is constant and every byte is hashed once and moved at most once.
/// </summary>
internal sealed class StreamChunker
{
    public const int ReadSize = 1024 * 1024;

    private readonly Chunker _chunker;
    private readonly byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private int _position;
    private ulong _hash;

    public StreamChunker(Chunker chunker, byte[] buffer)
    {
        _chunker = chunker;
        if (buffer.Length < chunker.Parameters.MaxSize + ReadSize)
        {
            throw new ArgumentException("The chunking buffer must hold a maximum-size chunk and one read.", nameof(buffer));
        }

        _buffer = buffer;
    }

    /// <summary>The buffer size a chunker with <paramref name="parameters"/> needs.</summary>
    public static int BufferSize(ChunkerParameters parameters) => parameters.MaxSize + ReadSize;

    /// <summary>Starts on a new source.</summary>
    public void Reset()
    {
        _start = _end = _position = 0;
        _hash = 0;
        _eof = false;
    }

    /// <summary>The next chunk (valid until the next call), or an empty memory at the end of <paramref name="read"/>'s data.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> NextAsync(Func<Memory<byte>, CancellationToken, ValueTask<int>> read, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_end > _start || _eof)
            {
                var length = _chunker.Scan(_buffer.AsSpan(_start, _end - _start), _eof, ref _position, ref _hash);
                if (length > 0)
                {
                    var chunk = _buffer.AsMemory(_start, length);
                    _start += length;
                    _position = 0;
                    _hash = 0;
                    return chunk;
                }

                if (_eof)
                {
                    return ReadOnlyMemory<byte>.Empty;
                }
            }

            if (_buffer.Length - _end < ReadSize)
            {
                // Less than a maximum chunk is pending; shifting it leaves room for a full read.
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            var n = await read(_buffer.AsMemory(_end, Math.Min(ReadSize, _buffer.Length - _end)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _eof = true;
            }

            _end += n;
        }
    }
}
