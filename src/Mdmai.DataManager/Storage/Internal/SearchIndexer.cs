namespace Mdmai.DataManager.Storage.Internal;

/// <summary>
/// Keeps the full-text index up to date after the commit instead of inside it (migration 0007). A write's
/// triggers only note the search documents it changed in <c>search_pending</c>; this indexes them in batches:
/// in the background every interval, before a search that finds any pending (so a search sees every committed
/// write), inside a bulk insert's transaction, and on close. A search that finds nothing pending runs on a
/// reader as before; one that does waits for the writer, so for a write transaction running at that moment. FTS5 writes a new index segment per transaction and merges
/// segments every few transactions, so indexing one row per commit put that cost, and its long merge pauses,
/// on every single-row write; a batch pays it once.
/// </summary>
internal sealed class SearchIndexer : IAsyncDisposable
{
    /// <summary>
    /// Documents indexed per writer request: other writes run between batches, so this bounds how long one
    /// waits for the indexer (~100 ms for 500 long notes on a 1M-record library; 2,000 took up to 400 ms).
    /// </summary>
    public const int BatchSize = 500;

    private const string Pending = "SELECT doc_id FROM search_pending ORDER BY doc_id LIMIT $p0";
    private const string DeleteSql = "DELETE FROM search_index WHERE rowid IN (" + Pending + ")";
    private const string InsertSql = "INSERT INTO search_index (rowid, name, body) SELECT s.doc_id, s.name, s.body FROM search_source s WHERE s.doc_id IN (" + Pending + ")";
    private const string DoneSql = "DELETE FROM search_pending WHERE doc_id IN (" + Pending + ")";
    private const string HasQueueSql = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'search_pending'";
    private const string AnyPendingSql = "SELECT 1 FROM search_pending LIMIT 1";

    private readonly SqliteWriter _writer;
    private readonly PeriodicLoop _loop;

    public SearchIndexer(SqliteWriter writer, TimeSpan interval)
    {
        _writer = writer;
        _loop = new PeriodicLoop(interval, TickAsync);
    }

    /// <summary>
    /// Indexes up to <paramref name="limit"/> pending documents in the caller's transaction (on the writer
    /// thread) and returns how many it took. A schema older than 0007 has no queue: nothing to do.
    /// </summary>
    public static int IndexPending(CommandCache commands, int limit)
    {
        if (commands.Get(HasQueueSql, 0).ExecuteScalar() is null)
        {
            return 0;
        }

        // The three statements see the same pending set: nothing else writes inside this transaction, and
        // the statements themselves change only search_index and then the queue.
        foreach (var sql in new[] { DeleteSql, InsertSql })
        {
            var command = commands.Get(sql, 1);
            command.Parameters[0].Value = limit;
            command.ExecuteNonQuery();
        }

        var done = commands.Get(DoneSql, 1);
        done.Parameters[0].Value = limit;
        return done.ExecuteNonQuery();
    }

    /// <summary>True when committed writes wait to be indexed (read on any connection; false before 0007).</summary>
    public static bool AnyPending(CommandCache commands) =>
        commands.Get(HasQueueSql, 0).ExecuteScalar() is not null && commands.Get(AnyPendingSql, 0).ExecuteScalar() is not null;

    /// <summary>Indexes everything pending, a batch per writer request; returns when the queue is empty.</summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken = default)
    {
        while (await _writer.ExecuteAsync(c => IndexPending(c, BatchSize), cancellationToken).ConfigureAwait(false) == BatchSize)
        {
        }
    }

    private async Task TickAsync(CancellationToken stop)
    {
        try
        {
            await CatchUpAsync(stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MdmaiException or ObjectDisposedException)
        {
            // The database is busy, read-only, full or closing: the queue stays and is indexed at the
            // next tick, by the next search or on close. Searches stay correct meanwhile.
        }
    }

    /// <summary>Stops the background loop (the caller then indexes what is left, before the writer closes).</summary>
    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}
