using System.Collections.Concurrent;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>
/// Read connections (query_only, PRAGMAs applied) kept open with their prepared statements and lent out one
/// caller at a time. Under WAL readers never block the writer or each other.
/// </summary>
internal sealed class ReaderPool(string path, TimeSpan busyTimeout, int maxReaders) : IDisposable
{
    private readonly ConcurrentBag<CommandCache> _idle = [];
    private readonly SemaphoreSlim _slots = new(maxReaders, maxReaders);
    private volatile bool _disposed;

    public T Read<T>(Func<CommandCache, T> read, CancellationToken cancellationToken)
    {
        using var lease = Rent(cancellationToken);
        try
        {
            return read(lease.Commands);
        }
        catch (Exception ex)
        {
            if (!lease.Commands.Connection.AutoCommitState())
            {
                lease.Commands.Execute("ROLLBACK");
            }

            throw SqliteErrors.Translate(ex);
        }
    }

    public Lease Rent(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _slots.Wait(cancellationToken);
        try
        {
            var commands = _idle.TryTake(out var idle) ? idle : new CommandCache(ConnectionFactory.Open(path, busyTimeout, readOnly: true));
            return new Lease(this, commands);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    private void Return(CommandCache commands)
    {
        if (_disposed)
        {
            commands.Dispose();
        }
        else
        {
            _idle.Add(commands);
        }

        _slots.Release();
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var commands))
        {
            commands.Dispose();
        }
    }

    /// <summary>One borrowed connection; disposing gives it back.</summary>
    public sealed class Lease(ReaderPool pool, CommandCache commands) : IDisposable
    {
        private bool _returned;

        public CommandCache Commands { get; } = commands;

        public void Dispose()
        {
            if (!_returned)
            {
                _returned = true;
                pool.Return(Commands);
            }
        }
    }
}
