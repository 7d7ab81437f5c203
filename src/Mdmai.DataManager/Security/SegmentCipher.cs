using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;

namespace Mdmai.DataManager.Security;

/// <summary>
/// The span core of the object format: seals and opens one segment. Encrypted objects use AES-256-GCM
/// with a STREAM nonce (segment counter and a final-segment flag), so reordered, dropped or appended
/// segments fail to open. Unencrypted objects use the same framing with an XxHash128 checksum as the tag.
/// The object header is the associated data of every segment.
/// </summary>
internal sealed class SegmentCipher : IDisposable
{
    public const int TagSize = 16;
    private const int NonceSize = 12;

    private readonly AesGcm? _aes;
    private readonly byte[] _header;

    public SegmentCipher(ReadOnlySpan<byte> header, ReadOnlySpan<byte> key)
    {
        _header = header.ToArray();
        _aes = key.IsEmpty ? null : new AesGcm(key, TagSize);
    }

    public void Seal(ReadOnlySpan<byte> plain, Span<byte> output, ulong counter, bool last)
    {
        var tag = output.Slice(plain.Length, TagSize);
        if (_aes is null)
        {
            plain.CopyTo(output);
            Checksum(plain, counter, last, tag);
            return;
        }

        Span<byte> nonce = stackalloc byte[NonceSize];
        Nonce(counter, last, nonce);
        _aes.Encrypt(nonce, plain, output[..plain.Length], tag, _header);
    }

    public bool TryOpen(ReadOnlySpan<byte> sealedSegment, Span<byte> plain, ulong counter, bool last)
    {
        var length = sealedSegment.Length - TagSize;
        var tag = sealedSegment[length..];
        if (_aes is null)
        {
            Span<byte> expected = stackalloc byte[TagSize];
            Checksum(sealedSegment[..length], counter, last, expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, tag))
            {
                return false;
            }

            sealedSegment[..length].CopyTo(plain);
            return true;
        }

        Span<byte> nonce = stackalloc byte[NonceSize];
        Nonce(counter, last, nonce);
        try
        {
            _aes.Decrypt(nonce, sealedSegment[..length], tag, plain[..length], _header);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    private static void Nonce(ulong counter, bool last, Span<byte> nonce)
    {
        nonce.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce[3..11], counter);
        nonce[11] = last ? (byte)1 : (byte)0;
    }

    private void Checksum(ReadOnlySpan<byte> data, ulong counter, bool last, Span<byte> tag)
    {
        var hash = new XxHash128();
        hash.Append(_header);
        Span<byte> position = stackalloc byte[9];
        BinaryPrimitives.WriteUInt64BigEndian(position, counter);
        position[8] = last ? (byte)1 : (byte)0;
        hash.Append(position);
        hash.Append(data);
        hash.GetCurrentHash(tag);
    }

    public void Dispose() => _aes?.Dispose();
}
