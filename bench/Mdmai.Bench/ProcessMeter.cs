using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Mdmai.Bench;

/// <summary>What one measured child process did.</summary>
public sealed class Measurement
{
    /// <summary>Wall time of the measured operation in seconds (for our children: as the child timed it, without process start).</summary>
    public double WallSeconds { get; set; }

    /// <summary>Wall time of the whole process in seconds.</summary>
    public double ProcessSeconds { get; set; }

    /// <summary>User CPU seconds of the process (and its children).</summary>
    public double UserSeconds { get; set; }

    /// <summary>System CPU seconds.</summary>
    public double SysSeconds { get; set; }

    /// <summary>Peak resident set in KiB; negative when unknown.</summary>
    public long MaxRssKb { get; set; } = -1;

    /// <summary>Figures the child reported.</summary>
    public Dictionary<string, double> Metrics { get; init; } = new(StringComparer.Ordinal);

    /// <summary>User + system CPU seconds.</summary>
    public double CpuSeconds => UserSeconds + SysSeconds;

    /// <summary>What the process printed on stdout (not kept in the results file).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Output { get; set; } = "";
}

/// <summary>
/// Runs a child process and measures it: wall time, CPU time (user + sys) and peak RSS. With GNU time
/// (<c>/usr/bin/time</c>, Debian package <c>time</c>) every figure is the child's own (wait4 rusage). Without it,
/// CPU comes from <c>getrusage(RUSAGE_CHILDREN)</c> before and after, and peak RSS only from our own children's
/// report of their <c>getrusage(RUSAGE_SELF)</c>.
/// </summary>
public static class ProcessMeter
{
    /// <summary>Line prefix of the result a child prints.</summary>
    public const string ResultPrefix = "@@RESULT ";

    private const string GnuTime = "/usr/bin/time";

    /// <summary>Whether GNU time is there.</summary>
    public static bool HasGnuTime { get; } = File.Exists(GnuTime);

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/> and measures it.</summary>
    /// <exception cref="InvalidOperationException">The process failed.</exception>
    public static Measurement Run(string file, IReadOnlyList<string> args, bool parseResult)
    {
        ArgumentNullException.ThrowIfNull(args);
        var timeFile = Path.GetTempFileName();
        try
        {
            var info = new ProcessStartInfo { UseShellExecute = false, RedirectStandardOutput = true };
            if (HasGnuTime)
            {
                info.FileName = GnuTime;
                foreach (var a in new[] { "-f", "%e %U %S %M", "-o", timeFile, file })
                {
                    info.ArgumentList.Add(a);
                }
            }
            else
            {
                info.FileName = file;
            }

            foreach (var a in args)
            {
                info.ArgumentList.Add(a);
            }

            var before = NativeMethods.ChildrenUsage();
            var stopwatch = Stopwatch.StartNew();
            using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            stopwatch.Stop();
            var after = NativeMethods.ChildrenUsage();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}.\n{Tail(output)}");
            }

            var m = parseResult ? ParseResult(output) : new Measurement();
            m.ProcessSeconds = stopwatch.Elapsed.TotalSeconds;
            m.Output = output;
            if (!parseResult)
            {
                m.WallSeconds = m.ProcessSeconds;
            }

            if (HasGnuTime)
            {
                var line = File.ReadAllLines(timeFile).Last(l => l.Length > 0).Split(' ');
                m.UserSeconds = double.Parse(line[1], CultureInfo.InvariantCulture);
                m.SysSeconds = double.Parse(line[2], CultureInfo.InvariantCulture);
                m.MaxRssKb = long.Parse(line[3], CultureInfo.InvariantCulture);
            }
            else
            {
                m.UserSeconds = after.User - before.User;
                m.SysSeconds = after.Sys - before.Sys;
                m.MaxRssKb = m.Metrics.TryGetValue("self_maxrss_kb", out var rss) ? (long)rss : -1;
            }

            return m;
        }
        finally
        {
            File.Delete(timeFile);
        }
    }

    /// <summary>Runs a shell command line (for redirections) through <c>sh -c 'exec ...'</c> and measures it.</summary>
    public static Measurement RunShell(string commandLine) => Run("/bin/sh", ["-c", "exec " + commandLine], parseResult: false);

    /// <summary>Quotes a word for sh.</summary>
    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    private static Measurement ParseResult(string output)
    {
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"The child printed no result.\n{Tail(output)}");
        var metrics = JsonSerializer.Deserialize<Dictionary<string, double>>(line[ResultPrefix.Length..])!;
        return new Measurement { Metrics = metrics, WallSeconds = metrics.GetValueOrDefault("seconds") };
    }

    private static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;

    /// <summary>Prints a child's result line (used by the child side).</summary>
    public static void Report(Dictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var self = NativeMethods.SelfUsage();
        metrics["self_cpu_s"] = self.User + self.Sys;
        metrics["self_maxrss_kb"] = self.MaxRssKb;
        Console.Out.WriteLine(ResultPrefix + JsonSerializer.Serialize(metrics));
        Console.Out.Flush();
    }
}

/// <summary>getrusage(2).</summary>
internal static class NativeMethods
{
    private const int RusageSelf = 0;
    private const int RusageChildren = -1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UtimeSec;
        public long UtimeUsec;
        public long StimeSec;
        public long StimeUsec;
        public long MaxRss;
        public long IxRss;
        public long IdRss;
        public long IsRss;
        public long MinFlt;
        public long MajFlt;
        public long NSwap;
        public long InBlock;
        public long OuBlock;
        public long MsgSnd;
        public long MsgRcv;
        public long NSignals;
        public long NVcsw;
        public long NIvcsw;
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetRusage(int who, out Rusage usage);

    [DllImport("libc", EntryPoint = "sync")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void SyncNative();

    /// <summary>sync(2): writes dirty pages out, so a copy made just before a run does not compete with it for the disk.</summary>
    public static void Sync()
    {
        if (OperatingSystem.IsLinux())
        {
            SyncNative();
        }
    }

    public static (double User, double Sys, long MaxRssKb) ChildrenUsage() => Get(RusageChildren);

    public static (double User, double Sys, long MaxRssKb) SelfUsage() => Get(RusageSelf);

    private static (double User, double Sys, long MaxRssKb) Get(int who)
    {
        if (!OperatingSystem.IsLinux() || GetRusage(who, out var u) != 0)
        {
            return (0, 0, -1);
        }

        return (u.UtimeSec + (u.UtimeUsec / 1e6), u.StimeSec + (u.StimeUsec / 1e6), u.MaxRss);
    }
}
