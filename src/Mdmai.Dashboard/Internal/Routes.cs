using System.Text.Json.Nodes;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Integrity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mdmai.Dashboard.Internal;

/// <summary>Every route of the dashboard: the pages' assets, the session, and the API (docs/dashboard.md lists it; <c>/api/v1/openapi.json</c> describes it).</summary>
internal static class Routes
{
    public static void Map(WebApplication app, DashboardContext context, Access access)
    {
        MapAssets(app);
        app.MapGet("/api/v1/session", Http.Handle(http => Http.WriteAsync(http, new JsonObject
        {
            ["csrf_token"] = Access.SessionOf(http)?.Csrf,
            ["data_dir"] = context.Manager.Folder.Path,
            ["encrypted"] = context.Manager.Folder.Config.EncryptionEnabled,
            ["version"] = typeof(Routes).Assembly.GetName().Version?.ToString(),
        })));
        app.MapGet("/api/v1/openapi.json", Http.Handle(async http =>
        {
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var stream = Asset("openapi.json")!;
            await stream.CopyToAsync(http.Response.Body, http.RequestAborted).ConfigureAwait(false);
        }));

        app.MapGet("/api/v1/status", Http.Handle(async http =>
            await Http.WriteAsync(http, await DataManagerStatus.ReadAsync(context.Manager.Folder, context.Manager.Storage, context.Environment, http.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)));

        app.MapGet("/api/v1/overview", Http.Handle(async http => await Http.WriteAsync(http, await OverviewAsync(context, http.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)));

        EntityRoutes.Map(app, context);
        FileRoutes.Map(app, context);
        BackupRoutes.Map(app, context);
        MapIntegrity(app, context);
        MapSettings(app, context);
        MapJobs(app, context);
    }

    private static async Task<JsonObject> OverviewAsync(DashboardContext context, CancellationToken cancellationToken)
    {
        var manager = context.Manager;
        var status = await DataManagerStatus.ReadAsync(manager.Folder, manager.Storage, context.Environment, cancellationToken).ConfigureAwait(false);
        var files = await manager.Files.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var growth = await manager.Files.GetGrowthAsync(cancellationToken).ConfigureAwait(false);
        var cache = manager.Cache.Statistics;
        var json = new JsonObject
        {
            ["status"] = Http.Node(status),
            ["files"] = Http.Node(files),
            ["cache_now"] = new JsonObject { ["hits"] = cache.Hits, ["misses"] = cache.Misses, ["hit_rate"] = cache.HitRate, ["bytes"] = cache.Bytes, ["capacity_bytes"] = cache.CapacityBytes },
            ["store_growth"] = new JsonArray([.. growth.Select(g => (JsonNode)new JsonObject { ["day"] = g.Day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), ["files"] = g.Files, ["bytes"] = g.Bytes, ["stored_bytes"] = g.StoredBytes })]),
            ["last_check"] = context.LastCheck is { } last ? new JsonObject { ["ok"] = last.Ok, ["errors"] = last.Errors, ["warnings"] = last.Warnings, ["checked_at"] = last.CheckedAt.ToString("O") } : null,
        };
        if (manager.Backups is { } backups)
        {
            var snapshots = await backups.Repository.ListSnapshotsAsync(cancellationToken).ConfigureAwait(false);
            json["backups"] = new JsonObject
            {
                ["snapshots"] = snapshots.Count,
                ["last"] = snapshots.Count > 0 ? Http.Node(snapshots[^1]) : null,
                ["next_auto_backup"] = snapshots.Count > 0 && manager.Folder.Config.AutoBackupIntervalMinutes > 0
                    ? snapshots[^1].Time.AddMinutes(manager.Folder.Config.AutoBackupIntervalMinutes).ToString("O") : null,
                ["history"] = new JsonArray([.. snapshots.TakeLast(60).Select(s => (JsonNode)new JsonObject
                {
                    ["id"] = s.Id, ["time"] = s.Time.ToString("O"), ["stored_bytes"] = s.Stats.StoredBytes, ["duration_seconds"] = s.Stats.DurationSeconds,
                })]),
            };
        }

        return json;
    }

    private static void MapIntegrity(WebApplication app, DashboardContext context)
    {
        app.MapGet("/api/v1/integrity", Http.Handle(http => Http.WriteAsync(http, new JsonObject
        {
            ["last_scheduled"] = Http.Node(IntegrityChecker.LastRun(context.Manager.Folder.Path)),
            ["last_report"] = context.LastCheck is { } report ? Http.Node(report) : null,
        })));
        app.MapPost("/api/v1/integrity/check", Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            var job = context.Jobs.Start("check", "Integrity check", async (progress, ct) =>
            {
                var report = await context.Manager.Integrity.CheckAsync(new IntegrityOptions { ReadData = Http.Flag(body, "read_data"), Backups = !Http.Flag(body, "no_backups") },
                    new Http.Relay<long>(n => progress.Report(new JobProgress(0, null, n, null, null))), ct).ConfigureAwait(false);
                context.LastCheck = report;
                return Http.Node(report);
            });
            await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
        }));
        app.MapPost("/api/v1/integrity/repair", Http.Handle(async http =>
        {
            Http.RequireConfirmation(await Http.ReadObjectAsync(http).ConfigureAwait(false), "Repairing (quarantining strays, restoring damaged files from backups)");
            var findings = context.LastCheck ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Run a check first: a repair fixes what a check found.");
            var job = context.Jobs.Start("repair", "Repair", async (_, ct) =>
            {
                var report = await context.Manager.Integrity.RepairAsync(findings, ct).ConfigureAwait(false);
                context.LastCheck = null;
                return Http.Node(report);
            });
            await Http.WriteAsync(http, job.ToJson(), StatusCodes.Status202Accepted).ConfigureAwait(false);
        }));
    }

    /// <summary>The settings a user changes here; the rest of mdmai.json (encryption) is changed by its own commands.</summary>
    private static readonly string[] Editable =
    [
        "auto_backup_interval_minutes", "max_backup_count", "backup_compression_level", "backup_on_shutdown", "backup_repository", "offsite_repository",
        "s3_path_style", "integrity_checking_enabled", "integrity_check_interval_hours", "cache_size_limit_mb",
    ];

    private static void MapSettings(WebApplication app, DashboardContext context)
    {
        app.MapGet("/api/v1/settings", Http.Handle(async http =>
        {
            var saved = await MdmaiConfig.LoadAsync(context.Manager.Folder.ConfigPath, http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, new JsonObject
            {
                ["config"] = Http.Node(saved),
                ["editable"] = new JsonArray([.. Editable.Select(e => (JsonNode)e!)]),
                ["in_effect"] = Http.Node(context.Manager.Folder.Config),
                ["encrypted"] = context.Manager.Folder.Config.EncryptionEnabled,
            }).ConfigureAwait(false);
        }));
        app.MapMethods("/api/v1/settings", ["PUT"], Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            var unknown = body.Select(p => p.Key).Where(k => !Editable.Contains(k)).ToList();
            if (unknown.Count > 0)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"These settings cannot be changed here: {string.Join(", ", unknown)}.");
            }

            var path = context.Manager.Folder.ConfigPath;
            var saved = Http.Node(await MdmaiConfig.LoadAsync(path, http.RequestAborted).ConfigureAwait(false))!.AsObject();
            foreach (var (key, value) in body)
            {
                saved[key] = value?.DeepClone();
            }

            MdmaiConfig config;
            try
            {
                config = System.Text.Json.JsonSerializer.Deserialize(saved, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<MdmaiConfig>)DashboardJson.Options.GetTypeInfo(typeof(MdmaiConfig)))!;
            }
            catch (System.Text.Json.JsonException ex)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidConfig, $"A setting has the wrong type: {ex.Message.Split(" Path: ")[0]}", ex);
            }

            config.Validate();
            await config.SaveAsync(path, http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, new JsonObject { ["config"] = Http.Node(config), ["restart_needed"] = true }).ConfigureAwait(false);
        }));
        app.MapPost("/api/v1/settings/password", Http.Handle(async http =>
        {
            var body = await Http.ReadObjectAsync(http).ConfigureAwait(false);
            var current = Http.Text(body, "current") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give the current password.");
            var replacement = Http.Text(body, "new") is { Length: >= 8 } n ? n : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "The new password needs at least 8 characters.");
            var followed = await DataFolderBackups.ChangePasswordAsync(context.Manager.Folder, current, replacement, context.Environment, http.RequestAborted).ConfigureAwait(false);
            context.Password = replacement;
            await Http.WriteAsync(http, new JsonObject { ["changed"] = true, ["backup_repository"] = followed }).ConfigureAwait(false);
        }));
    }

    private static void MapJobs(WebApplication app, DashboardContext context)
    {
        app.MapGet("/api/v1/jobs", Http.Handle(http => Http.WriteAsync(http, new JsonObject { ["items"] = new JsonArray([.. context.Jobs.All.Select(j => (JsonNode)j.ToJson())]) })));
        app.MapGet("/api/v1/jobs/{id}", Http.Handle(http => Http.WriteAsync(http, Find(context, http).ToJson())));
        app.MapPost("/api/v1/jobs/{id}/cancel", Http.Handle(async http =>
        {
            var job = Find(context, http);
            await job.Cancellation.CancelAsync().ConfigureAwait(false);
            await Http.WriteAsync(http, job.ToJson()).ConfigureAwait(false);
        }));

        // Server-Sent Events: the job as JSON whenever it changes (at most every 100 ms), then "done".
        app.MapGet("/api/v1/jobs/{id}/events", Http.Handle(async http =>
        {
            var job = Find(context, http);
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            http.Response.Headers["X-Accel-Buffering"] = "no";
            var sent = -1;
            while (!http.RequestAborted.IsCancellationRequested)
            {
                var changed = job.Changed;
                if (job.Version != sent)
                {
                    sent = job.Version;
                    var finished = job.State != "running";
                    await http.Response.WriteAsync($"event: {(finished ? "done" : "progress")}\ndata: {job.ToJson().ToJsonString()}\n\n", http.RequestAborted).ConfigureAwait(false);
                    await http.Response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
                    if (finished)
                    {
                        return;
                    }
                }

                // A heartbeat every 15 s keeps proxies and the browser from closing an idle stream.
                await Task.WhenAny(changed, Task.Delay(15_000, http.RequestAborted)).ConfigureAwait(false);
                if (!changed.IsCompleted && !http.RequestAborted.IsCancellationRequested)
                {
                    await http.Response.WriteAsync(": heartbeat\n\n", http.RequestAborted).ConfigureAwait(false);
                    await http.Response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
                }
            }
        }));
    }

    private static Job Find(DashboardContext context, HttpContext http) =>
        context.Jobs.Find(Http.Route(http, "id")) ?? throw new MdmaiException(MdmaiErrorCode.NotFound, $"There is no job '{Http.Route(http, "id")}' (finished jobs are kept until 50 more have run).");

    // ---------------------------------------------------------------- the pages' assets, from the binary

    private static void MapAssets(WebApplication app)
    {
        app.MapGet("/", ServeAsset("index.html"));
        app.MapGet("/index.html", ServeAsset("index.html"));
        app.MapGet("/favicon.svg", ServeAsset("favicon.svg"));
        app.MapGet("/assets/{name}", async http =>
        {
            var name = Http.Route(http, "name");
            await ServeAsset(name)(http).ConfigureAwait(false);
        });
    }

    private static RequestDelegate ServeAsset(string name) => async http =>
    {
        await using var stream = name.Contains('/', StringComparison.Ordinal) || name.Contains("..", StringComparison.Ordinal) ? null : Asset(name);
        if (stream is null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        http.Response.ContentType = Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".json" => "application/json; charset=utf-8",
            _ => "application/octet-stream",
        };
        http.Response.Headers.CacheControl = "no-cache";
        await stream.CopyToAsync(http.Response.Body, http.RequestAborted).ConfigureAwait(false);
    };

    private static Stream? Asset(string name) => typeof(Routes).Assembly.GetManifestResourceStream("wwwroot/" + name);
}
