using Mdmai.DataManager.IO;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Files.Internal;

/// <summary>
/// A file on a local disk read with plain <c>pread</c> calls, also when read asynchronously. On Linux every asynchronous
/// read of a <see cref="FileStream"/> is a work item queued to the thread pool and a wake-up; for a file of a few
/// kilobytes that costs more than the read, and a folder import reads hundreds of thousands of them, each on the
/// worker that prepares it. Seekable (a PDF's metadata is read back from its end); owns the handle.
/// </summary>
internal sealed class LocalFileReadStream(SafeFileHandle handle) : Stream
{
    private long _position;

    public override bool CanRead => !handle.IsClosed;
    public override bool CanSeek => !handle.IsClosed;
    public override bool CanWrite => false;
    public override long Length => RandomAccess.GetLength(handle);

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = UnixFileCalls.ReadAt(handle, buffer, _position);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        SeekOrigin.End => Length + offset,
        _ => throw new ArgumentOutOfRangeException(nameof(origin)),
    };

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            handle.Dispose();
        }

        base.Dispose(disposing);
    }
}
