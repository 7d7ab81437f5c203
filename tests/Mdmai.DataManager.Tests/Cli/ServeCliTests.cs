using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Mdmai.Cli;

namespace Mdmai.DataManager.Tests.Cli;

/// <summary>
/// <c>mdmai serve</c> as a user (or the desktop shell) runs it: one JSON line with the sign-in URL and token, the folder
/// served and held while it runs, and a clean stop on Ctrl+C. In-process, or the native binary under
/// <c>MDMAI_TEST_CLI</c> (stopped with SIGINT, as a terminal would).
/// </summary>
public sealed class ServeCliTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly TempFolder _temp = new();

    private string Data => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Serve_prints_one_JSON_line_serves_the_folder_to_the_token_holds_it_and_stops_on_interrupt()
    {
        Assert.Equal(0, (await CliRunner.RunAsync(["--data-dir", Data, "init"])).Exit);
        Assert.Equal(0, (await CliRunner.RunAsync(["--data-dir", Data, "campaign", "add", "--name", "Curse of Strahd", "--system", "dnd5e"])).Exit);

        await using var serve = await Serving.StartAsync(["--data-dir", Data, "serve", "--json"]);
        var line = JsonNode.Parse(serve.FirstLine)!.AsObject();
        var url = new Uri(line["url"]!.GetValue<string>());
        var token = line["token"]!.GetValue<string>();
        Assert.Equal("127.0.0.1", url.Host);
        Assert.Equal("/signin", url.AbsolutePath);
        Assert.Equal($"?token={token}", url.Query);
        Assert.Equal(Path.GetFullPath(Data), line["data_dir"]!.GetValue<string>());

        using var anonymous = new HttpClient { BaseAddress = new Uri(url.GetLeftPart(UriPartial.Authority)) };
        using (var refused = await anonymous.GetAsync("/api/v1/status"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var client = new HttpClient { BaseAddress = anonymous.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var campaigns = JsonNode.Parse(await client.GetStringAsync("/api/v1/entities/campaign"))!;
        Assert.Equal("Curse of Strahd", campaigns["items"]![0]!["name"]!.GetValue<string>());

        // While it serves, it is the app: the folder is held.
        var (exit, _, error) = await CliRunner.RunAsync(["--data-dir", Data, "files", "ls"]);
        Assert.True(exit == 19, $"exit {exit}: {error}");

        Assert.Equal(0, await serve.StopAsync());
        Assert.Equal(0, (await CliRunner.RunAsync(["--data-dir", Data, "files", "ls"])).Exit);
    }

    [Fact]
    public async Task Serving_on_an_address_other_computers_reach_needs_allow_remote_and_says_why()
    {
        Assert.Equal(0, (await CliRunner.RunAsync(["--data-dir", Data, "init"])).Exit);

        var (exit, output, error) = await CliRunner.RunAsync(["--data-dir", Data, "serve", "--bind", "0.0.0.0"]);

        Assert.Equal(6, exit);
        Assert.Contains("--allow-remote", error + output, StringComparison.Ordinal);
        Assert.Contains("anyone there who learns the token", error + output, StringComparison.Ordinal);
    }

    /// <summary>A running <c>mdmai serve</c>: its first line of output, and a way to stop it as Ctrl+C would.</summary>
    private sealed class Serving : IAsyncDisposable
    {
        private readonly Task<int> _exit;
        private readonly Action _interrupt;

        private Serving(string firstLine, Task<int> exit, Action interrupt)
        {
            FirstLine = firstLine;
            _exit = exit;
            _interrupt = interrupt;
        }

        public string FirstLine { get; }

        public static async Task<Serving> StartAsync(string[] args)
        {
            if (CliRunner.Executable is null)
            {
                var stdout = new FirstLineWriter();
                var cancel = new CancellationTokenSource();
                var exit = MdmaiCli.RunAsync(args, stdout, new StringWriter(), _ => null, interactive: false, cancel.Token);
                var first = await stdout.FirstLine.WaitAsync(Wait);
                return new Serving(first, exit, cancel.Cancel);
            }

            var start = new ProcessStartInfo(CliRunner.Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.Environment.Clear();
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start)!;
            _ = process.StandardError.ReadToEndAsync();
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(Wait) ?? throw new InvalidOperationException("serve printed nothing");
            _ = process.StandardOutput.ReadToEndAsync();
            return new Serving(line, WaitAsync(process), () => Interrupt(process.Id));

            static async Task<int> WaitAsync(Process process)
            {
                using (process)
                {
                    await process.WaitForExitAsync();
                    return process.ExitCode;
                }
            }

            static void Interrupt(int pid)
            {
                using var kill = Process.Start("kill", ["-INT", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                kill.WaitForExit();
            }
        }

        public async Task<int> StopAsync()
        {
            _interrupt();
            return await _exit.WaitAsync(Wait);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_exit.IsCompleted)
            {
                await StopAsync();
            }
        }
    }

    /// <summary>Collects what is written and completes <see cref="FirstLine"/> at the first newline.</summary>
    private sealed class FirstLineWriter : TextWriter
    {
        private readonly StringBuilder _text = new();
        private readonly TaskCompletionSource<string> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override Encoding Encoding => Encoding.UTF8;

        public Task<string> FirstLine => _first.Task;

        public override void Write(char value)
        {
            lock (_text)
            {
                _text.Append(value);
                if (value == '\n')
                {
                    _first.TrySetResult(_text.ToString().TrimEnd());
                }
            }
        }
    }
}
