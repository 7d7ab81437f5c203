using System.Buffers.Binary;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>What a blob holds: file content, or a part of a snapshot's file list.</summary>
internal enum BlobType : byte
{
    Data = 0,
    Tree = 1,
}

/// <summary>Where a blob is: its pack, offset and sealed length, its plaintext length, and whether it is zstd-compressed.</summary>
internal readonly record struct BlobLocation(UInt128 Pack, uint Offset, uint StoredLength, uint RawLength, BlobType Type, bool Compressed);

/// <summary>A blob sealed and ready for a pack: <see cref="Data"/>, held by <see cref="Lease"/>, which is disposed once the blob is written.</summary>
internal sealed record SealedBlob(BlobId Id, BlobType Type, bool Compressed, uint RawLength, ReadOnlyMemory<byte> Data, IDisposable Lease)
{
    public int Length => Data.Length;
}

/// <summary>An array rented from the shared pool, returned when disposed.</summary>
internal sealed class RentedArray(int size) : IDisposable
{
    public byte[] Array { get; } = System.Buffers.ArrayPool<byte>.Shared.Rent(size);

    public void Dispose() => System.Buffers.ArrayPool<byte>.Shared.Return(Array);
}

/// <summary>One blob of a pack, as its header and the index record it.</summary>
internal readonly record struct PackEntry(BlobId Id, BlobType Type, bool Compressed, uint Offset, uint StoredLength, uint RawLength);

/// <summary>
/// The pack file format (docs/backup-format.md): sealed blobs back to back, then the sealed pack header (entry count
/// and one 44-byte record per blob), then a 12-byte trailer (the sealed header's length, "MDMPACK1").
/// </summary>
internal static class PackFormat
{
    public const int TrailerSize = 12;
    public const int HeaderEntrySize = 44;
    public const int IndexEntrySize = 48;

    public static ReadOnlySpan<byte> Magic => "MDMPACK1"u8;

    public static byte[] HeaderAssociatedData(UInt128 pack)
    {
        var aad = new byte[16 + 17];
        "mdmai-pack-header"u8.CopyTo(aad);
        BinaryPrimitives.WriteUInt128BigEndian(aad.AsSpan(17), pack);
        return aad;
    }

    public static byte[] EncodeHeader(IReadOnlyList<PackEntry> entries)
    {
        var bytes = new byte[4 + (entries.Count * HeaderEntrySize)];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)entries.Count);
        var span = bytes.AsSpan(4);
        foreach (var e in entries)
        {
            span[0] = (byte)e.Type;
            span[1] = e.Compressed ? (byte)1 : (byte)0;
            span[2] = span[3] = 0;
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], e.RawLength);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], e.StoredLength);
            e.Id.Write(span[12..]);
            span = span[HeaderEntrySize..];
        }

        return bytes;
    }

    public static List<PackEntry> DecodeHeader(ReadOnlySpan<byte> bytes, string pack)
    {
        var count = bytes.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : uint.MaxValue;
        if (count > (bytes.Length - 4) / HeaderEntrySize || bytes.Length != 4 + (count * HeaderEntrySize))
        {
            throw new InvalidDataException($"The header of pack '{pack}' is malformed.");
        }

        var entries = new List<PackEntry>((int)count);
        uint offset = 0;
        var span = bytes[4..];
        for (var i = 0; i < count; i++)
        {
            var type = span[0];
            if (type > 1 || span[1] > 1)
            {
                throw new InvalidDataException($"The header of pack '{pack}' has an unknown blob type or flag.");
            }

            var raw = BinaryPrimitives.ReadUInt32LittleEndian(span[4..]);
            var stored = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
            entries.Add(new PackEntry(BlobId.Read(span[12..]), (BlobType)type, span[1] == 1, offset, stored, raw));
            offset += stored;
            span = span[HeaderEntrySize..];
        }

        return entries;
    }

    /// <summary>Reads and opens a pack's header from the pack alone (to rebuild the index, or to check a pack against it).</summary>
    /// <summary>
    /// Reads and checks a pack's header. The pack's tail is read in one request (16 KiB: the header of a pack of up to
    /// ~370 blobs with the trailer), a second only for a larger header; <paramref name="knownLength"/> (from a listing)
    /// spares asking the length.
    /// </summary>
    public static async Task<List<PackEntry>> ReadHeaderAsync(IBackupBackend backend, RepositoryCrypto crypto, string name, UInt128 pack, CancellationToken cancellationToken, long? knownLength = null)
    {
        var length = knownLength ?? await backend.LengthAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new FileNotFoundException($"Pack '{name}' is missing from the repository.", name);
        if (length < TrailerSize + RepositoryCrypto.Overhead)
        {
            throw new InvalidDataException($"Pack '{name}' is truncated ({length} bytes).");
        }

        var tail = new byte[(int)Math.Min(length, 16 * 1024)];
        await ReadExactlyAsync(backend, name, length - tail.Length, tail, cancellationToken).ConfigureAwait(false);
        var trailer = tail.AsSpan(tail.Length - TrailerSize);
        if (!trailer[4..].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"Pack '{name}' is truncated or not a pack (no trailer).");
        }

        var headerLength = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (headerLength > length - TrailerSize || headerLength < RepositoryCrypto.Overhead)
        {
            throw new InvalidDataException($"Pack '{name}' has a header length that does not fit the pack.");
        }

        byte[] sealedHeader;
        if (headerLength <= tail.Length - TrailerSize)
        {
            sealedHeader = tail.AsSpan(tail.Length - TrailerSize - (int)headerLength, (int)headerLength).ToArray();
        }
        else
        {
            sealedHeader = new byte[headerLength];
            await ReadExactlyAsync(backend, name, length - TrailerSize - headerLength, sealedHeader, cancellationToken).ConfigureAwait(false);
        }

        var header = crypto.Open(sealedHeader, HeaderAssociatedData(pack), $"The header of pack '{name}'");
        var entries = DecodeHeader(header, name);
        long end = entries.Count == 0 ? 0 : entries[^1].Offset + (long)entries[^1].StoredLength;
        if (end != length - TrailerSize - headerLength)
        {
            throw new InvalidDataException($"Pack '{name}' does not hold the blobs its header lists (sizes disagree).");
        }

        return entries;
    }

    public static async Task ReadExactlyAsync(IBackupBackend backend, string name, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < destination.Length)
        {
            var n = await backend.ReadAsync(name, offset + read, destination[read..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new InvalidDataException($"'{name}' is truncated: it ended before byte {offset + destination.Length}.");
            }

            read += n;
        }
    }
}
