using Mdmai.DataManager.Tests.Reliability;

namespace Mdmai.DataManager.Tests;

/// <summary>
/// The test assembly's entry point. The test host loads the assembly as a library and never calls it; run as
/// <c>dotnet Mdmai.DataManager.Tests.dll MODE ...</c> it is the child process of the facade and reliability tests,
/// and the driver of <c>scripts/reliability.sh</c>.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0)
        {
            return 0;
        }

        return args[0] switch
        {
            "facade-open" => await ChildProcesses.FacadeOpenAsync(args[1..]),
            "crash-worker" => await CrashWorker.RunAsync(args[1..]),
            "crash-trials" => await CrashTrials.MainAsync(args[1..]),
            "corruption-sweep" => await CorruptionSweep.MainAsync(args[1..]),
            _ => 2,
        };
    }
}
