using System.Security.Cryptography;
using ZstdSharp;

namespace Mdmai.DataManager.Security;

/// <summary>
/// Reads and writes the framed object format (docs/object-format.md): a 40-byte header, then the content —
/// zstd-compressed when that pays — in fixed-size segments, each sealed with AES-256-GCM (or checksummed
/// when encryption is off). Everything streams: memory is two segments whatever the object's size.
/// </summary>
public static class ObjectCodec
{
    /// <summary>Default zstd level for objects: fast, and still most of the gain on text.</summary>
    public const int DefaultCompressionLevel = 3;

    /// <summary>How much of the start of a file <see cref="IsWorthCompressing"/> looks at.</summary>
    public const int SampleSize = 64 * 1024;

    [ThreadStatic]
    private static Compression.ZstdCompressor? s_sampler;

    /// <summary>
    /// Whether compressing is worth it, judged on a sample of the data (the start of a file): true when zstd
    /// level 1 shrinks it by more than 10 %. PDFs of scans, JPEG, PNG and ZIP come out false.
    /// </summary>
    public static bool IsWorthCompressing(ReadOnlySpan<byte> sample)
    {
        if (sample.Length < 64)
        {
            return false;
        }

        // One level-1 compressor per thread: making one per call cost more than the test itself on small files.
        var compressor = s_sampler ??= new Compression.ZstdCompressor(1);
        var limit = (int)(sample.Length * 0.9);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(limit);
        try
        {
            // A frame that does not fit in 90 % of the sample is a frame not worth having.
            return compressor.TryCompress(sample, buffer.AsSpan(0, limit - 1)) > 0;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [ThreadStatic]
    private static Compression.ZstdCompressor? s_whole;

    /// <summary>
    /// Compresses content held whole in memory, at <see cref="DefaultCompressionLevel"/>, into
    /// <paramref name="destination"/> when that pays (<see cref="TryCompressIfWorth"/>): the frame's length, or 0.
    /// </summary>
    internal static int TryCompressWhole(ReadOnlySpan<byte> content, Span<byte> destination) =>
        TryCompressIfWorth(s_whole ??= new Compression.ZstdCompressor(DefaultCompressionLevel), content, destination);

    /// <summary>
    /// Compresses <paramref name="data"/> with <paramref name="compressor"/> into <paramref name="destination"/> when it
    /// pays: the frame's length, or 0 to store the data as it is. At a fast level (up to
    /// <see cref="DefaultCompressionLevel"/>) data up to <see cref="SampleSize"/> is its own sample: it is compressed
    /// once and kept if the frame is more than 10 % smaller (a level-1 test before the real compression cost small files
    /// as much as the compression itself). Longer data, or any data at a slower level (where trying costs more than the
    /// test), must first pass <see cref="IsWorthCompressing"/> on its first 64 KiB; its frame must be smaller than it.
    /// </summary>
    internal static int TryCompressIfWorth(Compression.ZstdCompressor compressor, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        int limit;
        if (data.Length < 64)
        {
            return 0;
        }
        else if (data.Length <= SampleSize && compressor.Level <= DefaultCompressionLevel)
        {
            limit = (int)(data.Length * 0.9) - 1;
        }
        else if (IsWorthCompressing(data[..Math.Min(data.Length, SampleSize)]))
        {
            limit = data.Length - 1;
        }
        else
        {
            return 0;
        }

        return Math.Max(0, compressor.TryCompress(data, destination[..Math.Min(limit, destination.Length)]));
    }

    /// <summary>
    /// Starts an object on <paramref name="destination"/>: write the content to <see cref="ObjectWriter.Stream"/>,
    /// then call <see cref="ObjectWriter.CompleteAsync"/>. Without a key the object is checksummed, not encrypted.
    /// </summary>
    public static ObjectWriter CreateWriter(Stream destination, DataKey? key, bool compress, int compressionLevel = DefaultCompressionLevel) =>
        CreateWriter(destination, key, compress, compressionLevel, workers: 0, sizeHint: 0);

    /// <summary>
    /// Content at least this long is compressed by zstd's worker threads (<see cref="CompressionWorkers"/>): below it
    /// there is too little to split into jobs, and each writer with workers holds a few job buffers (~10 MiB).
    /// </summary>
    internal const long ParallelCompressionThreshold = 16 * 1024 * 1024;

    /// <summary>Worker threads for compressing one large object: every core, at most 4.</summary>
    internal static int CompressionWorkers => Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>
    /// As <see cref="CreateWriter(Stream, DataKey?, bool, int)"/>; with <paramref name="workers"/> &gt; 0 zstd compresses
    /// in that many threads of its own while the caller hashes, seals and writes (the output is one ordinary zstd frame,
    /// read as any other). Compression is most of an import's CPU on text: alone it held the import to one core.
    /// <paramref name="sizeHint"/> is the content's length when known (0: unknown), so that zstd sizes itself to it.
    /// </summary>
    internal static ObjectWriter CreateWriter(Stream destination, DataKey? key, bool compress, int compressionLevel, int workers, long sizeHint = 0)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return new ObjectWriter(destination, key, compress, compressionLevel, workers, sizeHint);
    }

    /// <summary>The length of the object <see cref="EncodeWhole"/> makes of <paramref name="contentLength"/> bytes (compressed or not).</summary>
    internal static int EncodedLength(int contentLength) =>
        ObjectHeader.Size + contentLength + ((contentLength >> ObjectHeader.DefaultSegmentSizeLog2) + 1) * SegmentCipher.TagSize;

    /// <summary>
    /// Writes a whole object into <paramref name="destination"/> (<see cref="EncodedLength"/> bytes) from content held in
    /// memory — the frame of <see cref="TryCompressWhole"/> when <paramref name="compressed"/> — and returns its length:
    /// the layout <see cref="CreateWriter(Stream, DataKey?, bool, int)"/> writes (header, then the same segments; the salt
    /// is each object's own), without a stream, so that a small file is one buffer and one write. The content may already sit where its first segment goes (at
    /// <see cref="ObjectHeader.Size"/> in <paramref name="destination"/>, as when it was compressed there): it is then
    /// sealed in place, the segments moved apart for their tags from the last one back.
    /// </summary>
    internal static int EncodeWhole(ReadOnlySpan<byte> content, DataKey? key, bool compressed, Span<byte> destination)
    {
        System.Diagnostics.Debug.Assert(!content.Overlaps(destination, out var offset) || offset == -ObjectHeader.Size, "content overlaps its destination other than in place");
        Span<byte> objectKey = stackalloc byte[DataKey.Size];
        try
        {
            var header = ObjectHeader.Create(compressed, key, objectKey);
            var headerBytes = destination[..ObjectHeader.Size];
            header.Write(headerBytes);
            using var cipher = new SegmentCipher(headerBytes, key is null ? [] : objectKey);

            // Full segments, then the final one, always shorter (possibly empty): as the segment writer seals them.
            var size = header.SegmentSize;
            var segments = content.Length / size + 1;
            for (var k = segments - 1; k >= 0; k--)
            {
                var plain = content.Slice(k * size, k == segments - 1 ? content.Length - k * size : size);
                var output = destination.Slice(ObjectHeader.Size + k * (size + SegmentCipher.TagSize), plain.Length + SegmentCipher.TagSize);
                plain.CopyTo(output); // a move when the content is in place (nothing when it is there already)
                cipher.Seal(output[..plain.Length], output, (ulong)k, last: k == segments - 1);
            }

            return EncodedLength(content.Length);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(objectKey);
        }
    }

    /// <summary>
    /// Opens an object for reading: the returned stream yields the original content, checking every segment as
    /// it goes. A damaged object is <see cref="InvalidDataException"/>, a truncated one
    /// <see cref="EndOfStreamException"/>, one sealed with another key <see cref="MdmaiException"/> (WrongKey).
    /// The stream owns <paramref name="source"/>.
    /// </summary>
    public static async Task<Stream> OpenReadAsync(Stream source, KeyRing? keys, string name = "object", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var headerBytes = new byte[ObjectHeader.Size];
        var read = await source.ReadAtLeastAsync(headerBytes, headerBytes.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        var header = ObjectHeader.Read(headerBytes.AsSpan(0, read), name);
        var objectKey = new byte[DataKey.Size];
        try
        {
            if ((header.Flags & ObjectFlags.Encrypted) != 0)
            {
                if (keys is null)
                {
                    throw new MdmaiException(MdmaiErrorCode.WrongKey, $"Object {name} is encrypted; unlock the data folder with its password to read it.");
                }

                Span<byte> check = stackalloc byte[8];
                ObjectHeader.DeriveObjectKey(keys.ForEpoch(header.KeyEpoch), header.Salt, objectKey, check);
                if (!CryptographicOperations.FixedTimeEquals(check, header.KeyCheck))
                {
                    throw new MdmaiException(MdmaiErrorCode.WrongKey, $"Object {name} was encrypted with a different key than this data folder's key of epoch {header.KeyEpoch}.");
                }
            }

            var segments = new SegmentReadStream(source, header, headerBytes, (header.Flags & ObjectFlags.Encrypted) != 0 ? objectKey : [], name);
            return (header.Flags & ObjectFlags.Compressed) != 0 ? new DecompressionStream(segments, leaveOpen: false) : segments;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(objectKey);
        }
    }
}

/// <summary>An object being written: content goes to <see cref="Stream"/>; <see cref="CompleteAsync"/> seals it.</summary>
public sealed class ObjectWriter : IAsyncDisposable
{
    private readonly SegmentWriteStream _segments;
    private readonly Stream? _compression;
    private bool _completed;

    internal ObjectWriter(Stream destination, DataKey? key, bool compress, int level, int workers, long sizeHint)
    {
        var objectKey = new byte[DataKey.Size];
        try
        {
            var header = ObjectHeader.Create(compress, key, objectKey);
            _segments = new SegmentWriteStream(destination, header, key is null ? [] : objectKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(objectKey);
        }

        _compression = compress ? Compression.Zstd.CreateCompressionStream(_segments, level, workers, leaveOpen: true, sizeHint) : null;

        Stream = (Stream?)_compression ?? _segments;
    }

    /// <summary>Where the content is written.</summary>
    public Stream Stream { get; }

    /// <summary>Bytes the object takes in its destination (valid after <see cref="CompleteAsync"/>).</summary>
    public long StoredLength => _segments.StoredLength;

    /// <summary>Ends the compressed stream and writes the final segment: only now is the object complete.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        if (_compression is not null)
        {
            await _compression.DisposeAsync().ConfigureAwait(false);
        }

        await _segments.CompleteAsync(cancellationToken).ConfigureAwait(false);
        _completed = true;
    }

    /// <summary>Releases buffers; an object not completed stays incomplete (it reads as truncated).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_completed && _compression is not null)
        {
            // Disposing the compressor would flush a frame end into the segments; the object must stay
            // visibly incomplete instead, so only its buffers are released.
            _segments.Dispose();
            try
            {
                await _compression.DisposeAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // Expected: the compressor's last flush finds the segment writer closed.
            }

            return;
        }

        await _segments.DisposeAsync().ConfigureAwait(false);
    }
}
