using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Configuration;

/// <summary>
/// The folder that holds a user's data: the database (<c>mdmai.db</c>) and the config (<c>mdmai.json</c>).
/// Found at <c>$MDMAI_HOME</c>, else <c>$XDG_DATA_HOME/mdmai</c>, else <c>~/.local/share/mdmai</c>.
/// </summary>
public sealed class DataFolder
{
    /// <summary>File name of the database inside the folder.</summary>
    public const string DatabaseFileName = "mdmai.db";

    /// <summary>File name of the config inside the folder.</summary>
    public const string ConfigFileName = "mdmai.json";

    private DataFolder(string path, MdmaiConfig config)
    {
        Path = path;
        Config = config;
    }

    /// <summary>Full path of the folder.</summary>
    public string Path { get; }

    /// <summary>The validated config read from <c>mdmai.json</c>.</summary>
    public MdmaiConfig Config { get; }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => System.IO.Path.Combine(Path, DatabaseFileName);

    /// <summary>Full path of the config file.</summary>
    public string ConfigPath => System.IO.Path.Combine(Path, ConfigFileName);

    /// <summary>
    /// Where the backup repository is (<c>backup_repository</c> in the config): the full path of a folder (default
    /// <c>backups</c> in the data folder; a relative path is under it), or an object store's URL as written (<c>s3://BUCKET/PREFIX</c>).
    /// </summary>
    public string BackupRepositoryLocation => RepositoryLocations.Resolve(Path, Config.BackupRepository);

    /// <summary>Where the off-site repository is (<c>offsite_repository</c>), resolved like <see cref="BackupRepositoryLocation"/>; null when none is set.</summary>
    public string? OffsiteRepositoryLocation => Config.OffsiteRepository is { } offsite ? RepositoryLocations.Resolve(Path, offsite) : null;

    /// <summary>Full path of the key file (present when encryption was set up).</summary>
    public string KeyFilePath => System.IO.Path.Combine(Path, Security.KeyFile.FileName);

    /// <summary>
    /// Turns encryption on: creates the key file protected by <paramref name="password"/>, then records
    /// <c>encryption_enabled</c> in the config. A folder that already has a key file is refused.
    /// </summary>
    public async Task<DataFolder> EnableEncryptionAsync(string password, Security.KdfParameters? kdf = null, CancellationToken cancellationToken = default)
    {
        await Security.KeyFile.CreateAsync(KeyFilePath, password, kdf, cancellationToken: cancellationToken).ConfigureAwait(false);
        var config = Config with { EncryptionEnabled = true };
        await config.SaveAsync(ConfigPath, cancellationToken).ConfigureAwait(false);
        return new DataFolder(Path, config);
    }

    /// <summary>The same folder with <paramref name="config"/> in effect (not saved), e.g. a repository path given on the command line.</summary>
    public static DataFolder WithConfig(DataFolder folder, MdmaiConfig config)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return new DataFolder(folder.Path, config);
    }

    /// <summary>The default location, resolved from the environment as the class summary describes.</summary>
    public static string ResolveDefaultPath(Func<string, string?>? getEnvironmentVariable = null)
    {
        getEnvironmentVariable ??= Environment.GetEnvironmentVariable;
        if (getEnvironmentVariable("MDMAI_HOME") is { Length: > 0 } home)
        {
            return System.IO.Path.GetFullPath(home);
        }

        if (getEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg)
        {
            return System.IO.Path.GetFullPath(System.IO.Path.Combine(xdg, "mdmai"));
        }

        var user = getEnvironmentVariable("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return System.IO.Path.GetFullPath(System.IO.Path.Combine(user, ".local", "share", "mdmai"));
    }

    /// <summary>Whether <paramref name="path"/> holds an initialised data folder.</summary>
    public static bool Exists(string path) =>
        File.Exists(System.IO.Path.Combine(path, ConfigFileName)) && File.Exists(System.IO.Path.Combine(path, DatabaseFileName));

    /// <summary>Opens an initialised data folder; a missing one says to run <c>mdmai init</c>.</summary>
    public static async Task<DataFolder> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);

        // An in-place restore that was interrupted is rolled back first: the folder is as it was before it.
        if (Directory.Exists(full))
        {
            RestoreJournal.Recover(full);
        }

        if (!Exists(full))
        {
            throw new MdmaiException(MdmaiErrorCode.NotInitialized,
                $"No mdmai data folder at '{full}'. Run 'mdmai init' (or pass --data-dir) to create one.");
        }

        var config = await MdmaiConfig.LoadAsync(System.IO.Path.Combine(full, ConfigFileName), cancellationToken).ConfigureAwait(false);
        return new DataFolder(full, config);
    }

    /// <summary>
    /// Creates the folder, writes the config (keeping an existing valid one) and creates or migrates the database.
    /// Safe to run again on an initialised folder.
    /// </summary>
    public static async Task<DataFolder> InitAsync(string path, MdmaiConfig? config = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(full);
        var configPath = System.IO.Path.Combine(full, ConfigFileName);
        if (config is not null || !File.Exists(configPath))
        {
            await (config ?? new MdmaiConfig()).SaveAsync(configPath, cancellationToken).ConfigureAwait(false);
        }

        var loaded = await MdmaiConfig.LoadAsync(configPath, cancellationToken).ConfigureAwait(false);
        var folder = new DataFolder(full, loaded);
        await using (var db = await MdmaiDatabase.OpenAsync(folder.DatabasePath, new DatabaseOptions(), cancellationToken).ConfigureAwait(false))
        {
        }

        return folder;
    }

    /// <summary>Opens this folder's database (migrating it to the newest schema unless told otherwise).</summary>
    /// <remarks>When the folder is encrypted, pass its unlocked keys in <see cref="DatabaseOptions.Keys"/> to read and write sensitive fields.</remarks>
    public Task<MdmaiDatabase> OpenDatabaseAsync(DatabaseOptions? options = null, CancellationToken cancellationToken = default) =>
        MdmaiDatabase.OpenAsync(DatabasePath, (options ?? new DatabaseOptions()) with { Encrypted = Config.EncryptionEnabled }, cancellationToken);
}
