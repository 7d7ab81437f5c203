using System.Text.Json.Nodes;
using System.CommandLine;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Integrity;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai check [--read-data]</c> and <c>mdmai repair [--yes]</c>.</summary>
internal static class IntegrityCommands
{
    public static IEnumerable<Command> Create(CliContext context) => [Check(context), Repair(context)];

    /// <summary>Everything a check needs, open; disposed in the reverse order.</summary>
    private sealed class Session : IAsyncDisposable
    {
        public required DataFolderSession Folder { get; init; }
        public required IntegrityChecker Checker { get; init; }
        public BackupRepository? Repository { get; init; }

        public async ValueTask DisposeAsync()
        {
            Repository?.Dispose();
            await Folder.DisposeAsync();
        }
    }

    private static async Task<Session> OpenAsync(CliContext context, ParseResult parse, Output output, bool backups, CancellationToken ct, bool repair = false)
    {
        var folder = await context.OpenAsync(parse, ct, access: repair ? FolderAccess.Exclusive : FolderAccess.Shared);
        var password = folder.Folder.Config.EncryptionEnabled ? context.Password(parse) : null;

        BackupRepository? repository = null;
        try
        {
            MdmaiException? repositoryError = null;
            if (backups)
            {
                var backend = BackupBackends.ForDataFolder(folder.Folder, context.Environment);
                output.Track(backend);
                try
                {
                    if (await BackupRepository.ExistsAsync(backend, ct))
                    {
                        repository = await BackupRepository.OpenAsync(backend, await BackupRepository.IsEncryptedAsync(backend, ct)
                            ? password ?? Passwords.Read(output, context.Environment, parse.GetValue(KeyCommands.PasswordFile), "MDMAI_PASSWORD", "Backup password:", confirm: false)
                            : null, ct);
                    }
                }
                catch (MdmaiException ex) when (ex.Code != MdmaiErrorCode.WrongPassword)
                {
                    repositoryError = ex; // reported as a finding, not as the command's failure
                }
                finally
                {
                    if (repository is null)
                    {
                        BackupBackends.Release(backend);
                    }
                }
            }

            var checker = new IntegrityChecker(folder.Folder, folder.Database, folder.Files, _ => repositoryError is null ? Task.FromResult(repository) : throw repositoryError);
            return new Session { Folder = folder, Checker = checker, Repository = repository };
        }
        catch
        {
            repository?.Dispose();
            await folder.DisposeAsync();
            throw;
        }
    }

    private static void Print(Output output, IntegrityReport report)
    {
        foreach (var group in report.Issues.GroupBy(i => i.Severity))
        {
            output.Line($"{group.Key.ToString().ToUpperInvariant()} ({group.Count()}):");
            foreach (var issue in group)
            {
                output.Line($"  [{issue.Kind}] {issue.Subject}: {issue.Message}");
            }
        }

        output.Line($"{report.Objects} object(s) in the catalog{(report.ObjectsRead > 0 ? $", {report.ObjectsRead} read and re-hashed" : "")}; {report.Errors} error(s), {report.Warnings} warning(s) in {report.DurationSeconds:F1} s.");
        output.Line(report.Ok ? "The data is whole." : "Run 'mdmai repair' to fix what can be fixed.");
    }

    private static Command Check(CliContext context)
    {
        var command = new Command("check", "Check that database, catalog, objects, key file and backups agree (non-zero exit when anything is wrong)");
        var readData = new Option<bool>("--read-data") { Description = "Also read every object and re-hash it (and the backups' data)" };
        var noBackups = new Option<bool>("--no-backups") { Description = "Do not verify the backup repository" };
        command.Options.Add(readData);
        command.Options.Add(noBackups);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var session = await OpenAsync(context, parse, output, !parse.GetValue(noBackups), ct);
            var report = await output.WithProgressAsync("Checking", null, progress => session.Checker.CheckAsync(new IntegrityOptions { ReadData = parse.GetValue(readData), Backups = !parse.GetValue(noBackups) }, progress, ct));
            if (output.Json)
            {
                output.WriteJson(new JsonObject
                {
                    ["ok"] = report.Ok, ["errors"] = report.Errors, ["warnings"] = report.Warnings, ["objects"] = report.Objects, ["objects_read"] = report.ObjectsRead,
                    ["duration_seconds"] = report.DurationSeconds, ["issues"] = CliJson.Node(report.Issues),
                });
            }
            else
            {
                Print(output, report);
            }

            return report.Ok ? ExitCodes.Ok : ExitCodes.CheckFailed;
        }));
        return command;
    }

    private static Command Repair(CliContext context)
    {
        var command = new Command("repair", "Fix what a check finds: recount references, quarantine unreferenced objects, restore damaged or missing ones from backups (needs --yes)");
        var yes = new Option<bool>("--yes") { Description = "Confirm: without it, only say what would be done" };
        command.Options.Add(yes);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var session = await OpenAsync(context, parse, output, backups: true, ct, repair: true);
            var findings = await session.Checker.CheckAsync(new IntegrityOptions { ReadData = true, Backups = false }, null, ct);
            if (!parse.GetValue(yes))
            {
                if (output.Json)
                {
                    output.WriteJson(new JsonObject { ["dry_run"] = true, ["issues"] = CliJson.Node(findings.Issues) });
                }
                else
                {
                    Print(output, findings);
                    output.Line(findings.Ok ? "Nothing to repair." : "Run 'mdmai repair --yes' to repair.");
                }

                return findings.Ok ? ExitCodes.Ok : ExitCodes.CheckFailed;
            }

            var repair = await session.Checker.RepairAsync(findings, ct);
            var after = await session.Checker.CheckAsync(new IntegrityOptions { ReadData = true, Backups = false }, null, ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject
                {
                    ["repair"] = CliJson.Node(repair),
                    ["after"] = new JsonObject { ["ok"] = after.Ok, ["errors"] = after.Errors, ["warnings"] = after.Warnings, ["issues"] = CliJson.Node(after.Issues) },
                });
            }
            else
            {
                output.Line($"Recounted {repair.ReferenceCountsFixed} reference count(s); quarantined {repair.Quarantined.Count} object(s){(repair.QuarantineFolder is { } q ? $" in {q}" : "")}; restored {repair.Restored.Count} object(s) from backups.");
                foreach (var (id, snapshot) in repair.Restored)
                {
                    output.Line($"  restored {id} from snapshot {snapshot[..8]} (verified by hash)");
                }

                foreach (var line in repair.NotRepaired)
                {
                    output.Line($"  not repaired: {line}");
                }

                output.Line(after.Ok ? "The data is whole now." : $"{after.Errors} error(s) and {after.Warnings} warning(s) remain.");
            }

            return after.Ok ? ExitCodes.Ok : ExitCodes.CheckFailed;
        }));
        return command;
    }
}
