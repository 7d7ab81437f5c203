using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// A range of a backend item read front to back through <see cref="IBackupBackend.ReadAsync"/> (the default of
/// <see cref="IBackupBackend.OpenReadAsync"/>). The item ending before the range does is <see cref="EndOfStreamException"/>.
/// </summary>
internal sealed class BackendRangeStream(IBackupBackend backend, string name, long offset, long length) : ReadOnlyRangeStream(length)
{
    protected override ValueTask<int> ReadAtAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken) =>
        new(backend.ReadAsync(name, offset + position, buffer, cancellationToken));

    protected override string Name => name;
}

/// <summary>
/// A range of a local file read front to back through one handle, which the stream owns. Reads are synchronous: a read
/// of a file in the page cache is a copy, and "asynchronous" file reads on Linux are that copy handed to the thread pool
/// and back — for a restore of many small files, a hop per chunk and threads spinning for work between the hops.
/// </summary>
internal sealed class FileRangeStream(SafeFileHandle handle, string name, long offset, long length) : ReadOnlyRangeStream(length)
{
    protected override ValueTask<int> ReadAtAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RandomAccess.Read(handle, buffer.Span, offset + position));

    protected override string Name => name;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            handle.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>A range of bytes in memory (the memory backend's), shorter than <paramref name="length"/> when the item ends first.</summary>
internal sealed class MemoryRangeStream(ReadOnlyMemory<byte> data, string name, long length) : ReadOnlyRangeStream(length)
{
    protected override ValueTask<int> ReadAtAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var n = (int)Math.Clamp(data.Length - position, 0, buffer.Length);
        data.Slice((int)Math.Min(position, data.Length), n).CopyTo(buffer);
        return ValueTask.FromResult(n);
    }

    protected override string Name => name;
}

/// <summary>A forward-only, read-only stream of a known length over positioned reads.</summary>
internal abstract class ReadOnlyRangeStream(long length) : Stream
{
    private long _position;

    protected abstract string Name { get; }

    protected abstract ValueTask<int> ReadAtAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var want = (int)Math.Min(buffer.Length, length - _position);
        if (want == 0)
        {
            return 0;
        }

        var n = await ReadAtAsync(_position, buffer[..want], cancellationToken).ConfigureAwait(false);
        if (n == 0)
        {
            throw new EndOfStreamException($"'{Name}' ended {length - _position} bytes before the range read from it.");
        }

        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
