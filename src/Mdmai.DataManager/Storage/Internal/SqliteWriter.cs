using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>
/// The single writer. Every write is a request on a bounded queue; one dedicated thread drains whatever
/// has queued up (up to a batch limit) and runs it in one transaction (group commit), each request in its
/// own savepoint so one failing request rolls back alone. SQLite allows one writer at a time anyway: this
/// makes that rule cheap instead of contended.
/// </summary>
internal sealed class SqliteWriter : IAsyncDisposable
{
    private readonly Channel<IWriteRequest> _queue;
    private readonly CommandCache _commands;
    private readonly Thread _thread;
    private readonly int _maxBatch;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SqliteWriter(SqliteConnection connection, int maxBatch)
    {
        _commands = new CommandCache(connection);
        _maxBatch = Math.Max(1, maxBatch);
        _queue = Channel.CreateBounded<IWriteRequest>(new BoundedChannelOptions(4 * _maxBatch)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _thread = new Thread(Run) { IsBackground = true, Name = "mdmai-sqlite-writer" };
        _thread.Start();
    }

    /// <summary>Requests waiting for the writer thread (a test waits on it to queue requests in a known order).</summary>
    internal int Queued => _queue.Reader.Count;

    /// <summary>Transactions committed so far (a test reads it to prove grouping).</summary>
    public long Commits { get; private set; }

    /// <summary>Runs <paramref name="work"/> on the writer thread inside a transaction.</summary>
    /// <remarks>
    /// The work may be run more than once: when another request of its group makes SQLite roll back the
    /// whole transaction (disk full), the rest of the group is run again in a new one. It must therefore
    /// depend only on its captured values and the database — not consume a one-shot source.
    /// </remarks>
    public Task<T> ExecuteAsync<T>(Func<CommandCache, T> work, CancellationToken cancellationToken = default) =>
        EnqueueAsync(new WriteRequest<T>(work, WriteMode.Grouped, cancellationToken), cancellationToken);

    /// <summary>Runs <paramref name="work"/> in a transaction of its own (it runs exactly once; bulk work that consumes a sequence).</summary>
    public Task<T> ExecuteAloneAsync<T>(Func<CommandCache, T> work, CancellationToken cancellationToken = default) =>
        EnqueueAsync(new WriteRequest<T>(work, WriteMode.OwnTransaction, cancellationToken), cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> on the writer thread alone and outside any transaction (VACUUM, migrations,
    /// checkpoints): nothing else writes while it runs.
    /// </summary>
    public Task<T> ExecuteExclusiveAsync<T>(Func<CommandCache, T> work, CancellationToken cancellationToken = default) =>
        EnqueueAsync(new WriteRequest<T>(work, WriteMode.NoTransaction, cancellationToken), cancellationToken);

    private async Task<T> EnqueueAsync<T>(WriteRequest<T> request, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(MdmaiDatabase), "The database is closed.");
        }

        return await request.Task.ConfigureAwait(false);
    }

    private void Run()
    {
        var batch = new List<IWriteRequest>(_maxBatch);
        try
        {
            while (_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                batch.Clear();
                while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var request))
                {
                    if (request.CancellationToken.IsCancellationRequested)
                    {
                        request.Cancel();
                    }
                    else if (request.Mode != WriteMode.Grouped)
                    {
                        if (batch.Count > 0)
                        {
                            RunBatch(batch);
                            batch.Clear();
                        }

                        if (request.Mode == WriteMode.NoTransaction)
                        {
                            RunAlone(request);
                        }
                        else
                        {
                            RunBatch([request]);
                        }
                    }
                    else
                    {
                        batch.Add(request);
                    }
                }

                if (batch.Count > 0)
                {
                    RunBatch(batch);
                }
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void RunAlone(IWriteRequest request)
    {
        try
        {
            request.Run(_commands);
        }
#pragma warning disable CA1031 // handed to the caller
        catch (Exception ex)
#pragma warning restore CA1031
        {
            request.SetError(SqliteErrors.Translate(ex));
        }

        _commands.TakeUndo(); // outside a transaction nothing is rolled back
        request.Complete();
    }

    private void RunBatch(List<IWriteRequest> batch)
    {
        try
        {
            var start = 0;
            while (start < batch.Count)
            {
                start = RunTransaction(batch, start);
            }
        }
#pragma warning disable CA1031 // nothing may escape the writer thread: every caller gets an answer
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var error = SqliteErrors.Translate(ex);
            RollBackOpenTransaction();
            Undo(_commands.TakeUndo());
            for (var i = batch.Count - 1; i >= 0; i--)
            {
                Undo(batch[i].TakeUndo());
                batch[i].Fail(error);
            }
        }
    }

    /// <summary>Rolls back a transaction left open by a failure that escaped <see cref="RunTransaction"/>, if it can.</summary>
    private void RollBackOpenTransaction()
    {
        try
        {
            if (!_commands.Connection.AutoCommitState())
            {
                _commands.Get("ROLLBACK", 0).ExecuteNonQuery();
            }
        }
        catch (SqliteException)
        {
            // the connection is beyond a rollback: the next BEGIN reports it
        }
    }

    /// <summary>Runs the undo actions of a write whose changes were rolled back (see <see cref="CommandCache.OnRollback"/>), the last first.</summary>
    private static void Undo(List<Action>? undo)
    {
        for (var k = (undo?.Count ?? 0) - 1; k >= 0; k--)
        {
            try
            {
                undo![k]();
            }
#pragma warning disable CA1031 // best effort: what one action could not put back stays as the failed write left it
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    /// <summary>
    /// Runs <c>batch[start..]</c> in one transaction and completes those requests. Returns where the next
    /// transaction starts: the end, or — when a request's failure made SQLite roll the whole transaction back
    /// (disk full, I/O error) — <paramref name="start"/> again, with that request completed and removed, so
    /// the others of the group run again in a new transaction and it fails alone.
    /// </summary>
    private int RunTransaction(List<IWriteRequest> batch, int start)
    {
        try
        {
            _commands.Get("BEGIN IMMEDIATE", 0).ExecuteNonQuery();
        }
        catch (Exception ex) when (ex is SqliteException)
        {
            var error = SqliteErrors.Translate(ex);
            for (var i = start; i < batch.Count; i++)
            {
                batch[i].Fail(error);
            }

            return batch.Count;
        }

        var single = batch.Count - start == 1;
        for (var i = start; i < batch.Count; i++)
        {
            var request = batch[i];
            if (!single)
            {
                _commands.Get("SAVEPOINT w", 0).ExecuteNonQuery();
            }

            try
            {
                request.Run(_commands);
                request.Undo = _commands.TakeUndo();
                if (!single)
                {
                    _commands.Get("RELEASE w", 0).ExecuteNonQuery();
                }
            }
#pragma warning disable CA1031 // a failing request must fail only itself; the exception is handed to its caller
            catch (Exception ex)
#pragma warning restore CA1031
            {
                var error = SqliteErrors.Translate(ex);
                request.SetError(error);
                var undo = request.TakeUndo() ?? _commands.TakeUndo();
                if (single)
                {
                    try
                    {
                        if (!_commands.Connection.AutoCommitState())
                        {
                            _commands.Get("ROLLBACK", 0).ExecuteNonQuery();
                        }
                    }
                    finally
                    {
                        Undo(undo);
                    }

                    Complete(batch, start, i + 1);
                    return i + 1;
                }

                if (_commands.Connection.AutoCommitState())
                {
                    // SQLite already rolled back the whole transaction, and with it the requests before this
                    // one: this one fails alone and the group runs again without it (theirs undone, so that they
                    // run again from where they began).
                    Undo(undo);
                    for (var j = i - 1; j >= start; j--)
                    {
                        Undo(batch[j].TakeUndo());
                    }

                    request.Complete();
                    batch.RemoveAt(i);
                    return start;
                }

                try
                {
                    _commands.Get("ROLLBACK TO w", 0).ExecuteNonQuery();
                    _commands.Get("RELEASE w", 0).ExecuteNonQuery();
                }
                finally
                {
                    Undo(undo);
                }
            }
        }

        try
        {
            _commands.Get("COMMIT", 0).ExecuteNonQuery();
            Commits++;
            for (var i = start; i < batch.Count; i++)
            {
                batch[i].TakeUndo();
            }
        }
        catch (SqliteException ex)
        {
            var error = SqliteErrors.Translate(ex);
            if (!_commands.Connection.AutoCommitState())
            {
                _commands.Get("ROLLBACK", 0).ExecuteNonQuery();
            }

            for (var i = batch.Count - 1; i >= start; i--)
            {
                Undo(batch[i].TakeUndo());
                batch[i].SetError(error);
            }
        }

        Complete(batch, start, batch.Count);
        return batch.Count;
    }

    private static void Complete(List<IWriteRequest> batch, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            batch[i].Complete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopped.Task.ConfigureAwait(false);
        _commands.Dispose();
    }

    private interface IWriteRequest
    {
        CancellationToken CancellationToken { get; }
        WriteMode Mode { get; }
        void Run(CommandCache commands);
        void SetError(Exception error);
        void Fail(Exception error);
        void Complete();
        void Cancel();

        /// <summary>What its last run registered to undo should its changes be rolled back (set once the run succeeded).</summary>
        List<Action>? Undo { set; }

        /// <summary>Takes <see cref="Undo"/>, leaving none.</summary>
        List<Action>? TakeUndo();
    }

    private enum WriteMode { Grouped, OwnTransaction, NoTransaction }

    private sealed class WriteRequest<T>(Func<CommandCache, T> work, WriteMode mode, CancellationToken cancellationToken) : IWriteRequest
    {
        public WriteMode Mode => mode;
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;
        private List<Action>? _undo;

        public List<Action>? Undo { set => _undo = value; }

        public List<Action>? TakeUndo()
        {
            var undo = _undo;
            _undo = null;
            return undo;
        }

        public CancellationToken CancellationToken => cancellationToken;
        public Task<T> Task => _completion.Task;
        public void Run(CommandCache commands)
        {
            _error = null; // a run again after the whole transaction was rolled back: only its own outcome counts
            _result = work(commands);
        }
        public void SetError(Exception error) => _error = error;
        public void Fail(Exception error) => _completion.TrySetException(_error ?? error);
        public void Cancel() => _completion.TrySetCanceled(cancellationToken);

        public void Complete()
        {
            if (_error is not null)
            {
                _completion.TrySetException(_error);
            }
            else
            {
                _completion.TrySetResult(_result!);
            }
        }
    }
}

internal static class SqliteConnectionExtensions
{
    /// <summary>True when the connection is not inside a transaction.</summary>
    public static bool AutoCommitState(this SqliteConnection connection) =>
        SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) != 0;
}
