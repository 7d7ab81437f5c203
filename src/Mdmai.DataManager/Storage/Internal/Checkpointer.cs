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
/// that arrives meanwhile.
/// </remarks>
internal sealed class Checkpointer : IAsyncDisposable
{
    /// <summary>WAL size that triggers a checkpoint (about SQLite's default of 1000 pages).</summary>
    public const long ThresholdBytes = 4 * 1024 * 1024;

    private readonly string _path;
    private readonly SqliteWriter _writer;
    private readonly PeriodicLoop _loop;

    public Checkpointer(string path, SqliteWriter writer, TimeSpan interval)
    {
        _path = path;
        _writer = writer;
        _loop = new PeriodicLoop(interval, TickAsync);
    }

    /// <summary>Checkpoints done so far (for tests and status).</summary>
    public long Checkpoints { get; private set; }

    private async Task TickAsync(CancellationToken stop)
    {
        var wal = new FileInfo(_path + "-wal");
        if (!wal.Exists || wal.Length < ThresholdBytes)
        {
            return;
        }

        try
        {
            await _writer.ExecuteExclusiveAsync(c => c.Execute("PRAGMA wal_checkpoint(PASSIVE)"), stop).ConfigureAwait(false);
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
