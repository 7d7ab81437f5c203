using System.Threading.Channels;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>The auto-backup schedule, driven by a hand-moved clock whose timers fire only when the test says.</summary>
public sealed class SchedulerTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly TempFolder _temp = new();
    private readonly ManualTimeProvider _clock = new();
    private readonly Channel<SnapshotResult> _completed = Channel.CreateUnbounded<SnapshotResult>();
    private readonly Channel<Exception> _failed = Channel.CreateUnbounded<Exception>();
    private DataFolderBackups _backups = null!;

    public Task InitializeAsync() => OpenAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 60, MaxBackupCount = 2 });

    private async Task OpenAsync(MdmaiConfig config)
    {
        var folder = await DataFolder.InitAsync(_temp.Combine("data"), config);
        _backups = await DataFolderBackups.OpenAsync(folder, null, create: true, BackupTesting.SmallChunks());
    }

    public Task DisposeAsync()
    {
        _backups.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _temp.Dispose();

    private BackupScheduler NewScheduler()
    {
        var scheduler = new BackupScheduler(_backups, _clock);
        scheduler.Completed += (_, result) => _completed.Writer.TryWrite(result);
        scheduler.Failed += (_, error) => _failed.Writer.TryWrite(error);
        return scheduler;
    }

    private async Task<List<SnapshotInfo>> SnapshotsAsync(SnapshotKind kind) =>
        [.. (await _backups.Repository.ListSnapshotsAsync()).Where(s => s.Kind == kind)];

    [Fact]
    public async Task A_backup_runs_each_interval_and_not_before()
    {
        await using var scheduler = NewScheduler();
        scheduler.Start();
        await _clock.TimerCreated.Task.WaitAsync(Wait);

        _clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(0, _clock.Fired);
        _clock.Advance(TimeSpan.FromMinutes(1));
        var first = await _completed.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        Assert.Equal(1, _clock.Fired);
        Assert.Equal(SnapshotKind.Auto, first.Snapshot.Kind);
        Assert.Equal(1, scheduler.Runs);

        _clock.Advance(TimeSpan.FromMinutes(60));
        var second = await _completed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(first.Snapshot.Id, second.Snapshot.Parent);
        Assert.Equal(2, scheduler.Runs);
        Assert.False(_failed.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Retention_keeps_max_backup_count_auto_snapshots_and_no_fewer_of_other_kinds()
    {
        var manual = (await _backups.BackupAsync(SnapshotKind.Manual)).Snapshot;
        await using var scheduler = NewScheduler();
        scheduler.Start();
        await _clock.TimerCreated.Task.WaitAsync(Wait);
        var autos = new List<string>();

        for (var i = 0; i < 4; i++)
        {
            _clock.Advance(TimeSpan.FromHours(1));
            autos.Add((await _completed.Reader.ReadAsync().AsTask().WaitAsync(Wait)).Snapshot.Id);
        }

        Assert.Equal(autos[^2..], (await SnapshotsAsync(SnapshotKind.Auto)).Select(s => s.Id));
        Assert.Equal([manual.Id], (await SnapshotsAsync(SnapshotKind.Manual)).Select(s => s.Id));
    }

    [Fact]
    public async Task Stop_with_a_shutdown_backup_takes_one_and_the_schedule_ends()
    {
        var scheduler = NewScheduler();
        scheduler.Start();
        await _clock.TimerCreated.Task.WaitAsync(Wait);

        await scheduler.StopAsync(shutdownBackup: true);

        var shutdown = Assert.Single(await SnapshotsAsync(SnapshotKind.Shutdown));
        Assert.Equal(shutdown.Id, (await _completed.Reader.ReadAsync().AsTask().WaitAsync(Wait)).Snapshot.Id);
        _clock.Advance(TimeSpan.FromHours(5));
        Assert.Empty(await SnapshotsAsync(SnapshotKind.Auto));
        Assert.Equal(0, scheduler.Runs);
        await scheduler.DisposeAsync();
        Assert.Single(await SnapshotsAsync(SnapshotKind.Shutdown));
    }

    [Fact]
    public async Task Stop_follows_backup_on_shutdown_from_the_config_by_default()
    {
        await using (var scheduler = NewScheduler())
        {
            scheduler.Start();
            await scheduler.StopAsync();
        }

        Assert.Empty(await _backups.Repository.ListSnapshotsAsync());

        _backups.Dispose();
        await OpenAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 60, BackupOnShutdown = true });
        await using (var scheduler = NewScheduler())
        {
            await scheduler.StopAsync();
        }

        Assert.Single(await SnapshotsAsync(SnapshotKind.Shutdown));
    }

    [Fact]
    public async Task An_interval_of_zero_schedules_nothing()
    {
        _backups.Dispose();
        await OpenAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 0 });
        await using var scheduler = NewScheduler();

        scheduler.Start();
        _clock.Advance(TimeSpan.FromDays(30));

        Assert.Equal(0, _clock.TimersCreated);
        Assert.Equal(0, scheduler.Runs);
        Assert.Empty(await _backups.Repository.ListSnapshotsAsync());
    }

    [Fact]
    public async Task A_failed_run_is_reported_and_the_schedule_goes_on()
    {
        await using var scheduler = NewScheduler();
        scheduler.Start();
        await _clock.TimerCreated.Task.WaitAsync(Wait);
        var sleeper = BackupTesting.StartSleeper();
        string planted;
        try
        {
            planted = await BackupTesting.PlantLockAsync(_backups.Repository.Backend, Environment.MachineName, sleeper.Id, BackupTesting.StartSeconds(sleeper), exclusive: true);
            _clock.Advance(TimeSpan.FromHours(1));
            var error = await _failed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            Assert.Equal(MdmaiErrorCode.Locked, Assert.IsType<MdmaiException>(error).Code);
        }
        finally
        {
            BackupTesting.Stop(sleeper);
        }

        await _backups.Repository.Backend.DeleteAsync(planted);
        _clock.Advance(TimeSpan.FromHours(1));
        var result = await _completed.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        Assert.Equal(SnapshotKind.Auto, result.Snapshot.Kind);
        Assert.Equal(1, scheduler.Runs);
    }

    [Fact]
    public async Task RunOnce_takes_a_backup_of_the_kind_asked_and_applies_retention_only_to_auto_ones()
    {
        await using var scheduler = NewScheduler();
        for (var i = 0; i < 3; i++)
        {
            Assert.NotNull(await scheduler.RunOnceAsync(SnapshotKind.Manual));
            Assert.NotNull(await scheduler.RunOnceAsync(SnapshotKind.Auto));
        }

        Assert.Equal(3, (await SnapshotsAsync(SnapshotKind.Manual)).Count);
        Assert.Equal(2, (await SnapshotsAsync(SnapshotKind.Auto)).Count);
        Assert.Equal(3, scheduler.Runs);
    }

    [Fact]
    public async Task Each_auto_backup_is_copied_to_the_offsite_repository_and_a_failure_there_is_reported()
    {
        _backups.Dispose();
        var offsite = _temp.Combine("offsite");
        await OpenAsync(new MdmaiConfig { AutoBackupIntervalMinutes = 60, MaxBackupCount = 5, OffsiteRepository = offsite });
        var copies = Channel.CreateUnbounded<CopyResult>();
        await using var scheduler = NewScheduler();
        scheduler.OffsiteCompleted += (_, result) => copies.Writer.TryWrite(result);

        var first = await scheduler.RunOnceAsync(SnapshotKind.Auto);
        var second = await scheduler.RunOnceAsync(SnapshotKind.Auto);
        var copied = await copies.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        var next = await copies.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        Assert.Equal([first!.Snapshot.Id], copied.Copied.Select(c => c.SourceId));
        Assert.True(copied.SameKeys); // made on first use with the backup repository's keys
        Assert.Equal([second!.Snapshot.Id], next.Copied.Select(c => c.SourceId));
        using (var target = await BackupRepository.OpenAsync(new LocalFolderBackend(offsite), null))
        {
            Assert.Equal([first.Snapshot.Id, second.Snapshot.Id], (await target.ListSnapshotsAsync()).Select(s => s.Original));
        }

        // The off-site repository cannot be reached (here: a file in its way): the local backup stands, the failure is reported.
        Directory.Delete(offsite, recursive: true);
        await File.WriteAllTextAsync(offsite, "in the way");
        var third = await scheduler.RunOnceAsync(SnapshotKind.Auto);
        var error = await _failed.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        Assert.NotNull(third);
        Assert.Equal(3, (await SnapshotsAsync(SnapshotKind.Auto)).Count);
        Assert.IsAssignableFrom<Exception>(error);
    }
}
