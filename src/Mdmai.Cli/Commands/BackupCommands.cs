using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Spectre.Console;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai backup create | list | show | diff | forget | prune | verify | restore | export | import</c>.</summary>
internal static class BackupCommands
{
    private static readonly Option<string?> Repo = new("--repo")
    {
        Description = "Backup repository: a folder or s3://BUCKET/PREFIX (default: backup_repository in mdmai.json, i.e. <data>/backups)",
        Recursive = true,
    };

    public static Command Create(CliContext context)
    {
        var backup = new Command("backup", "Deduplicated, compressed, encrypted snapshots of the data folder: create, list, verify, restore, export");
        backup.Options.Add(Repo);
        backup.Subcommands.Add(Init(context));
        backup.Subcommands.Add(CreateCommand(context));
        backup.Subcommands.Add(List(context));
        backup.Subcommands.Add(Show(context));
        backup.Subcommands.Add(Diff(context));
        backup.Subcommands.Add(Forget(context));
        backup.Subcommands.Add(Prune(context));
        backup.Subcommands.Add(Verify(context));
        backup.Subcommands.Add(Restore(context));
        backup.Subcommands.Add(Copy(context));
        backup.Subcommands.Add(Export(context));
        backup.Subcommands.Add(Import(context));
        return backup;
    }

    /// <summary>The repository: of <c>--repo</c> when given (no data folder needed, as on a new machine), else of the data folder.</summary>
    private static async Task<BackupRepository> OpenRepositoryAsync(CliContext context, ParseResult parse, Output output, CancellationToken ct)
    {
        if (parse.GetValue(Repo) is { Length: > 0 } repo)
        {
            return await OpenLocationAsync(context, parse, output, RepositoryLocations.Resolve(Environment.CurrentDirectory, repo), null, ct);
        }

        var folder = await DataFolder.OpenAsync(context.DataPath(parse), ct);
        return await OpenLocationAsync(context, parse, output, folder.BackupRepositoryLocation, folder.Config.S3PathStyle, ct);
    }

    private static async Task<DataFolderBackups> OpenBackupsAsync(CliContext context, ParseResult parse, Output output, CancellationToken ct, bool create = true)
    {
        var folder = await DataFolder.OpenAsync(context.DataPath(parse), ct);
        if (parse.GetValue(Repo) is { Length: > 0 } repo)
        {
            folder = WithRepository(folder, repo);
        }

        bool needPassword;
        var backend = BackupBackends.ForDataFolder(folder, context.Environment);
        try
        {
            needPassword = folder.Config.EncryptionEnabled || await BackupRepository.IsEncryptedAsync(backend, ct);
            if (!create && !await BackupRepository.ExistsAsync(backend, ct))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"There is no backup repository at '{folder.BackupRepositoryLocation}' yet: 'mdmai backup create' makes one.");
            }
        }
        finally
        {
            BackupBackends.Release(backend);
        }

        var backups = await DataFolderBackups.OpenAsync(folder, needPassword ? context.Password(parse) : null, create, environment: context.Environment, cancellationToken: ct);
        output.Track(backups.Repository.Backend);
        return backups;
    }

    private static DataFolder WithRepository(DataFolder folder, string repo) =>
        DataFolder.WithConfig(folder, folder.Config with { BackupRepository = RepositoryLocations.Resolve(Environment.CurrentDirectory, repo) });

    private static Command Init(CliContext context)
    {
        var command = new Command("init", "Create the backup repository (the data folder's, or --repo): an S3 bucket is made when it does not exist");
        var packSize = new Option<int>("--pack-size-mib") { Description = "Pack size in MiB, 1-1024 (default 16): larger packs mean fewer requests to an object store", DefaultValueFactory = _ => 16 };
        var lockDays = new Option<int>("--object-lock-days") { Description = "S3 Object Lock: keep every pack, index, snapshot and key from deletion and overwrite for N days (renewed by prune); the bucket must be new" };
        var compliance = new Option<bool>("--object-lock-compliance") { Description = "Object Lock in compliance mode: nobody can lift it early, not even the account's root (default: governance mode)" };
        command.Options.Add(packSize);
        command.Options.Add(lockDays);
        command.Options.Add(compliance);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var folder = await DataFolder.OpenAsync(context.DataPath(parse), ct);
            if (parse.GetValue(Repo) is { Length: > 0 } repo)
            {
                folder = WithRepository(folder, repo);
            }

            var options = new RepositoryOptions
            {
                PackSize = parse.GetValue(packSize) is >= 1 and <= 1024 and var mib ? mib * 1024 * 1024 : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "--pack-size-mib must be 1 to 1024."),
                ObjectLockDays = parse.GetValue(lockDays),
                ObjectLockCompliance = parse.GetValue(compliance),
            };
            var backend = BackupBackends.ForDataFolder(folder, context.Environment);
            output.Track(backend);
            try
            {
                if (BackupBackends.S3(backend) is { } s3)
                {
                    await s3.EnsureBucketAsync(options.ObjectLockDays > 0, ct);
                }

                if (await BackupRepository.ExistsAsync(backend, ct))
                {
                    throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"There is a backup repository at '{folder.BackupRepositoryLocation}' already.");
                }
            }
            finally
            {
                BackupBackends.Release(backend);
            }

            using var backups = await DataFolderBackups.OpenAsync(folder, folder.Config.EncryptionEnabled ? context.Password(parse) : null, create: true, options, context.Environment, ct);
            output.Track(backups.Repository.Backend);
            var repository = backups.Repository;
            if (output.Json)
            {
                output.WriteJson(new JsonObject
                {
                    ["location"] = folder.BackupRepositoryLocation,
                    ["id"] = repository.Id,
                    ["encrypted"] = repository.Encrypted,
                    ["pack_size"] = options.PackSize,
                    ["object_lock_days"] = repository.ObjectLock?.Days,
                    ["object_lock_mode"] = repository.ObjectLock is { } l ? (l.Compliance ? "compliance" : "governance") : null,
                });
            }
            else
            {
                output.Line($"Created {(repository.Encrypted ? "an encrypted" : "an unencrypted")} backup repository at {folder.BackupRepositoryLocation}"
                    + (repository.ObjectLock is { } l ? $", every item kept {l.Days} days by Object Lock ({(l.Compliance ? "compliance" : "governance")} mode)." : "."));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateCommand(CliContext context)
    {
        var command = new Command("create", "Take a snapshot of the data folder (database via SQLite's online backup, files, keys, config) and any --include paths");
        var include = new Option<string[]>("--include") { Description = "Also back up this folder or file (repeatable)" };
        var tag = new Option<string[]>("--tag") { Description = "Tag the snapshot (repeatable)" };
        var description = new Option<string?>("--description") { Description = "A description" };
        var level = new Option<int?>("--level") { Description = "zstd level 1-19 for this run (default: backup_compression_level)" };
        var kind = new Option<string>("--kind") { Description = string.Join(", ", EnumText.Values(typeof(SnapshotKind))), DefaultValueFactory = _ => "manual" };
        foreach (var option in new Option[] { include, tag, description, level, kind })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var snapshotKind = ParseKind(parse.GetValue(kind)!);
            using var backups = await OpenBackupsAsync(context, parse, output, ct);
            var estimate = (await backups.Repository.ListSnapshotsAsync(ct)).LastOrDefault(s => s.Host == Environment.MachineName)?.Stats.Bytes;
            var result = await output.WithProgressAsync("Backing up", estimate, progress => backups.BackupAsync(snapshotKind, parse.GetValue(include), parse.GetValue(tag), parse.GetValue(description), parse.GetValue(level),
                progress is null ? null : new Progress<BackupProgress>(p => progress.Report(p.Bytes)), ct), bytes: true);
            if (snapshotKind == SnapshotKind.Auto)
            {
                await backups.ApplyRetentionAsync(ct);
            }

            var s = result.Snapshot.Stats;
            if (output.Json)
            {
                output.WriteJson(result);
            }
            else
            {
                output.Line($"Snapshot {result.Snapshot.Id[..8]} saved: {s.Files} files, {GeneralCommands.Bytes(s.Bytes)} ({s.NewFiles} new, {s.ChangedFiles} changed, {s.UnchangedFiles} unchanged); read {GeneralCommands.Bytes(s.BytesRead)}, added {GeneralCommands.Bytes(s.StoredBytes)} in {s.DurationSeconds:F1} s.");
                foreach (var error in result.Errors)
                {
                    output.Line($"  not backed up: {error}");
                }
            }

            return result.Errors.Count == 0 ? ExitCodes.Ok : ExitCodes.PartialFailure;
        }));
        return command;
    }

    private static Command List(CliContext context)
    {
        var command = new Command("list", "List snapshots, oldest first");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            using var repository = await OpenRepositoryAsync(context, parse, output, ct);
            var snapshots = await repository.ListSnapshotsAsync(ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["items"] = CliJson.Node(snapshots), ["total_count"] = snapshots.Count });
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumn("id").AddColumn("time (UTC)").AddColumn("kind").AddColumn("tags")
                .AddColumn(new TableColumn("files").RightAligned()).AddColumn(new TableColumn("size").RightAligned()).AddColumn(new TableColumn("added").RightAligned()).AddColumn("description");
            foreach (var s in snapshots)
            {
                table.AddRow(s.Id[..8], s.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Kind(s.Kind), Markup.Escape(string.Join(",", s.Tags)),
                    s.Stats.Files.ToString(CultureInfo.InvariantCulture), GeneralCommands.Bytes(s.Stats.Bytes), GeneralCommands.Bytes(s.Stats.StoredBytes), Markup.Escape(s.Description ?? ""));
            }

            output.Console.Write(table);
            output.Line($"{snapshots.Count} snapshot(s)");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static SnapshotKind ParseKind(string text) => EnumText.Parse<SnapshotKind>(text, "kind");

    private static string Kind(SnapshotKind kind) => EnumText.ToText(kind);

    private static Command Show(CliContext context)
    {
        var command = new Command("show", "Show a snapshot: its stats, and its files with what is new since its parent");
        var id = new Argument<string>("id") { Description = "Snapshot id (or a unique prefix, or 'latest')" };
        var path = new Option<string?>("--path") { Description = "Only this entry and the entries under it" };
        command.Arguments.Add(id);
        command.Options.Add(path);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            using var repository = await OpenRepositoryAsync(context, parse, output, ct);
            var snapshot = await repository.GetSnapshotAsync(parse.GetValue(id)!, ct);
            var changes = new Dictionary<string, SnapshotChange>(StringComparer.Ordinal);
            if (snapshot.Parent is { } parent)
            {
                try
                {
                    await foreach (var d in repository.DiffAsync(parent, snapshot.Id, ct))
                    {
                        if (d.Change != SnapshotChange.Removed)
                        {
                            changes[d.Path] = d.Change;
                        }
                    }
                }
                catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.NotFound)
                {
                    // the parent was forgotten: everything counts as new
                }
            }

            var pattern = parse.GetValue(path);
            var entries = new JsonArray();
            var table = new Table().Border(TableBorder.Rounded).AddColumn("path").AddColumn("type").AddColumn(new TableColumn("size").RightAligned()).AddColumn("modified (UTC)").AddColumn("new");
            await foreach (var e in repository.ListEntriesAsync(snapshot.Id, ct))
            {
                if (pattern is not null && !(e.Path == pattern.Trim('/') || e.Path.StartsWith(pattern.Trim('/') + "/", StringComparison.Ordinal)))
                {
                    continue;
                }

                var status = snapshot.Parent is null ? "added" : changes.TryGetValue(e.Path, out var c) ? (c == SnapshotChange.Added ? "added" : "modified") : "";
                if (output.Json)
                {
                    entries.Add((JsonNode)new JsonObject
                    {
                        ["path"] = e.Path, ["type"] = e.Type.ToString().ToLowerInvariant(), ["size"] = e.Size, ["modified"] = CliJson.Node(e.Modified),
                        ["mode"] = e.Mode, ["link_target"] = e.LinkTarget, ["change"] = status.Length == 0 ? null : status,
                    });
                }
                else
                {
                    table.AddRow(Markup.Escape(e.Path), e.Type.ToString().ToLowerInvariant(), e.Type == SnapshotEntryType.File ? GeneralCommands.Bytes(e.Size) : "",
                        e.Modified.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), status);
                }
            }

            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["snapshot"] = CliJson.Node(snapshot), ["entries"] = entries });
                return ExitCodes.Ok;
            }

            var s = snapshot.Stats;
            output.Line($"Snapshot {snapshot.Id} ({Kind(snapshot.Kind)}) taken {snapshot.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC on {snapshot.Host}{(snapshot.Parent is { } p ? $", parent {p[..8]}" : "")}");
            if (snapshot.Description is { } text)
            {
                output.Line($"  {text}");
            }

            output.Line($"  {s.Files} files, {GeneralCommands.Bytes(s.Bytes)}; {s.NewFiles} new, {s.ChangedFiles} changed, {s.UnchangedFiles} unchanged; {GeneralCommands.Bytes(s.NewBytes)} new content, {GeneralCommands.Bytes(s.StoredBytes)} added to the repository in {s.DurationSeconds:F1} s");
            output.Console.Write(table);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Diff(CliContext context)
    {
        var command = new Command("diff", "What changed between two snapshots (+ added, - removed, M modified)");
        var a = new Argument<string>("older") { Description = "The older snapshot" };
        var b = new Argument<string>("newer") { Description = "The newer snapshot" };
        command.Arguments.Add(a);
        command.Arguments.Add(b);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            using var repository = await OpenRepositoryAsync(context, parse, output, ct);
            var items = new List<SnapshotDifference>();
            await foreach (var d in repository.DiffAsync(parse.GetValue(a)!, parse.GetValue(b)!, ct))
            {
                if (output.Json)
                {
                    items.Add(d);
                }
                else
                {
                    output.Line($"{(d.Change == SnapshotChange.Added ? "+" : d.Change == SnapshotChange.Removed ? "-" : "M")} {d.Path}");
                }
            }

            if (output.Json)
            {
                output.WriteJson(new JsonObject
                {
                    ["items"] = CliJson.Array(items, d => new JsonObject { ["change"] = d.Change.ToString().ToLowerInvariant(), ["path"] = d.Path, ["old_size"] = d.OldSize, ["new_size"] = d.NewSize }),
                    ["total_count"] = items.Count,
                });
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Forget(CliContext context)
    {
        var command = new Command("forget", "Forget snapshots by id, or by a retention policy (the newest is always kept); 'backup prune' then frees their data");
        var ids = new Argument<string[]>("ids") { Description = "Snapshot ids to forget", Arity = ArgumentArity.ZeroOrMore };
        var last = new Option<int?>("--keep-last") { Description = "Keep the newest N" };
        var hourly = new Option<int?>("--keep-hourly") { Description = "Keep the newest of each of the last N hours" };
        var daily = new Option<int?>("--keep-daily") { Description = "Keep the newest of each of the last N days" };
        var weekly = new Option<int?>("--keep-weekly") { Description = "Keep the newest of each of the last N weeks" };
        var monthly = new Option<int?>("--keep-monthly") { Description = "Keep the newest of each of the last N months" };
        var yearly = new Option<int?>("--keep-yearly") { Description = "Keep the newest of each of the last N years" };
        var within = new Option<string?>("--keep-within") { Description = "Keep everything within this span of the newest, e.g. 7d, 12h, 2w, 1m, 1y" };
        var kind = new Option<string?>("--kind") { Description = "Apply the policy only to snapshots of this kind (others are kept)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only say what would be forgotten" };
        command.Arguments.Add(ids);
        foreach (var option in new Option[] { last, hourly, daily, weekly, monthly, yearly, within, kind, dryRun })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            using var repository = await OpenRepositoryAsync(context, parse, output, ct);
            var named = parse.GetValue(ids) ?? [];
            IReadOnlyList<SnapshotInfo> removed;
            if (named.Length > 0)
            {
                removed = parse.GetValue(dryRun)
                    ? [.. await Task.WhenAll(named.Select(i => repository.GetSnapshotAsync(i, ct)))]
                    : await repository.ForgetSnapshotsAsync(named, ct);
            }
            else
            {
                var policy = new RetentionPolicy
                {
                    KeepLast = parse.GetValue(last), KeepHourly = parse.GetValue(hourly), KeepDaily = parse.GetValue(daily), KeepWeekly = parse.GetValue(weekly),
                    KeepMonthly = parse.GetValue(monthly), KeepYearly = parse.GetValue(yearly), KeepWithin = parse.GetValue(within) is { } w ? ParseSpan(w) : null,
                    Kinds = parse.GetValue(kind) is { } k ? [ParseKind(k)] : [],
                };
                removed = (await repository.ForgetAsync(policy, parse.GetValue(dryRun), ct)).Removed;
            }

            output.Report(new JsonObject { ["items"] = CliJson.Node(removed), ["total_count"] = removed.Count, ["dry_run"] = parse.GetValue(dryRun) },
                $"{(parse.GetValue(dryRun) ? "Would forget" : "Forgot")} {removed.Count} snapshot(s){(removed.Count > 0 ? ": " + string.Join(", ", removed.Select(s => s.Id[..8])) : "")}.{(removed.Count > 0 && !parse.GetValue(dryRun) ? " Run 'mdmai backup prune' to free their data." : "")}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    internal static TimeSpan ParseSpan(string text)
    {
        if (text.Length >= 2 && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            switch (text[^1])
            {
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
                case 'w': return TimeSpan.FromDays(7 * n);
                case 'm': return TimeSpan.FromDays(30 * n);
                case 'y': return TimeSpan.FromDays(365 * n);
            }
        }

        throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{text}' is not a span: use a number and h, d, w, m or y (e.g. 7d).");
    }

    private static Command Prune(CliContext context)
    {
        var command = new Command("prune", "Free the data no snapshot uses: delete unused packs, repack sparse ones (takes an exclusive lock)");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            using var repository = await OpenRepositoryAsync(context, parse, output, ct);
            var result = await repository.PruneAsync(cancellationToken: ct);
            output.Report(result, $"Pruned: {result.BlobsRemoved} unused blob(s); {result.PacksDeleted} pack(s) deleted, {result.PacksRepacked} repacked into {result.PacksWritten}; {GeneralCommands.Bytes(result.BytesFreed)} freed{(result.IncompleteWritesRemoved > 0 ? $"; {result.IncompleteWritesRemoved} leftover(s) of interrupted writes removed" : "")}.");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Verify(CliContext context)
    {
        var command = new Command("verify", "Check the repository's structure; with --read-data also decrypt and re-hash every chunk (non-zero exit on any failure)");
        var readData = new Option<bool>("--read-data") { Description = "Read every pack and re-hash every chunk" };
        var subset = new Option<string?>("--subset") { Description = "With --read-data: read only this share of packs, e.g. 10%" };
        command.Options.Add(readData);
        command.Options.Add(subset);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var share = 100.0;
            if (parse.GetValue(subset) is not null && !parse.GetValue(readData))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "--subset chooses the packs --read-data reads; give --read-data too.");
            }

            if (parse.GetValue(subset) is { } text && !(double.TryParse(text.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out share) && share is > 0 and <= 100))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"--subset must be a percentage above 0 and up to 100, not '{text}'.");
            }

            using var repository = await OpenRepositoryAsync(context, parse, output, ct);
            var report = await output.WithProgressAsync("Verifying", null, (IProgress<(long Done, long? Total)>? progress) => repository.VerifyAsync(new VerifyOptions { ReadData = parse.GetValue(readData), SubsetPercent = share },
                progress is null ? null : new Progress<BackupProgress>(p => progress.Report((p.Bytes, p.TotalBytes))), ct), bytes: true);
            if (output.Json)
            {
                output.WriteJson(report);
            }
            else
            {
                output.Line($"{report.Snapshots} snapshot(s), {report.Packs} pack(s), {report.Blobs} blob(s) checked{(parse.GetValue(readData) ? $"; read {report.PacksRead} pack(s), {report.BlobsRead} blob(s), {GeneralCommands.Bytes(report.BytesRead)}" : "")}.");
                if (report.UnindexedPacks > 0)
                {
                    output.Line($"{report.UnindexedPacks} pack(s) left by an interrupted backup are not indexed; 'mdmai backup prune' removes them.");
                }

                foreach (var error in report.Errors)
                {
                    output.Line($"  error: {error}");
                }

                output.Line(report.Ok ? "No errors found." : $"{report.Errors.Count} error(s) found.");
            }

            return report.Ok ? ExitCodes.Ok : ExitCodes.CheckFailed;
        }));
        return command;
    }

    private static Command Restore(CliContext context)
    {
        var command = new Command("restore", "Restore a snapshot into --target DIR (all of it, or --path), or the data folder itself with --in-place");
        var id = new Argument<string>("id") { Description = "Snapshot id (or a unique prefix, or 'latest')" };
        var target = new Option<string?>("--target") { Description = "Folder to restore into" };
        var path = new Option<string?>("--path") { Description = "Only entries equal to, under, or matching (* and ?) this snapshot path" };
        var inPlace = new Option<bool>("--in-place") { Description = "Replace the data folder with the snapshot's (a pre-restore snapshot is taken first)" };
        command.Arguments.Add(id);
        command.Options.Add(target);
        command.Options.Add(path);
        command.Options.Add(inPlace);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            if (parse.GetValue(inPlace) == (parse.GetValue(target) is not null))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give either --target DIR or --in-place.");
            }

            RestoreResult result;
            if (parse.GetValue(inPlace))
            {
                if (parse.GetValue(path) is not null)
                {
                    throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "--in-place restores the whole data folder; --path is for --target.");
                }

                var dataPath = Path.GetFullPath(context.DataPath(parse));
                if (!DataFolder.Exists(dataPath) && parse.GetValue(Repo) is { Length: > 0 })
                {
                    // A new machine: nothing here but the repository's address and the password.
                    using var repository = await OpenRepositoryAsync(context, parse, output, ct);
                    var snapshot = await repository.GetSnapshotAsync(parse.GetValue(id)!, ct);
                    result = await output.WithProgressAsync("Restoring", snapshot.Stats.Bytes, progress => DataFolderBackups.RestoreNewFolderAsync(repository, snapshot.Id, dataPath,
                        progress is null ? null : new Progress<BackupProgress>(p => progress.Report(p.Bytes)), ct), bytes: true);
                }
                else
                {
                    using var backups = await OpenBackupsAsync(context, parse, output, ct, create: false);
                    result = await output.WithProgressAsync("Restoring", null, (IProgress<(long Done, long? Total)>? progress) => backups.RestoreInPlaceAsync(parse.GetValue(id)!,
                        progress is null ? null : new Progress<BackupProgress>(p => progress.Report((p.Bytes, p.TotalBytes))), ct), bytes: true);
                }
            }
            else
            {
                using var repository = await OpenRepositoryAsync(context, parse, output, ct);
                var snapshot = await repository.GetSnapshotAsync(parse.GetValue(id)!, ct);
                result = await output.WithProgressAsync("Restoring", snapshot.Stats.Bytes, progress => repository.RestoreAsync(snapshot.Id, parse.GetValue(target)!,
                    new RestoreOptions { PathPattern = parse.GetValue(path) },
                    progress is null ? null : new Progress<BackupProgress>(p => progress.Report(p.Bytes)), ct), bytes: true);
            }

            output.Report(result, $"Restored {result.Files} file(s), {GeneralCommands.Bytes(result.Bytes)}, {result.Directories} folder(s), {result.Symlinks} link(s) in {result.DurationSeconds:F1} s; every file verified.");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Copy(CliContext context)
    {
        var command = new Command("copy", "Copy snapshots to another repository (local to S3 for the 3-2-1 rule, or back), sending only what it lacks; a target that does not exist is made with the source's keys");
        var ids = new Argument<string[]>("snapshot") { Description = "Snapshots to copy (ids, unique prefixes or 'latest'; default: all)", Arity = ArgumentArity.ZeroOrMore };
        var from = new Option<string?>("--from") { Description = "The source repository, a folder or s3://BUCKET/PREFIX (default: the data folder's, or --repo)" };
        var to = new Option<string?>("--to") { Description = "The target repository, a folder or s3://BUCKET/PREFIX (default: offsite_repository in mdmai.json)" };
        var toPassword = new Option<string?>("--to-password-file") { Description = "The target's password, when it has keys of its own (default: the source's password)" };
        var lockDays = new Option<int>("--object-lock-days") { Description = "When the target is made now: S3 Object Lock for N days on everything written (a new bucket)" };
        command.Arguments.Add(ids);
        foreach (var option in new Option[] { from, to, toPassword, lockDays })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var here = Environment.CurrentDirectory;
            DataFolder? folder = null;
            async Task<DataFolder> FolderAsync() => folder ??= await DataFolder.OpenAsync(context.DataPath(parse), ct);
            var sourceLocation = parse.GetValue(from) is { Length: > 0 } f ? RepositoryLocations.Resolve(here, f)
                : parse.GetValue(Repo) is { Length: > 0 } r ? RepositoryLocations.Resolve(here, r)
                : (await FolderAsync()).BackupRepositoryLocation;
            var targetLocation = parse.GetValue(to) is { Length: > 0 } t ? RepositoryLocations.Resolve(here, t)
                : (await FolderAsync()).OffsiteRepositoryLocation
                  ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give --to REPO, or set offsite_repository in mdmai.json.");
            var pathStyle = DataFolder.Exists(context.DataPath(parse)) ? (await FolderAsync()).Config.S3PathStyle : null;

            using var source = await OpenLocationAsync(context, parse, output, sourceLocation, pathStyle, ct);
            var backend = BackupBackends.Open(targetLocation, RepositoryLocations.IsS3(targetLocation) ? S3Options.FromEnvironment(context.Environment, pathStyle) : null);
            output.Track(backend);
            BackupRepository target;
            try
            {
                if (BackupBackends.S3(backend) is { } s3)
                {
                    await s3.EnsureBucketAsync(parse.GetValue(lockDays) > 0, ct); // a target bucket that does not exist is made
                }

                if (!await BackupRepository.ExistsAsync(backend, ct))
                {
                    target = await BackupRepository.InitCopyAsync(backend, source, new RepositoryOptions { ObjectLockDays = parse.GetValue(lockDays) }, ct);
                }
                else
                {
                    try
                    {
                        target = await BackupRepository.OpenSharingKeysAsync(backend, source, ct);
                    }
                    catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.WrongPassword)
                    {
                        var password = !await BackupRepository.IsEncryptedAsync(backend, ct) ? null
                            : parse.GetValue(toPassword) is { } file ? Passwords.Read(output, context.Environment, file, "MDMAI_TO_PASSWORD", "Target password:", confirm: false)
                            : context.Environment("MDMAI_TO_PASSWORD") is { Length: > 0 } variable ? variable
                            : context.Password(parse);
                        target = await BackupRepository.OpenAsync(backend, password, ct);
                    }
                }
            }
            catch
            {
                BackupBackends.Release(backend);
                throw;
            }

            using (target)
            {
                var result = await output.WithProgressAsync("Copying", null, progress => source.CopySnapshotsAsync(target, parse.GetValue(ids) ?? [],
                    progress is null ? null : new Progress<BackupProgress>(p => progress.Report(p.Bytes)), ct), bytes: true);
                output.Report(result, $"Copied {result.Copied.Count} snapshot(s) to {targetLocation} ({result.AlreadyCopied.Count} already there): sent {result.BlobsSent} blob(s), {GeneralCommands.Bytes(result.BytesSent)}, in {result.DurationSeconds:F1} s"
                    + (result.SameKeys ? "; blobs moved sealed (shared keys)." : "; content chunked and sealed again under the target's keys."));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>A repository named on the command line (no data folder needed), its password read only when it is encrypted.</summary>
    private static async Task<BackupRepository> OpenLocationAsync(CliContext context, ParseResult parse, Output output, string location, bool? pathStyle, CancellationToken ct)
    {
        var backend = BackupBackends.Open(location, RepositoryLocations.IsS3(location) ? S3Options.FromEnvironment(context.Environment, pathStyle) : null);
        output.Track(backend);
        try
        {
            if (!await BackupRepository.ExistsAsync(backend, ct))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"There is no backup repository at '{backend.Location}' yet: 'mdmai backup init' or 'mdmai backup create' makes one.");
            }

            var password = await BackupRepository.IsEncryptedAsync(backend, ct) ? context.Password(parse) : null;
            return await BackupRepository.OpenAsync(backend, password, ct);
        }
        catch
        {
            BackupBackends.Release(backend);
            throw;
        }
    }

    private static Command Export(CliContext context)
    {
        var command = new Command("export", "Write a snapshot as FILE.tar.zst that stock zstd and tar unpack: the database as a plain SQLite file, the files under their names, a manifest with hashes");
        var id = new Argument<string>("id") { Description = "Snapshot id (or a unique prefix, or 'latest')" };
        var file = new Argument<string>("file") { Description = "The archive to write (.tar.zst); '-' for standard output" };
        var allowPlaintext = new Option<bool>("--allow-plaintext") { Description = "Needed for an encrypted data set: the archive holds the files decrypted" };
        var level = new Option<int>("--level") { Description = "zstd level 1-19", DefaultValueFactory = _ => 3 };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        command.Arguments.Add(id);
        command.Arguments.Add(file);
        command.Options.Add(allowPlaintext);
        command.Options.Add(level);
        command.Options.Add(force);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            using var repository = await OpenRepositoryAsync(context, parse, output, ct);
            var snapshot = await repository.GetSnapshotAsync(parse.GetValue(id)!, ct);
            var path = parse.GetValue(file)!;
            var options = new ExportOptions
            {
                AllowPlaintext = parse.GetValue(allowPlaintext),
                CompressionLevel = parse.GetValue(level),
                Password = repository.Encrypted && parse.GetValue(allowPlaintext) ? context.Password(parse) : null,
            };
            ExportResult result;
            if (path == "-")
            {
                await using var stdout = Console.OpenStandardOutput();
                result = await repository.ExportAsync(snapshot.Id, stdout, options, null, ct);
                return ExitCodes.Ok;
            }

            var full = Path.GetFullPath(path);
            if (File.Exists(full) && !parse.GetValue(force))
            {
                throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"'{full}' exists; pass --force to overwrite it.");
            }

            var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
            try
            {
                await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                {
                    result = await output.WithProgressAsync("Exporting", snapshot.Stats.Bytes, progress => repository.ExportAsync(snapshot.Id, stream, options,
                        progress is null ? null : new Progress<BackupProgress>(p => progress.Report(p.Bytes)), ct), bytes: true);
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, full, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }

            output.Report(new JsonObject { ["path"] = full, ["files"] = result.Files, ["bytes"] = result.Bytes, ["entries"] = result.Entries }, $"Wrote {full}: {result.Files} file(s), {GeneralCommands.Bytes(result.Bytes)} before compression. Unpack with: zstd -d < {Path.GetFileName(full)} | tar x");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Import(CliContext context)
    {
        var command = new Command("import", "Rebuild a data folder (--data-dir, which must be new or empty) from an export made by 'backup export'");
        var file = new Argument<string>("file") { Description = "The .tar.zst archive" };
        command.Arguments.Add(file);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"No archive at '{path}'.");
            }

            var password = context.Environment("MDMAI_PASSWORD") is { Length: > 0 } || parse.GetValue(KeyCommands.PasswordFile) is not null ? context.Password(parse) : null;
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var target = context.DataPath(parse);
            var result = await output.WithProgressAsync("Importing", stream.Length, progress => PortableArchive.ImportAsync(stream, target, password,
                progress is null ? null : new Progress<BackupProgress>(_ => progress.Report(stream.Position)), ct), bytes: true);
            output.Report(new JsonObject { ["data_folder"] = Path.GetFullPath(target), ["files"] = result.Files, ["bytes"] = result.Bytes, ["skipped_includes"] = result.SkippedIncludes },
                $"Imported into {Path.GetFullPath(target)}: {result.Files} file(s), {GeneralCommands.Bytes(result.Bytes)}; every hash matched.{(result.SkippedIncludes > 0 ? $" {result.SkippedIncludes} entries of included folders were left out (extract them with tar)." : "")}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
