using System.Buffers.Binary;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// The 32-byte id of a chunk or tree blob: its keyed hash (HMAC-SHA-256, or SHA-256 when the repository is not encrypted).
/// Ids order as their bytes do (big-endian words), the order of the index's runs on disk.
/// </summary>
internal readonly record struct BlobId(ulong A, ulong B, ulong C, ulong D) : IComparable<BlobId>
{
    public const int Size = 32;

    public int CompareTo(BlobId other) =>
        A != other.A ? A.CompareTo(other.A)
        : B != other.B ? B.CompareTo(other.B)
        : C != other.C ? C.CompareTo(other.C)
        : D.CompareTo(other.D);

    public static BlobId Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64BigEndian(bytes),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));

    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt64BigEndian(bytes, A);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], B);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[16..], C);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[24..], D);
    }

    public static BlobId Parse(string hex)
    {
        if (hex.Length != Size * 2)
        {
            throw new FormatException($"'{hex}' is not a blob id.");
        }

        return Read(Convert.FromHexString(hex));
    }

    public static bool TryParse(string hex, out BlobId id)
    {
        id = default;
        if (hex.Length != Size * 2 || !hex.All(char.IsAsciiHexDigit))
        {
            return false;
        }

        id = Read(Convert.FromHexString(hex));
        return true;
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Size];
        Write(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}

/// <summary>Names of the repository's items (docs/backup-format.md).</summary>
internal static class RepositoryNames
{
    public const string Config = "config";
    public const string Keys = "keys";
    public const string Data = "data";
    public const string Index = "index";
    public const string Snapshots = "snapshots";
    public const string Locks = "locks";

    public static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public static string Pack(UInt128 id)
    {
        var hex = PackHex(id);
        return $"{Data}/{hex[..2]}/{hex}";
    }

    public static string PackHex(UInt128 id) => id.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);

    public static UInt128 NewPackId()
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    public static bool TryParsePack(string name, out UInt128 id)
    {
        id = default;
        var hex = name[(name.LastIndexOf('/') + 1)..];
        return name.StartsWith(Data + "/", StringComparison.Ordinal) && hex.Length == 32
            && UInt128.TryParse(hex, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out id);
    }

    /// <summary>The last path segment of an item name.</summary>
    public static string Leaf(string name) => name[(name.LastIndexOf('/') + 1)..];
}
