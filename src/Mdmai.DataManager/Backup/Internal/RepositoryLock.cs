using System.Diagnostics;
using System.Text.Json;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// Repository locks (docs/backup-format.md): one small file per holder under <c>locks/</c>. Backups take shared
/// locks, prune an exclusive one; a holder writes its lock first, then looks for conflicting ones, so two holders
/// racing both see each other and at least one backs off. A lock left by a process of this host that is no longer
/// running (or whose pid now belongs to a process started later) is stale and removed.
/// </summary>
internal sealed class RepositoryLock : IAsyncDisposable
{
    private readonly IBackupBackend _backend;
    private readonly string _name;

    private RepositoryLock(IBackupBackend backend, string name)
    {
        _backend = backend;
        _name = name;
    }

    internal sealed record LockInfo
    {
        public string Host { get; set; } = "";
        public int Pid { get; set; }
        public long ProcessStart { get; set; }
        public bool Exclusive { get; set; }
        public DateTimeOffset Time { get; set; }
    }

    public static async Task<RepositoryLock> AcquireAsync(IBackupBackend backend, bool exclusive, CancellationToken cancellationToken)
    {
        var me = new LockInfo
        {
            Host = Environment.MachineName,
            Pid = Environment.ProcessId,
            ProcessStart = ProcessStartTicks(Environment.ProcessId) ?? 0,
            Exclusive = exclusive,
            Time = DateTimeOffset.UtcNow,
        };
        var name = $"{RepositoryNames.Locks}/{RepositoryNames.NewId()}";
        await backend.WriteAllAsync(name, JsonSerializer.SerializeToUtf8Bytes(me, BackupRepository.Json.For<LockInfo>()), cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var item in backend.ListAsync(RepositoryNames.Locks, cancellationToken).ConfigureAwait(false))
            {
                if (item.Name == name)
                {
                    continue;
                }

                LockInfo? other;
                try
                {
                    other = JsonSerializer.Deserialize(await backend.ReadAllAsync(item.Name, cancellationToken).ConfigureAwait(false), BackupRepository.Json.For<LockInfo>());
                }
                catch (Exception ex) when (ex is JsonException or FileNotFoundException)
                {
                    continue; // removed meanwhile, or a lock being written: not a holder yet
                }

                if (other is null)
                {
                    continue;
                }

                if (IsStale(other))
                {
                    await backend.DeleteAsync(item.Name, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (exclusive || other.Exclusive)
                {
                    throw new MdmaiException(MdmaiErrorCode.Locked,
                        $"The backup repository is in use: {(other.Exclusive ? "a prune" : "a backup or restore")} by process {other.Pid} on {other.Host} since {other.Time:u}. Try again when it has finished.");
                }
            }
        }
        catch
        {
            await backend.DeleteAsync(name, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return new RepositoryLock(backend, name);
    }

    /// <summary>A lock of this host whose process is gone (or whose pid was reused by a later process).</summary>
    internal static bool IsStale(LockInfo info)
    {
        if (!string.Equals(info.Host, Environment.MachineName, StringComparison.Ordinal))
        {
            return false;
        }

        var start = ProcessStartTicks(info.Pid);
        return start is null || (info.ProcessStart != 0 && Math.Abs(start.Value - info.ProcessStart) > 1); // a second's slack: start times are rounded
    }

    /// <summary>When process <paramref name="pid"/> of this host started (whole seconds), or null when it is not running.</summary>
    internal static long? ProcessStartTicks(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited ? null : process.StartTime.ToUniversalTime().Ticks / TimeSpan.TicksPerSecond;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync() => await _backend.DeleteAsync(_name, CancellationToken.None).ConfigureAwait(false);
}
