using Mdmai.DataManager.Files;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Configuration;

/// <summary>How a session holds the data folder's lock.</summary>
public enum FolderAccess
{
    /// <summary>Alongside other shared holders: reading, and writing records (SQLite orders writers across processes).</summary>
    Shared = 0,

    /// <summary>Alone: the app, and whoever changes the file store or the folder as a whole (imports, repairs, re-encryption).</summary>
    Exclusive = 1,
}

/// <summary>How to open a data folder.</summary>
public sealed record DataFolderSessionOptions
{
    /// <summary>The folder lock to take (default shared).</summary>
    public FolderAccess Access { get; init; } = FolderAccess.Shared;

    /// <summary>Create and initialise the folder when it does not exist (default false: a missing folder says to run <c>mdmai init</c>).</summary>
    public bool CreateIfMissing { get; init; }

    /// <summary>
    /// Unlock an encrypted folder's keys (default true), so sensitive fields and encrypted objects can be read and
    /// written. False opens the database without them (statistics, checks of the schema, SQL export of sealed text).
    /// </summary>
    public bool Unlock { get; init; } = true;

    /// <summary>
    /// Gives the password, asked only when the folder is encrypted and <see cref="Unlock"/> is set (a CLI prompts, the
    /// app has it at hand). Null on an encrypted folder is <see cref="MdmaiErrorCode.WrongPassword"/>.
    /// </summary>
    public Func<string>? Password { get; init; }

    /// <summary>Bring the schema up to date on open (default true; <c>db migrate</c> opens without).</summary>
    public bool Migrate { get; init; } = true;

    /// <summary>Clock for timestamps (tests); default the system clock.</summary>
    public TimeProvider? Clock { get; init; }
}

/// <summary>
/// An open data folder: the one way the library, the CLI and the dashboard open one — folder lock, config, key file,
/// unlock, database, file store, in that order, each released in reverse on <see cref="DisposeAsync"/> (and on a failure
/// half-way). It runs no background work; the app's facade (<see cref="MdmaiDataManager"/>) adds that on top of one.
/// </summary>
public sealed class DataFolderSession : IAsyncDisposable
{
    private readonly FileStream _lock;
    private readonly Lazy<FileStore> _files;
    private int _disposed;

    private DataFolderSession(DataFolder folder, FileStream folderLock, KeyRing? keys, MdmaiDatabase database, FolderAccess access)
    {
        Folder = folder;
        _lock = folderLock;
        Keys = keys;
        Database = database;
        Access = access;
        _files = new Lazy<FileStore>(() => new FileStore(database, folder.Path, keys, folder.Config.CacheSizeLimitMb * 1024L * 1024));
    }

    /// <summary>The folder and its config.</summary>
    public DataFolder Folder { get; }

    /// <summary>The database (with the keys when unlocked).</summary>
    public MdmaiDatabase Database { get; }

    /// <summary>The file store, opened on first use (it creates its folders), with the config's cache size.</summary>
    public FileStore Files => _files.Value;

    /// <summary>The unlocked keys, or null (not encrypted, or opened without unlocking).</summary>
    public KeyRing? Keys { get; }

    /// <summary>The lock this session holds.</summary>
    public FolderAccess Access { get; }

    /// <summary>
    /// Opens the data folder at <paramref name="path"/>. Fails clearly, changing nothing: no folder
    /// (<see cref="MdmaiErrorCode.NotInitialized"/>), a conflicting holder of the lock (<see cref="MdmaiErrorCode.Locked"/>,
    /// naming it), a wrong password, a database written by a newer mdmai (<see cref="MdmaiErrorCode.MigrationMismatch"/>).
    /// </summary>
    public static async Task<DataFolderSession> OpenAsync(string path, DataFolderSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new DataFolderSessionOptions();
        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            if (!options.CreateIfMissing)
            {
                await DataFolder.OpenAsync(full, cancellationToken).ConfigureAwait(false); // says what to do
            }

            Directory.CreateDirectory(full);
        }

        var folderLock = FolderLock.Acquire(full, exclusive: options.Access == FolderAccess.Exclusive);
        KeyRing? keys = null;
        try
        {
            var folder = options.CreateIfMissing && !DataFolder.Exists(full)
                ? await DataFolder.InitAsync(full, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await DataFolder.OpenAsync(full, cancellationToken).ConfigureAwait(false);
            if (options.Unlock && folder.Config.EncryptionEnabled)
            {
                var password = options.Password?.Invoke();
                if (string.IsNullOrEmpty(password))
                {
                    throw new MdmaiException(MdmaiErrorCode.WrongPassword, "The data folder is encrypted: give its password.");
                }

                keys = (await KeyFile.LoadAsync(folder.KeyFilePath, cancellationToken).ConfigureAwait(false)).Unlock(password);
            }

            var database = await folder.OpenDatabaseAsync(new DatabaseOptions { Keys = keys, Migrate = options.Migrate, Clock = options.Clock ?? TimeProvider.System }, cancellationToken).ConfigureAwait(false);
            return new DataFolderSession(folder, folderLock, keys, database, options.Access);
        }
        catch
        {
            keys?.Dispose();
            await folderLock.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes the database, zeroes the keys and releases the lock.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Database.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            Keys?.Dispose();
            await _lock.DisposeAsync().ConfigureAwait(false);
        }
    }
}
