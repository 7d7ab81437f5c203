using System.Security.Cryptography;
using System.Text;

namespace Mdmai.DataManager.Security;

/// <summary>
/// Encrypts sensitive text columns (docs/key-file.md): <c>enc:v1:&lt;epoch&gt;:&lt;base64(nonce ‖ ciphertext ‖ tag)&gt;</c>,
/// AES-256-GCM under a column key derived from the data key of that epoch, with the table, column and
/// record id as associated data — a value copied to another row or column does not decrypt.
/// </summary>
internal sealed class ColumnCipher : IDisposable
{
    public const string Prefix = "enc:v1:";
    private readonly Dictionary<uint, AesGcm> _byEpoch = [];
    private readonly uint _current;

    public ColumnCipher(KeyRing keys)
    {
        _current = keys.Current.Epoch;
        Span<byte> key = stackalloc byte[DataKey.Size];
        foreach (var epoch in keys.Epochs)
        {
            keys.ForEpoch(epoch).Derive([], "mdmai/column/v1"u8, key);
            _byEpoch[epoch] = new AesGcm(key, 16);
        }

        CryptographicOperations.ZeroMemory(key);
    }

    public static bool IsEncrypted(string value) => value.StartsWith(Prefix, StringComparison.Ordinal);

    public string Encrypt(string plaintext, string table, string column, string id)
    {
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var sealedValue = new byte[12 + plain.Length + 16];
        RandomNumberGenerator.Fill(sealedValue.AsSpan(0, 12));
        lock (_byEpoch)
        {
            _byEpoch[_current].Encrypt(sealedValue.AsSpan(0, 12), plain, sealedValue.AsSpan(12, plain.Length), sealedValue.AsSpan(12 + plain.Length), Context(table, column, id));
        }

        CryptographicOperations.ZeroMemory(plain);
        return $"{Prefix}{_current}:{Convert.ToBase64String(sealedValue)}";
    }

    public string Decrypt(string value, string table, string column, string id)
    {
        var rest = value.AsSpan(Prefix.Length);
        var colon = rest.IndexOf(':');
        if (colon <= 0 || !uint.TryParse(rest[..colon], out var epoch))
        {
            throw Damaged(table, column, id);
        }

        if (!_byEpoch.TryGetValue(epoch, out var aes))
        {
            throw new MdmaiException(MdmaiErrorCode.WrongKey, $"{table}.{column} of '{id}' was encrypted with key epoch {epoch}, which the key file does not hold.");
        }

        byte[] sealedValue;
        try
        {
            sealedValue = Convert.FromBase64String(rest[(colon + 1)..].ToString());
        }
        catch (FormatException)
        {
            throw Damaged(table, column, id);
        }

        if (sealedValue.Length < 28)
        {
            throw Damaged(table, column, id);
        }

        var plain = new byte[sealedValue.Length - 28];
        try
        {
            lock (_byEpoch)
            {
                aes.Decrypt(sealedValue.AsSpan(0, 12), sealedValue.AsSpan(12, plain.Length), sealedValue.AsSpan(12 + plain.Length), plain, Context(table, column, id));
            }

            return Encoding.UTF8.GetString(plain);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw Damaged(table, column, id);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static MdmaiException Damaged(string table, string column, string id) =>
        new(MdmaiErrorCode.Corrupt, $"The encrypted value of {table}.{column} for '{id}' is damaged or belongs to another record. Restore it from a backup.");

    private static byte[] Context(string table, string column, string id) => Encoding.UTF8.GetBytes($"{table}\u001f{column}\u001f{id}");

    public void Dispose()
    {
        foreach (var aes in _byEpoch.Values)
        {
            aes.Dispose();
        }
    }
}
