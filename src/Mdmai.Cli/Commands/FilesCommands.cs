using System.Text.Json.Nodes;
using System.CommandLine;
using System.Globalization;
using Mdmai.DataManager;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Spectre.Console;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai files import | export | cat | ls | rm | stats | verify</c>.</summary>
internal static class FilesCommands
{
    public static Command Create(CliContext context)
    {
        var files = new Command("files", "The file store: rulebooks, maps, images and handouts, deduplicated, compressed and (when on) encrypted");
        files.Subcommands.Add(Import(context));
        files.Subcommands.Add(Export(context));
        files.Subcommands.Add(Cat(context));
        files.Subcommands.Add(List(context));
        files.Subcommands.Add(Remove(context));
        files.Subcommands.Add(Stats(context));
        files.Subcommands.Add(Verify(context));
        return files;
    }

    /// <summary>
    /// The data folder, unlocked when <paramref name="needKeys"/> and encrypted; imports and removals hold it alone
    /// (<paramref name="changesStore"/>: the store puts and deletes object files on one writer, per process).
    /// </summary>
    private static Task<DataFolderSession> OpenAsync(CliContext context, ParseResult parse, bool needKeys, CancellationToken ct, bool changesStore = false) =>
        context.OpenAsync(parse, ct, unlock: needKeys, access: changesStore ? FolderAccess.Exclusive : FolderAccess.Shared);

    private static FileCategory? ParseCategory(string? text) => text is null ? null : EnumText.Parse<FileCategory>(text.Replace('-', '_'), "category");

    private static Command Import(CliContext context)
    {
        var command = new Command("import", "Import files and folders (recursively) in one pass each, on all cores; identical content is stored once");
        var paths = new Argument<string[]>("paths") { Description = "Files or folders", Arity = ArgumentArity.OneOrMore };
        var category = new Option<string?>("--category") { Description = "One of: " + string.Join(", ", EnumText.Values(typeof(FileCategory))) + " (default: from the content)" };
        var campaign = new Option<string?>("--campaign") { Description = "Campaign id the files belong to" };
        var tags = new Option<string[]>("--tag") { Description = "Tag (repeatable)" };
        command.Arguments.Add(paths);
        command.Options.Add(category);
        command.Options.Add(campaign);
        command.Options.Add(tags);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var options = new FileImportOptions
            {
                Category = ParseCategory(parse.GetValue(category)),
                CampaignId = parse.GetValue(campaign) is { } c ? EntityCommands.ParseId(c) : null,
                Tags = parse.GetValue(tags) ?? [],
            };
            await using var open = await OpenAsync(context, parse, needKeys: true, ct, changesStore: true);
            var started = DateTime.UtcNow;
            static Progress<FolderImportProgress>? Bytes(IProgress<(long Done, long? Total)>? progress) =>
                progress is null ? null : new Progress<FolderImportProgress>(p => progress.Report((p.Bytes, p.TotalBytes)));
            if (output.Json)
            {
                // Every file's row is printed, so they are collected; the text summary below needs only counts.
                var result = await open.Files.ImportPathsAsync(parse.GetValue(paths)!, options, null, ct);
                output.WriteJson(result);
                return result.Errors.Count == 0 ? ExitCodes.Ok : ExitCodes.PartialFailure;
            }

            var summary = await output.WithProgressAsync("Importing", null, (IProgress<(long Done, long? Total)>? progress) =>
                open.Files.ImportPathsStreamingAsync(parse.GetValue(paths)!, _ => { }, options, Bytes(progress), ct), bytes: true);
            var seconds = Math.Max(0.001, (DateTime.UtcNow - started).TotalSeconds);
            output.Line($"Imported {summary.Files} file(s), {GeneralCommands.Bytes(summary.Bytes)} in {seconds:F1} s ({GeneralCommands.Bytes((long)(summary.Bytes / seconds))}/s); {summary.Deduplicated} already stored (deduplicated).");
            foreach (var error in summary.Errors)
            {
                output.Line($"  failed: {error.Path}: {error.Message}");
            }

            return summary.Errors.Count == 0 ? ExitCodes.Ok : ExitCodes.PartialFailure;
        }));
        return command;
    }

    private static Command Export(CliContext context)
    {
        var command = new Command("export", "Write a stored file to DEST (a file path, or a folder to write it into under its name); atomic");
        var id = new Argument<string>("id") { Description = "File id" };
        var destination = new Argument<string>("dest") { Description = "Destination file or folder" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing destination file" };
        command.Arguments.Add(id);
        command.Arguments.Add(destination);
        command.Options.Add(force);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var key = EntityCommands.ParseId(parse.GetValue(id)!);
            await using var open = await OpenAsync(context, parse, needKeys: true, ct);
            var written = await open.Files.ExportAsync(key, parse.GetValue(destination)!, parse.GetValue(force), ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["id"] = key, ["path"] = written });
            }
            else
            {
                output.Line($"Wrote {written}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Cat(CliContext context)
    {
        var command = new Command("cat", "Write a stored file's content to standard output");
        var id = new Argument<string>("id") { Description = "File id" };
        command.Arguments.Add(id);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var key = EntityCommands.ParseId(parse.GetValue(id)!);
            await using var open = await OpenAsync(context, parse, needKeys: true, ct);
            await using var content = await open.Files.OpenReadAsync(key, ct);
            await using var stdout = Console.OpenStandardOutput();
            await content.CopyToAsync(stdout, ct);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command List(CliContext context)
    {
        var command = new Command("ls", "List stored files, newest first");
        var category = new Option<string?>("--category") { Description = "Only this category" };
        var campaign = new Option<string?>("--campaign") { Description = "Only this campaign's files" };
        var name = new Option<string?>("--name") { Description = "Only names starting with this" };
        var sort = new Option<string>("--sort") { Description = "name, size, category, mime_type or created_at", DefaultValueFactory = _ => "created_at" };
        var asc = new Option<bool>("--asc") { Description = "Ascending order" };
        var limit = new Option<int>("--limit") { Description = "Files per page (1-1000)", DefaultValueFactory = _ => 50 };
        var offset = new Option<int>("--offset") { Description = "Files to skip", DefaultValueFactory = _ => 0 };
        foreach (var option in new Option[] { category, campaign, name, sort, asc, limit, offset })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await OpenAsync(context, parse, needKeys: false, ct);
            var page = await open.Files.ListAsync(ParseCategory(parse.GetValue(category)), parse.GetValue(campaign) is { } c ? EntityCommands.ParseId(c) : null,
                parse.GetValue(name), parse.GetValue(sort)!, !parse.GetValue(asc), parse.GetValue(limit), parse.GetValue(offset), ct);
            if (output.Json)
            {
                output.WriteJson(page);
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumn("id").AddColumn("name").AddColumn("category").AddColumn("type").AddColumn(new TableColumn("size").RightAligned()).AddColumn(new TableColumn("stored").RightAligned());
            foreach (var file in page.Items)
            {
                table.AddRow(file.Id.ToString("D"), Markup.Escape(file.Name), EnumText.ToText(file.Category), file.MimeType, GeneralCommands.Bytes(file.Size), GeneralCommands.Bytes(file.StoredSize));
            }

            output.Console.Write(table);
            output.Line($"{page.Items.Count} of {page.TotalCount} (offset {page.Offset})");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Remove(CliContext context)
    {
        var command = new Command("rm", "Remove a file from the store (its content goes when nothing else shares it; needs --yes)");
        var id = new Argument<string>("id") { Description = "File id" };
        var yes = new Option<bool>("--yes") { Description = "Confirm" };
        command.Arguments.Add(id);
        command.Options.Add(yes);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var key = EntityCommands.ParseId(parse.GetValue(id)!);
            if (!parse.GetValue(yes))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Removing a file cannot be undone here; add --yes to confirm.");
            }

            await using var open = await OpenAsync(context, parse, needKeys: false, ct, changesStore: true);
            await open.Files.DeleteAsync(key, ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["deleted"] = key });
            }
            else
            {
                output.Line($"Removed file {key:D}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Stats(CliContext context)
    {
        var command = new Command("stats", "Files and bytes by category, and what deduplication and compression saved");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await OpenAsync(context, parse, needKeys: false, ct);
            var stats = await open.Files.GetStatsAsync(ct);
            if (output.Json)
            {
                output.WriteJson(stats);
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumn("category").AddColumn(new TableColumn("files").RightAligned()).AddColumn(new TableColumn("bytes").RightAligned());
            foreach (var (category, s) in stats.ByCategory)
            {
                table.AddRow(category, s.Files.ToString("N0", CultureInfo.InvariantCulture), GeneralCommands.Bytes(s.Bytes));
            }

            output.Console.Write(table);
            var cache = open.Files.Cache.Statistics;
            output.Line($"Cache: limit {GeneralCommands.Bytes(cache.CapacityBytes)} (config cache_size_limit_mb); this process: {cache.Hits} hits, {cache.Misses} misses, {cache.Evictions} evictions.");
            output.Line($"{stats.Files:N0} files, {stats.Objects:N0} distinct contents; {GeneralCommands.Bytes(stats.LogicalBytes)} of files stored in {GeneralCommands.Bytes(stats.StoredBytes)}: dedup saved {GeneralCommands.Bytes(stats.DedupSavedBytes)}, compression saved {GeneralCommands.Bytes(stats.CompressionSavedBytes)}.");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Verify(CliContext context)
    {
        var command = new Command("verify", $"Re-read and re-hash every object; exit {ExitCodes.CheckFailed} naming each that fails");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await OpenAsync(context, parse, needKeys: true, ct);
            var stats = await open.Files.GetStatsAsync(ct);
            var problems = await output.WithProgressAsync("Verifying", stats.Objects, progress => open.Files.VerifyAsync(progress, ct));
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["ok"] = problems.Count == 0, ["objects"] = stats.Objects, ["problems"] = CliJson.Node(problems) });
            }
            else
            {
                foreach (var problem in problems)
                {
                    output.Line($"FAILED {problem.ObjectId}: {problem.Problem}");
                }

                output.Line(problems.Count == 0 ? $"All {stats.Objects:N0} objects verified." : $"{problems.Count} of {stats.Objects:N0} objects failed. Restore them from a backup.");
            }

            return problems.Count == 0 ? ExitCodes.Ok : ExitCodes.CheckFailed;
        }));
        return command;
    }
}
