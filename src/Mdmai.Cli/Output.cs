using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Spectre.Console;

namespace Mdmai.Cli;

/// <summary>Where a command writes: JSON to stdout in <c>--json</c> mode, otherwise text and tables for people.</summary>
internal sealed class Output
{
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;

    public Output(TextWriter stdout, TextWriter stderr, bool json, bool interactive)
    {
        _stdout = stdout;
        _stderr = stderr;
        Json = json;
        Interactive = interactive && !json;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!Interactive)
        {
            Console.Profile.Width = 200;
        }
    }

    public bool Json { get; }
    public bool Interactive { get; }
    public IAnsiConsole Console { get; }

    public void WriteJson<T>(T value)
    {
        if (_remote.Count > 0 && JsonSerializer.SerializeToNode(value, CliJson.For<T>()) is JsonObject json)
        {
            // What the command cost on an object store: every JSON result says it (arrays stay arrays).
            var sum = _remote.Aggregate(default(BackendRequests), (a, b) => a + (b.Requests ?? default));
            json["requests"] = new JsonObject { ["put"] = sum.Put, ["get"] = sum.Get, ["list"] = sum.List, ["head"] = sum.Head, ["delete"] = sum.Delete, ["total"] = sum.Total };
            _stdout.WriteLine(json.ToJsonString(CliJson.Options));
            return;
        }

        _stdout.WriteLine(JsonSerializer.Serialize(value, CliJson.For<T>()));
    }

    /// <summary>Writes <paramref name="value"/> as one compact line (for a program that reads the first line of a command that keeps running).</summary>
    public void WriteJsonLine(JsonObject value)
    {
        _stdout.WriteLine(value.ToJsonString());
        _stdout.Flush();
    }

    private readonly List<IBackupBackend> _remote = [];

    /// <summary>Counts the requests of <paramref name="backend"/> into the JSON result, when it sends requests (an object store).</summary>
    public void Track(IBackupBackend backend)
    {
        if (backend.Requests is not null)
        {
            _remote.Add(backend);
        }
    }

    public void Line(string text) => _stdout.WriteLine(text);

    /// <summary>A warning for people, on standard error (JSON mode keeps standard output for results).</summary>
    public void Warn(string text) => _stderr.WriteLine($"mdmai: warning: {text}");

    /// <summary>Pushes what was written out now (a long-running command's first lines).</summary>
    public void Flush()
    {
        _stdout.Flush();
        _stderr.Flush();
    }

    /// <summary>A command's result: <paramref name="json"/> in JSON mode, else one line for people.</summary>
    public void Report<T>(T json, string text)
    {
        if (Json)
        {
            WriteJson(json);
        }
        else
        {
            Line(text);
        }
    }

    public void Error(Exception error)
    {
        var code = error is MdmaiException m ? m.Code : MdmaiErrorCode.Unknown;
        if (Json)
        {
            WriteJson(new JsonObject { ["error"] = new JsonObject { ["code"] = EnumText.ToText(code), ["exit_code"] = ExitCodes.For(code), ["message"] = error.Message } });
        }
        else
        {
            _stderr.WriteLine($"mdmai: {error.Message}");
        }
    }

    /// <summary>
    /// Runs long work with a progress bar on a terminal (ETA; with <paramref name="bytes"/> also bytes done and the rate);
    /// silently in JSON mode or when piped.
    /// </summary>
    public Task<T> WithProgressAsync<T>(string label, long? total, Func<IProgress<long>?, Task<T>> work, bool bytes = false) =>
        WithProgressAsync<T>(label, total, progress => work(progress is null ? null : new DoneOnly(progress)), bytes);

    /// <summary>Passes a count on as done-without-a-total, at once (a Progress&lt;T&gt; here would post each report a second time).</summary>
    private sealed class DoneOnly(IProgress<(long Done, long? Total)> inner) : IProgress<long>
    {
        public void Report(long value) => inner.Report((value, null));
    }

    /// <summary>
    /// The same, for work that learns its total as it goes (an import counts its files' bytes first): each report
    /// gives what is done and, once known, the total.
    /// </summary>
    public async Task<T> WithProgressAsync<T>(string label, long? total, Func<IProgress<(long Done, long? Total)>?, Task<T>> work, bool bytes = false)
    {
        if (!Interactive)
        {
            return await work(null);
        }

        T result = default!;
        await Console.Progress()
            .AutoClear(false)
            .Columns(bytes
                ? [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn(), new SpinnerColumn()]
                : [new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn()])
            .StartAsync(async context =>
            {
                var task = context.AddTask(label, maxValue: total is > 0 ? total.Value : 1);
                task.IsIndeterminate = total is null or <= 0;
                var progress = new Progress<(long Done, long? Total)>(report =>
                {
                    if (report.Total is > 0 and var known && (task.IsIndeterminate || known != task.MaxValue))
                    {
                        task.MaxValue = known;
                        task.IsIndeterminate = false;
                    }

                    task.Value = Math.Min(report.Done, task.MaxValue);
                });
                result = await work(progress);
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return result;
    }
}
