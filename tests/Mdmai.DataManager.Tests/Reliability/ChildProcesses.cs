using System.Diagnostics;
using System.Threading.Channels;

namespace Mdmai.DataManager.Tests.Reliability;

/// <summary>This test assembly run as a child process (see <see cref="Program"/>), its output read line by line.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly List<string> _all = [];
    private readonly Task _stdout;
    private readonly Task<string> _stderr;

    private ChildProcess(Process process)
    {
        Process = process;
        _stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (_all)
                {
                    _all.Add(line);
                }

                _lines.Writer.TryWrite(line);
            }

            _lines.Writer.TryComplete();
        });
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public Process Process { get; }

    /// <summary>The dotnet host that runs this test (the one the SDK set), else the one on the PATH.</summary>
    public static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static string Assembly => typeof(Program).Assembly.Location;

    public static ChildProcess Start(params string[] args)
    {
        var start = new ProcessStartInfo(Dotnet)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Assembly);
        foreach (var argument in args)
        {
            start.ArgumentList.Add(argument);
        }

        return new ChildProcess(Process.Start(start)!);
    }

    /// <summary>Every line printed so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_all)
            {
                return [.. _all];
            }
        }
    }

    /// <summary>Waits for the next line that <paramref name="match"/> accepts (lines before it are skipped).</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (await _lines.Reader.WaitToReadAsync(cancel.Token))
            {
                while (_lines.Reader.TryRead(out var line))
                {
                    if (match(line))
                    {
                        return line;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No matching line from the child within {timeout}; it printed:\n{string.Join("\n", Lines)}\n{StandardErrorSoFar()}");
        }

        throw new InvalidOperationException($"The child ended without a matching line (exit {ExitCodeOrNull()}); it printed:\n{string.Join("\n", Lines)}\n{await _stderr}");
    }

    private string StandardErrorSoFar() => _stderr.IsCompleted ? _stderr.Result : "";

    private int? ExitCodeOrNull() => Process.HasExited ? Process.ExitCode : null;

    /// <summary>SIGKILL: no finalizer, no flush, no dispose runs.</summary>
    public void Kill()
    {
        try
        {
            Process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // it had already ended
        }
    }

    /// <summary>Waits for the end and for all of its output.</summary>
    public async Task<(int ExitCode, IReadOnlyList<string> Lines, string StandardError)> WaitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await Process.WaitForExitAsync(cancel.Token);
        await _stdout;
        return (Process.ExitCode, Lines, await _stderr);
    }

    public void Dispose()
    {
        Kill();
        Process.Dispose();
    }
}

/// <summary>The child modes of the facade tests.</summary>
internal static class ChildProcesses
{
    /// <summary>
    /// <c>facade-open try|hold DIR [PASSWORD]</c>: opens the data folder through <see cref="MdmaiDataManager"/>; prints
    /// <c>opened</c> or <c>error CODE</c>. <c>hold</c> keeps it open until standard input closes or a line arrives.
    /// </summary>
    public static async Task<int> FacadeOpenAsync(string[] args)
    {
        var (mode, folder, password) = (args[0], args[1], args.Length > 2 ? args[2] : null);
        MdmaiDataManager manager;
        try
        {
            manager = await MdmaiDataManager.OpenAsync(new DataManagerOptions { DataFolder = folder, CreateIfMissing = false, BackgroundWork = false }, password);
        }
        catch (MdmaiException ex)
        {
            Console.WriteLine($"error {ex.Code}");
            Console.Error.WriteLine(ex.Message);
            return 3;
        }

        await using (manager)
        {
            Console.WriteLine("opened");
            if (mode == "hold")
            {
                await Console.In.ReadLineAsync();
            }
        }

        return 0;
    }
}
