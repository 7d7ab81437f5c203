using System.Text.Json;

namespace Mdmai.DataManager.Tests.Cli;

/// <summary>Runs the real <c>mdmai</c> command tree in-process against a real data folder in a temp directory.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mdmai-cli-" + Guid.NewGuid().ToString("N"));

    private string DataDir => Path.Combine(_root, "data");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        return await CliRunner.RunAsync([.. args, "--data-dir", DataDir]);
    }

    private async Task<JsonElement> Json(params string[] args)
    {
        var (exit, output, error) = await Run([.. args, "--json"]);
        Assert.True(exit == 0, $"exit {exit}: {error}{output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private async Task<string> NewCampaign()
    {
        await Run("init");
        var campaign = await Json("campaign", "add", "--name", "Lost Mine", "--system", "dnd5e");
        return campaign.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task Add_json_prints_the_created_record_with_its_id_and_snake_case_fields()
    {
        await Run("init");
        var created = await Json("campaign", "add", "--name", "Lost Mine", "--system", "dnd5e", "--status", "active", "--settings", "{\"xp\":\"milestone\"}");

        var id = created.GetProperty("id").GetString()!;
        Assert.Equal(id.ToLowerInvariant(), id);
        Assert.Equal("active", created.GetProperty("status").GetString());
        Assert.Equal("milestone", created.GetProperty("settings").GetProperty("xp").GetString());
        Assert.True(created.TryGetProperty("is_active", out _));
        var fetched = await Json("campaign", "get", id);
        Assert.Equal("Lost Mine", fetched.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Every_entity_command_is_in_the_help_and_is_whole_when_it_is_the_one_run()
    {
        // The tree names the entity commands alone until one is run (their options come from reflection over the fields).
        var (exit, help, _) = await Run("--help");
        Assert.Equal(0, exit);
        foreach (var (command, table) in new[] { ("campaign", "campaigns"), ("profile", "personality_profiles"), ("setting", "settings") })
        {
            Assert.Contains($"{command}", help, StringComparison.Ordinal);
            Assert.Contains($"({table})", help, StringComparison.Ordinal);
        }

        var (_, campaignHelp, _) = await Run("campaign", "--help");
        foreach (var sub in new[] { "add", "get", "update", "rm", "list", "import", "export" })
        {
            Assert.Contains($"  {sub} ", campaignHelp, StringComparison.Ordinal);
        }

        var (_, addHelp, _) = await Run("npc", "add", "--help");
        Assert.Contains("--campaign-id", addHelp, StringComparison.Ordinal);

        var (wrong, _, error) = await Run("campaign", "add", "--no-such-option", "x");
        Assert.Equal(2, wrong);
        Assert.Contains("--no-such-option", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_json_has_the_original_apps_page_shape()
    {
        var campaign = await NewCampaign();
        for (var i = 0; i < 5; i++)
        {
            await Json("npc", "add", "--campaign-id", campaign, "--name", $"NPC {i}", "--role", i % 2 == 0 ? "ally" : "enemy");
        }

        var page = await Json("npc", "list", "--filter", $"campaign_id={campaign}", "--filter", "role=ally", "--limit", "2");

        Assert.Equal(2, page.GetProperty("items").GetArrayLength());
        Assert.Equal(3, page.GetProperty("total_count").GetInt64());
        Assert.Equal(2, page.GetProperty("limit").GetInt32());
        Assert.Equal(0, page.GetProperty("offset").GetInt32());
        Assert.True(page.GetProperty("has_more").GetBoolean());
    }

    [Fact]
    public async Task Update_changes_only_the_given_fields()
    {
        var campaign = await NewCampaign();
        var npc = await Json("npc", "add", "--campaign-id", campaign, "--name", "Sildar", "--notes", "Captured");

        var updated = await Json("npc", "update", npc.GetProperty("id").GetString()!, "--is-alive", "false");

        Assert.False(updated.GetProperty("is_alive").GetBoolean());
        Assert.Equal("Captured", updated.GetProperty("notes").GetString());
        Assert.Equal(npc.GetProperty("created_at").GetString(), updated.GetProperty("created_at").GetString());
    }

    [Theory]
    [InlineData(7, "npc", "add", "--name", "X", "--role", "villain")]
    [InlineData(6, "npc", "get", "not-a-uuid")]
    [InlineData(5, "campaign", "get", "0194f3a2-7c1e-7b3a-9f00-1a2b3c4d5e6f")]
    [InlineData(5, "npc", "add", "--name", "Orphan", "--campaign-id", "0194f3a2-7c1e-7b3a-9f00-1a2b3c4d5e6f")]
    [InlineData(8, "campaign", "add", "--data", "{not json")]
    [InlineData(6, "campaign", "list", "--sort", "notes")]
    [InlineData(6, "campaign", "rm", "0194f3a2-7c1e-7b3a-9f00-1a2b3c4d5e6f")]
    [InlineData(2, "campaign", "frobnicate")]
    public async Task Bad_input_gets_its_own_exit_code_and_a_message(int expected, params string[] args)
    {
        await Run("init");

        var (exit, output, error) = await Run(args);

        Assert.Equal(expected, exit);
        Assert.False(string.IsNullOrWhiteSpace(error + output));
    }

    [Fact]
    public async Task Json_errors_are_printed_as_json_with_code_and_exit_code()
    {
        await Run("init");

        var (exit, output, _) = await Run("campaign", "get", "0194f3a2-7c1e-7b3a-9f00-1a2b3c4d5e6f", "--json");

        Assert.Equal(5, exit);
        var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("not_found", error.GetProperty("code").GetString());
        Assert.Equal(5, error.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task Commands_on_a_missing_folder_say_to_run_init()
    {
        var (exit, _, error) = await Run("campaign", "list");

        Assert.Equal(3, exit);
        Assert.Contains("mdmai init", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDir));
    }

    [Fact]
    public async Task Import_with_a_bad_line_names_the_line_and_commits_nothing()
    {
        await Run("init");
        var file = Path.Combine(_root, "spells.jsonl");
        const string good = """{"name":"Fire Bolt","level":0,"school":"evocation","casting_time":"1 action","range":"120 feet","components":"V, S","duration":"Instantaneous","description":"A mote of fire.","system":"dnd5e"}""";
        const string bad = """{"name":"Wish+","level":12,"school":"conjuration","casting_time":"1 action","range":"Self","components":"V","duration":"Instantaneous","description":"Too strong.","system":"dnd5e"}""";
        await File.WriteAllLinesAsync(file, [good, "", good.Replace("Fire Bolt", "Ray of Frost", StringComparison.Ordinal), bad]);

        var (exit, _, error) = await Run("spell", "import", file);

        Assert.Equal(9, exit);
        Assert.Contains("line 4", error, StringComparison.Ordinal);
        var page = await Json("spell", "list");
        Assert.Equal(0, page.GetProperty("total_count").GetInt64());
    }

    [Fact]
    public async Task Import_with_malformed_json_names_the_line()
    {
        await Run("init");
        var file = Path.Combine(_root, "items.jsonl");
        await File.WriteAllLinesAsync(file, ["""{"name":"Rope","system":"dnd5e"}""", """{"name": "Torch", """]);

        var (exit, _, error) = await Run("item", "import", file);

        Assert.Equal(8, exit);
        Assert.Contains("line 2", error, StringComparison.Ordinal);
        Assert.Equal(0, (await Json("item", "list")).GetProperty("total_count").GetInt64());
    }

    [Fact]
    public async Task Export_then_import_jsonl_round_trips_records()
    {
        await Run("init");
        await Json("item", "add", "--name", "Rope; 50 'feet'", "--system", "dnd5e", "--weight", "10.5", "--rarity", "very_rare");
        var file = Path.Combine(_root, "items.jsonl");
        await Json("item", "export", file);
        var other = Path.Combine(_root, "other");
        await CliRunner.RunAsync(["init", "--data-dir", other]);

        var (exit, _, _) = await CliRunner.RunAsync(["item", "import", file, "--data-dir", other, "--json"]);
        Assert.Equal(0, exit);
        var (_, list, _) = await CliRunner.RunAsync(["item", "list", "--data-dir", other, "--json"]);
        var item = JsonDocument.Parse(list).RootElement.GetProperty("items")[0];
        Assert.Equal("Rope; 50 'feet'", item.GetProperty("name").GetString());
        Assert.Equal(10.5, item.GetProperty("weight").GetDouble());
        Assert.Equal("very_rare", item.GetProperty("rarity").GetString());
    }

    [Fact]
    public async Task Search_finds_records_across_entities()
    {
        var campaign = await NewCampaign();
        await Json("npc", "add", "--campaign-id", campaign, "--name", "Sildar", "--notes", "Captured by goblins near Phandalin");

        var result = await Json("search", "goblin");

        var hit = result.GetProperty("items")[0];
        Assert.Equal("npcs", hit.GetProperty("entity_type").GetString());
        Assert.Equal("Sildar", hit.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Db_export_sql_and_import_sql_restore_the_data_into_a_fresh_folder()
    {
        var campaign = await NewCampaign();
        await Json("npc", "add", "--campaign-id", campaign, "--name", "Sildar");
        var dump = Path.Combine(_root, "dump.sql");
        await Json("db", "export-sql", dump);
        var fresh = Path.Combine(_root, "fresh");

        var (exit, _, _) = await CliRunner.RunAsync(["db", "import-sql", dump, "--data-dir", fresh, "--json"]);
        Assert.Equal(0, exit);
        var (_, list, _) = await CliRunner.RunAsync(["npc", "list", "--data-dir", fresh, "--json"]);
        Assert.Equal(1, JsonDocument.Parse(list).RootElement.GetProperty("total_count").GetInt64());

        var (again, _, _) = await CliRunner.RunAsync(["db", "import-sql", dump, "--data-dir", fresh]);
        Assert.Equal(16, again);
    }

    [Fact]
    public async Task Db_migrate_rolls_back_and_forward()
    {
        await Run("init");

        var back = await Json("db", "migrate", "--to", "1");
        var forward = await Json("db", "migrate", "--to", "3");

        Assert.Equal(1, back.GetProperty("to").GetInt32());
        Assert.Equal(3, forward.GetProperty("to").GetInt32());
        Assert.Equal(0, (await Run("db", "check")).Exit);
    }

    [Fact]
    public async Task Status_initialises_the_default_folder_on_first_use()
    {
        var home = Path.Combine(_root, "home");
        var (exit, output, _) = await CliRunner.RunAsync(["status", "--json"], new Dictionary<string, string> { ["MDMAI_HOME"] = home });

        Assert.Equal(0, exit);
        Assert.True(File.Exists(Path.Combine(home, "mdmai.db")));
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("initialised").GetBoolean());
    }

    [Fact]
    public async Task An_invalid_config_names_the_field()
    {
        await Run("init");
        await File.WriteAllTextAsync(Path.Combine(DataDir, "mdmai.json"), """{ "max_backup_count": "ten" }""");

        var (exit, _, error) = await Run("status");

        Assert.Equal(4, exit);
        Assert.Contains("max_backup_count", error, StringComparison.Ordinal);
    }
}
