using System.Diagnostics;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>Backups and restores share the repository; prune needs it alone; locks of dead processes do not count.</summary>
public sealed class LockTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly MemoryBackend _backend = new();
    private BackupRepository _repository = null!;
    private string _snapshot = "";

    public async Task InitializeAsync()
    {
        BackupTesting.Write(_temp.Combine("source/notes.txt"), BackupTesting.Text(50_000, 81));
        _repository = await BackupRepository.InitAsync(_backend, null, BackupTesting.SmallChunks());
        _snapshot = (await _repository.CreateSnapshotAsync(Sources)).Snapshot.Id;
    }

    public Task DisposeAsync()
    {
        _repository.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _temp.Dispose();

    private BackupSources Sources => new() { Includes = [_temp.Combine("source")] };

    private Task<List<string>> LocksAsync() => BackupTesting.NamesAsync(_backend, "locks");

    private static async Task<int> DeadPidAsync()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await process.WaitForExitAsync();
        return process.Id;
    }

    [Fact]
    public async Task A_shared_lock_of_a_live_process_blocks_prune_and_stays()
    {
        var sleeper = BackupTesting.StartSleeper();
        try
        {
            var planted = await BackupTesting.PlantLockAsync(_backend, Environment.MachineName, sleeper.Id, BackupTesting.StartSeconds(sleeper), exclusive: false);

            var error = await Assert.ThrowsAsync<MdmaiException>(() => _repository.PruneAsync());

            Assert.Equal(MdmaiErrorCode.Locked, error.Code);
            Assert.Contains($"process {sleeper.Id}", error.Message, StringComparison.Ordinal);
            Assert.Equal([planted], await LocksAsync());
        }
        finally
        {
            BackupTesting.Stop(sleeper);
        }
    }

    [Fact]
    public async Task A_shared_lock_does_not_block_a_backup_or_a_restore()
    {
        var sleeper = BackupTesting.StartSleeper();
        try
        {
            var planted = await BackupTesting.PlantLockAsync(_backend, Environment.MachineName, sleeper.Id, BackupTesting.StartSeconds(sleeper), exclusive: false);

            var second = await _repository.CreateSnapshotAsync(Sources);
            var restored = await _repository.RestoreAsync(second.Snapshot.Id, _temp.Combine("target"));

            Assert.Equal(1, restored.Files);
            Assert.Equal([planted], await LocksAsync());
        }
        finally
        {
            BackupTesting.Stop(sleeper);
        }
    }

    [Fact]
    public async Task An_exclusive_lock_of_a_live_process_blocks_backups_and_restores()
    {
        var sleeper = BackupTesting.StartSleeper();
        try
        {
            var planted = await BackupTesting.PlantLockAsync(_backend, Environment.MachineName, sleeper.Id, BackupTesting.StartSeconds(sleeper), exclusive: true);
            var snapshots = await BackupTesting.NamesAsync(_backend, "snapshots");

            var backup = await Assert.ThrowsAsync<MdmaiException>(() => _repository.CreateSnapshotAsync(Sources));
            var restore = await Assert.ThrowsAsync<MdmaiException>(() => _repository.RestoreAsync(_snapshot, _temp.Combine("target")));

            Assert.Equal(MdmaiErrorCode.Locked, backup.Code);
            Assert.Equal(MdmaiErrorCode.Locked, restore.Code);
            Assert.Contains("a prune", backup.Message, StringComparison.Ordinal);
            Assert.Equal(snapshots, await BackupTesting.NamesAsync(_backend, "snapshots"));
            Assert.Equal([planted], await LocksAsync());
        }
        finally
        {
            BackupTesting.Stop(sleeper);
        }
    }

    [Fact]
    public async Task A_lock_of_a_dead_process_on_this_host_is_cleared_and_does_not_block()
    {
        await BackupTesting.PlantLockAsync(_backend, Environment.MachineName, await DeadPidAsync(), 0, exclusive: true);

        await _repository.PruneAsync();
        await _repository.CreateSnapshotAsync(Sources);

        Assert.Empty(await LocksAsync());
    }

    [Fact]
    public async Task A_lock_whose_pid_now_belongs_to_a_later_process_is_cleared()
    {
        var sleeper = BackupTesting.StartSleeper();
        try
        {
            await BackupTesting.PlantLockAsync(_backend, Environment.MachineName, sleeper.Id, BackupTesting.StartSeconds(sleeper) - 3600, exclusive: true);

            await _repository.PruneAsync();

            Assert.Empty(await LocksAsync());
        }
        finally
        {
            BackupTesting.Stop(sleeper);
        }
    }

    [Fact]
    public async Task A_lock_of_another_host_is_never_taken_for_stale()
    {
        var planted = await BackupTesting.PlantLockAsync(_backend, "some-other-machine", await DeadPidAsync(), 0, exclusive: false);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => _repository.PruneAsync());

        Assert.Equal(MdmaiErrorCode.Locked, error.Code);
        Assert.Contains("some-other-machine", error.Message, StringComparison.Ordinal);
        Assert.Equal([planted], await LocksAsync());
    }

    [Fact]
    public async Task Each_operation_removes_its_own_lock_when_it_ends_or_fails()
    {
        await _repository.CreateSnapshotAsync(Sources);
        await _repository.RestoreAsync(_snapshot, _temp.Combine("target"));
        await _repository.PruneAsync();
        Assert.Empty(await LocksAsync());

        _backend.BeforeWrite = name =>
        {
            if (name.StartsWith("snapshots/", StringComparison.Ordinal))
            {
                throw new InjectedFault("fail at the end");
            }
        };
        BackupTesting.Write(_temp.Combine("source/more.txt"), "more"u8.ToArray());
        await Assert.ThrowsAsync<InjectedFault>(() => _repository.CreateSnapshotAsync(Sources));

        Assert.Empty(await LocksAsync());
    }

    [Fact]
    public async Task A_lock_of_another_host_expires_when_its_holder_stopped_refreshing_it()
    {
        // The holder wrote it 11 minutes ago by the store's clock and never again: it died, or its laptop sleeps.
        _backend.Clock = () => DateTimeOffset.UtcNow.AddMinutes(-11);
        var planted = await BackupTesting.PlantLockAsync(_backend, "some-other-machine", 4242, 0, exclusive: false, ttlSeconds: 600);
        _backend.Clock = () => DateTimeOffset.UtcNow;

        await _repository.PruneAsync();

        Assert.DoesNotContain(planted, await LocksAsync());
        Assert.Empty(await LocksAsync());
    }

    [Fact]
    public async Task A_lock_of_another_host_blocks_until_its_time_to_live_has_passed_by_the_stores_clock()
    {
        // The holder's own clock is an hour behind: its 'time' field says nothing; the store wrote it 9 minutes ago.
        _backend.Clock = () => DateTimeOffset.UtcNow.AddMinutes(-9);
        var planted = await BackupTesting.PlantLockAsync(_backend, "some-other-machine", 4242, 0, exclusive: false, ttlSeconds: 600, time: DateTimeOffset.UtcNow.AddHours(-1));
        _backend.Clock = () => DateTimeOffset.UtcNow;

        var error = await Assert.ThrowsAsync<MdmaiException>(() => _repository.PruneAsync());

        Assert.Equal(MdmaiErrorCode.Locked, error.Code);
        Assert.Contains("expires 10 min after its last refresh", error.Message, StringComparison.Ordinal);
        Assert.Equal([planted], await LocksAsync());
    }

    [Fact]
    public async Task A_holder_refreshes_its_lock_so_that_it_never_expires_while_it_runs()
    {
        await using var held = await RepositoryLock.AcquireAsync(_backend, exclusive: false, CancellationToken.None, TimeSpan.FromSeconds(2));
        var first = held.Name;

        // A refresh period (a quarter of the time to live) goes by: a new lock is written, then the one before deleted.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var locks = await LocksAsync();
        while ((locks.Contains(first) || locks.Count != 1) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
            locks = await LocksAsync();
        }

        Assert.DoesNotContain(first, locks);
        Assert.NotEqual(first, locks.Single());
        Assert.True(held.Continuous);

        // Seen from another process, it is live: prune waits for it.
        var error = await Assert.ThrowsAsync<MdmaiException>(() => _repository.PruneAsync());
        Assert.Equal(MdmaiErrorCode.Locked, error.Code);
    }

    [Fact]
    public async Task Append_only_credentials_back_up_and_leave_their_lock_to_expire_but_cannot_forget_or_prune()
    {
        _backend.BeforeDelete = name => throw new MdmaiException(MdmaiErrorCode.RemoteAccess, $"AccessDenied deleting {name}");
        BackupTesting.Write(_temp.Combine("source/more.txt"), "more"u8.ToArray());
        var snapshots = await BackupTesting.NamesAsync(_backend, "snapshots");
        var packs = await BackupTesting.NamesAsync(_backend, "data");

        var second = await _repository.CreateSnapshotAsync(Sources);
        var prune = await Assert.ThrowsAsync<MdmaiException>(() => _repository.PruneAsync());
        var forget = await Assert.ThrowsAsync<MdmaiException>(() => _repository.ForgetSnapshotsAsync([_snapshot]));

        Assert.Equal(MdmaiErrorCode.RemoteAccess, prune.Code);
        Assert.Contains("append-only", prune.Message, StringComparison.Ordinal);
        Assert.Contains("cannot prune", prune.Message, StringComparison.Ordinal);
        Assert.Equal(MdmaiErrorCode.RemoteAccess, forget.Code);
        Assert.Contains("cannot forget", forget.Message, StringComparison.Ordinal);
        Assert.Equal([.. snapshots.Append($"snapshots/{second.Snapshot.Id}").Order(StringComparer.Ordinal)], (await BackupTesting.NamesAsync(_backend, "snapshots")).Order(StringComparer.Ordinal));
        Assert.Superset(packs.ToHashSet(), (await BackupTesting.NamesAsync(_backend, "data")).ToHashSet());
        Assert.NotEmpty(await LocksAsync()); // left behind; they expire

        // With credentials that may delete, the same repository prunes, and the expired locks go with it.
        _backend.BeforeDelete = null;
        _backend.Clock = () => DateTimeOffset.UtcNow.AddHours(1);
        await _repository.PruneAsync();
        Assert.Empty(await LocksAsync());
    }

    [Fact]
    public async Task A_backup_whose_lock_lapsed_while_a_prune_ran_does_not_write_its_snapshot()
    {
        // A second machine's prune, run while this backup's laptop slept past the lock's time to live.
        using var other = await BackupRepository.OpenAsync(_backend, null);
        BackupTesting.Write(_temp.Combine("source/new.bin"), BackupTesting.RandomBytes(300_000, 82));
        RepositoryLock? held = null;
        _repository.Locked = l => held = l;
        var pruned = false;
        _backend.BeforeWrite = name =>
        {
            if (name.StartsWith("index/", StringComparison.Ordinal) && !pruned)
            {
                pruned = true;
                held!.SimulateLapse();
                _backend.Clock = () => DateTimeOffset.UtcNow.AddHours(1); // the sleeper's lock has expired by now
                other.PruneAsync().GetAwaiter().GetResult();
            }
        };
        var snapshots = await BackupTesting.NamesAsync(_backend, "snapshots");

        var error = await Assert.ThrowsAsync<MdmaiException>(() => _repository.CreateSnapshotAsync(Sources));

        Assert.Equal(MdmaiErrorCode.Locked, error.Code);
        Assert.Contains("lapsed", error.Message, StringComparison.Ordinal);
        Assert.Equal(snapshots, await BackupTesting.NamesAsync(_backend, "snapshots"));
        Assert.Empty((await _repository.VerifyAsync(new VerifyOptions { ReadData = true })).Errors);

        // The next run, awake, completes.
        _backend.BeforeWrite = null;
        var next = await _repository.CreateSnapshotAsync(Sources);
        await _repository.RestoreAsync(next.Snapshot.Id, _temp.Combine("target"));
        Assert.Equal(BackupTesting.RandomBytes(300_000, 82), File.ReadAllBytes(BackupTesting.Restored(_temp.Combine("target"), _temp.Combine("source/new.bin"))));
    }

    [Fact]
    public async Task A_backup_whose_lock_lapsed_with_nothing_pruned_meanwhile_takes_it_again_and_completes()
    {
        RepositoryLock? held = null;
        string? lapsedName = null, nameAtCommit = null;
        _repository.Locked = l => held = l;
        _backend.BeforeRead = name =>
        {
            if (name.StartsWith("snapshots/", StringComparison.Ordinal) && held is { } l && lapsedName is null)
            {
                lapsedName = l.Name;
                l.SimulateLapse(); // asleep from the start of the run
            }
        };
        _backend.BeforeWrite = name =>
        {
            if (name.StartsWith("snapshots/", StringComparison.Ordinal))
            {
                nameAtCommit = held!.Name;
            }
        };
        BackupTesting.Write(_temp.Combine("source/more.txt"), "more"u8.ToArray());

        var result = await _repository.CreateSnapshotAsync(Sources);

        Assert.NotNull(lapsedName);
        Assert.NotEqual(lapsedName, nameAtCommit); // taken again before the snapshot was written
        Assert.Contains($"snapshots/{result.Snapshot.Id}", await BackupTesting.NamesAsync(_backend, "snapshots"));
        Assert.Empty(await LocksAsync());
    }
}
