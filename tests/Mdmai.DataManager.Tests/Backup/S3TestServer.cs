using System.Globalization;
using System.Diagnostics;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Mdmai.DataManager.Backup;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>
/// The real S3 server the tests use: the one given by <c>MDMAI_TEST_S3_ENDPOINT</c> (and
/// <c>MDMAI_TEST_S3_ACCESS_KEY</c>/<c>_SECRET_KEY</c>, as <c>.ci/run</c> sets them after <c>scripts/s3-start.sh</c>), else a Ceph
/// gateway this process starts with that script on its own ports and stops by PID when it exits. Where neither
/// can be had, S3 tests are skipped with the reason — except with <c>MDMAI_S3_REQUIRED=1</c> (CI), where they fail.
/// </summary>
internal static class S3TestServer
{
    private static readonly Lazy<Server> Started = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _buckets;

    internal sealed record Server(Uri Endpoint, string AccessKey, string SecretKey, string? StartedDir)
    {
        /// <summary>A second user that owns nothing: a bucket policy grants it what append-only credentials may do.</summary>
        public (string AccessKey, string SecretKey) AppendOnly { get; init; }
    }

    public static bool Required => Environment.GetEnvironmentVariable("MDMAI_S3_REQUIRED") == "1";

    /// <summary>Why S3 tests cannot run here, or null when they can (decided without starting anything).</summary>
    public static string? Unavailable
    {
        get
        {
            if (Required || Environment.GetEnvironmentVariable("MDMAI_TEST_S3_ENDPOINT") is { Length: > 0 })
            {
                return null;
            }

            if (OperatingSystem.IsWindows())
            {
                return "No S3 server: set MDMAI_TEST_S3_ENDPOINT (the project's Ceph script runs on Linux only).";
            }

            var canStart = File.Exists("/usr/bin/radosgw") || Environment.IsPrivilegedProcess;
            return canStart ? null : "No S3 server: Ceph's radosgw is not installed and installing it needs root. Run scripts/s3-start.sh as root and set MDMAI_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY from what it prints.";
        }
    }

    /// <summary>Skips the calling test (visibly) when no server can be had; in CI a missing server fails instead.</summary>
    public static Server Require()
    {
        if (Unavailable is { } reason)
        {
            throw new SkipException(reason);
        }

        return Started.Value;
    }

    /// <summary>A new, empty bucket of its own for one test.</summary>
    public static async Task<string> NewBucketAsync()
    {
        var server = Require();
        var name = NewBucketName();
        using var client = Client(server);
        await client.PutBucketAsync(new PutBucketRequest { BucketName = name });
        return name;
    }

    public static S3Options Options(Server server) => new()
    {
        Endpoint = server.Endpoint,
        AccessKey = server.AccessKey,
        SecretKey = server.SecretKey,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        CacheFolder = "",
    };

    /// <summary>A fresh bucket name (not made yet).</summary>
    public static string NewBucketName() => $"mdmai-test-{Environment.ProcessId}-{Interlocked.Increment(ref _buckets)}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>The variables the CLI reads to reach the server (the AWS tools' names).</summary>
    public static Dictionary<string, string> CliEnvironment(Server server) => new()
    {
        ["AWS_ENDPOINT_URL_S3"] = server.Endpoint.ToString(),
        ["AWS_ACCESS_KEY_ID"] = server.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = server.SecretKey,
    };

    /// <summary>A plain SDK client to look at buckets behind the backend's back (as the owner, or with other keys).</summary>
    public static AmazonS3Client Client(Server server, (string AccessKey, string SecretKey)? keys = null) => new(new BasicAWSCredentials(keys?.AccessKey ?? server.AccessKey, keys?.SecretKey ?? server.SecretKey), new AmazonS3Config
    {
        ServiceURL = server.Endpoint.ToString(),
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    private static Server Start()
    {
        if (System.Environment.GetEnvironmentVariable("MDMAI_TEST_S3_ENDPOINT") is { Length: > 0 } endpoint)
        {
            return new Server(new Uri(endpoint), Variable("MDMAI_TEST_S3_ACCESS_KEY"), Variable("MDMAI_TEST_S3_SECRET_KEY"), null)
            {
                AppendOnly = (Variable("MDMAI_TEST_S3_APPEND_ACCESS_KEY"), Variable("MDMAI_TEST_S3_APPEND_SECRET_KEY")),
            };
        }

        // Ports and folder of its own, so a developer's server on the defaults is neither used nor disturbed.
        var dir = Path.Combine(Path.GetTempPath(), $"mdmai-s3-tests");
        var script = Path.Combine(RepositoryRoot(), "scripts", "s3-start.sh");
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["MDMAI_S3_DIR"] = dir;
        start.Environment["MDMAI_S3_PORT"] = "7490";
        start.Environment["MDMAI_S3_MON_PORT"] = "3390";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/s3-start.sh failed ({process.ExitCode}): {stderr.Result}");
        }

        var values = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(dir);
        WatchForExit(dir);
        return new Server(new Uri(values["MDMAI_TEST_S3_ENDPOINT"]), values["MDMAI_TEST_S3_ACCESS_KEY"], values["MDMAI_TEST_S3_SECRET_KEY"], dir)
        {
            AppendOnly = (values["MDMAI_TEST_S3_APPEND_ACCESS_KEY"], values["MDMAI_TEST_S3_APPEND_SECRET_KEY"]),
        };
    }

    /// <summary>
    /// The exit handler above is not enough: the test runner ends a test host that does not exit soon enough, and its
    /// children with it, before the stop has run (a fresh clone's run left the daemons up). A watcher in a session of
    /// its own (<c>setsid -f</c>: not this process's child, so not ended with it) waits for this process to be gone and
    /// then stops the server by its PIDs; a second stop finds nothing to do.
    /// </summary>
    private static void WatchForExit(string dir)
    {
        const string Watch = "exec >/dev/null 2>&1 </dev/null; while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; exec bash \"$0\"";
        var stop = Path.Combine(RepositoryRoot(), "scripts", "s3-stop.sh");
        var start = new ProcessStartInfo("setsid", ["-f", "bash", "-c", Watch, stop, System.Environment.ProcessId.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["MDMAI_S3_DIR"] = dir;
        using var process = Process.Start(start)!;
        process.WaitForExit(); // setsid -f returns at once; the watcher goes on in its own session
    }

    private static void Stop(string dir)
    {
        var stop = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot(), "scripts", "s3-stop.sh")]) { RedirectStandardError = true };
        stop.Environment["MDMAI_S3_DIR"] = dir;
        using var process = Process.Start(stop)!;
        process.WaitForExit(60_000);
    }

    private static string Variable(string name) =>
        System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : throw new InvalidOperationException($"MDMAI_TEST_S3_ENDPOINT is set but {name} is not.");

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mdmai.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Mdmai.slnx) was not found above the test binaries.");
    }
}
