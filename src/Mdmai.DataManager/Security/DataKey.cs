using System.Security.Cryptography;

namespace Mdmai.DataManager.Security;

/// <summary>
/// A 256-bit data key of one epoch. The bytes live in pinned memory (never moved, never copied by the GC)
/// and are zeroed on <see cref="Dispose"/>.
/// </summary>
public sealed class DataKey : IDisposable
{
    /// <summary>Key length in bytes.</summary>
    public const int Size = 32;

    private readonly byte[] _key = GC.AllocateArray<byte>(Size, pinned: true);
    private bool _disposed;

    internal DataKey(uint epoch, ReadOnlySpan<byte> key)
    {
        if (key.Length != Size)
        {
            throw new ArgumentException($"A data key is {Size} bytes.", nameof(key));
        }

        Epoch = epoch;
        key.CopyTo(_key);
    }

    /// <summary>Creates a fresh random key.</summary>
    internal static DataKey CreateRandom(uint epoch)
    {
        Span<byte> bytes = stackalloc byte[Size];
        RandomNumberGenerator.Fill(bytes);
        try
        {
            return new DataKey(epoch, bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>The key epoch: objects record the epoch whose key encrypted them.</summary>
    public uint Epoch { get; }

    internal ReadOnlySpan<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _key;
        }
    }

    /// <summary>Derives a sub-key bound to <paramref name="purpose"/> and <paramref name="salt"/> (HKDF-SHA-256).</summary>
    internal void Derive(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> purpose, Span<byte> output) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Bytes, output, salt, purpose);

    /// <summary>Zeroes the key.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            CryptographicOperations.ZeroMemory(_key);
            _disposed = true;
        }
    }
}

/// <summary>The data keys of every epoch, unlocked from the key file; new writes use the newest.</summary>
public sealed class KeyRing : IDisposable
{
    private readonly SortedDictionary<uint, DataKey> _keys = [];

    internal KeyRing(IEnumerable<DataKey> keys)
    {
        foreach (var key in keys)
        {
            _keys.Add(key.Epoch, key);
        }

        if (_keys.Count == 0)
        {
            throw new ArgumentException("A key ring needs at least one key.", nameof(keys));
        }
    }

    /// <summary>The key new objects are written with.</summary>
    public DataKey Current => _keys.Last().Value;

    /// <summary>Every epoch the ring holds, oldest first.</summary>
    public IReadOnlyCollection<uint> Epochs => _keys.Keys;

    /// <summary>The key of an epoch; an unknown epoch is a clear error.</summary>
    public DataKey ForEpoch(uint epoch) => _keys.TryGetValue(epoch, out var key)
        ? key
        : throw new MdmaiException(MdmaiErrorCode.WrongKey, $"No data key of epoch {epoch} is in the key file: the object was written with a key this data folder does not have.");

    /// <summary>Zeroes every key.</summary>
    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }
    }
}
