using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests.Security;

public sealed class SensitiveColumnTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mdmai-sensitive-" + Guid.NewGuid().ToString("N"));
    private readonly KeyRing _keys = new([DataKey.CreateRandom(1)]);

    public SensitiveColumnTests() => Directory.CreateDirectory(_folder);

    private string DbPath => Path.Combine(_folder, "mdmai.db");

    public void Dispose()
    {
        _keys.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private Task<MdmaiDatabase> Open(KeyRing? keys) => MdmaiDatabase.OpenAsync(DbPath, new DatabaseOptions { Encrypted = true, Keys = keys });

    private string Raw(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    [Fact]
    public async Task Sensitive_json_array_fields_are_stored_as_arrays_so_the_schema_accepts_them_and_read_back()
    {
        // Regression: motivations and fears_and_flaws are JSON arrays; sealed as {"$enc": …} they broke the
        // column's CHECK (json_type = 'array'), so no profile with either could be saved in an encrypted folder.
        Guid id;
        await using (var db = await Open(_keys))
        {
            var profile = Samples.Profile(null);
            profile.FearsAndFlaws = System.Text.Json.Nodes.JsonNode.Parse("""["strahd","the dark"]""");
            id = (await db.Profiles.CreateAsync(profile)).Id;
            Assert.Equal(1, await db.Profiles.BulkInsertAsync([Samples.Profile(null, "Another voice")]));
            var read = await db.Profiles.GetAsync(id);
            Samples.AssertSameFields(profile, read);
        }

        foreach (var column in new[] { "motivations", "fears_and_flaws" })
        {
            var stored = Raw($"SELECT {column} FROM personality_profiles WHERE id = '{id:D}'");
            Assert.StartsWith("[{\"$enc\":\"enc:v1:", stored, StringComparison.Ordinal);
            Assert.DoesNotContain("strahd", stored, StringComparison.Ordinal);
        }

        Assert.Equal("array", Raw($"SELECT json_type(motivations) FROM personality_profiles WHERE id = '{id:D}'"));
        Assert.Equal("{\"$enc\"", Raw($"SELECT substr(traits, 1, 7) FROM personality_profiles WHERE id = '{id:D}'")); // object columns as before
    }

    [Fact]
    public async Task Sensitive_fields_are_stored_encrypted_and_read_back_in_plain_text()
    {
        Guid id;
        await using (var db = await Open(_keys))
        {
            var campaign = await db.Campaigns.CreateAsync(new Campaign
            {
                Name = "Out of the Abyss",
                System = "dnd5e",
                Notes = "The drow priestess is secretly Demogorgon's pawn.",
                Settings = new System.Text.Json.Nodes.JsonObject { ["house_rule"] = "flanking" },
            });
            id = campaign.Id;
            var npc = await db.Npcs.CreateAsync(new Npc { CampaignId = id, Name = "Sarith", Notes = "spore-infected" });
            var read = await db.Campaigns.GetAsync(id);
            Assert.Equal("The drow priestess is secretly Demogorgon's pawn.", read.Notes);
            Assert.Equal("flanking", read.Settings!["house_rule"]!.GetValue<string>());
            Assert.Equal("spore-infected", (await db.Npcs.GetAsync(npc.Id)).Notes);
            Assert.Equal("Out of the Abyss", read.Name);
        }

        var stored = Raw($"SELECT notes FROM campaigns WHERE id = '{id:D}'");
        Assert.StartsWith("enc:v1:1:", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("Demogorgon", stored, StringComparison.Ordinal);
        Assert.StartsWith("{\"$enc\":\"enc:v1:", Raw($"SELECT settings FROM campaigns WHERE id = '{id:D}'"), StringComparison.Ordinal);
        Assert.Equal("0", Raw("SELECT count(*) FROM audit_logs WHERE new_values LIKE '%Demogorgon%'"));
        Assert.Equal("0", Raw("SELECT count(*) FROM search_index WHERE body LIKE '%Demogorgon%'"));
        Assert.Equal("Out of the Abyss", Raw($"SELECT name FROM campaigns WHERE id = '{id:D}'"));
    }

    [Fact]
    public async Task Without_keys_sensitive_values_can_be_neither_read_nor_written_but_the_rest_works()
    {
        Guid id;
        await using (var db = await Open(_keys))
        {
            id = (await db.Campaigns.CreateAsync(new Campaign { Name = "Strahd", System = "dnd5e", Notes = "secret" })).Id;
        }

        await using var locked = await Open(null);
        Assert.Equal(MdmaiErrorCode.WrongKey, (await Assert.ThrowsAsync<MdmaiException>(() => locked.Campaigns.GetAsync(id))).Code);
        Assert.Equal(MdmaiErrorCode.WrongKey, (await Assert.ThrowsAsync<MdmaiException>(() => locked.Campaigns.CreateAsync(new Campaign { Name = "x", System = "y", Notes = "plain" }))).Code);
        var withoutSecrets = await locked.Campaigns.CreateAsync(new Campaign { Name = "No notes", System = "dnd5e" });
        Assert.Null(withoutSecrets.Notes);
    }

    [Fact]
    public async Task A_value_moved_to_another_record_does_not_decrypt()
    {
        Guid a, b;
        await using (var db = await Open(_keys))
        {
            a = (await db.Campaigns.CreateAsync(new Campaign { Name = "A", System = "s", Notes = "alpha secret" })).Id;
            b = (await db.Campaigns.CreateAsync(new Campaign { Name = "B", System = "s", Notes = "beta secret" })).Id;
        }

        Raw($"UPDATE campaigns SET notes = (SELECT notes FROM campaigns WHERE id = '{a:D}') WHERE id = '{b:D}'");

        await using var reopened = await Open(_keys);
        Assert.Equal("alpha secret", (await reopened.Campaigns.GetAsync(a)).Notes);
        Assert.Equal(MdmaiErrorCode.Corrupt, (await Assert.ThrowsAsync<MdmaiException>(() => reopened.Campaigns.GetAsync(b))).Code);
    }

    [Fact]
    public async Task Patch_list_and_stream_decrypt_and_reseal()
    {
        await using var db = await Open(_keys);
        var campaign = await db.Campaigns.CreateAsync(new Campaign { Name = "C", System = "s" });
        var session = await db.Sessions.CreateAsync(new Session { CampaignId = campaign.Id, SessionNumber = 1, Title = "One", DatePlayed = DateTimeOffset.UtcNow, DmNotes = "the twist" });

        var patched = await db.Sessions.PatchAsync(session.Id, new System.Text.Json.Nodes.JsonObject { ["title"] = "Session one" });
        var listed = await db.Sessions.ListAsync();
        var streamed = await db.Sessions.StreamAsync().ToListAsync();

        Assert.Equal("the twist", patched.DmNotes);
        Assert.Equal("the twist", listed.Items.Single().DmNotes);
        Assert.Equal("the twist", streamed.Single().DmNotes);
        Assert.StartsWith("enc:v1:", Raw($"SELECT dm_notes FROM sessions WHERE id = '{session.Id:D}'"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unencrypted_folder_stores_sensitive_fields_as_they_are()
    {
        await using var db = await MdmaiDatabase.OpenAsync(DbPath);
        var campaign = await db.Campaigns.CreateAsync(new Campaign { Name = "Plain", System = "s", Notes = "visible" });

        Assert.Equal("visible", Raw($"SELECT notes FROM campaigns WHERE id = '{campaign.Id:D}'"));
    }
}
