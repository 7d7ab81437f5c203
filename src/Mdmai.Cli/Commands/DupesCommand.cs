using System.Text.Json.Nodes;
using System.CommandLine;
using System.Globalization;
using Mdmai.DataManager;
using Mdmai.DataManager.Files;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai dupes PATH... [--action report|hardlink|delete --keep RULE --yes]</c>: exact duplicates in external folders.</summary>
internal static class DupesCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("dupes", "Find files with identical contents under the given files and folders; report them, or with --yes replace the duplicates by hard links or delete them");
        var paths = new Argument<string[]>("path") { Description = "Files and folders to search (folders recursively; symbolic links are not followed)", Arity = ArgumentArity.OneOrMore };
        var action = new Option<string>("--action")
        {
            Description = "report (the default), hardlink (replace each duplicate by a hard link to the kept file) or delete (delete each duplicate); hardlink and delete need --yes",
            DefaultValueFactory = _ => "report",
        };
        action.AcceptOnlyFromAmong("report", "hardlink", "delete");
        var keep = new Option<string>("--keep")
        {
            Description = "Which file of each group --action keeps: first (in the order of the paths given, then by path), last, oldest or newest (last-write time)",
            DefaultValueFactory = _ => "first",
        };
        keep.AcceptOnlyFromAmong("first", "last", "oldest", "newest");
        var yes = new Option<bool>("--yes") { Description = "Confirm --action hardlink or delete" };
        command.Arguments.Add(paths);
        command.Options.Add(action);
        command.Options.Add(keep);
        command.Options.Add(yes);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var actionName = parse.GetValue(action)!;
            DuplicateAction? toApply = actionName switch
            {
                "hardlink" => DuplicateAction.Hardlink,
                "delete" => DuplicateAction.Delete,
                _ => null,
            };
            if (toApply is not null && !parse.GetValue(yes))
            {
                var what = toApply == DuplicateAction.Delete ? "deletes the duplicates" : "replaces the duplicates by hard links";
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument,
                    $"--action {actionName} {what} and cannot be undone here; nothing was changed. Run without --action to see the groups, then add --yes to confirm.");
            }

            var keepRule = Enum.Parse<KeepRule>(parse.GetValue(keep)!, ignoreCase: true);
            var finder = new DuplicateFinder();
            var report = await output.WithProgressAsync("Finding duplicates", null, progress =>
                finder.FindAsync(parse.GetValue(paths)!, progress is null ? null : new Progress<DuplicateProgress>(p => progress.Report(p.BytesRead)), ct));
            var result = toApply is { } a ? await finder.ApplyAsync(report, a, keepRule, ct) : null;

            if (output.Json)
            {
                output.WriteJson(Json(report, result));
                return ExitCodes.Ok;
            }

            WriteText(output, report, result);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static JsonObject Json(DuplicateReport report, DuplicateActionResult? result)
    {
        var json = new JsonObject
        {
            ["groups"] = CliJson.Array(report.Groups, g => new JsonObject { ["size"] = g.Size, ["files"] = CliJson.Node(g.Files) }),
            ["problems"] = Problems(report.Problems),
            ["files_scanned"] = report.FilesScanned,
            ["reclaimable_bytes"] = report.ReclaimableBytes,
        };
        if (result is not null)
        {
            json["action"] = result.Action == DuplicateAction.Delete ? "delete" : "hardlink";
            json["keep"] = result.Keep.ToString().ToLowerInvariant();
            json["kept"] = CliJson.Node(result.Kept);
            json["changed"] = CliJson.Node(result.Changed);
            json["bytes_freed"] = result.BytesFreed;
            json["skipped"] = Problems(result.Skipped);
        }

        return json;

        static JsonArray Problems(IEnumerable<DuplicateProblem> problems) => CliJson.Array(problems, p => new JsonObject { ["path"] = p.Path, ["message"] = p.Message });
    }

    private static void WriteText(Output output, DuplicateReport report, DuplicateActionResult? result)
    {
        foreach (var group in report.Groups)
        {
            output.Line($"{group.Files.Count} identical files of {Size(group.Size)}:");
            foreach (var file in group.Files)
            {
                output.Line($"  {file}");
            }

            foreach (var link in group.HardLinks)
            {
                output.Line($"  (also hard-linked as {link})");
            }

            output.Line("");
        }

        var duplicates = report.Groups.Sum(g => g.Files.Count - 1);
        output.Line(report.Groups.Count == 0
            ? $"No duplicates among {Count(report.FilesScanned)} files."
            : $"{Count(report.Groups.Count)} group(s), {Count(duplicates)} duplicate file(s), {Size(report.ReclaimableBytes)} reclaimable ({Count(report.FilesScanned)} files scanned).");
        foreach (var problem in report.Problems)
        {
            output.Line($"skipped {problem.Path}: {problem.Message}");
        }

        if (result is null)
        {
            return;
        }

        var verb = result.Action == DuplicateAction.Delete ? "deleted" : "hard-linked";
        foreach (var path in result.Changed)
        {
            output.Line($"{verb} {path}");
        }

        output.Line($"{Capitalized(verb)} {Count(result.Changed.Count)} file(s), kept one in each of {Count(result.Kept.Count)} group(s) (--keep {result.Keep.ToString().ToLowerInvariant()}), freed {Size(result.BytesFreed)}.");
        foreach (var problem in result.Skipped)
        {
            output.Line($"left alone {problem.Path}: {problem.Message}");
        }
    }

    private static string Capitalized(string word) => char.ToUpperInvariant(word[0]) + word[1..];

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Size(long bytes) => $"{GeneralCommands.Bytes(bytes)}";
}
