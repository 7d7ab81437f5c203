using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>
/// Moves WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the commit that
/// crosses the threshold, so that one write pays for copying the WAL back and syncing the database file
/// (tens of milliseconds on a large database). The writer has auto-checkpoint off; this loop checkpoints
/// (PASSIVE: it never blocks the writer or readers) on its own connection whenever the WAL has grown.
/// </summary>
internal sealed class Checkpointer : IAsyncDisposable
{
    /// <summary>WAL size that triggers a checkpoint (about SQLite's default of 1000 pages).</summary>
    public const long ThresholdBytes = 4 * 1024 * 1024;

    private readonly string _path;
    private readonly TimeSpan _busyTimeout;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public Checkpointer(string path, TimeSpan busyTimeout, TimeSpan interval)
    {
        _path = path;
        _busyTimeout = busyTimeout;
        _loop = Task.Run(() => RunAsync(interval));
    }

    /// <summary>Checkpoints done so far (for tests and status).</summary>
    public long Checkpoints { get; private set; }

    private async Task RunAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        SqliteConnection? connection = null;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var wal = new FileInfo(_path + "-wal");
                if (!wal.Exists || wal.Length < ThresholdBytes)
                {
                    continue;
                }

                try
                {
                    connection ??= ConnectionFactory.Open(_path, _busyTimeout);
                    using var command = connection.CreateCommand();
                    command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                    command.ExecuteNonQuery();
                    Checkpoints++;
                }
                catch (Exception ex) when (ex is SqliteException or MdmaiException)
                {
                    // A checkpoint that cannot run now (busy, read-only, disk full) runs at the next tick,
                    // or SQLite's own checkpoint on close does it; nothing is lost by waiting.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            connection?.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private int _disposed;
}
