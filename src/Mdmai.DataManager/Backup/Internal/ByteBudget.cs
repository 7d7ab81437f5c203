namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// A bound on the bytes a pipeline holds: a stage waits before taking more than is left. A request larger than the
/// whole budget is granted once nothing else is held, so the biggest chunk always gets through.
/// </summary>
internal sealed class ByteBudget
{
    private readonly Lock _lock = new();
    private readonly LinkedList<(long Amount, TaskCompletionSource Ready)> _waiters = new();
    private readonly long _capacity;
    private long _available;

    public ByteBudget(long capacity)
    {
        _capacity = capacity;
        _available = capacity;
    }

    public long Capacity => _capacity;

    public ValueTask AcquireAsync(long amount, CancellationToken cancellationToken)
    {
        amount = Math.Min(amount, _capacity);
        lock (_lock)
        {
            if (_waiters.Count == 0 && _available >= amount)
            {
                _available -= amount;
                return ValueTask.CompletedTask;
            }

            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var node = _waiters.AddLast((amount, ready));
            var registration = cancellationToken.Register(() =>
            {
                lock (_lock)
                {
                    if (node.List is not null)
                    {
                        _waiters.Remove(node);
                        ready.TrySetCanceled(cancellationToken);
                    }
                }
            });
            return new ValueTask(ready.Task.ContinueWith(t => { registration.Dispose(); t.GetAwaiter().GetResult(); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        }
    }

    public void Release(long amount)
    {
        amount = Math.Min(amount, _capacity);
        List<TaskCompletionSource> wake = [];
        lock (_lock)
        {
            _available += amount;
            while (_waiters.First is { } first && _available >= first.Value.Amount)
            {
                _available -= first.Value.Amount;
                _waiters.RemoveFirst();
                wake.Add(first.Value.Ready);
            }
        }

        foreach (var ready in wake)
        {
            ready.TrySetResult();
        }
    }
}
