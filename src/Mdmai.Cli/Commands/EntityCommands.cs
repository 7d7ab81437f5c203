using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;
using Spectre.Console;

namespace Mdmai.Cli.Commands;

/// <summary>
/// <c>mdmai &lt;entity&gt; add|get|update|rm|list|import|export</c>, built once for every entity from its
/// field list, so each entity gets the same commands and an option per field (<c>--campaign-id</c>).
/// </summary>
internal static class EntityCommands
{
    /// <summary>An entity's command: its name, its help line, and how to make it whole.</summary>
    private sealed record Entry(string Name, string Description, Func<CliContext, Command> Build);

    private static readonly Entry[] Entries =
    [
        Of("campaign", "Campaigns", db => db.Campaigns),
        Of("character", "Player and non-player characters of a campaign", db => db.Characters),
        Of("npc", "Non-player characters of a campaign", db => db.Npcs),
        Of("session", "Game sessions of a campaign", db => db.Sessions),
        Of("rulebook", "Rulebooks", db => db.Rulebooks),
        Of("profile", "Personality profiles of characters and NPCs", db => db.Profiles),
        Of("location", "Places of a campaign's world", db => db.Locations),
        Of("item", "The item compendium", db => db.Items),
        Of("spell", "The spell compendium", db => db.Spells),
        Of("asset", "Images, maps, handouts and other files of a campaign", db => db.Assets),
        Of("setting", "Application settings", db => db.Settings),
    ];

    private static Entry Of<T>(string name, string description, Func<MdmaiDatabase, EntityStore<T>> select)
        where T : Entity, new()
    {
        var help = $"{description} ({EntitySchema.TableOf<T>()})";
        return new(name, help, context => Build(context, name, help, select));
    }

    /// <summary>
    /// The entity commands: <paramref name="whole"/> (a name, or null for none) with its subcommands and an option per
    /// field, the others as their name and help line alone — all that the root's help and the parsing of any other
    /// command need. Making all eleven whole describes every entity by reflection, ~3 ms of each start of the native CLI.
    /// </summary>
    public static IEnumerable<Command> CreateAll(CliContext context, string? whole) =>
        Entries.Select(e => e.Name == whole ? e.Build(context) : new Command(e.Name, e.Description));

    /// <summary>The name of the entity command <paramref name="parse"/> went into, if any.</summary>
    public static string? Invoked(ParseResult parse)
    {
        var result = parse.CommandResult;
        while (result.Parent is CommandResult { Parent: not null } parent)
        {
            result = parent; // up to the command right under the root
        }

        return result.Parent is not null && Array.Exists(Entries, e => e.Name == result.Command.Name) ? result.Command.Name : null;
    }

    private static Command Build<T>(CliContext context, string name, string description, Func<MdmaiDatabase, EntityStore<T>> select)
        where T : Entity, new()
    {
        var fields = EntitySchema.FieldsOf<T>();
        var command = new Command(name, description);
        command.Subcommands.Add(Add(context, name, fields, select));
        command.Subcommands.Add(Get(context, name, select));
        command.Subcommands.Add(Update(context, name, fields, select));
        command.Subcommands.Add(Remove(context, name, select));
        command.Subcommands.Add(List(context, fields, select));
        command.Subcommands.Add(Import(context, name, select));
        command.Subcommands.Add(Export(context, name, select));
        return command;
    }

    private static Dictionary<EntityField, Option<string?>> FieldOptions(Command command, IReadOnlyList<EntityField> fields)
    {
        var options = new Dictionary<EntityField, Option<string?>>();
        foreach (var field in fields.Where(f => !f.IsManaged))
        {
            var help = field.Kind switch
            {
                FieldKind.Enum => "one of: " + string.Join(", ", field.AllowedValues),
                FieldKind.Json => "JSON",
                FieldKind.Boolean => "true or false",
                FieldKind.Timestamp => "date and time, ISO-8601",
                FieldKind.Id => "id (UUID)",
                _ => field.Kind.ToString().ToLowerInvariant(),
            };
            var option = new Option<string?>("--" + field.Name.Replace('_', '-')) { Description = (field.Required ? "(required) " : "") + help };
            command.Options.Add(option);
            options.Add(field, option);
        }

        return options;
    }

    private static Option<string?> DataOption() => new("--data")
    {
        Description = "Fields as a JSON object (snake_case names), or @FILE to read it from a file; options override it",
    };

    private static Argument<string> IdArgument() => new("id") { Description = "The record's id (UUID)" };

    internal static Guid ParseId(string text) => Guid.TryParse(text, out var id)
        ? id
        : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{text}' is not a valid id; ids are UUIDs such as 0194f3a2-7c1e-7b3a-9f00-1a2b3c4d5e6f.");

    private static JsonObject Fields(ParseResult parse, Option<string?> data, Dictionary<EntityField, Option<string?>> options)
    {
        var json = new JsonObject();
        if (parse.GetValue(data) is { } text)
        {
            if (text.StartsWith('@'))
            {
                text = File.ReadAllText(text[1..]);
            }

            try
            {
                json = JsonNode.Parse(text) as JsonObject
                    ?? throw new MdmaiException(MdmaiErrorCode.MalformedJson, "--data must be a JSON object such as {\"name\": \"…\"}.");
            }
            catch (JsonException ex)
            {
                throw new MdmaiException(MdmaiErrorCode.MalformedJson, $"--data is not valid JSON: {ex.Message.Split(" Path: ")[0]}", ex);
            }
        }

        foreach (var (field, option) in options)
        {
            if (parse.GetValue(option) is { } value)
            {
                json[field.Name] = field.ParseText(value);
            }
        }

        return json;
    }

    private static Command Add<T>(CliContext context, string name, IReadOnlyList<EntityField> fields, Func<MdmaiDatabase, EntityStore<T>> select)
        where T : Entity, new()
    {
        var command = new Command("add", $"Create a {name}; prints the record with its id");
        var data = DataOption();
        command.Options.Add(data);
        var options = FieldOptions(command, fields);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var json = Fields(parse, data, options);
            var missing = fields.Where(f => f.Required && !json.ContainsKey(f.Name)).Select(f => "--" + f.Name.Replace('_', '-')).ToList();
            if (missing.Count > 0)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"A {name} needs {string.Join(", ", missing)}.");
            }

            await using var open = await context.OpenAsync(parse, ct);
            var db = open.Database;
            var store = select(db);
            var created = await store.CreateAsync(store.FromJson(json), ct);
            WriteRecord(output, created, $"Created {name} {created.Id:D}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Get<T>(CliContext context, string name, Func<MdmaiDatabase, EntityStore<T>> select) where T : Entity, new()
    {
        var command = new Command("get", $"Show one {name}");
        var id = IdArgument();
        command.Arguments.Add(id);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var key = ParseId(parse.GetValue(id)!);
            await using var open = await context.OpenAsync(parse, ct);
            var db = open.Database;
            WriteRecord(output, await select(db).GetAsync(key, ct), null);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Update<T>(CliContext context, string name, IReadOnlyList<EntityField> fields, Func<MdmaiDatabase, EntityStore<T>> select)
        where T : Entity, new()
    {
        var command = new Command("update", $"Change fields of a {name}; fields not given keep their values");
        var id = IdArgument();
        command.Arguments.Add(id);
        var data = DataOption();
        command.Options.Add(data);
        var options = FieldOptions(command, fields);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var key = ParseId(parse.GetValue(id)!);
            var json = Fields(parse, data, options);
            if (json.Count == 0)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Nothing to change: give at least one field option or --data.");
            }

            await using var open = await context.OpenAsync(parse, ct);
            var db = open.Database;
            var updated = await select(db).PatchAsync(key, json, ct);
            WriteRecord(output, updated, $"Updated {name} {updated.Id:D}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Remove<T>(CliContext context, string name, Func<MdmaiDatabase, EntityStore<T>> select) where T : Entity, new()
    {
        var command = new Command("rm", $"Delete a {name} and what belongs to it (needs --yes)");
        var id = IdArgument();
        command.Arguments.Add(id);
        var yes = new Option<bool>("--yes") { Description = "Confirm the deletion" };
        command.Options.Add(yes);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var key = ParseId(parse.GetValue(id)!);
            if (!parse.GetValue(yes))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument,
                    $"Deleting a {name} also deletes what belongs to it and cannot be undone here; add --yes to confirm.");
            }

            await using var open = await context.OpenAsync(parse, ct);
            var db = open.Database;
            await select(db).DeleteAsync(key, ct);
            output.Report(new JsonObject { ["deleted"] = key }, $"Deleted {name} {key:D}");

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command List<T>(CliContext context, IReadOnlyList<EntityField> fields, Func<MdmaiDatabase, EntityStore<T>> select) where T : Entity, new()
    {
        var command = new Command("list", "List records, filtered, sorted and paged");
        var filter = new Option<string[]>("--filter")
        {
            Description = "FIELD=VALUE (repeatable); filterable: " + string.Join(", ", fields.Where(f => f.Filterable).Select(f => f.Name)),
            AllowMultipleArgumentsPerToken = false,
        };
        var sort = new Option<string?>("--sort") { Description = "Sort by: " + string.Join(", ", fields.Where(f => f.Sortable).Select(f => f.Name)) };
        var desc = new Option<bool>("--desc") { Description = "Sort descending" };
        var limit = new Option<int>("--limit") { Description = "Records per page (1-1000)", DefaultValueFactory = _ => 50 };
        var offset = new Option<int>("--offset") { Description = "Records to skip", DefaultValueFactory = _ => 0 };
        command.Options.Add(filter);
        command.Options.Add(sort);
        command.Options.Add(desc);
        command.Options.Add(limit);
        command.Options.Add(offset);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var filters = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var pair in parse.GetValue(filter) ?? [])
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"--filter '{pair}' must look like FIELD=VALUE.");
                }

                filters[pair[..eq].Replace('-', '_')] = pair[(eq + 1)..];
            }

            await using var open = await context.OpenAsync(parse, ct);
            var db = open.Database;
            var page = await select(db).ListAsync(new ListQuery
            {
                Filters = filters,
                SortBy = parse.GetValue(sort)?.Replace('-', '_'),
                Descending = parse.GetValue(desc),
                Limit = parse.GetValue(limit),
                Offset = parse.GetValue(offset),
            }, ct);
            if (output.Json)
            {
                output.WriteJson(page);
                return ExitCodes.Ok;
            }

            var shown = fields.Where(f => f.Name is "id" or "name" or "title" or "key" or "category" or "session_number" or "level"
                || f.Kind == FieldKind.Enum).Select(f => f.Name).ToList();
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var column in shown)
            {
                table.AddColumn(column);
            }

            foreach (var item in page.Items)
            {
                var json = JsonSerializer.SerializeToNode(item, CliJson.Compact<T>())!.AsObject();
                table.AddRow(shown.Select(c => Markup.Escape(Display(json[c]))).ToArray());
            }

            output.Console.Write(table);
            output.Line($"{page.Items.Count} of {page.TotalCount} (offset {page.Offset}){(page.HasMore ? "; more with --offset " + (page.Offset + page.Items.Count).ToString(CultureInfo.InvariantCulture) : "")}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Import<T>(CliContext context, string name, Func<MdmaiDatabase, EntityStore<T>> select) where T : Entity, new()
    {
        var command = new Command("import", $"Bulk-insert {name} records from a JSON Lines file (one object per line), all or nothing");
        var file = new Argument<string>("file") { Description = "JSON Lines file" };
        command.Arguments.Add(file);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"No file at '{path}'.");
            }

            await using var open = await context.OpenAsync(parse, ct);
            var db = open.Database;
            var store = select(db);
            using var reader = new JsonLinesReader<T>(path, store);
            long count;
            try
            {
                count = await output.WithProgressAsync($"Importing {Path.GetFileName(path)}", reader.Length,
                    progress => store.BulkInsertAsync(reader.Read(progress), null, ct));
            }
            catch (MdmaiException ex) when (!ex.Message.StartsWith("line ", StringComparison.Ordinal))
            {
                var message = ex.Message.StartsWith("Record ", StringComparison.Ordinal) ? ex.Message[(ex.Message.IndexOf(':', StringComparison.Ordinal) + 2)..] : ex.Message;
                throw new MdmaiException(ex.Code, $"line {reader.Line}: {message} Nothing from '{path}' was imported.", ex);
            }

            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["imported"] = count, ["table"] = store.TableName, ["file"] = Path.GetFullPath(path) });
            }
            else
            {
                output.Line($"Imported {count} {name} record(s) from {path}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Export<T>(CliContext context, string name, Func<MdmaiDatabase, EntityStore<T>> select) where T : Entity, new()
    {
        var command = new Command("export", $"Write every {name} record as JSON Lines to FILE (or to standard output)");
        var file = new Argument<string?>("file") { Description = "Destination file; omitted means standard output", Arity = ArgumentArity.ZeroOrOne };
        command.Arguments.Add(file);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await context.OpenAsync(parse, ct);
            var db = open.Database;
            var store = select(db);
            var path = parse.GetValue(file);
            if (path is null)
            {
                await foreach (var entity in store.StreamAsync(ct))
                {
                    output.Line(JsonSerializer.Serialize(entity, CliJson.Compact<T>()));
                }

                return ExitCodes.Ok;
            }

            var full = Path.GetFullPath(path);
            var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
            long count = 0;
            try
            {
                await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await using (var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" })
                {
                    await foreach (var entity in store.StreamAsync(ct))
                    {
                        await writer.WriteLineAsync(JsonSerializer.Serialize(entity, CliJson.Compact<T>()));
                        count++;
                    }

                    await writer.FlushAsync(ct);
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, full, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }

            output.Report(new JsonObject { ["exported"] = count, ["table"] = store.TableName, ["file"] = full }, $"Exported {count} {name} record(s) to {full}");

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static void WriteRecord<T>(Output output, T record, string? headline)
    {
        if (output.Json)
        {
            output.WriteJson(record);
            return;
        }

        if (headline is not null)
        {
            output.Line(headline);
        }

        var json = JsonSerializer.SerializeToNode(record, CliJson.Compact<T>())!.AsObject();
        var table = new Table().Border(TableBorder.Rounded).AddColumn("field").AddColumn("value");
        foreach (var (key, value) in json)
        {
            table.AddRow(Markup.Escape(key), Markup.Escape(Display(value)));
        }

        output.Console.Write(table);
    }

    private static string Display(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => value.ToJsonString(DataManagerJson.Options),
    };
}

/// <summary>Reads records from a JSON Lines file one line at a time, naming the line of any bad record.</summary>
internal sealed class JsonLinesReader<T>(string path, EntityStore<T> store) : IDisposable where T : Entity, new()
{
    private readonly StreamReader _reader = new(path, new UTF8Encoding(false), false, 1 << 16);

    public long Line { get; private set; }

    public long Length => _reader.BaseStream.Length;

    public IEnumerable<T> Read(IProgress<long>? progress)
    {
        while (_reader.ReadLine() is { } text)
        {
            Line++;
            if ((Line & 4095) == 0)
            {
                progress?.Report(_reader.BaseStream.Position);
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            JsonObject json;
            try
            {
                json = JsonNode.Parse(text) as JsonObject
                    ?? throw new MdmaiException(MdmaiErrorCode.MalformedJson, $"line {Line}: expected a JSON object. Nothing from '{path}' was imported.");
            }
            catch (JsonException ex)
            {
                throw new MdmaiException(MdmaiErrorCode.MalformedJson, $"line {Line}: malformed JSON ({ex.Message.Split(" Path: ")[0]}) Nothing from '{path}' was imported.", ex);
            }

            T entity;
            try
            {
                entity = store.FromJson(json);
            }
            catch (MdmaiException ex)
            {
                throw new MdmaiException(ex.Code, $"line {Line}: {ex.Message} Nothing from '{path}' was imported.", ex);
            }

            yield return entity;
        }

        progress?.Report(_reader.BaseStream.Position);
    }

    public void Dispose() => _reader.Dispose();
}
