using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.Security;

namespace Mdmai.DataManager.Backup;

/// <summary>Settings of a new repository.</summary>
public sealed record RepositoryOptions
{
    /// <summary>Argon2id cost of the password slot (defaults to the key file's defaults).</summary>
    public KdfParameters? Kdf { get; init; }

    /// <summary>Target pack size in bytes (default 16 MiB).</summary>
    public int PackSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>Content-defined chunking: minimum chunk size (default 512 KiB).</summary>
    public int MinChunkSize { get; init; } = 512 * 1024;

    /// <summary>Content-defined chunking: average chunk size, a power of two (default 1 MiB).</summary>
    public int AverageChunkSize { get; init; } = 1024 * 1024;

    /// <summary>Content-defined chunking: maximum chunk size (default 8 MiB).</summary>
    public int MaxChunkSize { get; init; } = 8 * 1024 * 1024;

    /// <summary>
    /// S3 Object Lock: days every pack, index file, snapshot and key is kept from deletion and overwrite after it is
    /// written, renewed by prune (docs/s3.md, "Ransomware"); 0 for none. Needs a backend with Object Lock.
    /// </summary>
    public int ObjectLockDays { get; init; }

    /// <summary>Object Lock in compliance mode (nobody can lift it early) instead of governance mode.</summary>
    public bool ObjectLockCompliance { get; init; }
}

/// <summary>
/// A deduplicating, encrypted backup repository (docs/backup-format.md) reached through an <see cref="IBackupBackend"/>:
/// content-defined chunks, compressed and sealed, in pack files; index files that locate every blob; one sealed file
/// per snapshot. Everything is written once; a crash at any point leaves a valid repository (packs, then the index
/// that names them, then the snapshot that uses them).
/// </summary>
public sealed class BackupRepository : IDisposable
{
    internal const int FormatVersion = 1;
    internal const string FormatName = "mdmai-backup";

    internal static readonly JsonSerializerOptions Json = new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters =
        {
            new JsonStringEnumConverter<SnapshotKind>(JsonNamingPolicy.SnakeCaseLower),
            new JsonStringEnumConverter<SnapshotEntryType>(JsonNamingPolicy.SnakeCaseLower),
        },
    }.Generated(BackupJsonContext.Default);

    internal static readonly string[] DatabaseFiles = ["mdmai.db", "mdmai.db-wal", "mdmai.db-shm", "mdmai.db-journal"];
    internal static readonly string[] SkippedDataFolders = ["tmp", "backups", ".mdmai.lock"];
    internal const string RestoreJournalPrefix = ".mdmai-restore";
    /// <summary>
    /// The arena a pipeline holds chunks in: <paramref name="budget"/>, raised to hold two blocks of the largest chunk
    /// sealed (a chunk and its compressed copy are taken together; a restore takes a chunk's sealed form and plaintext).
    /// </summary>
    internal static long ChunkArenaSize(int maxChunk, long budget) => Math.Max(budget, 2L * BlockArena.Rounded(maxChunk + RepositoryCrypto.Overhead));

    private readonly RepositoryConfig _config;
    private readonly RepositoryCrypto _crypto;
    private readonly Chunker _chunker;
    private RepositoryIndex _index = new(RepositoryIndex.DefaultSpillFolder);
    private readonly HashSet<string> _indexFiles = new(StringComparer.Ordinal);

    private BackupRepository(IBackupBackend backend, RepositoryConfig config, RepositoryCrypto crypto)
    {
        Backend = backend;
        _config = config;
        _crypto = crypto;
        _chunker = new Chunker(config.Chunker.ToParameters(), crypto.GearSeed);
    }

    /// <summary>The backend the repository lives in.</summary>
    public IBackupBackend Backend { get; }

    /// <summary>The key file item that the password opened (encrypted repositories).</summary>
    internal string? KeyItem { get; private set; }

    /// <summary>The repository's id.</summary>
    public string Id => _config.Id;

    /// <summary>Whether chunks, index and snapshots are encrypted.</summary>
    public bool Encrypted => _config.Encrypted;

    internal RepositoryCrypto Crypto => _crypto;

    internal RepositoryIndex Index => _index;

    internal Chunker Chunker => _chunker;

    internal RepositoryConfig Config => _config;

    /// <summary>The index files the loaded index was read from.</summary>
    internal HashSet<string> IndexFiles => _indexFiles;

    /// <summary>The index files that could not be read at the last load (verify reports them, prune replaces them).</summary>
    internal List<string> DamagedIndexNames => _damagedIndexNames;

    internal int PackSize => _config.PackSize;

    /// <summary>Whether <paramref name="backend"/> holds a repository.</summary>
    public static async Task<bool> ExistsAsync(IBackupBackend backend, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        try
        {
            // A read, not a length: the config is read next anyway, and a remote backend's cache keeps it (one request).
            _ = await backend.ReadAllAsync(RepositoryNames.Config, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Whether the repository in <paramref name="backend"/> is encrypted (so opening it needs a password); false when there is none.</summary>
    public static async Task<bool> IsEncryptedAsync(IBackupBackend backend, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (!await ExistsAsync(backend, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        try
        {
            return JsonSerializer.Deserialize(await backend.ReadAllAsync(RepositoryNames.Config, cancellationToken).ConfigureAwait(false), Json.For<RepositoryConfig>())?.Encrypted ?? false;
        }
        catch (JsonException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, "The backup repository's config is damaged.", ex);
        }
    }

    /// <summary>
    /// Creates a repository. With a password its content is encrypted under a random repository key that an
    /// Argon2id slot wraps (by default the app's password); without one, it is checksummed only.
    /// </summary>
    public static async Task<BackupRepository> InitAsync(IBackupBackend backend, string? password, RepositoryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        options ??= new RepositoryOptions();
        if (await ExistsAsync(backend, cancellationToken).ConfigureAwait(false))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, "A backup repository already exists there.");
        }

        var config = new RepositoryConfig
        {
            Format = FormatName,
            Version = FormatVersion,
            Id = RepositoryNames.NewId(),
            Encrypted = password is not null,
            PackSize = options.PackSize,
            Chunker = new ChunkerConfig { Min = options.MinChunkSize, Average = options.AverageChunkSize, Max = options.MaxChunkSize },
            CreatedAt = Timestamps.Format(DateTimeOffset.UtcNow),
        };
        if (options.PackSize is < 64 * 1024 or > 1024 * 1024 * 1024)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"The pack size must be between 64 KiB and 1 GiB, not {options.PackSize}.");
        }

        try
        {
            config.Chunker.ToParameters().Validate();
        }
        catch (MdmaiException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, ex.Message.Replace("The repository's chunker parameters", "The chunk sizes", StringComparison.Ordinal), ex);
        }

        if (options.ObjectLockDays != 0)
        {
            if (options.ObjectLockDays is < 1 or > 36500)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"Object Lock days must be 1 to 36500, not {options.ObjectLockDays}.");
            }

            var objectLock = BackupBackends.ObjectLock(backend)
                ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Object Lock needs a repository in an S3 bucket (s3://BUCKET/PREFIX).");
            objectLock.Retention = new ObjectLockSettings(options.ObjectLockDays, options.ObjectLockCompliance);
            config = config with { ObjectLockDays = options.ObjectLockDays, ObjectLockMode = options.ObjectLockCompliance ? "compliance" : "governance" };
        }

        RepositoryCrypto crypto;
        string? keyItem = null;
        if (password is not null)
        {
            var keys = KeyFile.CreateDetached(password, options.Kdf);
            using (var ring = keys.Unlock(password))
            {
                crypto = RepositoryCrypto.FromKey(ring.Current);
            }

            // The config names the key by a check value, so a key file left by an earlier, interrupted init is never taken for it.
            config = config with { KeyCheck = crypto.KeyCheck(config.Id) };
            keyItem = $"{RepositoryNames.Keys}/{RepositoryNames.NewId()}";
            await backend.WriteAllAsync(keyItem, keys.ToBytes(), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            crypto = RepositoryCrypto.Unencrypted(config.Id);
        }

        // The config goes last: until it exists, there is no repository, and a half-made one can be made again.
        await backend.WriteAllAsync(RepositoryNames.Config, JsonSerializer.SerializeToUtf8Bytes(config, Json.For<RepositoryConfig>()), cancellationToken).ConfigureAwait(false);
        return new BackupRepository(backend, config, crypto) { KeyItem = keyItem };
    }

    /// <summary>
    /// Creates a repository to copy <paramref name="source"/>'s snapshots into (<c>backup copy</c> to a repository that
    /// does not exist yet, the off-site repository's first copy): it shares the source's id, key file and chunk sizes, so
    /// every blob keeps its id and moves sealed as it is — nothing is chunked, compressed or encrypted again. Its
    /// password is the source's (change it with <see cref="ChangePasswordAsync"/>); pack size and Object Lock come from
    /// <paramref name="options"/>. No password is needed: the source is open.
    /// </summary>
    public static async Task<BackupRepository> InitCopyAsync(IBackupBackend backend, BackupRepository source, RepositoryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(source);
        options ??= new RepositoryOptions { PackSize = source.PackSize };
        if (await ExistsAsync(backend, cancellationToken).ConfigureAwait(false))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, "A backup repository already exists there.");
        }

        var config = source._config with
        {
            PackSize = options.PackSize,
            CreatedAt = Timestamps.Format(DateTimeOffset.UtcNow),
            ObjectLockDays = null,
            ObjectLockMode = null,
        };
        if (options.ObjectLockDays > 0)
        {
            var objectLock = BackupBackends.ObjectLock(backend)
                ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Object Lock needs a repository in an S3 bucket (s3://BUCKET/PREFIX).");
            objectLock.Retention = new ObjectLockSettings(options.ObjectLockDays, options.ObjectLockCompliance);
            config = config with { ObjectLockDays = options.ObjectLockDays, ObjectLockMode = options.ObjectLockCompliance ? "compliance" : "governance" };
        }

        string? keyItem = null;
        if (source.Encrypted)
        {
            keyItem = $"{RepositoryNames.Keys}/{RepositoryNames.NewId()}";
            await backend.WriteAllAsync(keyItem, await source.Backend.ReadAllAsync(source.KeyItem!, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }

        await backend.WriteAllAsync(RepositoryNames.Config, JsonSerializer.SerializeToUtf8Bytes(config, Json.For<RepositoryConfig>()), cancellationToken).ConfigureAwait(false);
        return new BackupRepository(backend, config, source._crypto.Clone()) { KeyItem = keyItem };
    }

    /// <summary>
    /// Opens a repository made by <see cref="InitCopyAsync"/> from <paramref name="source"/> with the source's keys (no
    /// password: the off-site copy of the app, which does not keep the password). A repository with keys of its own is
    /// refused: it needs its password (<see cref="OpenAsync"/>).
    /// </summary>
    public static async Task<BackupRepository> OpenSharingKeysAsync(IBackupBackend backend, BackupRepository source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(source);
        var config = await ReadConfigAsync(backend, cancellationToken).ConfigureAwait(false);
        if (config.Encrypted != source.Encrypted || config.Id != source.Id || config.KeyCheck != source._config.KeyCheck || config.Chunker.ToParameters() != source._config.Chunker.ToParameters())
        {
            throw new MdmaiException(MdmaiErrorCode.WrongPassword,
                $"The repository at '{backend.Location}' has keys of its own, not those of '{source.Backend.Location}': open it with its password ('mdmai backup copy --to-password-file').");
        }

        if (config.ObjectLockDays is > 0 and var days && BackupBackends.ObjectLock(backend) is { } objectLock)
        {
            objectLock.Retention = new ObjectLockSettings(days, config.ObjectLockMode == "compliance");
        }

        var repository = new BackupRepository(backend, config, source._crypto.Clone());
        try
        {
            await repository.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            repository.Dispose();
            throw;
        }

        return repository;
    }

    /// <summary>Whether two repositories share keys and chunk sizes, so that one content has one blob id in both.</summary>
    internal static bool SameKeys(BackupRepository a, BackupRepository b) =>
        a.Encrypted == b.Encrypted && a._config.Chunker.ToParameters() == b._config.Chunker.ToParameters()
        && a._crypto.GearSeed.AsSpan().SequenceEqual(b._crypto.GearSeed) && a._crypto.KeyCheck("mdmai/copy") == b._crypto.KeyCheck("mdmai/copy");

    /// <summary>Opens a repository: reads its config, unlocks its key with <paramref name="password"/>, loads the index.</summary>
    /// <exception cref="MdmaiException">NotFound (no repository), WrongPassword, Corrupt, ForeignFormat.</exception>
    public static async Task<BackupRepository> OpenAsync(IBackupBackend backend, string? password, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var config = await ReadConfigAsync(backend, cancellationToken).ConfigureAwait(false);

        RepositoryCrypto crypto;
        string? keyItem = null;
        if (config.Encrypted)
        {
            if (string.IsNullOrEmpty(password))
            {
                throw new MdmaiException(MdmaiErrorCode.WrongPassword, "The backup repository is encrypted: give its password (by default the app's password).");
            }

            (crypto, keyItem) = await UnlockAsync(backend, config, password, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            crypto = RepositoryCrypto.Unencrypted(config.Id);
        }

        if (config.ObjectLockDays is > 0 and var days && BackupBackends.ObjectLock(backend) is { } objectLock)
        {
            objectLock.Retention = new ObjectLockSettings(days, config.ObjectLockMode == "compliance");
        }

        var repository = new BackupRepository(backend, config, crypto) { KeyItem = keyItem };
        try
        {
            await repository.LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            repository.Dispose();
            throw;
        }

        return repository;
    }

    /// <summary>Reads and checks a repository's config.</summary>
    private static async Task<RepositoryConfig> ReadConfigAsync(IBackupBackend backend, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await backend.ReadAllAsync(RepositoryNames.Config, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.NotFound, "There is no backup repository there yet: 'mdmai backup create' makes one.", ex);
        }

        RepositoryConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(bytes, Json.For<RepositoryConfig>());
        }
        catch (JsonException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, "The backup repository's config is damaged.", ex);
        }

        if (config is null || config.Format != FormatName || config.Chunker is null || config.Id.Length == 0)
        {
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, "That folder is not an mdmai backup repository.");
        }

        if (config.Version > FormatVersion)
        {
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"The backup repository has format version {config.Version}; this mdmai reads {FormatVersion}. Upgrade mdmai.");
        }

        config.Chunker.ToParameters().Validate();
        if (config.Chunker.Algorithm != "fastcdc-gear64" || config.PackSize is < 64 * 1024 or > 1024 * 1024 * 1024)
        {
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"The backup repository uses chunker '{config.Chunker.Algorithm}' and packs of {config.PackSize} bytes, which this mdmai does not support.");
        }

        return config;
    }

    private static async Task<(RepositoryCrypto Crypto, string KeyItem)> UnlockAsync(IBackupBackend backend, RepositoryConfig config, string password, CancellationToken cancellationToken)
    {
        var wrongPassword = false;
        var damaged = new List<string>();
        await foreach (var item in backend.ListAsync(RepositoryNames.Keys, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var keys = KeyFile.Parse(await backend.ReadAllAsync(item.Name, cancellationToken).ConfigureAwait(false), item.Name);
                using var ring = keys.Unlock(password);
                var crypto = RepositoryCrypto.FromKey(ring.Current);
                if (config.KeyCheck is null || crypto.KeyCheck(config.Id) == config.KeyCheck)
                {
                    return (crypto, item.Name);
                }

                crypto.Dispose(); // a key file that is not this repository's (left by an interrupted init)
            }
            catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.WrongPassword)
            {
                wrongPassword = true;
            }
            catch (MdmaiException ex) when (ex.Code is MdmaiErrorCode.Corrupt or MdmaiErrorCode.ForeignFormat)
            {
                damaged.Add(item.Name);
            }
        }

        throw wrongPassword
            ? new MdmaiException(MdmaiErrorCode.WrongPassword, "Wrong password: it does not unlock the backup repository. Nothing was changed.")
            : new MdmaiException(MdmaiErrorCode.Corrupt, damaged.Count > 0
                ? $"The backup repository's key file is damaged ({string.Join(", ", damaged)}): its content cannot be decrypted."
                : "The backup repository has no key file: its content cannot be decrypted.");
    }

    /// <summary>
    /// Changes the password of the repository's key (by default the app's: 'mdmai key change-password' calls this
    /// too). Only the key slot is rewrapped; a new key file is written before the old one is deleted.
    /// </summary>
    public async Task ChangePasswordAsync(string currentPassword, string newPassword, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(currentPassword);
        ArgumentNullException.ThrowIfNull(newPassword);
        if (!Encrypted)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "The backup repository is not encrypted: it has no password.");
        }

        await foreach (var item in Backend.ListAsync(RepositoryNames.Keys, cancellationToken).ConfigureAwait(false))
        {
            KeyFile keys;
            try
            {
                keys = KeyFile.Parse(await Backend.ReadAllAsync(item.Name, cancellationToken).ConfigureAwait(false), item.Name);
                using var ring = keys.Unlock(currentPassword);
                using var crypto = RepositoryCrypto.FromKey(ring.Current);
                if (_config.KeyCheck is not null && crypto.KeyCheck(_config.Id) != _config.KeyCheck)
                {
                    continue;
                }
            }
            catch (MdmaiException ex) when (ex.Code is MdmaiErrorCode.WrongPassword or MdmaiErrorCode.Corrupt or MdmaiErrorCode.ForeignFormat)
            {
                continue;
            }

            await keys.ChangePasswordAsync(currentPassword, newPassword, cancellationToken).ConfigureAwait(false);
            var name = $"{RepositoryNames.Keys}/{RepositoryNames.NewId()}";
            await Backend.WriteAllAsync(name, keys.ToBytes(), cancellationToken).ConfigureAwait(false);
            await Backend.DeleteAsync(item.Name, cancellationToken).ConfigureAwait(false);
            KeyItem = name;
            return;
        }

        throw new MdmaiException(MdmaiErrorCode.WrongPassword, "Wrong password: it does not unlock the backup repository. Nothing was changed.");
    }

    internal async Task LoadIndexAsync(CancellationToken cancellationToken)
    {
        var index = new RepositoryIndex(IndexSpillFolder, IndexSpillThreshold);
        var damaged = new List<string>();
        var damagedNames = new List<string>();
        try
        {
            _indexFiles.Clear();
            var items = new List<BackendItem>();
            await foreach (var item in Backend.ListAsync(RepositoryNames.Index, cancellationToken).ConfigureAwait(false))
            {
                items.Add(item);
            }

            // Sized once from the files' lengths instead of doubling as it fills (at most a run's worth: past it, the
            // blobs are written out): at 1M blobs the last doubling held the outgrown arrays (~45 MB) beside the new
            // ones (~89 MB, a third of them never used). An entry is 48 bytes before compression, 32 of them a random
            // id: ~43 bytes sealed, so length / 40 is a close guess, rarely short (then the dictionary grows once). A
            // file counts for at most 64 MiB: an item that is not an index file of ours must not size the dictionary
            // (reading it fails on its own).
            index.EnsureCapacity((int)Math.Min(items.Sum(i => Math.Min(i.Length, IndexFileReadLimit)) / 40, Array.MaxLength / 2));

            // One file at a time, read, opened and decompressed into the same three buffers (a cached backend serves a
            // whole item's read from its cache): new arrays for each were large objects left for the collector, ~3 MB a
            // file of 16,384 blobs, and a no-change backup of 1M files peaked ~50 MB above the rest of its run while
            // loading.
            byte[] sealedFile = [], opened = [], plain = [];
            foreach (var item in items)
            {
                try
                {
                    ReadOnlyMemory<byte> bytes;
                    if (item.Length is > 0 and <= IndexFileReadLimit)
                    {
                        RepositoryIndex.GrowBuffer(ref sealedFile, (int)item.Length);
                        var whole = sealedFile.AsMemory(0, (int)item.Length);
                        await PackFormat.ReadExactlyAsync(Backend, item.Name, 0, whole, cancellationToken).ConfigureAwait(false);
                        bytes = whole;
                    }
                    else
                    {
                        bytes = await Backend.ReadAllAsync(item.Name, cancellationToken).ConfigureAwait(false); // no length listed, or too long to be ours
                    }

                    index.AddFile(bytes.Span, _crypto, item.Name, ref opened, ref plain);
                }
                catch (Exception ex) when (ex is InvalidDataException or ArgumentException)
                {
                    // Its packs are still there; they count as unindexed until 'backup prune' indexes them from their headers.
                    damaged.Add($"{item.Name}: {ex.Message}");
                    damagedNames.Add(item.Name);
                    continue;
                }

                _indexFiles.Add(item.Name);
            }
        }
        catch
        {
            index.Dispose(); // its runs, unlinked, give their space back now
            throw;
        }

        // The index replaced is left to whoever still holds it (an operation of the dashboard's sharing this repository):
        // its runs' files, unlinked, are closed when it is collected, at the latest by the collection below.
        _index = index;
        _damagedIndexFiles = damaged;
        _damagedIndexNames = damagedNames;
        if (index.Count >= LargeIndex)
        {
            // Loading a large index leaves its decoded index files and the dictionary's outgrown arrays (large objects,
            // collected only with the oldest generation) behind: collect them now, before the backup's own work piles
            // on top. Without this a no-change backup of 1M files peaked several hundred MB above the first backup.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
    }

    /// <summary>Where the blob index writes the blobs it holds past <see cref="IndexSpillThreshold"/> (the user's cache; null keeps them in memory).</summary>
    internal string? IndexSpillFolder { get; set; } = RepositoryIndex.DefaultSpillFolder;

    /// <summary>Blobs the index holds in memory before it writes them out (tests lower it).</summary>
    internal int IndexSpillThreshold { get; set; } = RepositoryIndex.DefaultSpillThreshold;

    /// <summary>The longest index file <see cref="LoadIndexAsync"/> reads into its kept buffer (a longer item, not one of ours, is read on its own).</summary>
    private const long IndexFileReadLimit = 64L << 20;

    /// <summary>Blobs from which <see cref="LoadIndexAsync"/> collects what the load left behind.</summary>
    private const int LargeIndex = 100_000;

    private List<string> _damagedIndexFiles = [];
    private List<string> _damagedIndexNames = [];

    /// <summary>Index files that could not be read (named, with the reason); 'backup prune' rebuilds the index from the packs' headers.</summary>
    internal IReadOnlyList<string> DamagedIndexFiles => _damagedIndexFiles;

    /// <summary>Writes an index file naming <paramref name="packs"/>; returns its name (null when there was nothing to write).</summary>
    internal async Task<string?> WriteIndexAsync(IReadOnlyList<(UInt128 Pack, IReadOnlyList<PackEntry> Entries)> packs, CancellationToken cancellationToken)
    {
        if (packs.Count == 0)
        {
            return null;
        }

        var name = $"{RepositoryNames.Index}/{RepositoryNames.NewId()}";
        await Backend.WriteAllAsync(name, RepositoryIndex.Encode(packs, _crypto), cancellationToken).ConfigureAwait(false);
        lock (_indexFiles)
        {
            _indexFiles.Add(name);
        }

        return name;
    }

    /// <summary>
    /// Brings the index in line with the packs listed: indexes the packs that no index file names — uploaded whole by a
    /// backup that was killed or cut off before it wrote their index — from their own headers (one read each) and
    /// writes an index file for them, so their blobs are reused instead of sent again; and forgets, in memory, packs
    /// the index names that are gone. A pack whose header does not read is left to prune. Returns how many were taken.
    /// </summary>
    internal async Task<int> AdoptUnindexedPacksAsync(CancellationToken cancellationToken)
    {
        var orphans = new List<(BackendItem Item, UInt128 Pack)>();
        var stored = new HashSet<UInt128>();
        await foreach (var item in Backend.ListAsync(RepositoryNames.Data, cancellationToken).ConfigureAwait(false))
        {
            if (RepositoryNames.TryParsePack(item.Name, out var pack))
            {
                stored.Add(pack);
                if (!_index.ContainsPack(pack))
                {
                    orphans.Add((item, pack));
                }
            }
        }

        // The other way round: an index file that names a pack which is gone (a damaged repository, or a run that
        // wrote its index after a prune took its packs) must not make this run take blobs for stored that are not.
        var missing = _index.Packs.Where(p => !stored.Contains(p)).ToHashSet();
        if (missing.Count > 0)
        {
            _index.RemovePacks(missing);
        }

        var adopted = new List<(UInt128, IReadOnlyList<PackEntry>)>();
        foreach (var (item, pack) in orphans)
        {
            try
            {
                var entries = await PackFormat.ReadHeaderAsync(Backend, _crypto, item.Name, pack, cancellationToken, item.Length).ConfigureAwait(false);
                _index.Add(pack, entries);
                adopted.Add((pack, entries));
            }
            catch (Exception ex) when (ex is InvalidDataException or FileNotFoundException or EndOfStreamException || (ex is MdmaiException { Code: MdmaiErrorCode.Corrupt }))
            {
                // unreadable, or deleted meanwhile: prune's business
            }

            if (adopted.Count == 256)
            {
                await WriteIndexAsync(adopted, cancellationToken).ConfigureAwait(false);
                adopted.Clear();
            }
        }

        await WriteIndexAsync(adopted, cancellationToken).ConfigureAwait(false);
        return orphans.Count;
    }

    /// <summary>Every readable snapshot, oldest first (a damaged one is left out here; 'backup verify' names it).</summary>
    public async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<SnapshotInfo>();
        var listed = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var item in Backend.ListAsync(RepositoryNames.Snapshots, cancellationToken).ConfigureAwait(false))
        {
            var id = RepositoryNames.Leaf(item.Name);
            listed.Add(id);
            try
            {
                // A snapshot never changes: one read before with the same length and time is the same file.
                if (!_snapshots.TryGetValue(id, out var known) || known.Length != item.Length || known.Modified != item.Modified)
                {
                    known = (await ReadSnapshotAsync(id, cancellationToken).ConfigureAwait(false), item.Length, item.Modified);
                    _snapshots[id] = known;
                }

                result.Add(known.Document.Info);
            }
            catch (MdmaiException ex) when (ex.Code is MdmaiErrorCode.Corrupt or MdmaiErrorCode.NotFound)
            {
                // damaged, or forgotten meanwhile
            }
        }

        foreach (var gone in _snapshots.Keys.Where(k => !listed.Contains(k)).ToList())
        {
            _snapshots.TryRemove(gone, out _);
        }

        return [.. result.OrderBy(s => s.Time).ThenBy(s => s.Id, StringComparer.Ordinal)];
    }

    /// <summary>The snapshot whose id is, or starts with, <paramref name="id"/> (at least 4 hex digits, or "latest").</summary>
    public async Task<SnapshotInfo> GetSnapshotAsync(string id, CancellationToken cancellationToken = default) =>
        (await FindSnapshotAsync(id, cancellationToken).ConfigureAwait(false)).Info;

    internal async Task<SnapshotDocument> FindSnapshotAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id == "latest")
        {
            var all = await ListSnapshotsAsync(cancellationToken).ConfigureAwait(false);
            return all.Count == 0
                ? throw new MdmaiException(MdmaiErrorCode.NotFound, "The backup repository has no snapshots yet.")
                : await ReadSnapshotAsync(all[^1].Id, cancellationToken).ConfigureAwait(false);
        }

        return await ReadSnapshotAsync(await ResolveSnapshotIdAsync(id, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The full id of the snapshot whose id starts with <paramref name="id"/>, from the names alone (a damaged snapshot still resolves).</summary>
    internal async Task<string> ResolveSnapshotIdAsync(string id, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        await foreach (var item in Backend.ListAsync(RepositoryNames.Snapshots, cancellationToken).ConfigureAwait(false))
        {
            names.Add(RepositoryNames.Leaf(item.Name));
        }

        var matches = id.Length >= 4 ? names.Where(n => n.StartsWith(id, StringComparison.OrdinalIgnoreCase)).ToList() : [];
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new MdmaiException(MdmaiErrorCode.NotFound, $"No snapshot has the id '{id}'. 'mdmai backup list' shows them."),
            _ => throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{id}' matches {matches.Count} snapshots; give more of the id."),
        };
    }

    /// <summary>
    /// Snapshots listed so far, with the length and time the listing gave: a long-lived repository (the app's, the
    /// dashboard's list of 2,000 snapshots) reads each once. Everything else (verify, prune, a snapshot asked by id)
    /// reads the file.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (SnapshotDocument Document, long Length, DateTimeOffset? Modified)> _snapshots = new(StringComparer.Ordinal);

    /// <summary>Drops a forgotten snapshot from what was listed.</summary>
    internal void Forget(string id) => _snapshots.TryRemove(id, out _);

    internal async Task<SnapshotDocument> ReadSnapshotAsync(string id, CancellationToken cancellationToken)
    {
        var name = $"{RepositoryNames.Snapshots}/{id}";
        byte[] bytes;
        try
        {
            bytes = await Backend.ReadAllAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.NotFound, $"No snapshot has the id '{id}'.", ex);
        }

        try
        {
            var plain = _crypto.Open(bytes, SnapshotAssociatedData(id), $"Snapshot '{id}'");
            var document = JsonSerializer.Deserialize(plain, Json.For<SnapshotDocument>())
                ?? throw new InvalidDataException($"Snapshot '{id}' is empty.");
            if (document.Version > 1)
            {
                throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"Snapshot '{id}' has format version {document.Version}; this mdmai reads 1. Upgrade mdmai.");
            }

            foreach (var tree in document.Tree)
            {
                _ = BlobId.Parse(tree);
            }
            document.Id = id;
            return document;
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException or FormatException)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Snapshot '{id}' is damaged ({ex.Message.Split(" Path: ")[0]}). 'mdmai backup forget {id}' removes it; the others are not affected.", ex);
        }
    }

    internal async Task<string> WriteSnapshotAsync(SnapshotDocument document, CancellationToken cancellationToken)
    {
        var id = RepositoryNames.NewId();
        document.Id = id;
        var plain = JsonSerializer.SerializeToUtf8Bytes(document, Json.For<SnapshotDocument>());
        await Backend.WriteAllAsync($"{RepositoryNames.Snapshots}/{id}", _crypto.Seal(plain, SnapshotAssociatedData(id)), cancellationToken).ConfigureAwait(false);
        return id;
    }

    private static byte[] SnapshotAssociatedData(string id) => Encoding.UTF8.GetBytes("mdmai-snapshot/" + id);

    /// <summary>The entries of a snapshot in path order, streamed (memory stays constant whatever the snapshot's size).</summary>
    public async IAsyncEnumerable<SnapshotEntry> ListEntriesAsync(string snapshotId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var snapshot = await FindSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        await foreach (var entry in ReadTreeAsync(snapshot, cancellationToken).ConfigureAwait(false))
        {
            yield return entry.ToPublic();
        }
    }

    /// <summary>What changed from snapshot <paramref name="older"/> to <paramref name="newer"/>, in path order.</summary>
    public async IAsyncEnumerable<SnapshotDifference> DiffAsync(string older, string newer, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var a = await FindSnapshotAsync(older, cancellationToken).ConfigureAwait(false);
        var b = await FindSnapshotAsync(newer, cancellationToken).ConfigureAwait(false);
        await using var left = ReadTreeAsync(a, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var right = ReadTreeAsync(b, cancellationToken).GetAsyncEnumerator(cancellationToken);
        var hasLeft = await left.MoveNextAsync().ConfigureAwait(false);
        var hasRight = await right.MoveNextAsync().ConfigureAwait(false);
        while (hasLeft || hasRight)
        {
            var order = !hasLeft ? 1 : !hasRight ? -1 : PathOrder.Instance.Compare(left.Current.Path, right.Current.Path);
            if (order < 0)
            {
                yield return new SnapshotDifference(SnapshotChange.Removed, left.Current.Path, left.Current.Size, null);
                hasLeft = await left.MoveNextAsync().ConfigureAwait(false);
            }
            else if (order > 0)
            {
                yield return new SnapshotDifference(SnapshotChange.Added, right.Current.Path, null, right.Current.Size);
                hasRight = await right.MoveNextAsync().ConfigureAwait(false);
            }
            else
            {
                var l = left.Current;
                var r = right.Current;
                if (l.Type != r.Type || l.Size != r.Size || l.LinkTarget != r.LinkTarget || l.Mode != r.Mode
                    || !(l.Chunks ?? []).SequenceEqual(r.Chunks ?? [], StringComparer.Ordinal))
                {
                    yield return new SnapshotDifference(SnapshotChange.Modified, l.Path, l.Size, r.Size);
                }

                hasLeft = await left.MoveNextAsync().ConfigureAwait(false);
                hasRight = await right.MoveNextAsync().ConfigureAwait(false);
            }
        }
    }

    internal async IAsyncEnumerable<TreeEntry> ReadTreeAsync(SnapshotDocument snapshot, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var hex in snapshot.Tree)
        {
            var blob = await ReadBlobAsync(BlobId.Parse(hex), cancellationToken).ConfigureAwait(false);
            var start = 0;
            while (start < blob.Length)
            {
                var end = Array.IndexOf(blob, (byte)'\n', start);
                if (end < 0)
                {
                    end = blob.Length;
                }

                TreeEntry? entry;
                try
                {
                    entry = JsonSerializer.Deserialize(blob.AsSpan(start, end - start), TreeEntry.Json.For<TreeEntry>());
                    foreach (var chunk in entry?.Chunks ?? [])
                    {
                        _ = BlobId.Parse(chunk);
                    }
                }
                catch (Exception ex) when (ex is JsonException or FormatException)
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Snapshot '{snapshot.Id}' has a malformed entry in its file list ({ex.Message.Split(" Path: ")[0]}).", ex);
                }

                entry = entry ?? throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Snapshot '{snapshot.Id}' has an empty entry in its file list.");
                if (!SnapshotPaths.IsSafe(entry.Path))
                {
                    throw new MdmaiException(MdmaiErrorCode.UnsafePath, $"Snapshot '{snapshot.Id}' holds the path '{entry.Path}', which could leave the target folder; it is refused.");
                }

                yield return entry;
                start = end + 1;
            }
        }
    }

    /// <summary>Reads, opens, decompresses and checks one blob (its content must hash to its id).</summary>
    internal async Task<byte[]> ReadBlobAsync(BlobId id, CancellationToken cancellationToken)
    {
        if (!_index.TryGet(id, out var location))
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} is not in the repository's index: the repository is damaged. Run 'mdmai backup verify'.");
        }

        var stored = new byte[location.StoredLength];
        var plain = new byte[location.RawLength];
        var cache = location.Type == BlobType.Tree ? TreeCache : null;
        if (cache is not null && cache.TryRead(id, stored))
        {
            try
            {
                OpenBlob(id, location, stored, plain, "the local cache");
                return plain;
            }
            catch (MdmaiException)
            {
                cache.Remove(id); // damaged on this disk: the store's copy is read instead
            }
        }

        await ReadBlobIntoAsync(id, location, stored, plain, cancellationToken).ConfigureAwait(false);
        cache?.Write(id, stored);
        return plain;
    }

    /// <summary>Reads one blob into <paramref name="plain"/> (its raw length) using <paramref name="stored"/> as the read buffer.</summary>
    internal async Task ReadBlobIntoAsync(BlobId id, BlobLocation location, Memory<byte> stored, Memory<byte> plain, CancellationToken cancellationToken)
    {
        var pack = RepositoryNames.Pack(location.Pack);
        stored = stored[..(int)location.StoredLength];
        plain = plain[..(int)location.RawLength];
        try
        {
            await PackFormat.ReadExactlyAsync(Backend, pack, location.Offset, stored, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Pack '{pack}' (holding blob {id}) is missing from the repository.", ex);
        }
        catch (InvalidDataException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, ex.Message, ex);
        }

        OpenBlob(id, location, stored.Span, plain.Span, pack);
    }

    /// <summary>
    /// Checks a sealed blob's tag, which binds it to its id (authenticated encryption, or the checksum of an unencrypted
    /// repository), without decompressing or re-hashing it: enough to move it sealed to a repository with the same keys
    /// (<c>backup copy</c>) without carrying damage along. <paramref name="scratch"/> takes the decrypted bytes.
    /// </summary>
    internal void AuthenticateBlob(BlobId id, ReadOnlySpan<byte> stored, Span<byte> scratch, string pack)
    {
        Span<byte> idBytes = stackalloc byte[BlobId.Size];
        id.Write(idBytes);
        var length = stored.Length - RepositoryCrypto.Overhead;
        if (length < 0 || length > scratch.Length || !_crypto.TryOpen(stored, scratch[..length], idBytes))
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} in pack '{pack}' is damaged: it does not authenticate.");
        }
    }

    internal void OpenBlob(BlobId id, BlobLocation location, ReadOnlySpan<byte> stored, Span<byte> plain, string pack)
    {
        Span<byte> idBytes = stackalloc byte[BlobId.Size];
        id.Write(idBytes);
        var sealedLength = stored.Length - RepositoryCrypto.Overhead;
        if (sealedLength < 0)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} in pack '{pack}' is damaged (too short).");
        }

        if (!location.Compressed)
        {
            if (sealedLength != plain.Length || !_crypto.TryOpen(stored, plain, idBytes))
            {
                throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} in pack '{pack}' is damaged: it does not authenticate.");
            }
        }
        else
        {
            var compressed = System.Buffers.ArrayPool<byte>.Shared.Rent(sealedLength);
            try
            {
                if (!_crypto.TryOpen(stored, compressed, idBytes))
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} in pack '{pack}' is damaged: it does not authenticate.");
                }

                var n = Compression.Zstd.TryDecompress(compressed.AsSpan(0, sealedLength), plain);
                if (n < 0)
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} in pack '{pack}' is damaged: it does not decompress.");
                }

                if (n != plain.Length)
                {
                    throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} in pack '{pack}' is damaged: it decompresses to {n} bytes, not {plain.Length}.");
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(compressed);
            }
        }

        if (_crypto.ComputeId(plain) != id)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Blob {id} in pack '{pack}' does not hash to its id: its content is not what was backed up.");
        }
    }

    /// <summary>
    /// Checks the repository: every index file, every pack's header against the index, every snapshot and that every
    /// blob it uses is indexed; with <see cref="VerifyOptions.ReadData"/> also reads packs and re-hashes every blob.
    /// </summary>
    public Task<VerifyReport> VerifyAsync(VerifyOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default) =>
        new Checker(this).VerifyAsync(options, progress, cancellationToken);

    /// <summary>Forgets the snapshots <paramref name="policy"/> does not keep (only their snapshot files; <see cref="PruneAsync"/> frees the data).</summary>
    public Task<ForgetResult> ForgetAsync(RetentionPolicy policy, bool dryRun = false, CancellationToken cancellationToken = default) =>
        new Pruner(this).ForgetAsync(policy, dryRun, cancellationToken);

    /// <summary>Forgets the named snapshots.</summary>
    public Task<IReadOnlyList<SnapshotInfo>> ForgetSnapshotsAsync(IEnumerable<string> snapshotIds, CancellationToken cancellationToken = default) =>
        new Pruner(this).ForgetSnapshotsAsync(snapshotIds, cancellationToken);

    /// <summary>
    /// Frees what no snapshot uses: deletes unused and unindexed packs and repacks packs that are mostly unused. Crash
    /// safe at every step: new packs, then a new index covering everything kept, then the old index files, then the
    /// old packs — an interruption leaves at worst garbage the next prune removes.
    /// </summary>
    public Task<PruneResult> PruneAsync(double repackThreshold = 0.2, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default) =>
        new Pruner(this).PruneAsync(repackThreshold, progress, cancellationToken);

    /// <summary>
    /// Restores a snapshot (or the entries <see cref="RestoreOptions.PathPattern"/> selects) into <paramref name="target"/>.
    /// Every chunk is authenticated and re-hashed against its id and every file's size checked before it is moved
    /// into place; no entry can write outside the target — not with '..', not with an absolute path, not through a
    /// link planted earlier in the same restore or already in the target.
    /// </summary>
    public Task<RestoreResult> RestoreAsync(string snapshotId, string target, RestoreOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default) =>
        new Restorer(this).RestoreAsync(snapshotId, target, options, progress, cancellationToken);

    /// <summary>
    /// Finds good copies of <paramref name="paths"/> (snapshot paths, e.g. <c>data/objects/ab/ab…</c>): snapshots are
    /// searched newest first; each copy found is written to a temp file in <paramref name="tempFolder"/> and offered to
    /// <paramref name="accept"/>, which moves it into place and returns true, or returns false (the copy is bad: an
    /// older snapshot is tried). Returns the snapshot each accepted path came from.
    /// </summary>
    internal Task<IReadOnlyDictionary<string, string>> RecoverFilesAsync(IReadOnlyCollection<string> paths, string tempFolder,
        Func<string, string, CancellationToken, Task<bool>> accept, CancellationToken cancellationToken) =>
        new Restorer(this).RecoverFilesAsync(paths, tempFolder, accept, cancellationToken);

    /// <summary>
    /// Takes a snapshot: every file is read once through one pipeline (read → chunk → hash → dedup → compress →
    /// seal → pack) with bounded memory; files unchanged since the parent snapshot (same size, mtime and inode; for
    /// the file store's immutable objects, same name and size) are not read at all.
    /// </summary>
    public Task<SnapshotResult> CreateSnapshotAsync(BackupSources sources, SnapshotOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default) =>
        new Archiver(this).CreateSnapshotAsync(sources, options, progress, cancellationToken);

    /// <summary>Copies the live database into a staging file beside it (see <see cref="Storage.DatabaseCopies.CaptureAsync"/>).</summary>
    internal static Task<string> CaptureDatabaseAsync(string dataFolder, CancellationToken cancellationToken) =>
        Archiver.CaptureDatabaseAsync(dataFolder, cancellationToken);

    /// <summary>
    /// Writes one snapshot as a standard tar stream compressed with zstd (docs/backup-format.md, "Portable export"):
    /// <c>mdmai.json</c>, <c>mdmai.keys</c> (when encrypted), <c>mdmai.db</c> (a plain SQLite file), every catalog file
    /// under <c>files/&lt;category&gt;/&lt;name&gt;</c> with its content decoded, included paths under <c>include/</c>, then
    /// <c>manifest.json</c> and <c>SHA256SUMS</c> (for <c>sha256sum -c</c>). Streamed: memory does not grow with file sizes.
    /// </summary>
    public Task<ExportResult> ExportAsync(string snapshotId, Stream destination, ExportOptions? options = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default) =>
        new PortableExport(this).ExportAsync(snapshotId, destination, options, progress, cancellationToken);

    /// <summary>
    /// Writes the entries of snapshot <paramref name="snapshotId"/> equal to or under any of <paramref name="paths"/> to
    /// <paramref name="destination"/> as a plain tar stream (folders and files with their snapshot paths; links are left
    /// out), every file streamed and checked against its recorded chunk hashes. The destination need not seek.
    /// </summary>
    public Task<ExportResult> ExportSelectionAsync(string snapshotId, IReadOnlyCollection<string> paths, Stream destination, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default) =>
        new PortableExport(this).ExportSelectionAsync(snapshotId, paths, destination, progress, cancellationToken);

    /// <summary>
    /// Writes one pack: blobs from <paramref name="next"/> (given the bytes written so far; null ends the pack) back
    /// to back, then the sealed header and the trailer. Each blob's memory is given back (its lease disposed) once
    /// written. The pack becomes visible only whole.
    /// </summary>
    internal async Task<(UInt128 Pack, List<PackEntry> Entries, long Length)> WritePackAsync(
        Func<long, CancellationToken, ValueTask<SealedBlob?>> next, CancellationToken cancellationToken)
    {
        var pack = RepositoryNames.NewPackId();
        var entries = new List<PackEntry>();
        long length = 0;
        await Backend.WriteAsync(RepositoryNames.Pack(pack), async (stream, token) =>
        {
            while (await next(length, token).ConfigureAwait(false) is { } blob)
            {
                try
                {
                    await stream.WriteAsync(blob.Data, token).ConfigureAwait(false);
                }
                finally
                {
                    blob.Lease.Dispose();
                }

                entries.Add(new PackEntry(blob.Id, blob.Type, blob.Compressed, (uint)length, (uint)blob.Length, blob.RawLength));
                length += blob.Length;
            }

            var header = _crypto.Seal(PackFormat.EncodeHeader(entries), PackFormat.HeaderAssociatedData(pack));
            var trailer = new byte[PackFormat.TrailerSize];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, (uint)header.Length);
            PackFormat.Magic.CopyTo(trailer.AsSpan(4));
            await stream.WriteAsync(header, token).ConfigureAwait(false);
            await stream.WriteAsync(trailer, token).ConfigureAwait(false);
            length += header.Length + trailer.Length;
        }, cancellationToken).ConfigureAwait(false);
        return (pack, entries, length);
    }

    /// <summary>The Object Lock retention of the repository's items, when it has one (<see cref="RepositoryOptions.ObjectLockDays"/>).</summary>
    public ObjectLockSettings? ObjectLock => _config.ObjectLockDays is > 0 and var days ? new ObjectLockSettings(days, _config.ObjectLockMode == "compliance") : null;

    /// <summary>
    /// Renews Object Lock retention (prune calls it): every item that was written, or last renewed, more than half the
    /// retention ago is kept for the whole retention again from now — so with a prune at least every half retention,
    /// no item of the repository is ever less than half its retention from deletable. Returns how many were renewed.
    /// </summary>
    internal async Task<int> RenewRetentionAsync(CancellationToken cancellationToken, DateTimeOffset? clock = null)
    {
        if (ObjectLock is not { } settings || BackupBackends.ObjectLock(Backend) is not { } objectLock)
        {
            return 0;
        }

        var now = clock ?? DateTimeOffset.UtcNow;
        var until = now.AddDays(settings.Days);
        var renewed = 0;
        await objectLock.ExtendRetentionAsync(RepositoryNames.Config, until, cancellationToken).ConfigureAwait(false);
        foreach (var folder in new[] { RepositoryNames.Keys, RepositoryNames.Index, RepositoryNames.Snapshots, RepositoryNames.Data })
        {
            var due = new List<string>();
            await foreach (var item in Backend.ListAsync(folder, cancellationToken).ConfigureAwait(false))
            {
                if (item.Modified is not { } written || now - written > TimeSpan.FromDays(settings.Days / 2.0))
                {
                    due.Add(item.Name);
                }
            }

            await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Backend.ConcurrentWrites * 2), CancellationToken = cancellationToken },
                async (name, ct) => await objectLock.ExtendRetentionAsync(name, until, ct).ConfigureAwait(false)).ConfigureAwait(false);
            renewed += due.Count;
        }

        return renewed + 1;
    }

    /// <summary>The local cache of tree blobs, for a remote repository (null for a folder, which is as fast as a cache).</summary>
    internal BlobCache? TreeCache => (Backend as CachedBackend)?.Trees;

    /// <summary>How long a lock of this repository's holders lives unrefreshed (tests shorten it).</summary>
    internal TimeSpan LockTimeToLive { get; set; } = RepositoryLock.DefaultTimeToLive;

    /// <summary>Takes the repository's lock: shared for what adds or reads, exclusive for what deletes (prune).</summary>
    internal async Task<RepositoryLock> LockAsync(bool exclusive, CancellationToken cancellationToken)
    {
        var taken = await RepositoryLock.AcquireAsync(Backend, exclusive, cancellationToken, LockTimeToLive).ConfigureAwait(false);
        Locked?.Invoke(taken);
        return taken;
    }

    /// <summary>Test hook: called with each lock this repository takes.</summary>
    internal Action<RepositoryLock>? Locked { get; set; }

    /// <summary>
    /// Copies snapshots of this repository into <paramref name="target"/> (all of them when
    /// <paramref name="snapshotIds"/> is null or empty; ids, unique prefixes or "latest" otherwise), sending only what
    /// the target lacks; snapshots the target already has a copy of are passed over. Correct whatever the two
    /// repositories' keys and chunk sizes; fastest when the target was made by <see cref="InitCopyAsync"/>.
    /// </summary>
    public Task<CopyResult> CopySnapshotsAsync(BackupRepository target, IReadOnlyCollection<string>? snapshotIds = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        return new Copier(this, target).CopyAsync(snapshotIds, progress, cancellationToken);
    }

    /// <summary>Zeroes the repository's keys, closes its index's runs and releases its backend (an S3 one's connections): the repository owns the backend it was opened on.</summary>
    public void Dispose()
    {
        _crypto.Dispose();
        _index.Dispose();
        BackupBackends.Release(Backend);
    }

    internal sealed record RepositoryConfig
    {
        public string Format { get; set; } = "";
        public int Version { get; set; }
        public string Id { get; set; } = "";
        public bool Encrypted { get; set; }
        public int PackSize { get; set; } = 16 * 1024 * 1024;
        public ChunkerConfig Chunker { get; set; } = new();
        public string CreatedAt { get; set; } = "";
        public string? KeyCheck { get; set; }
        public int? ObjectLockDays { get; set; }
        public string? ObjectLockMode { get; set; }
    }

    internal sealed record ChunkerConfig
    {
        public string Algorithm { get; set; } = "fastcdc-gear64";
        public int Min { get; set; }
        public int Average { get; set; }
        public int Max { get; set; }

        public ChunkerParameters ToParameters() => new(Min, Average, Max);
    }

    internal sealed class SnapshotDocument
    {
        [JsonIgnore] public string Id { get; set; } = "";
        public int Version { get; set; } = 1;
        public DateTimeOffset Time { get; set; }
        public SnapshotKind Kind { get; set; }
        public IReadOnlyList<string> Tags { get; set; } = [];
        public string? Description { get; set; }
        public string Host { get; set; } = "";
        public string? Parent { get; set; }
        public IReadOnlyList<string> Sources { get; set; } = [];
        public IReadOnlyList<string> Tree { get; set; } = [];
        public SnapshotStats Stats { get; set; } = new();
        public string? Original { get; set; }

        public SnapshotInfo Info => new()
        {
            Id = Id, Time = Time, Kind = Kind, Tags = Tags, Description = Description, Host = Host, Parent = Parent, Sources = Sources, Stats = Stats, Original = Original,
        };
    }
}
