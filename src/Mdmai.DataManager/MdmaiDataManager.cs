using System.Runtime.ExceptionServices;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Caching;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager;

/// <summary>How the app opens its data.</summary>
public sealed record DataManagerOptions
{
    /// <summary>The data folder (default: <see cref="DataFolder.ResolveDefaultPath"/>).</summary>
    public string? DataFolder { get; init; }

    /// <summary>Create and initialise the folder when it does not exist (default true).</summary>
    public bool CreateIfMissing { get; init; } = true;

    /// <summary>Run the background work: auto backups, scheduled integrity checks (default true).</summary>
    public bool BackgroundWork { get; init; } = true;

    /// <summary>Take a backup when closing; null follows the config's <c>backup_on_shutdown</c>.</summary>
    public bool? ShutdownBackup { get; init; }

    /// <summary>Scheduled integrity checks re-read all objects over this many runs (default 7: a week of daily checks).</summary>
    public int IntegritySlices { get; init; } = 7;

    /// <summary>Clock for the schedules (tests); default the system clock.</summary>
    public TimeProvider? Clock { get; init; }
}

/// <summary>A snapshot of what the data manager holds and does.</summary>
/// <param name="Database">Database size and row counts.</param>
/// <param name="Files">File store totals.</param>
/// <param name="Cache">Cache hits, misses and size.</param>
/// <param name="Snapshots">Backups in the repository (0 when there is none).</param>
/// <param name="LastIntegrityCheck">When the last scheduled check ran, with its error and warning counts.</param>
public sealed record DataManagerStatistics(DatabaseStats Database, FileStoreStats Files, CacheStatistics Cache, int Snapshots, (DateTimeOffset Time, int Errors, int Warnings)? LastIntegrityCheck);

/// <summary>
/// The one object the desktop app opens: storage, files, backups, integrity, cache and statistics of a data folder.
/// It holds the folder's lock (a second process gets <see cref="MdmaiErrorCode.Locked"/>, never shared writes), owns
/// the background work (auto backups with retention, incremental integrity checks), and on
/// <see cref="DisposeAsync"/> cancels that work, waits for it, takes the shutdown backup if configured, and closes
/// the database.
/// </summary>
public sealed class MdmaiDataManager : IAsyncDisposable
{
    /// <summary>The lock file in the data folder.</summary>
    public const string LockFileName = FolderLock.FileName;

    private DataFolderSession _session;
    private readonly DataManagerOptions _options;
    private readonly List<PeriodicLoop> _background = [];
    private DataFolderBackups? _backups;
    private BackupScheduler? _scheduler;
    private int _disposed;

    private MdmaiDataManager(DataFolderSession session, DataFolderBackups? backups, DataManagerOptions options)
    {
        _session = session;
        _backups = backups;
        _options = options;
        Integrity = NewIntegrityChecker(session);
    }

    private IntegrityChecker NewIntegrityChecker(DataFolderSession session) =>
        new(session.Folder, session.Database, session.Files, _ => Task.FromResult(_backups?.Repository));

    /// <summary>The data folder and its config.</summary>
    public DataFolder Folder => _session.Folder;

    /// <summary>The database: every entity's typed store, search, audit, SQL export.</summary>
    public MdmaiDatabase Storage => _session.Database;

    /// <summary>The file store.</summary>
    public FileStore Files => _session.Files;

    /// <summary>The integrity checker.</summary>
    public IntegrityChecker Integrity { get; private set; }

    /// <summary>The cache of small objects and catalog rows.</summary>
    public ByteLruCache<string, object> Cache => Files.Cache;

    /// <summary>
    /// The backups of this folder, or null when they are not open: no repository exists yet and neither auto nor
    /// shutdown backups are configured (then <see cref="OpenBackupsAsync"/> creates one).
    /// </summary>
    public DataFolderBackups? Backups => _backups;

    /// <summary>Opens (creating if need be) the backup repository; the password is needed again when the folder is encrypted.</summary>
    public async Task<DataFolderBackups> OpenBackupsAsync(string? password, CancellationToken cancellationToken = default)
    {
        _backups ??= await DataFolderBackups.OpenAsync(Folder, password, create: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        return _backups;
    }

    /// <summary>Auto backups taken by the schedule since opening.</summary>
    public int AutoBackups => _scheduler?.Runs ?? 0;

    /// <summary>Raised when background work fails (it goes on).</summary>
    public event EventHandler<Exception>? BackgroundFailed;

    /// <summary>
    /// Opens (and, by default, creates) a data folder. Fails clearly when another process has it open
    /// (<see cref="MdmaiErrorCode.Locked"/>), when its database was written by a newer mdmai
    /// (<see cref="MdmaiErrorCode.MigrationMismatch"/>), or on a wrong password.
    /// </summary>
    public static async Task<MdmaiDataManager> OpenAsync(DataManagerOptions? options = null, string? password = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataManagerOptions();
        var path = Path.GetFullPath(options.DataFolder ?? DataFolder.ResolveDefaultPath());
        if (!options.CreateIfMissing && !DataFolder.Exists(path))
        {
            throw new MdmaiException(MdmaiErrorCode.NotInitialized, $"No mdmai data folder at '{path}'.");
        }

        var session = await OpenSessionAsync(path, options, password, options.CreateIfMissing, cancellationToken).ConfigureAwait(false);
        DataFolderBackups? backups = null;
        try
        {
            var folder = session.Folder;
            session.Files.CleanTemporaryFiles(); // nothing imports yet: what is there was left by a crash

            // The repository is opened now, while the password is at hand (it is not kept): when backups run on a
            // schedule or a repository already exists.
            var wantsBackups = (options.BackgroundWork && folder.Config.AutoBackupIntervalMinutes > 0) || (options.ShutdownBackup ?? folder.Config.BackupOnShutdown);
            if (wantsBackups || await DataFolderBackups.RepositoryExistsAsync(folder, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                backups = await DataFolderBackups.OpenAsync(folder, password, create: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            var manager = new MdmaiDataManager(session, backups, options);
            if (options.BackgroundWork)
            {
                manager.StartBackgroundWork();
            }

            return manager;
        }
        catch
        {
            backups?.Dispose();
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // The app holds its folder alone: its background work imports, repairs and swaps whole items.
    private static Task<DataFolderSession> OpenSessionAsync(string path, DataManagerOptions options, string? password, bool create, CancellationToken cancellationToken) =>
        DataFolderSession.OpenAsync(path, new DataFolderSessionOptions
        {
            Access = FolderAccess.Exclusive,
            CreateIfMissing = create,
            Password = () => password ?? "",
            Clock = options.Clock,
        }, cancellationToken);

    /// <summary>
    /// Replaces the data folder with a snapshot's while the app runs ("restore everything to yesterday"): the
    /// background work stops, the database closes and the folder's lock is let go for
    /// <see cref="DataFolderBackups.RestoreInPlaceAsync"/> (a pre-restore snapshot first, then the snapshot's data
    /// staged, checked and swapped in under a journal), and the folder is opened again — restored, or as it was when
    /// anything failed. <see cref="Storage"/>, <see cref="Files"/>, <see cref="Integrity"/> and <see cref="Backups"/>
    /// are new objects afterwards: callers must not keep the old ones, nor use the manager while this runs. The
    /// password opens the folder again (the restored key file must accept it); when the folder cannot be opened again
    /// the manager is closed and the error says why.
    /// </summary>
    public async Task<RestoreResult> RestoreInPlaceAsync(string snapshotId, string? password, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshotId);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var backups = _backups ?? throw new MdmaiException(MdmaiErrorCode.NotFound, $"There is no backup repository at '{Folder.BackupRepositoryLocation}' to restore from.");
        _ = await backups.Repository.GetSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false); // an unknown id fails before anything closes

        await StopBackgroundWorkAsync().ConfigureAwait(false);
        var path = Folder.Path;
        await _session.DisposeAsync().ConfigureAwait(false);
        RestoreResult? result = null;
        ExceptionDispatchInfo? failure = null;
        try
        {
            result = await backups.RestoreInPlaceAsync(snapshotId, progress, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // passed on below, once the folder is open again
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ExceptionDispatchInfo.Capture(ex);
        }
        finally
        {
            backups.Dispose();
            _backups = null;
        }

        // Restored or not, the folder opens again with the config and keys it now has.
        await ReopenAsync(path, password).ConfigureAwait(false);
        failure?.Throw();
        return result!;
    }

    private async Task ReopenAsync(string path, string? password)
    {
        try
        {
            _session = await OpenSessionAsync(path, _options, password, create: false, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            Volatile.Write(ref _disposed, 1);
            throw;
        }

        Integrity = NewIntegrityChecker(_session);
        try
        {
            _backups = await DataFolderBackups.OpenAsync(Folder, password, create: false, cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }
        catch (MdmaiException)
        {
            // unreachable now (the reason a restore failed, perhaps): OpenBackupsAsync opens it when next needed
        }

        if (_options.BackgroundWork)
        {
            StartBackgroundWork();
        }
    }

    private async Task StopBackgroundWorkAsync()
    {
        await Task.WhenAll(_background.Select(loop => loop.DisposeAsync().AsTask())).ConfigureAwait(false);
        _background.Clear();
        if (_scheduler is not null)
        {
            await _scheduler.StopAsync(shutdownBackup: false).ConfigureAwait(false);
            await _scheduler.DisposeAsync().ConfigureAwait(false);
            _scheduler = null;
        }
    }

    private void StartBackgroundWork()
    {
        var clock = _options.Clock ?? TimeProvider.System;
        if (_backups is not null && Folder.Config.AutoBackupIntervalMinutes > 0)
        {
            _scheduler = new BackupScheduler(_backups, clock);
            _scheduler.Failed += (_, ex) => BackgroundFailed?.Invoke(this, ex);
            _scheduler.Start();
        }

        var lookups = Cache.Statistics.Hits + Cache.Statistics.Misses;
        _background.Add(new PeriodicLoop(CacheTrimInterval, _ =>
        {
            lookups = TrimIdleCache(lookups);
            return Task.CompletedTask;
        }, clock));
        if (Folder.Config.IntegrityCheckingEnabled)
        {
            _background.Add(new PeriodicLoop(TimeSpan.FromHours(Folder.Config.IntegrityCheckIntervalHours),
                ct => Integrity.RunScheduledAsync(_options.IntegritySlices, ct), clock, ex => BackgroundFailed?.Invoke(this, ex)));
        }
    }

    /// <summary>How often the cache is looked at; an interval without a single lookup halves what it holds.</summary>
    public static readonly TimeSpan CacheTrimInterval = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Cache trimming: the cache keeps itself within its byte limit as entries come in; when the app has gone a whole
    /// interval without one lookup (<paramref name="lookups"/>: the count at the last tick), half of what the cache holds
    /// (the least recently used) is let go, so an idle app gives memory back. Returns the count for the next tick.
    /// </summary>
    private long TrimIdleCache(long lookups)
    {
        var now = Cache.Statistics;
        if (now.Hits + now.Misses == lookups && now.Bytes > 0)
        {
            Cache.TrimTo(now.Bytes / 2);
        }

        return now.Hits + now.Misses;
    }

    /// <summary>Statistics of the database, the files, the cache, the backups and the last integrity check.</summary>
    public async Task<DataManagerStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var database = await Storage.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var files = await Files.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var snapshots = _backups is null ? 0 : (await _backups.Repository.ListSnapshotsAsync(cancellationToken).ConfigureAwait(false)).Count;
        var history = await Integrity.LoadHistoryAsync(cancellationToken).ConfigureAwait(false);
        var last = history.Runs.Count == 0 ? ((DateTimeOffset, int, int)?)null : (history.Runs[^1].CheckedAt, history.Runs[^1].Errors, history.Runs[^1].Warnings);
        return new DataManagerStatistics(database, files, Cache.Statistics, snapshots, last);
    }

    /// <summary>
    /// Closes: cancels the background work and waits for it, takes the shutdown backup when configured (or asked in
    /// the options), closes the database and releases the folder's lock.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Task.WhenAll(_background.Select(loop => loop.DisposeAsync().AsTask())).ConfigureAwait(false);

        try
        {
            if (_scheduler is not null)
            {
                await _scheduler.StopAsync(_options.ShutdownBackup ?? Folder.Config.BackupOnShutdown).ConfigureAwait(false);
                await _scheduler.DisposeAsync().ConfigureAwait(false);
            }
            else if (_backups is not null && (_options.ShutdownBackup ?? Folder.Config.BackupOnShutdown))
            {
                await _backups.BackupAsync(SnapshotKind.Shutdown).ConfigureAwait(false);
            }
        }
        finally
        {
            try
            {
                await CacheStatisticsFile.SaveAsync(Folder.Path, Cache.Statistics, DateTimeOffset.UtcNow).ConfigureAwait(false);
            }
            catch (IOException)
            {
                // the counters are only for 'mdmai status'; a full disk must not stop the close
            }

            _backups?.Dispose();
            await _session.DisposeAsync().ConfigureAwait(false);
        }
    }
}
