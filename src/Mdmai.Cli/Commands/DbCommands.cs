using System.Text.Json.Nodes;
using System.CommandLine;
using System.Globalization;
using Mdmai.DataManager;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Storage;
using Spectre.Console;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai db export-sql | import-sql | stats | check | maintain | migrate</c>.</summary>
internal static class DbCommands
{
    public static Command Create(CliContext context)
    {
        var db = new Command("db", "Database maintenance: SQL export and import, stats, checks, VACUUM/ANALYZE, migrations");
        db.Subcommands.Add(ExportSql(context));
        db.Subcommands.Add(ImportSql(context));
        db.Subcommands.Add(Stats(context));
        db.Subcommands.Add(Check(context));
        db.Subcommands.Add(Maintain(context));
        db.Subcommands.Add(Migrate(context));
        return db;
    }

    private static Command ExportSql(CliContext context)
    {
        var command = new Command("export-sql", "Write the whole database as SQL that stock sqlite3 can load (a consistent snapshot, streamed)");
        var file = new Argument<string>("file") { Description = "Destination .sql file" };
        command.Arguments.Add(file);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            await using var open = await context.OpenAsync(parse, ct, unlock: false);
            var db = open.Database;
            var stats = await db.GetStatsAsync(ct);
            var total = stats.RowCounts.Values.Sum();
            var rows = await output.WithProgressAsync("Exporting SQL", total,
                progress => SqlDump.ExportAsync(db, path, progress is null ? null : new Progress<SqlDumpProgress>(p => progress.Report(p.Rows)), ct));
            var size = new FileInfo(path).Length;
            output.Report(new JsonObject { ["file"] = path, ["rows"] = rows, ["bytes"] = size }, $"Exported {rows:N0} rows to {path} ({GeneralCommands.Bytes(size)})");

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ImportSql(CliContext context)
    {
        var command = new Command("import-sql", "Load a dump made by 'db export-sql' into a fresh data folder (--data-dir); all or nothing");
        var file = new Argument<string>("file") { Description = "A .sql dump made by mdmai" };
        command.Arguments.Add(file);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var dump = Path.GetFullPath(parse.GetValue(file)!);
            var path = context.DataPath(parse);
            var databasePath = Path.Combine(path, DataFolder.DatabaseFileName);
            if (File.Exists(databasePath))
            {
                throw new MdmaiException(MdmaiErrorCode.AlreadyExists,
                    $"The data folder '{path}' already has a database. import-sql loads into a fresh folder only: pass --data-dir with a new folder.");
            }

            Directory.CreateDirectory(path);
            var statements = await output.WithProgressAsync("Importing SQL", File.Exists(dump) ? new FileInfo(dump).Length : null,
                progress => SqlDump.ImportAsync(dump, databasePath, progress is null ? null : new Progress<SqlDumpProgress>(p => progress.Report(p.Bytes)), ct));
            var folder = await DataFolder.InitAsync(path, cancellationToken: ct);
            output.Report(new JsonObject { ["data_dir"] = folder.Path, ["statements"] = statements }, $"Imported {dump} into {folder.Path} ({statements:N0} statements)");

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Stats(CliContext context)
    {
        var command = new Command("stats", "Row counts per table, file, WAL and page sizes");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await context.OpenAsync(parse, ct, unlock: false);
            var db = open.Database;
            var stats = await db.GetStatsAsync(ct);
            if (output.Json)
            {
                output.WriteJson(stats);
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn(new TableColumn("").RightAligned());
            table.AddRow("file", GeneralCommands.Bytes(stats.FileBytes));
            table.AddRow("WAL", GeneralCommands.Bytes(stats.WalBytes));
            table.AddRow("page size", stats.PageSize.ToString(CultureInfo.InvariantCulture));
            table.AddRow("pages", stats.PageCount.ToString("N0", CultureInfo.InvariantCulture));
            table.AddRow("free pages", stats.FreelistCount.ToString("N0", CultureInfo.InvariantCulture));
            table.AddRow("schema version", stats.SchemaVersion.ToString(CultureInfo.InvariantCulture));
            foreach (var (name, count) in stats.RowCounts)
            {
                table.AddRow(name, count.ToString("N0", CultureInfo.InvariantCulture));
            }

            output.Console.Write(table);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Check(CliContext context)
    {
        var command = new Command("check", $"PRAGMA integrity_check and foreign_key_check; exit {ExitCodes.CheckFailed} when anything is wrong");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await context.OpenAsync(parse, ct, unlock: false);
            var db = open.Database;
            var result = await db.CheckAsync(ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["ok"] = result.Ok, ["problems"] = CliJson.Node(result.Problems) });
            }
            else if (result.Ok)
            {
                output.Line("Database OK: integrity_check and foreign_key_check found nothing wrong.");
            }
            else
            {
                foreach (var problem in result.Problems)
                {
                    output.Line(problem);
                }

                output.Line($"{result.Problems.Count} problem(s). Restore from a backup, or export what can be read with 'mdmai db export-sql'.");
            }

            return result.Ok ? ExitCodes.Ok : ExitCodes.CheckFailed;
        }));
        return command;
    }

    private static Command Maintain(CliContext context)
    {
        var command = new Command("maintain", "PRAGMA optimize, ANALYZE, VACUUM and a WAL checkpoint");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await context.OpenAsync(parse, ct, unlock: false, access: FolderAccess.Exclusive);
            var db = open.Database;
            var saved = await db.MaintainAsync(ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["bytes_reclaimed"] = saved });
            }
            else
            {
                output.Line($"Optimized, analyzed and vacuumed; the file shrank by {GeneralCommands.Bytes(Math.Max(0, saved))}.");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Migrate(CliContext context)
    {
        var command = new Command("migrate", "Show the schema version, or roll it forward or back with --to N");
        var to = new Option<int?>("--to") { Description = $"Target schema version (0 to {MdmaiDatabase.LatestSchemaVersion}); rolling back drops data of the removed parts" };
        command.Options.Add(to);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await context.OpenAsync(parse, ct, unlock: false, access: FolderAccess.Exclusive, migrate: false);
            var db = open.Database;
            var before = await db.GetSchemaVersionAsync(ct);
            var after = parse.GetValue(to) is { } target ? await db.MigrateToAsync(target, ct) : before;
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["from"] = before, ["to"] = after, ["latest"] = MdmaiDatabase.LatestSchemaVersion });
            }
            else
            {
                output.Line(before == after
                    ? $"Schema at version {after} (latest {MdmaiDatabase.LatestSchemaVersion})."
                    : $"Schema migrated from version {before} to {after} (latest {MdmaiDatabase.LatestSchemaVersion}).");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
