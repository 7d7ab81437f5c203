namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// Cancels a request that stalls: its token fires when <see cref="Kick"/> has not been called for the stall timeout
/// (or when the caller's token fires). Kick it whenever bytes move.
/// </summary>
internal sealed class Watchdog : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly TimeSpan _stall;

    public Watchdog(TimeSpan stall, CancellationToken outer)
    {
        _stall = stall;
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _source.CancelAfter(stall);
    }

    public CancellationToken Token => _source.Token;

    /// <summary>Whether it fired for a stall (not for the caller's token).</summary>
    public bool Fired => _source.IsCancellationRequested;

    public void Kick()
    {
        try
        {
            _source.CancelAfter(_stall);
        }
        catch (ObjectDisposedException)
        {
            // the request is over
        }
    }

    public void Dispose() => _source.Dispose();
}

/// <summary>A read-only view of a stream that kicks a <see cref="Watchdog"/> on every read (an upload's body as it is sent).</summary>
internal sealed class WatchedStream(Stream inner, Watchdog watchdog) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => inner.CanSeek;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => inner.Position = value;
    }

    public override int Read(byte[] buffer, int offset, int count) => Kicked(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Kicked(inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Kicked(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Kicked(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Kicked(int read)
    {
        watchdog.Kick();
        return read;
    }
}
