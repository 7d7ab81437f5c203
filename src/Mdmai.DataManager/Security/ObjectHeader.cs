using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Mdmai.DataManager.Security;

/// <summary>Flags of an object header.</summary>
[Flags]
internal enum ObjectFlags : byte
{
    None = 0,
    Compressed = 1,
    Encrypted = 2,
}

/// <summary>
/// The 40-byte header of a framed object (docs/object-format.md): magic <c>MDMO</c>, version, flags,
/// segment size, key epoch, per-object salt and key check.
/// </summary>
internal readonly record struct ObjectHeader(ObjectFlags Flags, int SegmentSizeLog2, uint KeyEpoch, byte[] Salt, byte[] KeyCheck)
{
    public const int Size = 40;
    public const byte Version = 1;
    public const int DefaultSegmentSizeLog2 = 18; // 256 KiB
    private const int MinSegmentSizeLog2 = 10, MaxSegmentSizeLog2 = 24;

    public static ReadOnlySpan<byte> Magic => "MDMO"u8;

    public int SegmentSize => 1 << SegmentSizeLog2;

    public void Write(Span<byte> destination)
    {
        destination[..Size].Clear();
        Magic.CopyTo(destination);
        destination[4] = Version;
        destination[5] = (byte)Flags;
        destination[6] = (byte)SegmentSizeLog2;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..12], KeyEpoch);
        Salt.CopyTo(destination[12..28]);
        KeyCheck.CopyTo(destination[28..36]);
    }

    public static ObjectHeader Read(ReadOnlySpan<byte> source, string name)
    {
        if (source.Length < Size)
        {
            throw new EndOfStreamException($"Object {name} is truncated: its header is {source.Length} of {Size} bytes.");
        }

        if (!source[..4].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"Object {name} is not an mdmai object (bad magic). It is damaged; restore it from a backup.");
        }

        if (source[4] != Version)
        {
            throw new InvalidDataException($"Object {name} has format version {source[4]}; this mdmai reads version {Version}. Upgrade mdmai.");
        }

        var flags = (ObjectFlags)source[5];
        var log2 = source[6];
        if ((flags & ~(ObjectFlags.Compressed | ObjectFlags.Encrypted)) != 0 || log2 is < MinSegmentSizeLog2 or > MaxSegmentSizeLog2 || source[7] != 0
            || BinaryPrimitives.ReadUInt32LittleEndian(source[36..40]) != 0)
        {
            throw new InvalidDataException($"Object {name} has a damaged header. Restore it from a backup.");
        }

        return new ObjectHeader(flags, log2, BinaryPrimitives.ReadUInt32LittleEndian(source[8..12]), source[12..28].ToArray(), source[28..36].ToArray());
    }

    /// <summary>A new header with a fresh salt; for encryption, also the object key derived from it.</summary>
    public static ObjectHeader Create(bool compressed, DataKey? key, Span<byte> objectKey, int segmentSizeLog2 = DefaultSegmentSizeLog2)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var check = new byte[8];
        var flags = compressed ? ObjectFlags.Compressed : ObjectFlags.None;
        if (key is not null)
        {
            flags |= ObjectFlags.Encrypted;
            DeriveObjectKey(key, salt, objectKey, check);
        }

        return new ObjectHeader(flags, segmentSizeLog2, key?.Epoch ?? 0, salt, check);
    }

    /// <summary>Object key and key check from the data key and the object's salt (HKDF-SHA-256, 40 bytes).</summary>
    public static void DeriveObjectKey(DataKey key, ReadOnlySpan<byte> salt, Span<byte> objectKey, Span<byte> keyCheck)
    {
        Span<byte> material = stackalloc byte[DataKey.Size + 8];
        key.Derive(salt, "mdmai/object/v1"u8, material);
        material[..DataKey.Size].CopyTo(objectKey);
        material[DataKey.Size..].CopyTo(keyCheck);
        CryptographicOperations.ZeroMemory(material);
    }
}
