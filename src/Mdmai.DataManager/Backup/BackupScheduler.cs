namespace Mdmai.DataManager.Backup;

/// <summary>
/// Runs auto backups of a data folder on the configured interval (<c>auto_backup_interval_minutes</c>; 0 turns them
/// off), applies retention after each and copies the new snapshots off-site when <c>offsite_repository</c> is set, and takes a shutdown backup on <see cref="StopAsync"/> when asked. A failed run
/// is reported through <see cref="Failed"/> and the schedule goes on; stopping cancels a run in progress and waits for it.
/// </summary>
public sealed class BackupScheduler : IAsyncDisposable
{
    private readonly DataFolderBackups _backups;
    private readonly TimeProvider _clock;
    private readonly SemaphoreSlim _running = new(1, 1);
    private PeriodicLoop? _loop;

    /// <summary>Schedules backups of <paramref name="backups"/>' folder; nothing runs until <see cref="Start"/>.</summary>
    public BackupScheduler(DataFolderBackups backups, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(backups);
        _backups = backups;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>Raised with each finished auto backup.</summary>
    public event EventHandler<SnapshotResult>? Completed;

    /// <summary>Raised when an auto backup's copy to the off-site repository (<c>offsite_repository</c>) has finished.</summary>
    public event EventHandler<CopyResult>? OffsiteCompleted;

    /// <summary>Raised when an auto backup, or its copy off-site, fails (the schedule continues).</summary>
    public event EventHandler<Exception>? Failed;

    /// <summary>Auto backups taken so far.</summary>
    public int Runs { get; private set; }

    /// <summary>Starts the schedule.</summary>
    public void Start()
    {
        var minutes = _backups.Folder.Config.AutoBackupIntervalMinutes;
        if (_loop is not null || minutes <= 0)
        {
            return;
        }

        // RunOnceAsync reports its own failures (Failed) and the schedule goes on.
        _loop = new PeriodicLoop(TimeSpan.FromMinutes(minutes), ct => RunOnceAsync(SnapshotKind.Auto, ct), _clock);
    }

    /// <summary>Takes one backup of <paramref name="kind"/> now (and retention after an auto one); failures go to <see cref="Failed"/>.</summary>
    public async Task<SnapshotResult?> RunOnceAsync(SnapshotKind kind, CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await _backups.BackupAsync(kind, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (kind == SnapshotKind.Auto)
            {
                Runs++;
                await _backups.ApplyRetentionAsync(cancellationToken).ConfigureAwait(false);
            }

            Completed?.Invoke(this, result);
            if (kind == SnapshotKind.Auto && _backups.Folder.OffsiteRepositoryLocation is not null)
            {
                // Off-site after the local snapshot is safe: a failure here (offline) is reported and the next run catches up.
                try
                {
                    OffsiteCompleted?.Invoke(this, await _backups.CopyOffsiteAsync(cancellationToken: cancellationToken).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Failed?.Invoke(this, ex);
                }
            }

            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Failed?.Invoke(this, ex);
            return null;
        }
        finally
        {
            _running.Release();
        }
    }

    /// <summary>
    /// Stops the schedule: cancels a run in progress and waits for it; then, when <paramref name="shutdownBackup"/>
    /// (by default the config's <c>backup_on_shutdown</c>), takes the shutdown backup, which <paramref name="cancellationToken"/> can cancel.
    /// </summary>
    public async Task StopAsync(bool? shutdownBackup = null, CancellationToken cancellationToken = default)
    {
        if (_loop is not null)
        {
            await _loop.DisposeAsync().ConfigureAwait(false);
            _loop = null;
        }

        if (shutdownBackup ?? _backups.Folder.Config.BackupOnShutdown)
        {
            await RunOnceAsync(SnapshotKind.Shutdown, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the schedule without a shutdown backup.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(shutdownBackup: false).ConfigureAwait(false);
        _running.Dispose();
    }
}
