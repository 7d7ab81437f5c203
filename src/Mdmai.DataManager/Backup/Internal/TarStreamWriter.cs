using System.Formats.Tar;
using System.Text;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// Writes the portable export's tar stream through System.Formats.Tar's <see cref="TarWriter"/> (POSIX: ustar entries,
/// pax ones for long or non-ASCII names and large sizes), the same library the import reads it back with. The archive
/// stream is a zstd compressor, which cannot seek; each file's content comes from a stream of known length
/// (<see cref="ExactLength"/>), so the writer streams it straight through and nothing is buffered.
/// </summary>
internal sealed class TarStreamWriter(Stream output) : IDisposable
{
    private readonly TarWriter _writer = new(output, TarEntryFormat.Pax, leaveOpen: true);

    public Task WriteDirectoryAsync(string name, DateTimeOffset modified, int mode, CancellationToken cancellationToken)
    {
        var entry = Entry(TarEntryType.Directory, name.TrimEnd('/') + "/", 0);
        entry.ModificationTime = modified;
        entry.Mode = Permissions(mode, 0x1ED);
        return _writer.WriteEntryAsync(entry, cancellationToken);
    }

    /// <summary>Writes a file entry of exactly <paramref name="length"/> bytes read from <paramref name="content"/> (shorter or longer content is <see cref="InvalidDataException"/>).</summary>
    public Task WriteFileAsync(string name, long length, DateTimeOffset modified, int mode, Stream content, CancellationToken cancellationToken)
    {
        var entry = Entry(TarEntryType.RegularFile, name, length);
        entry.ModificationTime = modified;
        entry.Mode = Permissions(mode, 0x1A4);
        entry.DataStream = new ExactLength(content, length, name);
        return _writer.WriteEntryAsync(entry, cancellationToken);
    }

    /// <summary>
    /// A plain ustar entry where one holds it (an ASCII name of up to 100 characters, under 8 GiB; its time in whole
    /// seconds), else a pax entry, whose extended header costs another 1 KiB: most entries of an export need none.
    /// </summary>
    private static TarEntry Entry(TarEntryType type, string name, long length) =>
        name.Length <= 100 && Ascii.IsValid(name) && length < (1L << 33)
            ? new UstarTarEntry(type, name)
            : new PaxTarEntry(type, name);

    /// <summary>Ends the archive (two zero blocks) and flushes it.</summary>
    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        await _writer.DisposeAsync().ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lets go of an archive that was not finished without ending it: a reader sees it truncated (its manifest, written
    /// last, is missing too), never a shorter archive that looks whole. <see cref="FinishAsync"/> ends it.
    /// </summary>
    public void Dispose()
    {
    }

    private static UnixFileMode Permissions(int mode, int fallback) => (UnixFileMode)((mode == 0 ? fallback : mode) & 0xFFF);

    /// <summary>
    /// A read-only view of <paramref name="inner"/> that is exactly <paramref name="length"/> bytes long. It says it can
    /// seek, because <see cref="TarWriter"/> writes into an unseekable archive only from a data stream whose length it
    /// can ask; it never moves (a seek anywhere but where it is fails). Content that ends early or goes on is refused.
    /// </summary>
    internal sealed class ExactLength(Stream inner, long length, string name) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => Seek(value, SeekOrigin.Begin);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, length - _position)]);
            if (n == 0 && _position == length && buffer.Length > 0 && inner.Read(new byte[1]) != 0)
            {
                throw Longer();
            }

            return Advance(n, buffer.Length);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, length - _position)], cancellationToken).ConfigureAwait(false);
            if (n == 0 && _position == length && buffer.Length > 0 && await inner.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false) != 0)
            {
                throw Longer();
            }

            return Advance(n, buffer.Length);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private InvalidDataException Longer() => new($"'{name}' is longer than the {length} bytes recorded for it.");

        private int Advance(int read, int asked)
        {
            if (read == 0 && asked > 0 && _position < length)
            {
                throw new InvalidDataException($"'{name}' ended after {_position} of {length} bytes.");
            }

            _position += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            var target = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => length + offset };
            return target == _position ? _position : throw new NotSupportedException("The content of a tar entry is read once, in order.");
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
