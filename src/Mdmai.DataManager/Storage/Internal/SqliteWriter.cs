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

    /// <summary>Transactions committed so far (a test reads it to prove grouping).</summary>
    public long Commits { get; private set; }

    /// <summary>Runs <paramref name="work"/> on the writer thread inside a transaction.</summary>
    public Task<T> ExecuteAsync<T>(Func<CommandCache, T> work, CancellationToken cancellationToken = default) =>
        EnqueueAsync(new WriteRequest<T>(work, transactional: true, cancellationToken), cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> on the writer thread alone and outside any transaction (VACUUM, migrations,
    /// checkpoints): nothing else writes while it runs.
    /// </summary>
    public Task<T> ExecuteExclusiveAsync<T>(Func<CommandCache, T> work, CancellationToken cancellationToken = default) =>
        EnqueueAsync(new WriteRequest<T>(work, transactional: false, cancellationToken), cancellationToken);

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
                    else if (!request.Transactional)
                    {
                        if (batch.Count > 0)
                        {
                            RunBatch(batch);
                            batch.Clear();
                        }

                        RunAlone(request);
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

        request.Complete();
    }

    private void RunBatch(List<IWriteRequest> batch)
    {
        try
        {
            _commands.Get("BEGIN IMMEDIATE", 0).ExecuteNonQuery();
        }
        catch (Exception ex)
        {
            var error = SqliteErrors.Translate(ex);
            foreach (var request in batch)
            {
                request.Fail(error);
            }

            return;
        }

        var single = batch.Count == 1;
        var failures = 0;
        foreach (var request in batch)
        {
            if (!single)
            {
                _commands.Get("SAVEPOINT w", 0).ExecuteNonQuery();
            }

            try
            {
                request.Run(_commands);
                if (!single)
                {
                    _commands.Get("RELEASE w", 0).ExecuteNonQuery();
                }
            }
#pragma warning disable CA1031 // a failing request must fail only itself; the exception is handed to its caller
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failures++;
                request.SetError(SqliteErrors.Translate(ex));
                if (!single)
                {
                    _commands.Get("ROLLBACK TO w", 0).ExecuteNonQuery();
                    _commands.Get("RELEASE w", 0).ExecuteNonQuery();
                }
            }
        }

        try
        {
            if (single && failures == 1)
            {
                _commands.Get("ROLLBACK", 0).ExecuteNonQuery();
            }
            else
            {
                _commands.Get("COMMIT", 0).ExecuteNonQuery();
                Commits++;
            }
        }
        catch (Exception ex)
        {
            var error = SqliteErrors.Translate(ex);
            try
            {
                if (!_commands.Connection.AutoCommitState())
                {
                    _commands.Get("ROLLBACK", 0).ExecuteNonQuery();
                }
            }
            catch (SqliteException)
            {
                // The connection is already out of its transaction; nothing more to undo.
            }

            foreach (var request in batch)
            {
                request.Fail(error);
            }

            return;
        }

        foreach (var request in batch)
        {
            request.Complete();
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
        bool Transactional { get; }
        void Run(CommandCache commands);
        void SetError(Exception error);
        void Fail(Exception error);
        void Complete();
        void Cancel();
    }

    private sealed class WriteRequest<T>(Func<CommandCache, T> work, bool transactional, CancellationToken cancellationToken) : IWriteRequest
    {
        public bool Transactional => transactional;
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _error;

        public CancellationToken CancellationToken => cancellationToken;
        public Task<T> Task => _completion.Task;
        public void Run(CommandCache commands) => _result = work(commands);
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
