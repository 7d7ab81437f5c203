using System.Buffers;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>A snapshot file's content as a read-only stream: one blob at a time, each checked against its id.</summary>
internal sealed class SnapshotFileStream(BackupRepository repository, TreeEntry entry) : Stream
{
    private readonly IReadOnlyList<string> _chunks = entry.Chunks ?? [];
    private int _next;
    private byte[]? _plain;
    private byte[]? _stored;
    private int _offset;
    private int _length;
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => entry.Size;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_offset == _length)
        {
            if (_next == _chunks.Count)
            {
                return 0;
            }

            var id = BlobId.Parse(_chunks[_next++]);
            if (!repository.Index.TryGet(id, out var location))
            {
                throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Chunk {id} of '{entry.Path}' is not in the repository. Run 'mdmai backup verify'.");
            }

            Ensure(ref _stored, (int)location.StoredLength);
            Ensure(ref _plain, (int)location.RawLength);
            await repository.ReadBlobIntoAsync(id, location, _stored, _plain, cancellationToken).ConfigureAwait(false);
            _offset = 0;
            _length = (int)location.RawLength;
        }

        var n = Math.Min(buffer.Length, _length - _offset);
        _plain.AsMemory(_offset, n).CopyTo(buffer);
        _offset += n;
        _position += n;
        return n;
    }

    private static void Ensure(ref byte[]? buffer, int size)
    {
        if (buffer is null || buffer.Length < size)
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        }
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

    protected override void Dispose(bool disposing)
    {
        if (_plain is not null)
        {
            ArrayPool<byte>.Shared.Return(_plain);
            _plain = null;
        }

        if (_stored is not null)
        {
            ArrayPool<byte>.Shared.Return(_stored);
            _stored = null;
        }

        base.Dispose(disposing);
    }
}
