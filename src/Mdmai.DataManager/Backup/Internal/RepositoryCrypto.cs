using System.IO.Hashing;
using System.Security.Cryptography;
using Mdmai.DataManager.Security;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// The repository's keys and the one sealing scheme every stored blob uses (docs/backup-format.md):
/// <c>nonce(12) ‖ ciphertext ‖ tag(16)</c> with AES-256-GCM under the blob key and a caller-given associated data,
/// or — in a repository without encryption — twelve zero bytes, the plaintext, and an XxHash128 of the associated
/// data and plaintext. Blob ids are HMAC-SHA-256 under the id key (plain SHA-256 without encryption), like the file store's.
/// </summary>
internal sealed class RepositoryCrypto : IDisposable
{
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int Overhead = NonceSize + TagSize;

    private readonly byte[]? _blobKey;
    private readonly byte[]? _idKey;

    private RepositoryCrypto(byte[]? blobKey, byte[]? idKey, byte[] gearSeed)
    {
        _blobKey = blobKey;
        _idKey = idKey;
        GearSeed = gearSeed;
    }

    public bool Encrypted => _blobKey is not null;

    public byte[] GearSeed { get; }

    /// <summary>Keys derived from the repository's data key.</summary>
    public static RepositoryCrypto FromKey(DataKey key)
    {
        var blob = GC.AllocateArray<byte>(32, pinned: true);
        var id = GC.AllocateArray<byte>(32, pinned: true);
        var gear = GC.AllocateArray<byte>(32, pinned: true);
        key.Derive([], "mdmai/backup/blob/v1"u8, blob);
        key.Derive([], "mdmai/backup/id/v1"u8, id);
        key.Derive([], "mdmai/backup/gear-seed/v1"u8, gear);
        return new RepositoryCrypto(blob, id, gear);
    }

    /// <summary>The same keys in memory of their own (a repository that shares another's keys zeroes its copy alone).</summary>
    public RepositoryCrypto Clone()
    {
        static byte[]? Copy(byte[]? key)
        {
            if (key is null)
            {
                return null;
            }

            var copy = GC.AllocateArray<byte>(key.Length, pinned: true);
            key.CopyTo(copy, 0);
            return copy;
        }

        return new RepositoryCrypto(Copy(_blobKey), Copy(_idKey), Copy(GearSeed)!);
    }

    /// <summary>No encryption: checksummed blobs, SHA-256 ids, a gear table from the repository id.</summary>
    public static RepositoryCrypto Unencrypted(string repositoryId) =>
        new(null, null, SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("mdmai/backup/gear-seed/" + repositoryId)));

    /// <summary>A value that tells this repository's key from another without revealing it (recorded in the config).</summary>
    public string KeyCheck(string repositoryId)
    {
        var check = _idKey is null
            ? SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("mdmai/backup/key-check/" + repositoryId))
            : HMACSHA256.HashData(_idKey, System.Text.Encoding.UTF8.GetBytes("mdmai/backup/key-check/" + repositoryId));
        return Convert.ToHexStringLower(check.AsSpan(0, 16));
    }

    public BlobId ComputeId(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[32];
        if (_idKey is null)
        {
            SHA256.HashData(data, hash);
        }
        else
        {
            HMACSHA256.HashData(_idKey, data, hash);
        }

        return BlobId.Read(hash);
    }

    /// <summary>Seals <paramref name="output"/>[<see cref="NonceSize"/>..+plainLength] in place; the output holds <c>plainLength + Overhead</c> bytes.</summary>
    public void SealInPlace(Span<byte> output, int plainLength, ReadOnlySpan<byte> associated)
    {
        var nonce = output[..NonceSize];
        var body = output.Slice(NonceSize, plainLength);
        var tag = output.Slice(NonceSize + plainLength, TagSize);
        if (_blobKey is null)
        {
            nonce.Clear();
            Checksum(associated, body, tag);
            return;
        }

        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_blobKey, TagSize);
        aes.Encrypt(nonce, body, body, tag, associated);
    }

    /// <summary>Seals a copy of <paramref name="plain"/>.</summary>
    public byte[] Seal(ReadOnlySpan<byte> plain, ReadOnlySpan<byte> associated)
    {
        var output = new byte[plain.Length + Overhead];
        plain.CopyTo(output.AsSpan(NonceSize));
        SealInPlace(output, plain.Length, associated);
        return output;
    }

    /// <summary>Opens a sealed blob into <paramref name="plain"/> (length − <see cref="Overhead"/> bytes); false when it was damaged or sealed otherwise.</summary>
    public bool TryOpen(ReadOnlySpan<byte> sealedBlob, Span<byte> plain, ReadOnlySpan<byte> associated)
    {
        if (sealedBlob.Length < Overhead)
        {
            return false;
        }

        var length = sealedBlob.Length - Overhead;
        var nonce = sealedBlob[..NonceSize];
        var body = sealedBlob.Slice(NonceSize, length);
        var tag = sealedBlob[(NonceSize + length)..];
        if (_blobKey is null)
        {
            // The nonce is unused without encryption and written as zeros: anything else there is damage (bit rot
            // the checksum alone would not cover), reported like damage anywhere else.
            if (nonce.ContainsAnyExcept((byte)0))
            {
                return false;
            }

            Span<byte> expected = stackalloc byte[TagSize];
            Checksum(associated, body, expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, tag))
            {
                return false;
            }

            body.CopyTo(plain);
            return true;
        }

        try
        {
            using var aes = new AesGcm(_blobKey, TagSize);
            aes.Decrypt(nonce, body, tag, plain[..length], associated);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    /// <summary>Opens a sealed blob; a damaged one is <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public byte[] Open(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associated, string what)
    {
        var plain = new byte[Math.Max(0, sealedBlob.Length - Overhead)];
        if (!TryOpen(sealedBlob, plain, associated))
        {
            throw new InvalidDataException($"{what} is damaged: its authentication tag does not match (or it was written with another key).");
        }

        return plain;
    }

    private static void Checksum(ReadOnlySpan<byte> associated, ReadOnlySpan<byte> data, Span<byte> tag)
    {
        var hash = new XxHash128();
        hash.Append(associated);
        hash.Append(data);
        hash.GetCurrentHash(tag);
    }

    public void Dispose()
    {
        if (_blobKey is not null)
        {
            CryptographicOperations.ZeroMemory(_blobKey);
        }

        if (_idKey is not null)
        {
            CryptographicOperations.ZeroMemory(_idKey);
        }

        CryptographicOperations.ZeroMemory(GearSeed);
    }
}
