using System.Text.Json.Nodes;
using System.CommandLine;
using System.Globalization;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Caching;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage;
using Spectre.Console;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai init</c>, <c>status</c>, <c>search</c> and <c>audit</c>.</summary>
internal static class GeneralCommands
{
    public static IEnumerable<Command> Create(CliContext context) => [Init(context), Status(context), Search(context), Audit(context)];

    private static Command Init(CliContext context)
    {
        var command = new Command("init", "Create the data folder: config (mdmai.json) and database; safe to run again");
        var encrypt = new Option<bool>("--encrypt") { Description = "Set a master password and create the key file (mdmai.keys)" };
        command.Options.Add(encrypt);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var path = context.DataPath(parse);
            var existed = DataFolder.Exists(path);
            string? password = null;
            if (parse.GetValue(encrypt))
            {
                if (File.Exists(Path.Combine(path, DataManager.Security.KeyFile.FileName)))
                {
                    throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"'{path}' is already encrypted. Use 'mdmai key change-password' to change the password.");
                }

                password = Passwords.Read(output, context.Environment, parse.GetValue(KeyCommands.PasswordFile), "MDMAI_PASSWORD", "Choose a master password:", confirm: true);
            }

            var folder = await DataFolder.InitAsync(path, cancellationToken: ct);
            if (password is not null)
            {
                folder = await folder.EnableEncryptionAsync(password, cancellationToken: ct);
            }

            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["data_dir"] = folder.Path, ["created"] = !existed, ["config"] = CliJson.Node(folder.Config) });
            }
            else
            {
                output.Line(existed ? $"Data folder already initialised at {folder.Path} (schema brought up to date)." : $"Initialised data folder at {folder.Path}");
                if (password is not null)
                {
                    output.Line("Encryption is on; the key file is mdmai.keys. Create a recovery key with 'mdmai key add-recovery'.");
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Status(CliContext context)
    {
        var command = new Command("status", "Show the data folder, its config, schema version, sizes and record counts (initialises the default folder on first use)");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var path = context.DataPath(parse);
            var initialised = false;
            if (CliContext.UsesDefaultFolder(parse) && !DataFolder.Exists(path))
            {
                // The main job needs no set-up: the default folder is created on first use.
                await DataFolder.InitAsync(path, cancellationToken: ct);
                initialised = true;
            }

            await using var open = await context.OpenAsync(parse, ct, unlock: false);
            var (folder, db) = (open.Folder, open.Database);
            var status = await DataManagerStatus.ReadAsync(folder, db, context.Environment, ct);
            var (stats, integrity, repository) = (status.Database, status.LastIntegrityCheck, status.BackupRepository.Exists);
            var cache = status.Cache;
            if (output.Json)
            {
                var json = (JsonObject)CliJson.Node(status)!;
                json.Insert(1, "initialised", initialised);
                output.WriteJson(json);
                return ExitCodes.Ok;
            }

            if (initialised)
            {
                output.Line($"Initialised a new data folder at {folder.Path}");
            }

            var grid = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn("");
            grid.AddRow("data folder", Markup.Escape(folder.Path));
            grid.AddRow("database", Markup.Escape($"{stats.Path} ({Bytes(stats.FileBytes)}, WAL {Bytes(stats.WalBytes)}, {stats.PageCount} pages of {stats.PageSize} B, {stats.FreelistCount} free)"));
            grid.AddRow("schema", $"version {stats.SchemaVersion} of {MdmaiDatabase.LatestSchemaVersion}, SQLite {stats.SqliteVersion}");
            var c = folder.Config;
            grid.AddRow("config", Markup.Escape($"encryption {(c.EncryptionEnabled ? "on" : "off")}, auto-backup every {c.AutoBackupIntervalMinutes} min, keep {c.MaxBackupCount}, cache {c.CacheSizeLimitMb} MB, integrity checks {(c.IntegrityCheckingEnabled ? $"every {c.IntegrityCheckIntervalHours} h" : "off")}, backup zstd level {c.BackupCompressionLevel}"));
            grid.AddRow("cache", cache is { } cs
                ? Markup.Escape($"last app session (ended {cs.SessionEnded.UtcDateTime:yyyy-MM-dd HH:mm} UTC): {cs.Hits:N0} hits, {cs.Misses:N0} misses ({cs.HitRate:P0}), {cs.Evictions:N0} evictions; {Bytes(cs.Bytes)} of {Bytes(cs.CapacityBytes)} held")
                : $"no app session recorded yet (limit {c.CacheSizeLimitMb} MB)");
            grid.AddRow("integrity", integrity is { } last
                ? Markup.Escape($"last scheduled check {last.CheckedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC: {last.Errors} error(s), {last.Warnings} warning(s)")
                : "no scheduled check yet ('mdmai check' checks now)");
            grid.AddRow("backups", Markup.Escape(repository ? $"repository at {folder.BackupRepositoryLocation} ('mdmai backup list')" : $"none yet ('mdmai backup create' makes {folder.BackupRepositoryLocation})"));
            foreach (var (table, count) in stats.RowCounts)
            {
                grid.AddRow(table, count.ToString("N0", CultureInfo.InvariantCulture));
            }

            output.Console.Write(grid);
            return ExitCodes.Ok;
        }));
        return command;
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:F1} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):F1} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):F2} GiB",
    };

    private static Command Search(CliContext context)
    {
        var command = new Command("search", "Full-text search over names, descriptions and notes of every entity, best match first");
        var text = new Argument<string[]>("text") { Description = "Words to find (all must occur; word* matches a prefix)", Arity = ArgumentArity.OneOrMore };
        var type = new Option<string?>("--type") { Description = "Only this table: " + string.Join(", ", MdmaiDatabase.SearchTables) };
        var limit = new Option<int>("--limit") { Description = "Most results (1-1000)", DefaultValueFactory = _ => 20 };
        command.Arguments.Add(text);
        command.Options.Add(type);
        command.Options.Add(limit);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await context.OpenAsync(parse, ct, unlock: false);
            var db = open.Database;
            var hits = await db.SearchAsync(string.Join(' ', parse.GetValue(text)!), parse.GetValue(limit), parse.GetValue(type), ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["items"] = CliJson.Node(hits), ["total_count"] = hits.Count });
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumn("type").AddColumn("id").AddColumn("name").AddColumn("match");
            foreach (var hit in hits)
            {
                table.AddRow(hit.EntityType, hit.Id.ToString("D"), Markup.Escape(hit.Name), Markup.Escape(hit.Snippet));
            }

            output.Console.Write(table);
            output.Line($"{hits.Count} result(s)");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Audit(CliContext context)
    {
        var command = new Command("audit", "Show the audit log, newest first");
        var table = new Option<string?>("--table") { Description = "Only changes to this table" };
        var record = new Option<string?>("--record") { Description = "Only changes to this record id" };
        var limit = new Option<int>("--limit") { Description = "Entries per page (1-1000)", DefaultValueFactory = _ => 50 };
        var offset = new Option<int>("--offset") { Description = "Entries to skip", DefaultValueFactory = _ => 0 };
        command.Options.Add(table);
        command.Options.Add(record);
        command.Options.Add(limit);
        command.Options.Add(offset);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var recordId = parse.GetValue(record) is { } r ? EntityCommands.ParseId(r) : (Guid?)null;
            await using var open = await context.OpenAsync(parse, ct, unlock: false);
            var db = open.Database;
            var page = await db.ListAuditAsync(parse.GetValue(table), recordId, parse.GetValue(limit), parse.GetValue(offset), ct);
            if (output.Json)
            {
                output.WriteJson(page);
                return ExitCodes.Ok;
            }

            var grid = new Table().Border(TableBorder.Rounded).AddColumn("#").AddColumn("time").AddColumn("operation").AddColumn("table").AddColumn("record");
            foreach (var entry in page.Items)
            {
                grid.AddRow(entry.Id.ToString(CultureInfo.InvariantCulture), Timestamps.Format(entry.Timestamp), EnumText.ToText(entry.Operation), entry.TableName, entry.RecordId);
            }

            output.Console.Write(grid);
            output.Line($"{page.Items.Count} of {page.TotalCount}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
