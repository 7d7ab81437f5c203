using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mdmai.Dashboard.Internal;

/// <summary>
/// <c>/api/v1/backups…</c>: the snapshots (paged, newest first), a snapshot's folders, a file's versions across
/// snapshots, diffs, selected entries downloaded as one streamed tar or restored to a folder, and the jobs that change
/// the repository (backup, verify, prune) — each behind a confirmation where it deletes.
/// </summary>
internal static class BackupRoutes
{
    public static void Map(WebApplication app, DashboardContext context)
    {
        app.MapGet("/api/v1/backups", Http.Handle(async http =>
        {
            var folder = context.Manager.Folder;
            var exists = context.Manager.Backups is not null || await DataFolderBackups.RepositoryExistsAsync(folder, context.Environment, http.RequestAborted).ConfigureAwait(false);
            var json = new JsonObject
            {
                ["location"] = folder.BackupRepositoryLocation,
                ["offsite_location"] = folder.OffsiteRepositoryLocation,
                ["exists"] = exists,
                ["auto_backup_interval_minutes"] = folder.Config.AutoBackupIntervalMinutes,
                ["max_backup_count"] = folder.Config.MaxBackupCount,
            };
            if (exists)
            {
                var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
                var snapshots = await backups.Repository.ListSnapshotsAsync(http.RequestAborted).ConfigureAwait(false);
                json["id"] = backups.Repository.Id;
                json["encrypted"] = backups.Repository.Encrypted;
                json["snapshots"] = snapshots.Count;
                json["stored_bytes"] = snapshots.Sum(s => s.Stats.StoredBytes);
                json["logical_bytes_latest"] = snapshots.Count > 0 ? snapshots[^1].Stats.Bytes : 0;
                json["last"] = snapshots.Count > 0 ? Http.Node(snapshots[^1]) : null;
                json["next_auto_backup"] = snapshots.Count > 0 && folder.Config.AutoBackupIntervalMinutes > 0
                    ? snapshots.Where(s => s.Kind == SnapshotKind.Auto).Select(s => s.Time).DefaultIfEmpty(snapshots[^1].Time).Max().AddMinutes(folder.Config.AutoBackupIntervalMinutes).ToString("O")
                    : null;
                json["history"] = new JsonArray([.. snapshots.TakeLast(200).Select(s => (JsonNode)new JsonObject
                {
                    ["id"] = s.Id, ["time"] = s.Time.ToString("O"), ["kind"] = EnumText.ToText(s.Kind), ["stored_bytes"] = s.Stats.StoredBytes,
                    ["bytes"] = s.Stats.Bytes, ["duration_seconds"] = s.Stats.DurationSeconds,
                })]);
            }

            await Http.WriteAsync(http, json).ConfigureAwait(false);
        }));

        // Newest first, a page at a time: the list of 2,000 snapshots is one listing of names (each snapshot is read
        // once by the long-lived repository, then kept).
        app.MapGet("/api/v1/backups/snapshots", Http.Handle(async http =>
        {
            var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
            var all = await backups.Repository.ListSnapshotsAsync(http.RequestAborted).ConfigureAwait(false);
            var limit = Http.QueryInt(http, "limit", 50, 1, 1000);
            var offset = Http.QueryInt(http, "offset", 0, 0, int.MaxValue);
            var kind = Http.Query(http, "kind");
            var filtered = kind is null ? all : [.. all.Where(s => EnumText.ToText(s.Kind) == kind)];
            var page = filtered.Reverse().Skip(offset).Take(limit).ToList();
            await Http.WriteAsync(http, new JsonObject
            {
                ["items"] = Http.Node<IReadOnlyList<SnapshotInfo>>(page),
                ["total_count"] = filtered.Count,
                ["limit"] = limit,
                ["offset"] = offset,
                ["has_more"] = offset + page.Count < filtered.Count,
            }).ConfigureAwait(false);
        }));

        app.MapPost("/api/v1/backups/snapshots", Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            var tags = body["tags"] is JsonArray t ? t.Select(x => x?.GetValue<string>() ?? "").Where(x => x.Length > 0).ToList() : [];
            var description = Http.Text(body, "description");
            var job = context.Jobs.Start("backup", "Backup of the data folder", async (progress, ct) =>
            {
                var backups = await context.BackupsAsync(create: true, ct).ConfigureAwait(false);
                var known = await backups.Repository.ListSnapshotsAsync(ct).ConfigureAwait(false);
                var estimate = known.Count > 0 ? known[^1].Stats.Bytes : (long?)null;
                var result = await backups.BackupAsync(SnapshotKind.Manual, tags: tags, description: description, progress: Http.Backup(progress, estimate), cancellationToken: ct).ConfigureAwait(false);
                var stats = result.Snapshot.Stats;
                progress.Report(new JobProgress(stats.Bytes, stats.Bytes, stats.Files, stats.Files, null)); // the end, whatever the estimate said
                return Http.Node(result);
            });
            await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
        }));

        app.MapGet("/api/v1/backups/snapshots/{id}", Http.Handle(async http =>
        {
            var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, await backups.Repository.GetSnapshotAsync(Http.Route(http, "id"), http.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
        }));

        // One folder of a snapshot: its direct children (path "" is the top: data, include).
        app.MapGet("/api/v1/backups/snapshots/{id}/entries", Http.Handle(async http =>
        {
            var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
            var folder = (Http.Query(http, "path") ?? "").Trim('/');
            var prefix = folder.Length == 0 ? "" : folder + "/";
            var limit = Http.QueryInt(http, "limit", 500, 1, 10000);
            var offset = Http.QueryInt(http, "offset", 0, 0, int.MaxValue);
            var items = new JsonArray();
            var count = 0;
            await foreach (var entry in backups.Repository.ListEntriesAsync(Http.Route(http, "id"), http.RequestAborted).ConfigureAwait(false))
            {
                if (!entry.Path.StartsWith(prefix, StringComparison.Ordinal) || entry.Path.Length == prefix.Length || entry.Path.IndexOf('/', prefix.Length) >= 0)
                {
                    continue;
                }

                if (count >= offset && items.Count < limit)
                {
                    items.Add(Http.Node(entry));
                }

                count++;
            }

            await Http.WriteAsync(http, new JsonObject { ["path"] = folder, ["items"] = items, ["total_count"] = count, ["limit"] = limit, ["offset"] = offset }).ConfigureAwait(false);
        }));

        // File-first: the versions of one path across snapshots, newest first, a new version wherever its content changed.
        app.MapGet("/api/v1/backups/versions", Http.Handle(async http =>
        {
            var path = (Http.Query(http, "path") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give the file: ?path=data/…")).Trim('/');
            var limit = Http.QueryInt(http, "limit", 50, 1, 2000);
            var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
            var snapshots = await backups.Repository.ListSnapshotsAsync(http.RequestAborted).ConfigureAwait(false);
            var items = new JsonArray();
            foreach (var snapshot in snapshots.Reverse().Take(limit))
            {
                await foreach (var entry in backups.Repository.ListEntriesAsync(snapshot.Id, http.RequestAborted).ConfigureAwait(false))
                {
                    if (entry.Path == path)
                    {
                        items.Add((JsonNode)new JsonObject
                        {
                            ["snapshot"] = snapshot.Id, ["time"] = snapshot.Time.ToString("O"), ["kind"] = EnumText.ToText(snapshot.Kind),
                            ["size"] = entry.Size, ["modified"] = entry.Modified.ToString("O"), ["content_id"] = entry.ContentId,
                        });
                        break;
                    }

                    if (IsPast(entry.Path, path))
                    {
                        break; // the list is in path order: it is not in this snapshot
                    }
                }
            }

            // A version is where the content changes from the snapshot before it (oldest first).
            string? previous = null;
            for (var i = items.Count - 1; i >= 0; i--)
            {
                var content = items[i]!["content_id"]?.GetValue<string>();
                items[i]!["new_version"] = content != previous;
                previous = content;
            }

            await Http.WriteAsync(http, new JsonObject { ["path"] = path, ["items"] = items, ["snapshots_searched"] = Math.Min(limit, snapshots.Count) }).ConfigureAwait(false);
        }));

        app.MapGet("/api/v1/backups/diff", Http.Handle(async http =>
        {
            var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
            var older = Http.Query(http, "from") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give ?from=OLDER&to=NEWER.");
            var newer = Http.Query(http, "to") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give ?from=OLDER&to=NEWER.");
            var limit = Http.QueryInt(http, "limit", 1000, 1, 100000);
            var items = new JsonArray();
            var count = 0;
            await foreach (var d in backups.Repository.DiffAsync(older, newer, http.RequestAborted).ConfigureAwait(false))
            {
                if (items.Count < limit)
                {
                    items.Add((JsonNode)new JsonObject { ["change"] = EnumText.ToText(d.Change), ["path"] = d.Path, ["old_size"] = d.OldSize, ["new_size"] = d.NewSize });
                }

                count++;
            }

            await Http.WriteAsync(http, new JsonObject { ["items"] = items, ["total_count"] = count }).ConfigureAwait(false);
        }));

        // Selected entries as one tar, streamed as it is read (POST: the selection can be long).
        app.MapPost("/api/v1/backups/download", Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            var (snapshot, paths) = Selection(body);
            var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
            var info = await backups.Repository.GetSnapshotAsync(snapshot, http.RequestAborted).ConfigureAwait(false);
            http.Response.ContentType = "application/x-tar";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"mdmai-{info.Id[..8]}-{info.Time.UtcDateTime.ToString("yyyyMMdd-HHmm", CultureInfo.InvariantCulture)}.tar\"";
            await backups.Repository.ExportSelectionAsync(info.Id, paths, http.Response.Body, cancellationToken: http.RequestAborted).ConfigureAwait(false);
        }));

        app.MapPost("/api/v1/backups/restore", Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            if (Http.Flag(body, "in_place"))
            {
                await RestoreInPlaceAsync(http, context, body).ConfigureAwait(false);
                return;
            }

            var (snapshot, paths) = Selection(body);
            var target = Http.Text(body, "target") is { Length: > 0 } t ? Path.GetFullPath(t) : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give the folder to restore into: \"target\".");
            if (Path.GetFullPath(context.Manager.Folder.Path).TrimEnd('/') is var data && (target == data || target.StartsWith(data + "/", StringComparison.Ordinal)))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Restore into a folder outside the data folder (the whole data folder is restored with \"in_place\": true).");
            }

            var job = context.Jobs.Start("restore", $"Restore of {paths.Count} entr{(paths.Count == 1 ? "y" : "ies")} into {target}", async (progress, ct) =>
            {
                var backups = await context.BackupsAsync(create: false, ct).ConfigureAwait(false);
                var info = await backups.Repository.GetSnapshotAsync(snapshot, ct).ConfigureAwait(false);
                var result = await backups.Repository.RestoreAsync(info.Id, target, new RestoreOptions { Paths = paths }, Http.Backup(progress), ct).ConfigureAwait(false);
                progress.Report(new JobProgress(result.Bytes, result.Bytes, result.Files, result.Files, null));
                return Http.Node(result);
            });
            await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
        }));

        app.MapPost("/api/v1/backups/verify", Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            var subset = body["subset_percent"] is JsonValue v && v.TryGetValue<double>(out var s) ? s : 100;
            var job = context.Jobs.Start("verify", "Verification of the backups", async (progress, ct) =>
            {
                var backups = await context.BackupsAsync(create: false, ct).ConfigureAwait(false);
                var report = await backups.Repository.VerifyAsync(new VerifyOptions { ReadData = Http.Flag(body, "read_data"), SubsetPercent = subset }, Http.Backup(progress), ct).ConfigureAwait(false);
                return Http.Node(report);
            });
            await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
        }));

        // The retention editor: with "dry_run" a preview of what the policy would forget; without, it forgets (confirmed).
        app.MapPost("/api/v1/backups/forget", Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            var dryRun = Http.Flag(body, "dry_run");
            if (!dryRun)
            {
                Http.RequireConfirmation(body, "Forgetting snapshots");
            }

            int? Keep(string name) => body[name] is JsonValue n && n.TryGetValue<int>(out var k) ? k : null;
            var policy = new RetentionPolicy
            {
                KeepLast = Keep("keep_last"), KeepHourly = Keep("keep_hourly"), KeepDaily = Keep("keep_daily"), KeepWeekly = Keep("keep_weekly"),
                KeepMonthly = Keep("keep_monthly"), KeepYearly = Keep("keep_yearly"),
                KeepWithin = Keep("keep_within_days") is { } days ? TimeSpan.FromDays(days) : null,
                Kinds = Http.Text(body, "kind") is { } kind ? [EnumText.Parse<SnapshotKind>(kind, "kind")] : [],
            };
            var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
            var result = await backups.Repository.ForgetAsync(policy, dryRun, http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, new JsonObject
            {
                ["dry_run"] = dryRun,
                ["kept"] = result.Kept.Count,
                ["removed"] = Http.Node(result.Removed),
            }).ConfigureAwait(false);
        }));

        app.MapPost("/api/v1/backups/prune", Http.Handle(async http =>
        {
            Http.RequireConfirmation(await Http.ReadObjectAsync(http).ConfigureAwait(false), "Pruning (deleting what no snapshot uses)");
            var job = context.Jobs.Start("prune", "Prune of the backup repository", async (progress, ct) =>
            {
                var backups = await context.BackupsAsync(create: false, ct).ConfigureAwait(false);
                return Http.Node(await backups.Repository.PruneAsync(progress: Http.Backup(progress), cancellationToken: ct).ConfigureAwait(false));
            });
            await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
        }));

        app.MapPost("/api/v1/backups/offsite", Http.Handle(async http =>
        {
            _ = context.Manager.Folder.OffsiteRepositoryLocation ?? throw new MdmaiException(MdmaiErrorCode.InvalidConfig, "No off-site repository is set (offsite_repository in Settings).");
            var job = context.Jobs.Start("copy", "Copy of the snapshots off-site", async (progress, ct) =>
            {
                var backups = await context.BackupsAsync(create: false, ct).ConfigureAwait(false);
                return Http.Node(await backups.CopyOffsiteAsync(Http.Backup(progress), ct).ConfigureAwait(false));
            });
            await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
        }));
    }

    /// <summary>
    /// The whole data folder back to a snapshot, while the server runs (confirmed; alone: no other job may run): the
    /// gate holds every other request until the folder is open again, the manager restores (a pre-restore snapshot
    /// first) and reopens it.
    /// </summary>
    private static async Task RestoreInPlaceAsync(HttpContext http, DashboardContext context, JsonObject body)
    {
        Http.RequireConfirmation(body, "Replacing the data folder with a snapshot's");
        var snapshot = Http.Text(body, "snapshot") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Name the snapshot: \"snapshot\".");
        if (body["paths"] is not null || body["target"] is not null)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "An in-place restore replaces the whole data folder: give no \"paths\" or \"target\".");
        }

        var backups = await context.BackupsAsync(create: false, http.RequestAborted).ConfigureAwait(false);
        var info = await backups.Repository.GetSnapshotAsync(snapshot, http.RequestAborted).ConfigureAwait(false);
        var job = context.Jobs.StartAlone("restore-in-place", $"Restore of the data folder to {info.Id[..8]}", async (progress, ct) =>
        {
            await context.Gate.CloseAsync(ct).ConfigureAwait(false);
            try
            {
                var result = await context.Manager.RestoreInPlaceAsync(info.Id, context.Password, Http.Backup(progress, info.Stats.Bytes, info.Stats.Files), ct).ConfigureAwait(false);
                progress.Report(new JobProgress(result.Bytes, result.Bytes, result.Files, result.Files, null));
                context.LastCheck = null; // it was of the data that is gone
                return Http.Node(result);
            }
            finally
            {
                context.Gate.Open();
            }
        });
        await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
    }

    private static (string Snapshot, IReadOnlyList<string> Paths) Selection(JsonObject body)
    {
        var snapshot = Http.Text(body, "snapshot") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Name the snapshot: \"snapshot\".");
        var paths = body["paths"] is JsonArray a ? a.Select(p => p?.GetValue<string>()?.Trim('/') ?? "").Where(p => p.Length > 0).ToList() : [];
        return paths.Count > 0 ? (snapshot, paths) : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Select at least one entry: \"paths\": [\"data/…\"].");
    }

    /// <summary>Whether <paramref name="entry"/> comes after <paramref name="path"/> and everything under it in the file list's order.</summary>
    private static bool IsPast(string entry, string path)
    {
        // Path order compares segment by segment with '/' first: comparing the strings with '/' as the lowest character does it.
        static string Key(string p) => p.Replace('/', '\u0001');
        return string.CompareOrdinal(Key(entry), Key(path)) > 0 && !entry.StartsWith(path + "/", StringComparison.Ordinal);
    }
}
