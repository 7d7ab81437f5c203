using System.Buffers;
using System.Security.Cryptography;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// A write-then-read buffer for an item on its way to an object store: the first <see cref="MemoryLimit"/> bytes
/// stay in memory, the rest goes to an unlinked temp file, so several packs in flight cost a bounded amount of
/// memory whatever their size. The MD5 of everything written is kept as it goes (the store verifies it on PUT).
/// Write it whole, then <see cref="Rewind"/> and read it, as many times as an upload is retried.
/// </summary>
internal sealed class SpoolStream : Stream
{
    internal const int MemoryLimit = 1024 * 1024;

    private readonly string _tempFolder;
    private readonly IncrementalHash _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private byte[] _memory = new byte[16 * 1024];
    private bool _pooled;
    private int _memoryLength;
    private FileStream? _file;
    private long _length;
    private long _position;
    private bool _reading;
    private byte[]? _digest;

    public SpoolStream(string tempFolder) => _tempFolder = tempFolder;

    /// <summary>The MD5 of the content (only once writing is over, after <see cref="Rewind"/>).</summary>
    public byte[] Md5 => _digest ?? throw new InvalidOperationException("Rewind first.");

    public override bool CanRead => _reading;

    public override bool CanSeek => _reading;

    public override bool CanWrite => !_reading;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    /// <summary>Ends writing (the first time) and goes back to the start for reading.</summary>
    public void Rewind()
    {
        if (!_reading)
        {
            _reading = true;
            _digest = _md5.GetHashAndReset();
            _file?.Flush();
        }

        _position = 0;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_reading)
        {
            throw new InvalidOperationException("The spool is being read.");
        }

        _md5.AppendData(buffer);
        var toMemory = (int)Math.Min(buffer.Length, Math.Max(0, MemoryLimit - _memoryLength));
        if (toMemory > 0)
        {
            if (_memoryLength + toMemory > _memory.Length)
            {
                // Past the small first buffer, the whole megabyte at once from the shared pool: growing by doubling
                // left ~2 MiB of large-object garbage per pack, which only a full collection frees (~130 MB per GB sent).
                var larger = ArrayPool<byte>.Shared.Rent(MemoryLimit);
                _memory.AsSpan(0, _memoryLength).CopyTo(larger);
                _memory = larger;
                _pooled = true;
            }

            buffer[..toMemory].CopyTo(_memory.AsSpan(_memoryLength));
            _memoryLength += toMemory;
        }

        if (toMemory < buffer.Length)
        {
            _file ??= new FileStream(Path.Combine(_tempFolder, $".mdmai-upload-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
            _file.Write(buffer[toMemory..]);
        }

        _length += buffer.Length;
        _position = _length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override int Read(Span<byte> buffer)
    {
        if (!_reading)
        {
            throw new InvalidOperationException("Rewind the spool before reading it.");
        }

        var count = (int)Math.Min(buffer.Length, _length - _position);
        if (count <= 0)
        {
            return 0;
        }

        if (_position < _memoryLength)
        {
            count = Math.Min(count, _memoryLength - (int)_position);
            _memory.AsSpan((int)_position, count).CopyTo(buffer);
        }
        else
        {
            count = RandomAccess.Read(_file!.SafeFileHandle, buffer[..count], _position - _memoryLength);
        }

        _position += count;
        return count;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Read(buffer.AsSpan(offset, count)));
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        if (!_reading)
        {
            throw new NotSupportedException("The spool can be sought only when it is read.");
        }

        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        ArgumentOutOfRangeException.ThrowIfNegative(target, nameof(offset));
        _position = Math.Min(target, _length);
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file?.Dispose();
            _md5.Dispose();
            if (_pooled)
            {
                _pooled = false;
                ArrayPool<byte>.Shared.Return(_memory);
            }
        }

        base.Dispose(disposing);
    }
}
