using Mdmai.Cli;

namespace Mdmai.DataManager.Tests.Cli;

/// <summary>
/// Runs the CLI for the CLI tests: in this process (<see cref="MdmaiCli.RunAsync"/>), or — when <c>MDMAI_TEST_CLI</c>
/// names an executable — as that program. <c>.ci/run</c> publishes the native (AOT) CLI and runs these tests again
/// against it, so the shipped binary passes the same assertions as the code under the JIT.
/// </summary>
internal static class CliRunner
{
    /// <summary>The executable under test, or null for in-process.</summary>
    public static string? Executable { get; } = Environment.GetEnvironmentVariable("MDMAI_TEST_CLI") is { Length: > 0 } path ? path : null;

    /// <summary>Runs <c>mdmai <paramref name="args"/></c> with exactly <paramref name="environment"/> as its environment.</summary>
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (Executable is null)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var exit = await MdmaiCli.RunAsync(args, stdout, stderr, name => environment?.GetValueOrDefault(name), interactive: false);
            return (exit, stdout.ToString(), stderr.ToString());
        }

        // The same environment as in-process: only what the test gives (no HOME, no MDMAI_* of the machine).
        return await Tool.RunAsync(Executable, args, stdinFile: null, environment ?? new Dictionary<string, string>());
    }
}
