namespace Mdmai.DataManager;

/// <summary>
/// Runs a piece of background work every interval until disposed (the checkpointer, the search indexer). The work
/// handles the failures it expects itself — they are retried at the next tick — and gets the token that stops it.
/// </summary>
internal sealed class PeriodicLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    public PeriodicLoop(TimeSpan interval, Func<CancellationToken, Task> tick)
    {
        _loop = Task.Run(() => RunAsync(interval, tick));
    }

    private async Task RunAsync(TimeSpan interval, Func<CancellationToken, Task> tick)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                await tick(_stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
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
