using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>
/// Moves WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the commit that
/// crosses the threshold, so that one write pays for copying the WAL back and syncing the database file
/// (tens of milliseconds on a large database). The writer has auto-checkpoint off; this loop asks the writer
/// for a PASSIVE checkpoint (it never blocks readers) between two write transactions whenever the WAL has grown.
/// </summary>
/// <remarks>
/// The checkpoint runs on the writer's thread rather than beside it on a connection of its own: a checkpoint
/// running concurrently with a stream of small commits slowed about 2 % of them by milliseconds (it competes
/// for the two cores and its fsync stalls the WAL appends), while in between them it delays only the one write
/// that arrives meanwhile. Bulk work is the other way round (<see cref="BeginBulk"/>): a folder import's batch
/// leaves tens to hundreds of MB of WAL, and copying them back on the writer's thread stopped the recording of
/// the next batch, which the import's readers then waited for; beside it, the copy overlaps the recording.
/// </remarks>
internal sealed class Checkpointer : IAsyncDisposable
{
    /// <summary>WAL size that triggers a checkpoint (about SQLite's default of 1000 pages).</summary>
    public const long ThresholdBytes = 4 * 1024 * 1024;

    private readonly string _path;
    private readonly SqliteWriter _writer;
    private readonly TimeSpan _busyTimeout;
    private readonly PeriodicLoop _loop;
    private int _bulk;

    public Checkpointer(string path, SqliteWriter writer, TimeSpan interval, TimeSpan busyTimeout)
    {
        _path = path;
        _writer = writer;
        _busyTimeout = busyTimeout;
        _loop = new PeriodicLoop(interval, TickAsync);
    }

    /// <summary>Checkpoints done so far (for tests and status).</summary>
    public long Checkpoints { get; private set; }

    /// <summary>Checkpoints of those done beside the writer, on a connection of their own (for tests).</summary>
    public long CheckpointsBeside { get; private set; }

    /// <summary>
    /// Until the result is disposed, checkpoints run beside the writer, on a connection of their own, instead of on the
    /// writer's thread: for bulk work that commits large transactions one after the other (a folder import). Under one,
    /// other writes may meanwhile wait on a checkpoint's fsync, as they did before checkpoints moved to the writer.
    /// </summary>
    public IDisposable BeginBulk()
    {
        Interlocked.Increment(ref _bulk);
        return new Bulk(this);
    }

    private sealed class Bulk(Checkpointer owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._bulk);
            }
        }
    }

    private async Task TickAsync(CancellationToken stop)
    {
        var wal = new FileInfo(_path + "-wal");
        if (!wal.Exists || wal.Length < ThresholdBytes)
        {
            return;
        }

        try
        {
            if (Volatile.Read(ref _bulk) > 0)
            {
                // A connection for this checkpoint alone: PASSIVE copies what is committed and waits for no lock, and
                // the writer goes on committing meanwhile. Closed after it, so its cache and map hold nothing between.
                using var beside = ConnectionFactory.Open(_path, _busyTimeout);
                using var command = beside.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                command.ExecuteNonQuery();
                CheckpointsBeside++;
            }
            else
            {
                await _writer.ExecuteExclusiveAsync(c => c.Execute("PRAGMA wal_checkpoint(PASSIVE)"), stop).ConfigureAwait(false);
            }

            Checkpoints++;
        }
        catch (Exception ex) when (ex is SqliteException or MdmaiException or ObjectDisposedException)
        {
            // A checkpoint that cannot run now (busy, read-only, disk full, closing) runs at the next tick,
            // or SQLite's own checkpoint on close does it; nothing is lost by waiting.
        }
    }

    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}
