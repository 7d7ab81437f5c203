namespace Mdmai.DataManager;

/// <summary>
/// Runs a piece of background work every interval, on the given clock (tests use a fake one), until disposed:
/// the one loop of the library — the checkpointer, the search indexer, the cache trim, scheduled integrity checks and
/// auto backups. The work handles the failures it expects itself (they are retried at the next tick) and gets the
/// token that stops it; a tick that fails otherwise goes to <c>failed</c> and the loop goes on.
/// </summary>
internal sealed class PeriodicLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    public PeriodicLoop(TimeSpan interval, Func<CancellationToken, Task> tick, TimeProvider? clock = null, Action<Exception>? failed = null)
    {
        _loop = Task.Run(() => RunAsync(interval, tick, clock ?? TimeProvider.System, failed));
    }

    private async Task RunAsync(TimeSpan interval, Func<CancellationToken, Task> tick, TimeProvider clock, Action<Exception>? failed)
    {
        using var timer = new PeriodicTimer(interval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    await tick(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (failed is not null && (ex is not OperationCanceledException || !_stop.IsCancellationRequested))
                {
                    failed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>Stops the loop and waits for a tick in progress to end.</summary>
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
}
