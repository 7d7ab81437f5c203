using System.Buffers;
using System.Security.Cryptography;

namespace Mdmai.DataManager.Security;

/// <summary>
/// Write side of the segment framing: buffers one segment, seals it and writes it. The final segment (always
/// shorter than a full one, possibly empty) is written only by <see cref="CompleteAsync"/>: an object whose
/// writer was abandoned has no final segment and reads as truncated, never as complete.
/// </summary>
internal sealed class SegmentWriteStream : Stream
{
    private readonly Stream _inner;
    private readonly SegmentCipher _cipher;
    private readonly byte[] _plain;
    private readonly byte[] _sealed;
    private readonly int _segmentSize;
    private int _filled;
    private int _used; // how much of _plain has held content: cleared on dispose (an object is often far smaller than a segment)
    private ulong _counter;
    private bool _completed;
    private bool _disposed;

    public SegmentWriteStream(Stream inner, ObjectHeader header, ReadOnlySpan<byte> objectKey)
    {
        _inner = inner;
        Span<byte> bytes = stackalloc byte[ObjectHeader.Size];
        header.Write(bytes);
        _cipher = new SegmentCipher(bytes, objectKey);
        _segmentSize = header.SegmentSize;
        _plain = ArrayPool<byte>.Shared.Rent(_segmentSize);
        _sealed = ArrayPool<byte>.Shared.Rent(_segmentSize + SegmentCipher.TagSize);
        _inner.Write(bytes);
        StoredLength = ObjectHeader.Size;
    }

    /// <summary>Bytes written to the inner stream so far (header, segments and tags).</summary>
    public long StoredLength { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_disposed;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Flush() => _inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed || _completed, this);
        while (!buffer.IsEmpty)
        {
            var take = Math.Min(buffer.Length, _segmentSize - _filled);
            buffer[..take].CopyTo(_plain.AsSpan(_filled));
            _filled += take;
            buffer = buffer[take..];
            if (_filled == _segmentSize)
            {
                _inner.Write(SealSegment(last: false));
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed || _completed, this);
        while (!buffer.IsEmpty)
        {
            var take = Math.Min(buffer.Length, _segmentSize - _filled);
            buffer.Span[..take].CopyTo(_plain.AsSpan(_filled));
            _filled += take;
            buffer = buffer[take..];
            if (_filled == _segmentSize)
            {
                var length = SealSegment(last: false).Length;
                await _inner.WriteAsync(_sealed.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the final segment: only now is the object complete.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed || _completed, this);
        var length = SealSegment(last: true).Length;
        await _inner.WriteAsync(_sealed.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        _completed = true;
    }

    private ReadOnlySpan<byte> SealSegment(bool last)
    {
        var length = _filled + SegmentCipher.TagSize;
        _cipher.Seal(_plain.AsSpan(0, _filled), _sealed.AsSpan(0, length), _counter++, last);
        _used = Math.Max(_used, _filled);
        _filled = 0;
        StoredLength += length;
        return _sealed.AsSpan(0, length);
    }

    protected override void Dispose(bool disposing)
    {
        if (!_disposed && disposing)
        {
            _disposed = true;
            _cipher.Dispose();
            CryptographicOperations.ZeroMemory(_plain.AsSpan(0, Math.Max(_used, _filled)));
            ArrayPool<byte>.Shared.Return(_plain);
            ArrayPool<byte>.Shared.Return(_sealed);
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// Read side of the segment framing: reads, checks and opens one segment at a time. A segment that fails
/// to open is <see cref="InvalidDataException"/> (corrupt, reordered, or the wrong key); a stream that ends
/// before its final segment is <see cref="EndOfStreamException"/>; bytes after the final segment are
/// <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class SegmentReadStream : Stream
{
    private readonly Stream _inner;
    private readonly SegmentCipher _cipher;
    private readonly string _name;
    private readonly byte[] _sealed;
    private readonly byte[] _plain;
    private readonly byte[] _probe = new byte[1];
    private readonly int _segmentSize;
    private int _available;
    private int _used; // as on the write side
    private int _offset;
    private ulong _counter;
    private bool _sawLast;
    private bool _disposed;

    public SegmentReadStream(Stream inner, ObjectHeader header, ReadOnlySpan<byte> headerBytes, ReadOnlySpan<byte> objectKey, string name)
    {
        _inner = inner;
        _name = name;
        _cipher = new SegmentCipher(headerBytes, objectKey);
        _segmentSize = header.SegmentSize;
        _sealed = ArrayPool<byte>.Shared.Rent(_segmentSize + SegmentCipher.TagSize);
        _plain = ArrayPool<byte>.Shared.Rent(_segmentSize);
    }

    public override bool CanRead => !_disposed;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (_offset == _available)
        {
            if (_sawLast)
            {
                return 0;
            }

            var read = _inner.ReadAtLeast(_sealed.AsSpan(0, _segmentSize + SegmentCipher.TagSize), _segmentSize + SegmentCipher.TagSize, throwOnEndOfStream: false);
            Open(read, read == _segmentSize + SegmentCipher.TagSize ? 0 : _inner.Read(_probe));
        }

        return Serve(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (_offset == _available)
        {
            if (_sawLast)
            {
                return 0;
            }

            var full = _segmentSize + SegmentCipher.TagSize;
            var read = await _inner.ReadAtLeastAsync(_sealed.AsMemory(0, full), full, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            var extra = read < full ? await _inner.ReadAsync(_probe, cancellationToken).ConfigureAwait(false) : 0;

            Open(read, extra);
        }

        return Serve(buffer.Span);
    }

    /// <summary>Opens the segment just read; <paramref name="trailing"/> is how many bytes followed a short (final) one.</summary>
    private void Open(int read, int trailing)
    {
        var full = _segmentSize + SegmentCipher.TagSize;
        if (read == 0)
        {
            throw new EndOfStreamException($"Object {_name} is truncated: it ends after segment {_counter} without its final segment. Restore it from a backup.");
        }

        if (read < SegmentCipher.TagSize)
        {
            throw new EndOfStreamException($"Object {_name} is truncated inside segment {_counter}. Restore it from a backup.");
        }

        var last = read < full;
        _used = Math.Max(_used, read - SegmentCipher.TagSize);
        if (!_cipher.TryOpen(_sealed.AsSpan(0, read), _plain, _counter, last))
        {
            throw new InvalidDataException($"Object {_name} is corrupt: segment {_counter} failed its integrity check (damaged, reordered or truncated). Restore it from a backup.");
        }

        if (last && trailing > 0)
        {
            throw new InvalidDataException($"Object {_name} has data after its final segment: it was extended or damaged. Restore it from a backup.");
        }

        _counter++;
        _sawLast = last;
        _available = read - SegmentCipher.TagSize;
        _offset = 0;
    }

    private int Serve(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, _available - _offset);
        _plain.AsSpan(_offset, count).CopyTo(buffer);
        _offset += count;
        return count;
    }

    protected override void Dispose(bool disposing)
    {
        if (!_disposed && disposing)
        {
            _disposed = true;
            _cipher.Dispose();
            _inner.Dispose();
            ArrayPool<byte>.Shared.Return(_sealed);
            CryptographicOperations.ZeroMemory(_plain.AsSpan(0, _used));
            ArrayPool<byte>.Shared.Return(_plain);
        }

        base.Dispose(disposing);
    }
}
