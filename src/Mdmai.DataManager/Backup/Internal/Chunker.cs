using System.Buffers.Binary;
using System.Numerics;
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

    /// <summary>The length of the first chunk of <paramref name="data"/>; <paramref name="final"/> says no more data follows.</summary>
    public int Cut(ReadOnlySpan<byte> data, bool final)
    {
        var p = Parameters;
        if (data.Length <= p.MinSize)
        {
            return final ? data.Length : 0;
        }

        var end = Math.Min(data.Length, p.MaxSize);
        var normal = Math.Min(end, p.AverageSize);
        ulong hash = 0;
        var gear = _gear;
        var i = p.MinSize - 64;
        for (; i < p.MinSize; i++)
        {
            hash = (hash << 1) + gear[data[i]];
        }

        for (; i < normal; i++)
        {
            hash = (hash << 1) + gear[data[i]];
            if ((hash & _maskHard) == 0)
            {
                return i + 1;
            }
        }

        for (; i < end; i++)
        {
            hash = (hash << 1) + gear[data[i]];
            if ((hash & _maskEasy) == 0)
            {
                return i + 1;
            }
        }

        return end == p.MaxSize || final ? end : 0;
    }
}

/// <summary>
/// Splits a stream into chunks with one reusable buffer of twice the maximum chunk size: bytes are moved at most
/// once (when the unread tail is shifted to the front), so memory is constant whatever the file's size.
/// </summary>
internal sealed class StreamChunker
{
    private readonly Chunker _chunker;
    private readonly byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;

    public StreamChunker(Chunker chunker, byte[] buffer)
    {
        _chunker = chunker;
        if (buffer.Length < 2 * chunker.Parameters.MaxSize)
        {
            throw new ArgumentException("The chunking buffer must hold two maximum-size chunks.", nameof(buffer));
        }

        _buffer = buffer;
    }

    /// <summary>Starts on a new source.</summary>
    public void Reset()
    {
        _start = _end = 0;
        _eof = false;
    }

    /// <summary>The next chunk (valid until the next call), or an empty memory at the end of <paramref name="read"/>'s data.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> NextAsync(Func<Memory<byte>, CancellationToken, ValueTask<int>> read, CancellationToken cancellationToken)
    {
        var max = _chunker.Parameters.MaxSize;
        while (!_eof && _end - _start < max)
        {
            if (_buffer.Length - _end < max / 4)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            var n = await read(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _eof = true;
            }

            _end += n;
        }

        if (_start == _end)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        var length = _chunker.Cut(_buffer.AsSpan(_start, _end - _start), _eof);
        var chunk = _buffer.AsMemory(_start, length);
        _start += length;
        return chunk;
    }
}
