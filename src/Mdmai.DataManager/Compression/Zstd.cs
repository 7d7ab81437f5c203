using ZstdSharp;

namespace Mdmai.DataManager.Compression;

/// <summary>
/// Where the data manager compresses: the platform's libzstd when it has one (<see cref="NativeZstd"/>), else the
/// managed ZstdSharp. Both write standard zstd frames; whole frames are decompressed the same way
/// (<see cref="TryDecompress"/>), streams by ZstdSharp.
/// </summary>
internal static class Zstd
{
    [ThreadStatic]
    private static nint t_nativeDecompression;

    [ThreadStatic]
    private static Decompressor? t_managedDecompression;

    /// <summary>
    /// Decompresses one whole frame into <paramref name="destination"/> (its expected size): the length written, or -1
    /// when <paramref name="source"/> is not a valid frame or does not fit. One context per thread, kept for the
    /// thread's life: a restore decompresses thousands of chunks, and a context per chunk cost an allocation of
    /// ~100 KB each.
    /// </summary>
    public static int TryDecompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (NativeZstd.IsAvailable)
        {
            if (t_nativeDecompression == 0)
            {
                t_nativeDecompression = NativeZstd.CreateDecompressionContext();
            }

            return NativeZstd.Decompress(t_nativeDecompression, source, destination);
        }

        try
        {
            return (t_managedDecompression ??= new Decompressor()).Unwrap(source, destination);
        }
        catch (ZstdException)
        {
            return -1;
        }
    }

    /// <summary>The largest a compressed frame of <paramref name="length"/> bytes can be.</summary>
    public static int CompressBound(int length) => Compressor.GetCompressBound(length);

    /// <summary>
    /// A write-only stream that compresses into <paramref name="destination"/> as one frame, ended when the stream is
    /// disposed. With <paramref name="workers"/> &gt; 0, zstd compresses in that many threads of its own while the
    /// caller goes on writing. <paramref name="sizeHint"/> is the content's expected length (0: unknown): small content then gets small tables.
    /// </summary>
    public static Stream CreateCompressionStream(Stream destination, int level, int workers, bool leaveOpen, long sizeHint = 0) =>
        CreateCompressionStream(destination, level, workers, leaveOpen, NativeZstd.IsAvailable, sizeHint);

    /// <summary>As above, with the implementation chosen by the caller (the tests run both).</summary>
    public static Stream CreateCompressionStream(Stream destination, int level, int workers, bool leaveOpen, bool native, long sizeHint = 0)
    {
        if (native)
        {
            return new NativeCompressionStream(destination, level, workers, leaveOpen, sizeHint);
        }

        var managed = new CompressionStream(destination, level, leaveOpen: leaveOpen);
        if (sizeHint > 0)
        {
            managed.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_experimentalParam7, (int)Math.Min(sizeHint, int.MaxValue));
        }

        if (workers > 0)
        {
            managed.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_nbWorkers, workers);
            managed.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_jobSize, NativeZstd.JobSize);
        }

        return managed;
    }
}

/// <summary>Compresses whole buffers, one frame each; one thread at a time.</summary>
internal sealed class ZstdCompressor : IDisposable
{
    private readonly nint _native;
    private readonly Compressor? _managed;

    public ZstdCompressor(int level)
        : this(level, NativeZstd.IsAvailable)
    {
    }

    /// <summary>With the implementation chosen by the caller (the tests run both).</summary>
    public ZstdCompressor(int level, bool native)
    {
        Level = level;
        if (native)
        {
            _native = NativeZstd.CreateContext(level, workers: 0);
        }
        else
        {
            _managed = new Compressor(level);
        }
    }

    /// <summary>The zstd level it compresses at.</summary>
    public int Level { get; }

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/>; -1 when the frame does not fit.</summary>
    public int TryCompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (_managed is null)
        {
            return NativeZstd.Compress(_native, source, destination);
        }

        try
        {
            return _managed.Wrap(source, destination);
        }
        catch (ZstdException)
        {
            return -1; // the destination is too small: the data does not compress into it
        }
    }

    public void Dispose()
    {
        NativeZstd.FreeContext(_native);
        _managed?.Dispose();
    }
}

/// <summary>A streaming libzstd compressor in front of a destination stream.</summary>
internal sealed class NativeCompressionStream : Stream
{
    private const int OutputSize = 128 * 1024;

    private readonly Stream _destination;
    private readonly bool _leaveOpen;
    private readonly byte[] _output = System.Buffers.ArrayPool<byte>.Shared.Rent(OutputSize);
    private readonly bool _pooled;
    private nint _context;
    private bool _finished;
    private bool _disposed;

    public NativeCompressionStream(Stream destination, int level, int workers, bool leaveOpen, long sizeHint)
    {
        _destination = destination;
        _leaveOpen = leaveOpen;
        _pooled = workers == 0;
        _context = _pooled ? NativeZstd.RentContext(level, sizeHint) : NativeZstd.CreateContext(level, workers);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_disposed;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (!buffer.IsEmpty)
        {
            NativeZstd.CompressStep(_context, buffer, _output, NativeZstd.Continue, out var consumed, out var produced);
            buffer = buffer[consumed..];
            _destination.Write(_output, 0, produced);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (!buffer.IsEmpty)
        {
            NativeZstd.CompressStep(_context, buffer.Span, _output, NativeZstd.Continue, out var consumed, out var produced);
            buffer = buffer[consumed..];
            await _destination.WriteAsync(_output.AsMemory(0, produced), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Compressed data stays in zstd until the frame ends (a flush would cut the frame into smaller blocks).</summary>
    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Ends the frame (writing its last blocks to the destination) and frees the context.</summary>
    protected override void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (disposing)
            {
                if (!_finished)
                {
                    _finished = true;
                    nuint left;
                    do
                    {
                        left = NativeZstd.CompressStep(_context, [], _output, NativeZstd.End, out _, out var produced);
                        _destination.Write(_output, 0, produced);
                    }
                    while (left != 0);
                }

                if (!_leaveOpen)
                {
                    _destination.Dispose();
                }
            }
        }
        finally
        {
            Release();
            base.Dispose(disposing);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed && !_finished)
        {
            _finished = true;
            try
            {
                nuint left;
                do
                {
                    left = NativeZstd.CompressStep(_context, [], _output, NativeZstd.End, out _, out var produced);
                    await _destination.WriteAsync(_output.AsMemory(0, produced)).ConfigureAwait(false);
                }
                while (left != 0);
            }
            catch
            {
                Dispose(); // frees the context; the error (a closed or full destination) goes to the caller
                throw;
            }
        }

        await base.DisposeAsync().ConfigureAwait(false); // Dispose(true): the frame is ended; closes the destination unless left open
    }

    private void Release()
    {
        if (_pooled)
        {
            NativeZstd.ReturnContext(_context); // reset when rented again, whatever state the frame was left in
        }
        else
        {
            NativeZstd.FreeContext(_context);
        }

        _context = 0;
        System.Buffers.ArrayPool<byte>.Shared.Return(_output);
    }
}
