using System.Diagnostics;
using Mdmai.DataManager.Backup;

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
}
