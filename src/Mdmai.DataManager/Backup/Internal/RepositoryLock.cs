using System.Diagnostics;
using System.Text.Json;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// Repository locks (docs/backup-format.md, "Locks"): one small item per holder under <c>locks/</c>. Backups,
/// restores and copies take shared locks, prune an exclusive one; a holder writes its lock first, then looks for
/// conflicting ones, so two holders racing both see each other and at least one backs off.
/// <para>
/// A lock lives for its time to live after it was written, by the store's clock (an object's Last-Modified, a
/// file's mtime), so machines whose clocks disagree still agree on it. The holder writes a fresh lock every quarter
/// of that time and deletes the one before, so a running holder's lock never expires while a dead one's always
/// does — a laptop that died or slept mid-backup does not block the repository for ever. A lock left by a process
/// of this host that is no longer running is stale at once.
/// </para>
/// <para>
/// A holder that could not refresh in time (asleep, offline) has lapsed: before it commits (a backup its snapshot, a
/// prune its deletions) it asks <see cref="EnsureHeldAsync"/>, which takes the lock again — refused when a conflicting
/// holder came meanwhile — and tells the caller to check that nothing it depends on changed.
/// </para>
/// <para>
/// Credentials that cannot delete (append-only) leave each lock behind; it expires by itself.
/// </para>
/// </summary>
internal sealed class RepositoryLock : IAsyncDisposable
{
    /// <summary>How long a lock lives unrefreshed. Ten minutes: a dead holder blocks a prune at most that long.</summary>
    internal static readonly TimeSpan DefaultTimeToLive = TimeSpan.FromMinutes(10);

    private readonly IBackupBackend _backend;
    private readonly LockInfo _info;
    private readonly TimeSpan _ttl;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Task _refresher;
    private string _name;
    private DateTime _heldSinceWall;
    private long _heldSinceTicks;
    private int _deleteRefused;

    private RepositoryLock(IBackupBackend backend, LockInfo info, string name, TimeSpan ttl, DateTime wall, long ticks)
    {
        _backend = backend;
        _info = info;
        _name = name;
        _ttl = ttl;
        _heldSinceWall = wall;
        _heldSinceTicks = ticks;
        _refresher = Task.Run(RefreshLoopAsync);
    }

    internal sealed record LockInfo
    {
        public string Host { get; set; } = "";
        public int Pid { get; set; }
        public long ProcessStart { get; set; }
        public bool Exclusive { get; set; }
        public DateTimeOffset Time { get; set; }

        /// <summary>Seconds the lock lives after it was written unless refreshed; 0 (locks of mdmai before expiring locks): never expires.</summary>
        public int TtlSeconds { get; set; }
    }

    /// <summary>The lock's current item name (it changes at every refresh).</summary>
    internal string Name => _name;

    /// <summary>Whether a delete was refused (append-only credentials): the locks this holder wrote stay until they expire.</summary>
    internal bool DeleteRefused => Volatile.Read(ref _deleteRefused) != 0;

    /// <summary>Test hook: the holder acts as if it had not refreshed for a whole time to live (the machine slept).</summary>
    internal void SimulateLapse()
    {
        _heldSinceWall = DateTime.UtcNow - (2 * _ttl);
        _heldSinceTicks = Stopwatch.GetTimestamp() - (long)(2 * _ttl.TotalSeconds * Stopwatch.Frequency);
    }

    public static async Task<RepositoryLock> AcquireAsync(IBackupBackend backend, bool exclusive, CancellationToken cancellationToken, TimeSpan? timeToLive = null)
    {
        var ttl = timeToLive ?? DefaultTimeToLive;
        var me = new LockInfo
        {
            Host = Environment.MachineName,
            Pid = Environment.ProcessId,
            ProcessStart = ProcessStartTicks(Environment.ProcessId) ?? 0,
            Exclusive = exclusive,
            Time = DateTimeOffset.UtcNow,
            TtlSeconds = Math.Max(1, (int)Math.Ceiling(ttl.TotalSeconds)),
        };
        var (name, wall, ticks) = await WriteAndCheckAsync(backend, me, null, cancellationToken).ConfigureAwait(false);
        return new RepositoryLock(backend, me, name, ttl, wall, ticks);
    }

    /// <summary>
    /// Writes a lock item for <paramref name="me"/>, then fails (its item deleted) when another live holder conflicts.
    /// Returns the item's name and when the write began (the lock is good for its time to live from then).
    /// </summary>
    private static async Task<(string Name, DateTime Wall, long Ticks)> WriteAndCheckAsync(IBackupBackend backend, LockInfo me, string? previous, CancellationToken cancellationToken)
    {
        var wall = DateTime.UtcNow;
        var ticks = Stopwatch.GetTimestamp();
        var name = $"{RepositoryNames.Locks}/{RepositoryNames.NewId()}";
        await backend.WriteAllAsync(name, JsonSerializer.SerializeToUtf8Bytes(me with { Time = DateTimeOffset.UtcNow }, BackupRepository.Json.For<LockInfo>()), cancellationToken).ConfigureAwait(false);
        try
        {
            var items = new List<BackendItem>();
            await foreach (var item in backend.ListAsync(RepositoryNames.Locks, cancellationToken).ConfigureAwait(false))
            {
                items.Add(item);
            }

            // "Now" by the store's clock: when it stamped the lock just written.
            var now = items.FirstOrDefault(i => i.Name == name).Modified ?? DateTimeOffset.UtcNow;
            foreach (var item in items)
            {
                if (item.Name == name || item.Name == previous)
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
                    continue; // removed meanwhile, or not a lock: not a holder
                }

                if (other is null)
                {
                    continue;
                }

                if (IsStale(other) || IsExpired(other, item.Modified, now))
                {
                    await TryDeleteAsync(backend, item.Name, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (me.Exclusive || other.Exclusive)
                {
                    throw new MdmaiException(MdmaiErrorCode.Locked,
                        $"The backup repository is in use: {(other.Exclusive ? "a prune" : "a backup, restore or copy")} by process {other.Pid} on {other.Host} since {other.Time:u}. Try again when it has finished"
                        + (other.TtlSeconds > 0 ? $" (a lock whose holder died expires {FormatSpan(TimeSpan.FromSeconds(other.TtlSeconds))} after its last refresh)." : "."));
                }
            }
        }
        catch
        {
            await TryDeleteAsync(backend, name, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return (name, wall, ticks);
    }

    /// <summary>A lock whose holder stopped refreshing it a whole time to live ago (by the store's clock).</summary>
    internal static bool IsExpired(LockInfo info, DateTimeOffset? written, DateTimeOffset now) =>
        info.TtlSeconds > 0 && written is { } time && now - time > TimeSpan.FromSeconds(info.TtlSeconds);

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

    /// <summary>
    /// Whether the lock has been held without a gap: false when the last good refresh began so long ago that the lock
    /// may have expired meanwhile (the machine slept or lost the network). Both clocks count: the monotonic one stops
    /// while the machine sleeps, the wall clock does not.
    /// </summary>
    internal bool Continuous
    {
        get
        {
            var wall = DateTime.UtcNow - _heldSinceWall;
            var mono = Stopwatch.GetElapsedTime(_heldSinceTicks);
            // A margin for the store's clock running ahead of the request's start, and for this check's own time.
            return wall < _ttl * 0.8 && mono < _ttl * 0.8 && wall >= TimeSpan.Zero;
        }
    }

    /// <summary>
    /// Makes sure the lock is held now. Returns true when it was held without a gap; false when it had lapsed and was
    /// taken again (the caller checks that nothing it depends on changed meanwhile). Throws
    /// <see cref="MdmaiErrorCode.Locked"/> when a conflicting holder took the repository during the gap.
    /// </summary>
    public async Task<bool> EnsureHeldAsync(CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Continuous)
            {
                return true;
            }

            await ReplaceAsync(check: true, cancellationToken).ConfigureAwait(false);
            return false;
        }
        finally
        {
            _turn.Release();
        }
    }

    private async Task ReplaceAsync(bool check, CancellationToken cancellationToken)
    {
        var previous = _name;
        string name;
        DateTime wall;
        long ticks;
        if (check)
        {
            (name, wall, ticks) = await WriteAndCheckAsync(_backend, _info, previous, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            wall = DateTime.UtcNow;
            ticks = Stopwatch.GetTimestamp();
            name = $"{RepositoryNames.Locks}/{RepositoryNames.NewId()}";
            await _backend.WriteAllAsync(name, JsonSerializer.SerializeToUtf8Bytes(_info with { Time = DateTimeOffset.UtcNow }, BackupRepository.Json.For<LockInfo>()), cancellationToken).ConfigureAwait(false);
        }

        (_name, _heldSinceWall, _heldSinceTicks) = (name, wall, ticks);
        if (!DeleteRefused)
        {
            await DeleteOwnAsync(previous, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether these credentials may delete, asked before anything of the repository's is touched: a shared lock item is
    /// written and deleted. Append-only credentials are refused the delete and the item stays until it expires (a
    /// shared lock blocks only prunes, which these credentials cannot run anyway).
    /// </summary>
    public static async Task<bool> CanDeleteAsync(IBackupBackend backend, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        var probe = new LockInfo
        {
            Host = Environment.MachineName,
            Pid = Environment.ProcessId,
            ProcessStart = ProcessStartTicks(Environment.ProcessId) ?? 0,
            Time = DateTimeOffset.UtcNow,
            TtlSeconds = Math.Max(1, (int)Math.Ceiling(timeToLive.TotalSeconds)),
        };
        var name = $"{RepositoryNames.Locks}/{RepositoryNames.NewId()}";
        await backend.WriteAllAsync(name, JsonSerializer.SerializeToUtf8Bytes(probe, BackupRepository.Json.For<LockInfo>()), cancellationToken).ConfigureAwait(false);
        return await TryDeleteAsync(backend, name, cancellationToken).ConfigureAwait(false);
    }

    private async Task RefreshLoopAsync()
    {
        var period = _ttl / 4;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, _stop.Token).ConfigureAwait(false);
                await _turn.WaitAsync(_stop.Token).ConfigureAwait(false);
                try
                {
                    // After a gap the lock is taken again only by EnsureHeldAsync, where the holder checks what changed.
                    if (Continuous)
                    {
                        await ReplaceAsync(check: false, _stop.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _turn.Release();
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Offline for now: the next tick tries again; a gap is seen by EnsureHeldAsync.
            }
        }
    }

    private async Task DeleteOwnAsync(string name, CancellationToken cancellationToken)
    {
        if (!await TryDeleteAsync(_backend, name, cancellationToken).ConfigureAwait(false))
        {
            Interlocked.Exchange(ref _deleteRefused, 1);
        }
    }

    /// <summary>Deletes a lock item; false when the credentials may not delete (append-only), which leaves it to expire.</summary>
    private static async Task<bool> TryDeleteAsync(IBackupBackend backend, string name, CancellationToken cancellationToken)
    {
        try
        {
            await backend.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.RemoteAccess)
        {
            return false;
        }
    }

    private static string FormatSpan(TimeSpan span) => span.TotalMinutes >= 1 ? $"{span.TotalMinutes:0.#} min" : $"{span.TotalSeconds:0} s";

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _refresher.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped
        }

        try
        {
            if (!DeleteRefused)
            {
                await DeleteOwnAsync(_name, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or MdmaiException or HttpRequestException or TimeoutException or UnauthorizedAccessException)
        {
            // Offline at the end: the lock expires by itself.
        }
        finally
        {
            _stop.Dispose();
            _turn.Dispose();
        }
    }
}
