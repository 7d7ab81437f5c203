using BenchmarkDotNet.Running;
using Mdmai.Bench;

// Mdmai.Bench: end-to-end scenarios against stock tools (see docs/benchmarks.md) and micro-benchmarks.
var options = Options.Parse(args);
var command = options.Positional.Count > 0 ? options.Positional[0] : "help";
try
{
    switch (command)
    {
        case "child":
            return await ChildScenarios.RunAsync(options);
        case "dupes":
            return await DupesScenario.RunAsync(options);
        case "backup":
            return await BackupScenario.RunAsync(options);
        case "files":
            return await FilesScenario.RunAsync(options);
        case "backup-kill":
            return await BackupScenario.RunKillAsync(options);
        case "tree-versions":
            return await SmallFilesScenario.RunAsync(options);
        case "scaling":
            return await ScalingScenario.RunAsync(options);
        case "tree":
            return SmallFilesScenario.WriteTree(options);
        case "s3":
            return await S3Scenario.RunAsync(options);
        case "s3-kill":
            return await S3Scenario.RunKillAsync(options);
        case "dashboard":
            return await DashboardScenario.RunAsync(options);
        case "micro":
            // In process: BenchmarkDotNet's default toolchain would build a copy of the solution (and the library) again.
            var microArgs = args.Skip(1).ToList();
            if (!microArgs.Contains("--inProcess") && !microArgs.Contains("-i"))
            {
                microArgs.Add("--inProcess");
            }

            BenchmarkSwitcher.FromAssembly(typeof(Runner).Assembly).Run([.. microArgs]);
            return 0;
        case "prepare":
            return await new Runner(options).PrepareAsync(Selected(options, 1));
        case "all":
            return await new Runner(options).RunAsync(Runner.Scenarios);
        case "run":
            return await new Runner(options).RunAsync(Selected(options, 1));
        case var name when Runner.Scenarios.Contains(name):
            return await new Runner(options).RunAsync(Selected(options, 0));
        default:
            Console.WriteLine("""
                Usage: Mdmai.Bench COMMAND [options]

                Commands:
                  all                      run every scenario (the documented full run)
                  run --scenario A,B       run some scenarios (or: Mdmai.Bench bulk-insert ...)
                  prepare [--scenario ..]  only make the data sets
                  micro [BenchmarkDotNet args]  micro-benchmarks, e.g. micro --job short --filter *EnumText*
                  dupes [--dupes-files N]  mdmai dupes against jdupes -r on a generated tree (not part of all)
                  backup [--backup-size 1g[,5g]] [--big-runs N]
                                           mdmai backup create/restore/verify against restic, borg and tar | zstd
                                           on a generated encrypted data folder (not part of all)
                  files [--files-parts single,folder,concurrent,cache] [--files-sizes 100m,1g] [--big-runs N]
                      [--folder-files N] [--clients 16] [--concurrent-seconds 20] [--cache-mb 0,8,64]
                      [--cache-objects 2000] [--cache-reads 40000] [--zipf 1.1]
                                           the encrypted file store: 1 file import/export/read against
                                           cp + sha256sum, folder import, concurrent clients, cache hit
                                           rate (not part of all)
                  backup-kill [--trials 20] [--kill-size 200m]
                                           SIGKILL mdmai backup create at random moments; verify and the next
                                           backup must succeed (not part of all)
                  tree-versions [--tree-files 60k] [--versions 4] [--restore-dir DIR]
                                           four versions of a tree of many small files backed up one after the
                                           other, then restored: mdmai, restic, borg (not part of all)
                  scaling [--sizes 10k,100k,1m] [--tiny-from 1m] [--runs N] [--work DIR]
                                           first backup, no-change backup, restore, folder import and dupes at each
                                           size against restic/borg, cp -r + sync + sha256sum and jdupes: time per
                                           file and peak memory as the number of files grows (not part of all)
                  tree --out DIR [--tree-files 100k] [--version 1] [--tiny]
                                           only write the many-small-files tree (to profile one job on it)
                  s3 [--s3-size 1g[,5g]] [--tree-files 60k] [--runs N] [--big-runs N] [--restore-dir DIR]
                                           backups to S3 on the project's Ceph gateway against restic's S3
                                           backend, and backup copy against rclone copy (not part of all)
                  s3-kill [--trials 20] [--kill-size 200m]
                                           backups to S3 killed or cut off at random moments (not part of all)
                  dashboard [--rows 1M] [--snapshots 2000] [--requests 400] [--upload-size 1g]
                                           mdmai serve over the 1M-row library and 2,000 snapshots: API latency,
                                           memory, upload and download through Chromium against files
                                           import/export (not part of all)

                Scenarios: bulk-insert, point-ops, list-page, export-sql, import-sql, concurrent-readers

                Options:
                  --rows N        data set size (default 1,000,000; export/import also run at N/10)
                  --bulk-rows N   bulk-insert: rows to insert (default --rows)
                  --runs N        repetitions of each scenario, the median is reported (default 3)
                  --big-runs N    repetitions of the largest runs (bulk insert, export/import at N rows); default --runs
                  --work DIR      where data sets are made once and reused (default /tmp/mdmai-bench)
                  --ops N         point-ops: operations of each kind (default 10,000)
                  --list-ops N    list-page: pages of each kind (default 2,000)
                  --seconds S     concurrent-readers: duration of each phase (default 5)
                  --readers N     concurrent-readers: reader tasks (default 8)
                  --seed N        generator seed (default 20261125)
                """);
            return command == "help" ? 0 : 2;
    }
}
catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}

static List<string> Selected(Options options, int skip)
{
    var names = options.Positional.Skip(skip).ToList();
    if (options.Has("scenario"))
    {
        names.AddRange(options.Get("scenario", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    if (names.Count == 0 || names.Contains("all"))
    {
        return [.. Runner.Scenarios];
    }

    foreach (var name in names.Where(n => !Runner.Scenarios.Contains(n)))
    {
        throw new ArgumentException($"Unknown scenario '{name}'; use one of {string.Join(", ", Runner.Scenarios)} or all.");
    }

    return [.. Runner.Scenarios.Where(names.Contains)];
}
