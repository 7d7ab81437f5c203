using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Mdmai.DataManager.IO;
using NSec.Cryptography;

namespace Mdmai.DataManager.Security;

/// <summary>Argon2id cost parameters, recorded in the key file with every password slot.</summary>
/// <param name="MemoryKib">Memory in KiB (default 40 MiB).</param>
/// <param name="Iterations">Passes over the memory (default 6).</param>
/// <param name="Parallelism">Lanes (libsodium supports 1).</param>
public sealed record KdfParameters(long MemoryKib = 40_960, long Iterations = 6, int Parallelism = 1)
{
    /// <summary>
    /// The defaults: 40 MiB, 6 passes, 1 lane — memory a backup process can spend on the unlock within its 80 MB bound,
    /// and passes for more memory × passes than 64 MiB × 3 (the same unlock time; docs/adr/0006-kdf-cost.md).
    /// </summary>
    public static KdfParameters Default { get; } = new();
}

/// <summary>
/// The key file (<c>mdmai.keys</c>, docs/key-file.md): envelope encryption in two layers. Each slot — the
/// password (Argon2id) or a recovery key — wraps one random master key with AES-256-GCM; the master key wraps
/// the data key of every epoch. Changing the password rewraps the master key only, so it takes the same
/// time for one file or a million. Every change is written atomically.
/// </summary>
public sealed class KeyFile
{
    /// <summary>File name of the key file in the data folder.</summary>
    public const string FileName = "mdmai.keys";

    private const int FormatVersion = 1;
    private const string Format = "mdmai-keys";

    private static readonly JsonSerializerOptions Json = new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    }.Generated(SecurityJsonContext.Default);

    private readonly string? _path;
    private Document _document;

    private KeyFile(string? path, Document document)
    {
        _path = path;
        _document = document;
    }

    /// <summary>The key epochs the file holds, oldest first.</summary>
    public IReadOnlyList<uint> Epochs => [.. _document.DataKeys.Select(k => k.Epoch)];

    /// <summary>Whether a recovery key slot exists.</summary>
    public bool HasRecoveryKey => _document.Slots.Any(s => s.Kind == "recovery");

    /// <summary>The Argon2id parameters of the password slot.</summary>
    public KdfParameters PasswordKdf
    {
        get
        {
            var slot = _document.Slots.First(s => s.Kind == "password");
            return new KdfParameters(slot.MemoryKib ?? 0, slot.Iterations ?? 0, slot.Parallelism ?? 1);
        }
    }

    /// <summary>Creates a key file protected by <paramref name="password"/>, with a random master key and the data key of epoch 1.</summary>
    /// <exception cref="MdmaiException"><see cref="MdmaiErrorCode.AlreadyExists"/> when the file exists.</exception>
    public static async Task<KeyFile> CreateAsync(string path, string password, KdfParameters? kdf = null, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        RequirePassword(password);
        if (File.Exists(path))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"A key file already exists at '{path}'. Use 'mdmai key change-password' to change its password.");
        }

        var file = new KeyFile(Path.GetFullPath(path), NewDocument(password, kdf, clock));
        await file.SaveAsync(cancellationToken).ConfigureAwait(false);
        return file;
    }

    /// <summary>A new key file that lives in memory only (a backup repository stores it through its backend).</summary>
    internal static KeyFile CreateDetached(string password, KdfParameters? kdf = null, TimeProvider? clock = null)
    {
        RequirePassword(password);
        return new KeyFile(null, NewDocument(password, kdf, clock));
    }

    /// <summary>Parses key file bytes; <paramref name="label"/> names the file in errors.</summary>
    internal static KeyFile Parse(ReadOnlySpan<byte> bytes, string label)
    {
        Document? document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, Json.For<Document>());
        }
        catch (JsonException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The key file '{label}' is damaged or truncated ({ex.Message.Split(" Path: ")[0]}).", ex);
        }

        return new KeyFile(null, Validate(document, label));
    }

    /// <summary>The key file's bytes, as written to disk.</summary>
    internal byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(_document, Json.For<Document>());

    private static Document NewDocument(string password, KdfParameters? kdf, TimeProvider? clock)
    {
        var now = Timestamps.Format((clock ?? TimeProvider.System).GetUtcNow());
        var master = GC.AllocateArray<byte>(DataKey.Size, pinned: true);
        var data = GC.AllocateArray<byte>(DataKey.Size, pinned: true);
        try
        {
            RandomNumberGenerator.Fill(master);
            RandomNumberGenerator.Fill(data);
            return new Document
            {
                Format = Format,
                Version = FormatVersion,
                CreatedAt = now,
                Slots = [PasswordSlot(password, master, kdf ?? KdfParameters.Default)],
                DataKeys = [WrapDataKey(master, 1, data, now)],
            };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(master);
            CryptographicOperations.ZeroMemory(data);
        }
    }

    /// <summary>Reads a key file; a missing, truncated or foreign one is a clear error.</summary>
    public static async Task<KeyFile> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        Document? document;
        try
        {
            await using var stream = File.OpenRead(path);
            document = await JsonSerializer.DeserializeAsync(stream, Json.For<Document>(), cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.NotFound, $"No key file at '{path}'. The data folder is not encrypted, or its key file was lost: restore it from a backup.", ex);
        }
        catch (JsonException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The key file '{path}' is damaged or truncated ({ex.Message.Split(" Path: ")[0]}). Restore it from a backup; without it encrypted data cannot be read.", ex);
        }

        return new KeyFile(Path.GetFullPath(path), Validate(document, path));
    }

    private static Document Validate(Document? document, string path)
    {
        if (document is null || document.Format != Format || document.Slots.Count == 0 || document.DataKeys.Count == 0
            || document.Slots.All(s => s.Kind != "password"))
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{path}' is not an mdmai key file, or it is incomplete. Restore it from a backup.");
        }

        if (document.Version > FormatVersion)
        {
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"The key file '{path}' has format version {document.Version}; this mdmai reads {FormatVersion}. Upgrade mdmai.");
        }

        return document;
    }

    /// <summary>Unlocks the data keys with the password.</summary>
    /// <exception cref="MdmaiException"><see cref="MdmaiErrorCode.WrongPassword"/> when it is not the password.</exception>
    public KeyRing Unlock(string password)
    {
        RequirePassword(password);
        var slot = _document.Slots.First(s => s.Kind == "password");
        return WithMaster(slot, password, master => OpenRing(master));
    }

    /// <summary>Unlocks the data keys with the recovery key printed by <see cref="AddRecoveryKeyAsync"/>.</summary>
    public KeyRing UnlockWithRecoveryKey(string recoveryKey)
    {
        ArgumentNullException.ThrowIfNull(recoveryKey);
        var slot = _document.Slots.FirstOrDefault(s => s.Kind == "recovery")
            ?? throw new MdmaiException(MdmaiErrorCode.WrongPassword, "This key file has no recovery key. Unlock it with the password.");
        return WithMaster(slot, recoveryKey, master => OpenRing(master));
    }

    /// <summary>Rewraps the master key under a new password. No data is re-encrypted.</summary>
    public Task ChangePasswordAsync(string currentPassword, string newPassword, CancellationToken cancellationToken = default)
    {
        RequirePassword(newPassword);
        var old = _document.Slots.First(s => s.Kind == "password");
        var replacement = WithMaster(old, currentPassword, master => PasswordSlot(newPassword, master, PasswordKdf));
        return UpdateAsync(d => d with { Slots = [.. d.Slots.Select(s => s.Kind == "password" ? replacement : s)] }, cancellationToken);
    }

    /// <summary>
    /// Adds (or replaces) the recovery slot and returns the recovery key — 256 random bits as text. It is
    /// shown once and never stored: whoever holds it can unlock the data.
    /// </summary>
    public async Task<string> AddRecoveryKeyAsync(string password, CancellationToken cancellationToken = default)
    {
        var secret = RandomNumberGenerator.GetBytes(DataKey.Size);
        var text = FormatRecoveryKey(secret);
        CryptographicOperations.ZeroMemory(secret);
        var slot = WithMaster(_document.Slots.First(s => s.Kind == "password"), password, master => RecoverySlot(text, master));
        await UpdateAsync(d => d with { Slots = [.. d.Slots.Where(s => s.Kind != "recovery"), slot] }, cancellationToken).ConfigureAwait(false);
        return text;
    }

    /// <summary>Adds the data key of a new epoch; new objects are written with it. Returns the new epoch.</summary>
    public async Task<uint> AddEpochAsync(string password, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        var epoch = _document.DataKeys.Max(k => k.Epoch) + 1;
        var now = Timestamps.Format((clock ?? TimeProvider.System).GetUtcNow());
        var wrapped = WithMaster(_document.Slots.First(s => s.Kind == "password"), password, master =>
        {
            var data = GC.AllocateArray<byte>(DataKey.Size, pinned: true);
            try
            {
                RandomNumberGenerator.Fill(data);
                return WrapDataKey(master, epoch, data, now);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(data);
            }
        });
        await UpdateAsync(d => d with { DataKeys = [.. d.DataKeys, wrapped] }, cancellationToken).ConfigureAwait(false);
        return epoch;
    }

    private async Task UpdateAsync(Func<Document, Document> change, CancellationToken cancellationToken)
    {
        var previous = _document;
        _document = change(_document);
        try
        {
            await SaveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _document = previous;
            throw;
        }
    }

    private Task SaveAsync(CancellationToken cancellationToken) => _path is null
        ? Task.CompletedTask
        : AtomicFile.WriteAllBytesAsync(_path, ToBytes(), cancellationToken);

    private static void RequirePassword(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length == 0)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "The password must not be empty.");
        }
    }

    private static T WithMaster<T>(Slot slot, string secret, Func<byte[], T> use)
    {
        var kek = GC.AllocateArray<byte>(DataKey.Size, pinned: true);
        var master = GC.AllocateArray<byte>(DataKey.Size, pinned: true);
        try
        {
            DeriveKek(slot, secret, kek);
            using var aes = new AesGcm(kek, 16);
            var wrapped = Convert.FromBase64String(slot.Wrapped);
            if (wrapped.Length != DataKey.Size + 16)
            {
                throw new MdmaiException(MdmaiErrorCode.Corrupt, "A slot of the key file is damaged. Restore the key file from a backup.");
            }

            try
            {
                aes.Decrypt(Convert.FromBase64String(slot.Nonce), wrapped.AsSpan(0, DataKey.Size), wrapped.AsSpan(DataKey.Size), master, SlotContext(slot.Kind));
            }
            catch (AuthenticationTagMismatchException ex)
            {
                throw new MdmaiException(MdmaiErrorCode.WrongPassword, slot.Kind == "recovery"
                    ? "That recovery key does not unlock this data folder. Check it and try again; nothing was changed."
                    : "Wrong password: it does not unlock this data folder. Try again (or use the recovery key); nothing was changed.", ex);
            }

            return use(master);
        }
        catch (FormatException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, "A slot of the key file is damaged (not base64). Restore the key file from a backup.", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(kek);
            CryptographicOperations.ZeroMemory(master);
        }
    }

    private KeyRing OpenRing(byte[] master)
    {
        var keys = new List<DataKey>();
        var plain = GC.AllocateArray<byte>(DataKey.Size, pinned: true);
        try
        {
            using var aes = new AesGcm(master, 16);
            foreach (var wrapped in _document.DataKeys)
            {
                var bytes = Convert.FromBase64String(wrapped.Wrapped);
                try
                {
                    aes.Decrypt(Convert.FromBase64String(wrapped.Nonce), bytes.AsSpan(0, DataKey.Size), bytes.AsSpan(DataKey.Size), plain, DataKeyContext(wrapped.Epoch));
                }
                catch (Exception ex) when (ex is AuthenticationTagMismatchException or ArgumentException)
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The data key of epoch {wrapped.Epoch} in the key file is damaged. Restore the key file from a backup.", ex);
                }

                keys.Add(new DataKey(wrapped.Epoch, plain));
            }

            return new KeyRing(keys);
        }
        catch
        {
            foreach (var key in keys)
            {
                key.Dispose();
            }

            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static Slot PasswordSlot(string password, byte[] master, KdfParameters kdf)
    {
        var slot = new Slot
        {
            Kind = "password",
            Kdf = "argon2id",
            MemoryKib = kdf.MemoryKib,
            Iterations = kdf.Iterations,
            Parallelism = kdf.Parallelism,
            Salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)),
        };
        return Seal(slot, password, master);
    }

    private static Slot RecoverySlot(string recoveryKey, byte[] master)
    {
        var slot = new Slot { Kind = "recovery", Kdf = "hkdf-sha256", Salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)) };
        return Seal(slot, recoveryKey, master);
    }

    private static Slot Seal(Slot slot, string secret, byte[] master)
    {
        var kek = GC.AllocateArray<byte>(DataKey.Size, pinned: true);
        try
        {
            DeriveKek(slot, secret, kek);
            var nonce = RandomNumberGenerator.GetBytes(12);
            var wrapped = new byte[DataKey.Size + 16];
            using var aes = new AesGcm(kek, 16);
            aes.Encrypt(nonce, master, wrapped.AsSpan(0, DataKey.Size), wrapped.AsSpan(DataKey.Size), SlotContext(slot.Kind));
            return slot with { Nonce = Convert.ToBase64String(nonce), Wrapped = Convert.ToBase64String(wrapped) };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(kek);
        }
    }

    private static WrappedKey WrapDataKey(byte[] master, uint epoch, byte[] data, string now)
    {
        var nonce = RandomNumberGenerator.GetBytes(12);
        var wrapped = new byte[DataKey.Size + 16];
        using var aes = new AesGcm(master, 16);
        aes.Encrypt(nonce, data, wrapped.AsSpan(0, DataKey.Size), wrapped.AsSpan(DataKey.Size), DataKeyContext(epoch));
        return new WrappedKey { Epoch = epoch, CreatedAt = now, Nonce = Convert.ToBase64String(nonce), Wrapped = Convert.ToBase64String(wrapped) };
    }

    private static void DeriveKek(Slot slot, string secret, Span<byte> kek)
    {
        var salt = Convert.FromBase64String(slot.Salt);
        var bytes = GC.AllocateArray<byte>(Encoding.UTF8.GetMaxByteCount(secret.Length), pinned: true);
        try
        {
            var length = Encoding.UTF8.GetBytes(secret.Normalize(NormalizationForm.FormC), bytes);
            switch (slot.Kdf)
            {
                case "argon2id":
                    var argon = PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters
                    {
                        DegreeOfParallelism = slot.Parallelism ?? 1,
                        MemorySize = slot.MemoryKib ?? 0,
                        NumberOfPasses = slot.Iterations ?? 0,
                    });
                    argon.DeriveBytes(bytes.AsSpan(0, length), salt, kek);
                    break;
                case "hkdf-sha256":
                    var normalized = ParseRecoveryKey(Encoding.UTF8.GetString(bytes, 0, length));
                    HKDF.DeriveKey(HashAlgorithmName.SHA256, normalized, kek, salt, "mdmai/recovery/v1"u8);
                    CryptographicOperations.ZeroMemory(normalized);
                    break;
                default:
                    throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"The key file uses KDF '{slot.Kdf}', which this mdmai does not know. Upgrade mdmai.");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static byte[] SlotContext(string kind) => Encoding.UTF8.GetBytes($"mdmai-keys/v1/slot/{kind}");

    private static byte[] DataKeyContext(uint epoch) => Encoding.UTF8.GetBytes($"mdmai-keys/v1/data-key/{epoch}");

    private const string RecoveryAlphabet = "ABCDEFGHJKMNPQRSTVWXYZ0123456789"; // Crockford-like: no I, L, O, U

    /// <summary>256 bits as 52 base-32 characters in groups of four.</summary>
    internal static string FormatRecoveryKey(ReadOnlySpan<byte> secret)
    {
        var text = new StringBuilder();
        int buffer = 0, bits = 0, count = 0;
        foreach (var b in secret)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                Append(RecoveryAlphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            Append(RecoveryAlphabet[(buffer << (5 - bits)) & 31]);
        }

        return text.ToString();

        void Append(char c)
        {
            if (count > 0 && count % 4 == 0)
            {
                text.Append('-');
            }

            text.Append(c);
            count++;
        }
    }

    /// <summary>The bytes of a recovery key typed by a person (dashes, spaces and case ignored).</summary>
    internal static byte[] ParseRecoveryKey(string text)
    {
        var output = new List<byte>(DataKey.Size);
        int buffer = 0, bits = 0;
        foreach (var raw in text)
        {
            if (raw is '-' or ' ')
            {
                continue;
            }

            var index = RecoveryAlphabet.IndexOf(char.ToUpperInvariant(raw), StringComparison.Ordinal);
            if (index < 0)
            {
                throw new MdmaiException(MdmaiErrorCode.WrongPassword, $"'{raw}' cannot appear in a recovery key. Check it and try again.");
            }

            buffer = (buffer << 5) | index;
            bits += 5;
            if (bits >= 8)
            {
                output.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }

        if (output.Count != DataKey.Size)
        {
            throw new MdmaiException(MdmaiErrorCode.WrongPassword, "A recovery key has 52 characters (13 groups of four). Check it and try again.");
        }

        return [.. output];
    }

    internal sealed record Document
    {
        public string Format { get; set; } = "";
        public int Version { get; set; }
        public string CreatedAt { get; set; } = "";
        public IReadOnlyList<Slot> Slots { get; set; } = [];
        public IReadOnlyList<WrappedKey> DataKeys { get; set; } = [];
    }

    internal sealed record Slot
    {
        public string Kind { get; set; } = "";
        public string Kdf { get; set; } = "";
        public long? MemoryKib { get; set; }
        public long? Iterations { get; set; }
        public int? Parallelism { get; set; }
        public string Salt { get; set; } = "";
        public string Nonce { get; set; } = "";
        public string Wrapped { get; set; } = "";
    }

    internal sealed record WrappedKey
    {
        public uint Epoch { get; set; }
        public string CreatedAt { get; set; } = "";
        public string Nonce { get; set; } = "";
        public string Wrapped { get; set; } = "";
    }
}

/// <summary>The key file's JSON, with its code generated at build time (see <see cref="GeneratedJson"/>).</summary>
[JsonSerializable(typeof(KeyFile.Document))]
internal sealed partial class SecurityJsonContext : JsonSerializerContext;
