using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Mdmai.DataManager;

namespace Mdmai.Dashboard.Internal;

/// <summary>Where a long operation stands: done and total bytes and files, the rate and the time left.</summary>
internal sealed record JobProgress(long Bytes, long? TotalBytes, long Files, long? TotalFiles, string? Current);

/// <summary>
/// A long operation (backup, restore, import, verify, check, repair, prune, copy off-site) running on the server: its
/// progress is pushed to browsers by Server-Sent Events (<c>/api/v1/jobs/{id}/events</c>) and can be polled
/// (<c>/api/v1/jobs/{id}</c>); it can be cancelled. Finished jobs are kept (the last 50) so a page opened later sees how
/// they ended.
/// </summary>
internal sealed class Job
{
    private readonly object _gate = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private JobProgress _progress = new(0, null, 0, null, null);
    private (double Seconds, long Bytes) _rateFrom;

    public Job(string id, string kind, string title)
    {
        Id = id;
        Kind = kind;
        Title = title;
        StartedAt = DateTimeOffset.UtcNow;
    }

    public string Id { get; }

    public string Kind { get; }

    public string Title { get; }

    public DateTimeOffset StartedAt { get; }

    public DateTimeOffset? EndedAt { get; private set; }

    /// <summary>running, succeeded, failed or cancelled.</summary>
    public string State { get; private set; } = "running";

    /// <summary>Runs with no other job beside it (an in-place restore).</summary>
    public bool Alone { get; init; }

    public JsonNode? Result { get; private set; }

    public string? Error { get; private set; }

    public string? ErrorCode { get; private set; }

    /// <summary>Bumped at every change; an event stream sends when it moves.</summary>
    public int Version { get; private set; }

    internal CancellationTokenSource Cancellation { get; } = new();

    internal Task Completion { get; set; } = Task.CompletedTask;

    /// <summary>Completes at the next change.</summary>
    public Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    public void Report(JobProgress progress)
    {
        lock (_gate)
        {
            _progress = progress;
            Bump();
        }
    }

    public void Finish(string state, JsonNode? result, Exception? error)
    {
        lock (_gate)
        {
            State = state;
            Result = result;
            Error = error?.Message;
            ErrorCode = error is MdmaiException m ? EnumText.ToText(m.Code) : error is null ? null : "internal";
            EndedAt = DateTimeOffset.UtcNow;
            Bump();
        }
    }

    private void Bump()
    {
        Version++;
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    /// <summary>The job as the API shows it: state, progress with rate (bytes/s over the last seconds) and ETA, result or error.</summary>
    public JsonObject ToJson()
    {
        lock (_gate)
        {
            var seconds = _clock.Elapsed.TotalSeconds;
            var p = _progress;
            // The rate over a window that moves forward every few seconds: a burst at the start does not skew it for long.
            if (seconds - _rateFrom.Seconds > 5)
            {
                _rateFrom = (seconds - 2.5, (long)(p.Bytes - ((p.Bytes - _rateFrom.Bytes) * (2.5 / Math.Max(0.001, seconds - _rateFrom.Seconds)))));
            }

            var window = Math.Max(0.001, seconds - _rateFrom.Seconds);
            var rate = Math.Max(0, (p.Bytes - _rateFrom.Bytes) / window);
            double? eta = p.TotalBytes is { } total && rate > 0 && State == "running" ? Math.Max(0, (total - p.Bytes) / rate) : null;
            return new JsonObject
            {
                ["id"] = Id,
                ["kind"] = Kind,
                ["title"] = Title,
                ["state"] = State,
                ["started_at"] = StartedAt.ToString("O"),
                ["ended_at"] = EndedAt?.ToString("O"),
                ["version"] = Version,
                ["progress"] = new JsonObject
                {
                    ["bytes"] = p.Bytes,
                    ["total_bytes"] = p.TotalBytes,
                    ["files"] = p.Files,
                    ["total_files"] = p.TotalFiles,
                    ["rate_bytes_per_second"] = Math.Round(rate),
                    ["eta_seconds"] = eta is { } e ? Math.Round(e, 1) : null,
                    ["current"] = p.Current,
                    ["elapsed_seconds"] = Math.Round((EndedAt ?? DateTimeOffset.UtcNow).Subtract(StartedAt).TotalSeconds, 1),
                },
                ["result"] = Result?.DeepClone(),
                ["error"] = Error is null ? null : new JsonObject { ["code"] = ErrorCode, ["message"] = Error },
            };
        }
    }
}

/// <summary>The jobs of this server: started, listed, cancelled; one of each kind that changes the repository or the folder runs at a time.</summary>
internal sealed class JobManager
{
    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly Lock _starting = new();
    private int _next;

    /// <summary>Starts <paramref name="work"/> as a job; it reports progress through the <see cref="IProgress{T}"/> it is given.</summary>
    public Job Start(string kind, string title, Func<IProgress<JobProgress>, CancellationToken, Task<JsonNode?>> work) =>
        Start(kind, title, work, alone: false);

    /// <summary>Starts a job that must run alone: refused while any other job runs, and no other starts until it ends.</summary>
    public Job StartAlone(string kind, string title, Func<IProgress<JobProgress>, CancellationToken, Task<JsonNode?>> work) =>
        Start(kind, title, work, alone: true);

    private Job Start(string kind, string title, Func<IProgress<JobProgress>, CancellationToken, Task<JsonNode?>> work, bool alone)
    {
        Job job;
        lock (_starting)
        {
            var running = _jobs.Values.Where(j => j.State == "running").ToList();
            if (running.FirstOrDefault(j => j.Alone) is { } solo)
            {
                throw new MdmaiException(MdmaiErrorCode.Locked, $"“{solo.Title}” is running (job {solo.Id}): nothing else can start until it ends.");
            }

            if (alone && running.FirstOrDefault() is { } other)
            {
                throw new MdmaiException(MdmaiErrorCode.Locked, $"“{other.Title}” is running (job {other.Id}): wait for it to end, or cancel it, first.");
            }

            if (running.FirstOrDefault(j => j.Kind == kind) is { } same)
            {
                throw new MdmaiException(MdmaiErrorCode.Locked, $"A {kind} is already running (job {same.Id}): wait for it, or cancel it.");
            }

            job = new Job($"{Interlocked.Increment(ref _next)}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}", kind, title) { Alone = alone };
            _jobs[job.Id] = job;
        }

        var progress = new Reporter(job);
        job.Completion = Task.Run(async () =>
        {
            try
            {
                var result = await work(progress, job.Cancellation.Token).ConfigureAwait(false);
                job.Finish("succeeded", result, null);
            }
            catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
            {
                job.Finish("cancelled", null, null);
            }
#pragma warning disable CA1031 // a job's failure is its result: the browser shows it
            catch (Exception ex)
#pragma warning restore CA1031
            {
                job.Finish("failed", null, ex);
            }

            Trim();
        });
        return job;
    }

    public Job? Find(string id) => _jobs.TryGetValue(id, out var job) ? job : null;

    public IReadOnlyList<Job> All => [.. _jobs.Values.OrderByDescending(j => j.StartedAt)];

    public async Task CancelAllAsync()
    {
        var running = _jobs.Values.Where(j => j.State == "running").ToList();
        foreach (var job in running)
        {
            await job.Cancellation.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(running.Select(j => j.Completion)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // cancelled, as asked
        }
    }

    private void Trim()
    {
        foreach (var old in _jobs.Values.Where(j => j.State != "running").OrderByDescending(j => j.StartedAt).Skip(50))
        {
            _jobs.TryRemove(old.Id, out _);
        }
    }

    /// <summary>Reports at most every 100 ms (and always the last), so a fast loop does not flood the browsers.</summary>
    private sealed class Reporter(Job job) : IProgress<JobProgress>
    {
        private long _last;

        public void Report(JobProgress value)
        {
            var now = Environment.TickCount64;
            if (now - Interlocked.Read(ref _last) >= 100 || (value.TotalBytes is { } total && value.Bytes >= total))
            {
                Interlocked.Exchange(ref _last, now);
                job.Report(value);
            }
        }
    }
}
