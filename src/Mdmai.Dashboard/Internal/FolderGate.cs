using Microsoft.AspNetCore.Http;

namespace Mdmai.Dashboard.Internal;

/// <summary>
/// Keeps requests away from the data folder while it is swapped (an in-place restore closes and reopens it): every API
/// request that reaches the folder passes the gate; <see cref="CloseAsync"/> shuts it, waits for the requests already
/// inside (a long upload finishes first), and until it is opened again new ones get 503 with code <c>restoring</c>.
/// The job routes stay open, so the page can follow the restore's progress.
/// </summary>
internal sealed class FolderGate
{
    private readonly Lock _lock = new();
    private int _inside;
    private TaskCompletionSource? _drained;
    private bool _closed;

    public async Task Middleware(HttpContext context, Func<Task> next)
    {
        var path = context.Request.Path;
        if (!path.StartsWithSegments("/api/v1", StringComparison.Ordinal) || path.StartsWithSegments("/api/v1/jobs", StringComparison.Ordinal)
            || path.StartsWithSegments("/api/v1/session", StringComparison.Ordinal))
        {
            await next().ConfigureAwait(false);
            return;
        }

        if (!TryEnter())
        {
            context.Response.Headers.RetryAfter = "2";
            await Http.ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "restoring", "The data folder is being restored from a backup; it is back in a moment.").ConfigureAwait(false);
            return;
        }

        try
        {
            await next().ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    private bool TryEnter()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            _inside++;
            return true;
        }
    }

    private void Exit()
    {
        lock (_lock)
        {
            if (--_inside == 0)
            {
                _drained?.TrySetResult();
            }
        }
    }

    /// <summary>Shuts the gate and waits until no request is inside; <see cref="Open"/> lets them in again.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        Task drained;
        lock (_lock)
        {
            if (_closed)
            {
                throw new InvalidOperationException("The gate is already closed.");
            }

            _closed = true;
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_inside == 0)
            {
                _drained.TrySetResult();
            }

            drained = _drained.Task;
        }

        try
        {
            await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Open();
            throw;
        }
    }

    public void Open()
    {
        lock (_lock)
        {
            _closed = false;
            _drained = null;
        }
    }
}
