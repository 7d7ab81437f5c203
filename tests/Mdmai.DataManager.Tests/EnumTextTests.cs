using System.Text.Json;
using System.Text.RegularExpressions;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;
using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests;

public sealed partial class EnumTextTests : IAsyncLifetime
{
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private static readonly Type[] AllEnumTypes = [.. typeof(Campaign).Assembly.GetTypes()
        .Where(t => t.IsEnum && t.Namespace == typeof(Campaign).Namespace)
        .OrderBy(t => t.Name, StringComparer.Ordinal)];

    public static TheoryData<Type> EnumTypes() => [.. AllEnumTypes];

    /// <summary>Where each enum is stored: every enum column of every entity, plus the audit log's operation.</summary>
    private List<(string Table, string Column, Type Enum)> EnumColumns() =>
    [
        .. Stores.All(_t.Db).SelectMany(s => s.Columns.Where(c => c.Kind == ColumnKind.Enum).Select(c => (s.Table, c.Name, c.Type))),
        ("audit_logs", "operation", typeof(AuditOperation)),
    ];

    /// <summary>The values a column's <c>CHECK (column IN (...))</c> allows, read from the live schema.</summary>
    private List<string> CheckedValues(string table, string column)
    {
        var sql = (string)RawSql.Scalar(_t.Path, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = $0", table)!;
        var match = Regex.Match(sql, $@"\b{column}\s+IN\s*\(([^)]*)\)");
        Assert.True(match.Success, $"{table}.{column} has no CHECK ({column} IN (...))");
        return [.. match.Groups[1].Value.Split(',').Select(v => v.Trim().Trim('\''))];
    }

    [Fact]
    public void There_are_enums_to_test()
    {
        Assert.True(AllEnumTypes.Length >= 12);
    }

    [Theory]
    [MemberData(nameof(EnumTypes))]
    public void Every_value_round_trips_as_snake_case_text(Type enumType)
    {
        var values = Enum.GetValues(enumType);
        var texts = new List<string>();
        foreach (var value in values)
        {
            var text = EnumText.ToText(enumType, value);
            Assert.Matches(Patterns.SnakeCase(), text);
            Assert.Equal(JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString()!), text);
            Assert.Equal(value, EnumText.Parse(enumType, text, "field"));
            texts.Add(text);
        }

        Assert.Equal(texts, EnumText.Values(enumType));
        Assert.Equal(texts.Count, texts.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [MemberData(nameof(EnumTypes))]
    public void Every_value_serializes_in_entity_json_as_its_text_and_back(Type enumType)
    {
        foreach (var value in Enum.GetValues(enumType))
        {
            var json = JsonSerializer.Serialize(value, enumType, EntityJson.Options);
            Assert.Equal($"\"{EnumText.ToText(enumType, value)}\"", json);
            Assert.Equal(value, JsonSerializer.Deserialize(json, enumType, EntityJson.Options));
        }
    }

    [Theory]
    [MemberData(nameof(EnumTypes))]
    public void The_texts_are_exactly_what_the_schema_check_allows(Type enumType)
    {
        var columns = EnumColumns().Where(c => c.Enum == enumType).ToList();
        Assert.True(columns.Count > 0, $"{enumType.Name} is stored in no column");
        foreach (var (table, column, _) in columns)
        {
            Assert.Equal(EnumText.Values(enumType).Order(StringComparer.Ordinal), CheckedValues(table, column).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void Known_multi_word_members_have_the_expected_text()
    {
        Assert.Equal("quest_giver", EnumText.ToText(NpcRole.QuestGiver));
        Assert.Equal("very_rare", EnumText.ToText(Rarity.VeryRare));
        Assert.Equal("art_object", EnumText.ToText(ItemType.ArtObject));
        Assert.Equal("trade_good", EnumText.ToText(ItemType.TradeGood));
        Assert.Equal("in_progress", EnumText.ToText(SessionStatus.InProgress));
        Assert.Equal(SessionStatus.InProgress, EnumText.Parse<SessionStatus>("in_progress"));
    }

    [Fact]
    public void Unknown_text_names_the_field_and_lists_the_allowed_values()
    {
        var error = Assert.Throws<MdmaiException>(() => EnumText.Parse<NpcRole>("villain", "role"));
        Assert.Equal(MdmaiErrorCode.InvalidEnumValue, error.Code);
        Assert.Contains("'role'", error.Message, StringComparison.Ordinal);
        Assert.Contains("quest_giver", error.Message, StringComparison.Ordinal);

        // Stored text is case sensitive: the member name is not the text.
        Assert.Equal(MdmaiErrorCode.InvalidEnumValue, Assert.Throws<MdmaiException>(() => EnumText.Parse<NpcRole>("QuestGiver", "role")).Code);
        Assert.Equal(MdmaiErrorCode.InvalidEnumValue, Assert.Throws<MdmaiException>(() => EnumText.ToText((NpcRole)99)).Code);
    }

    [Fact]
    public async Task Every_value_is_stored_and_read_back_through_the_typed_api()
    {
        var db = _t.Db;
        var campaign = await db.Campaigns.CreateAsync(Samples.Campaign());
        foreach (var status in Enum.GetValues<CampaignStatus>())
        {
            var c = Samples.Campaign($"c {status}");
            c.Status = status;
            Assert.Equal(status, (await db.Campaigns.GetAsync((await db.Campaigns.CreateAsync(c)).Id)).Status);
        }

        foreach (var status in Enum.GetValues<CharacterStatus>())
        {
            var c = Samples.Character(campaign.Id);
            c.Status = status;
            Assert.Equal(status, (await db.Characters.GetAsync((await db.Characters.CreateAsync(c)).Id)).Status);
        }

        foreach (var role in Enum.GetValues<NpcRole>())
        {
            foreach (var importance in Enum.GetValues<NpcImportance>())
            {
                var n = Samples.Npc(campaign.Id);
                n.Role = role;
                n.Importance = importance;
                var read = await db.Npcs.GetAsync((await db.Npcs.CreateAsync(n)).Id);
                Assert.Equal((role, importance), (read.Role, read.Importance));
            }
        }

        var number = 0;
        foreach (var status in Enum.GetValues<SessionStatus>())
        {
            var s = Samples.Session(campaign.Id, ++number);
            s.Status = status;
            Assert.Equal(status, (await db.Sessions.GetAsync((await db.Sessions.CreateAsync(s)).Id)).Status);
        }

        foreach (var level in Enum.GetValues<AccessLevel>())
        {
            var r = Samples.Rulebook();
            r.AccessLevel = level;
            Assert.Equal(level, (await db.Rulebooks.GetAsync((await db.Rulebooks.CreateAsync(r)).Id)).AccessLevel);
        }

        foreach (var type in Enum.GetValues<LocationType>())
        {
            var l = Samples.Location(campaign.Id);
            l.LocationType = type;
            Assert.Equal(type, (await db.Locations.GetAsync((await db.Locations.CreateAsync(l)).Id)).LocationType);
        }

        foreach (var type in Enum.GetValues<ItemType>())
        {
            foreach (var rarity in Enum.GetValues<Rarity>())
            {
                var i = Samples.Item();
                i.ItemType = type;
                i.Rarity = rarity;
                var read = await db.Items.GetAsync((await db.Items.CreateAsync(i)).Id);
                Assert.Equal((type, rarity), (read.ItemType, read.Rarity));
            }
        }

        foreach (var school in Enum.GetValues<SpellSchool>())
        {
            var s = Samples.Spell();
            s.School = school;
            Assert.Equal(school, (await db.Spells.GetAsync((await db.Spells.CreateAsync(s)).Id)).School);
        }

        foreach (var type in Enum.GetValues<AssetType>())
        {
            var a = Samples.Asset(campaign.Id);
            a.AssetType = type;
            Assert.Equal(type, (await db.Assets.GetAsync((await db.Assets.CreateAsync(a)).Id)).AssetType);
        }

        // The stored text is the snake_case text, not a number or the member name.
        Assert.Equal(
            EnumText.Values(typeof(NpcRole)).Order(StringComparer.Ordinal),
            RawSql.Column(_t.Path, "SELECT DISTINCT role FROM npcs ORDER BY role"));
    }

    [Fact]
    public async Task Every_audit_operation_text_is_accepted_by_the_schema_and_parsed_back()
    {
        using (var connection = RawSql.Open(_t.Path))
        {
            foreach (var text in EnumText.Values(typeof(AuditOperation)))
            {
                RawSql.Execute(connection, "INSERT INTO audit_logs (table_name, record_id, operation, timestamp) VALUES ('campaigns', $0, $1, '2026-01-01T00:00:00.000Z')", "op-" + text, text);
            }
        }

        var page = await _t.Db.ListAuditAsync(limit: 100);
        Assert.Equal(Enum.GetValues<AuditOperation>().Order(), page.Items.Select(e => e.Operation).Order());
    }

    [Fact]
    public async Task A_text_outside_the_enum_is_refused_by_the_check_constraint()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));
        await _t.Db.Npcs.CreateAsync(Samples.Npc(campaign.Id));
        await _t.Db.Sessions.CreateAsync(Samples.Session(campaign.Id));
        await _t.Db.Rulebooks.CreateAsync(Samples.Rulebook());
        await _t.Db.Locations.CreateAsync(Samples.Location(campaign.Id));
        await _t.Db.Items.CreateAsync(Samples.Item());
        await _t.Db.Spells.CreateAsync(Samples.Spell());
        await _t.Db.Assets.CreateAsync(Samples.Asset(campaign.Id));

        using var connection = RawSql.Open(_t.Path);
        foreach (var (table, column, enumType) in EnumColumns().Where(c => c.Table != "audit_logs"))
        {
            foreach (var bad in new[] { "bogus", EnumText.Values(enumType)[0].ToUpperInvariant(), "", Enum.GetNames(enumType)[^1] })
            {
                var error = Assert.Throws<SqliteException>(() => RawSql.Execute(connection, $"UPDATE {table} SET {column} = $0", bad));
                Assert.Equal(19, error.SqliteErrorCode);
                Assert.Contains("CHECK", error.Message, StringComparison.Ordinal);
            }
        }

        var audit = Assert.Throws<SqliteException>(() => RawSql.Execute(connection,
            "INSERT INTO audit_logs (table_name, record_id, operation, timestamp) VALUES ('campaigns', 'x', 'Create', '2026-01-01T00:00:00.000Z')"));
        Assert.Equal(19, audit.SqliteErrorCode);
    }

    [Fact]
    public async Task A_stored_text_that_is_not_a_member_reads_as_InvalidEnumValue_naming_the_column()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var npc = await _t.Db.Npcs.CreateAsync(Samples.Npc(campaign.Id));
        using (var connection = RawSql.Open(_t.Path))
        {
            // Only a connection that turns CHECK off can store this; the reader must still fail clearly.
            RawSql.Execute(connection, "PRAGMA ignore_check_constraints = ON");
            RawSql.Execute(connection, "UPDATE npcs SET role = 'villain' WHERE id = $0", npc.Id.ToString());
        }

        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.Npcs.GetAsync(npc.Id));
        Assert.Equal(MdmaiErrorCode.InvalidEnumValue, error.Code);
        Assert.Contains("'role'", error.Message, StringComparison.Ordinal);
        Assert.Contains("villain", error.Message, StringComparison.Ordinal);
    }
}
