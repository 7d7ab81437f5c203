using System.Text.Json.Nodes;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

public sealed class EntityStoreTests : IAsyncLifetime
{
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    public static TheoryData<string> Tables() => [.. MdmaiDatabase.EntityTables];

    [Fact]
    public void The_database_has_a_store_for_every_entity_table()
    {
        var storeProperties = typeof(MdmaiDatabase).GetProperties()
            .Where(p => p.PropertyType.IsGenericType && p.PropertyType.GetGenericTypeDefinition() == typeof(EntityStore<>))
            .ToList();
        Assert.Equal(storeProperties.Count, Stores.All(_t.Db).Count);
        Assert.Equal(MdmaiDatabase.EntityTables.Order(StringComparer.Ordinal), Stores.All(_t.Db).Select(s => s.Table).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Entity_columns_match_the_table_columns()
    {
        using var connection = RawSql.Open(_t.Path, readOnly: true);
        foreach (var store in Stores.All(_t.Db))
        {
            var expected = RawSql.Column(connection, "SELECT name FROM pragma_table_info($0)", store.Table).ToHashSet(StringComparer.Ordinal);
            var actual = store.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            Assert.True(expected.SetEquals(actual),
                $"{store.Table}: only in table: [{string.Join(", ", expected.Except(actual))}], only in entity: [{string.Join(", ", actual.Except(expected))}]");
            Assert.True(store.Filters.All(actual.Contains), $"{store.Table}: a filter column is not a column");
            Assert.True(store.Sorts.All(actual.Contains), $"{store.Table}: a sort column is not a column");
        }
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public async Task Create_get_update_delete_round_trip_with_an_audit_row_for_each_change(string table)
    {
        var db = _t.Db;
        var campaign = await db.Campaigns.CreateAsync(Samples.Campaign("Parent campaign"));
        var other = await db.Campaigns.CreateAsync(Samples.Campaign("Other campaign"));
        var character = await db.Characters.CreateAsync(Samples.Character(campaign.Id, "Parent character"));
        var npc = await db.Npcs.CreateAsync(Samples.Npc(campaign.Id, "Parent npc"));
        var place = await db.Locations.CreateAsync(Samples.Location(campaign.Id, "Parent place"));

        switch (table)
        {
            case "campaigns":
                await RoundTripAsync(db.Campaigns, Samples.Campaign("Ravenloft"), c =>
                {
                    c.Name = "Ravenloft II";
                    c.Description = null;
                    c.Status = CampaignStatus.Archived;
                    c.IsActive = false;
                    c.Settings = JsonNode.Parse("""{"x":[1,2,3]}""");
                });
                break;
            case "characters":
                await RoundTripAsync(db.Characters, Samples.Character(campaign.Id), c =>
                {
                    c.Level = 6;
                    c.Status = CharacterStatus.Dead;
                    c.CampaignId = other.Id;
                    c.Notes = null;
                    c.IsPlayerCharacter = false;
                    c.Stats = JsonNode.Parse("""{"str":18}""");
                });
                break;
            case "npcs":
                await RoundTripAsync(db.Npcs, Samples.Npc(campaign.Id), n =>
                {
                    n.Role = NpcRole.Enemy;
                    n.IsAlive = false;
                    n.Importance = NpcImportance.Background;
                    n.Location = null;
                });
                break;
            case "sessions":
                await RoundTripAsync(db.Sessions, Samples.Session(campaign.Id, 1), s =>
                {
                    s.SessionNumber = 2;
                    s.Title = "Renamed";
                    s.DatePlayed = s.DatePlayed.AddDays(1);
                    s.DurationMinutes = null;
                    s.Status = SessionStatus.Cancelled;
                    s.Loot = JsonNode.Parse("""["nothing"]""");
                });
                break;
            case "rulebooks":
                await RoundTripAsync(db.Rulebooks, Samples.Rulebook(), r =>
                {
                    r.Title = "Dungeon Master's Guide";
                    r.Publisher = null;
                    r.FileSize = null;
                    r.IsOfficial = false;
                    r.AccessLevel = AccessLevel.Restricted;
                    r.Tags = JsonNode.Parse("""["dm"]""");
                });
                break;
            case "personality_profiles":
                await RoundTripAsync(db.Profiles, Samples.Profile(character.Id), p =>
                {
                    p.Name = "Rictavio's voice";
                    p.CharacterId = null;
                    p.NpcId = npc.Id;
                    p.IsActive = false;
                    p.Motivations = JsonNode.Parse("""["hunt"]""");
                });
                break;
            case "locations":
                await RoundTripAsync(db.Locations, Samples.Location(campaign.Id), l =>
                {
                    l.ParentLocationId = place.Id;
                    l.Population = null;
                    l.LocationType = LocationType.City;
                    l.NotableFeatures = JsonNode.Parse("[]");
                });
                break;
            case "items":
                await RoundTripAsync(db.Items, Samples.Item(), i =>
                {
                    i.Weight = 0.1;
                    i.ValueGp = null;
                    i.Rarity = Rarity.Artifact;
                    i.IsMagical = false;
                    i.IsHomebrew = true;
                });
                break;
            case "spells":
                await RoundTripAsync(db.Spells, Samples.Spell(), s =>
                {
                    s.Level = 9;
                    s.School = SpellSchool.Necromancy;
                    s.Ritual = true;
                    s.Concentration = true;
                    s.AtHigherLevels = null;
                });
                break;
            case "assets":
                await RoundTripAsync(db.Assets, Samples.Asset(campaign.Id), a =>
                {
                    a.CampaignId = null;
                    a.AssetType = AssetType.Handout;
                    a.FileSize = 0;
                    a.IsPublic = false;
                });
                break;
            case "settings":
                await RoundTripAsync(db.Settings, Samples.Setting(), s =>
                {
                    s.Value = JsonValue.Create("light");
                    s.IsEncrypted = true;
                    s.Description = null;
                });
                break;
            default:
                Assert.Fail($"No round trip for {table}");
                break;
        }
    }

    private async Task RoundTripAsync<T>(EntityStore<T> store, T sample, Action<T> change) where T : Entity, new()
    {
        var table = store.TableName;
        var columns = store.Descriptor.Columns.Select(c => c.Name).Order(StringComparer.Ordinal).ToList();

        // Create: a lowercase UUID and millisecond UTC timestamps from the clock.
        _t.Clock.Advance(TimeSpan.FromMinutes(1));
        var createdAt = Timestamps.Truncate(_t.Clock.Now);
        var created = await store.CreateAsync(sample);
        Assert.NotEqual(Guid.Empty, created.Id);
        Assert.Equal(createdAt, created.CreatedAt);
        Assert.Equal(createdAt, created.UpdatedAt);
        Assert.Equal(TimeSpan.Zero, created.CreatedAt.Offset);
        var key = created.Id.ToString("D");
        using (var connection = RawSql.Open(_t.Path, readOnly: true))
        {
            Assert.Equal(key, RawSql.Scalar(connection, $"SELECT id FROM {table} WHERE id = $0", key));
            Assert.Matches(Patterns.LowercaseUuid(), key);
            Assert.Equal(Timestamps.Format(createdAt), RawSql.Scalar(connection, $"SELECT created_at FROM {table} WHERE id = $0", key));
            Assert.Equal(Timestamps.Format(createdAt), RawSql.Scalar(connection, $"SELECT updated_at FROM {table} WHERE id = $0", key));
            Assert.Matches(Patterns.Timestamp(), (string)RawSql.Scalar(connection, $"SELECT created_at FROM {table} WHERE id = $0", key)!);
        }

        var read = await store.GetAsync(created.Id);
        Samples.AssertSameFields(created, read);

        var audit = (await _t.Db.ListAuditAsync(table, created.Id)).Items;
        var create = Assert.Single(audit);
        Assert.Equal(AuditOperation.Create, create.Operation);
        Assert.Equal(key, create.RecordId);
        Assert.Null(create.OldValues);
        Assert.Equal(columns, create.NewValues!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(key, (string?)create.NewValues["id"]);

        // Update: fields change, updated_at moves to the clock, created_at stays (whatever the caller sends).
        _t.Clock.Advance(TimeSpan.FromSeconds(1.5));
        var updatedAt = Timestamps.Truncate(_t.Clock.Now);
        var expected = await store.GetAsync(created.Id);
        change(expected);
        var edit = await store.GetAsync(created.Id);
        change(edit);
        edit.CreatedAt = DateTimeOffset.UnixEpoch;
        var updated = await store.UpdateAsync(edit);
        expected.UpdatedAt = updatedAt;
        Samples.AssertSameFields(expected, updated);
        Samples.AssertSameFields(expected, await store.GetAsync(created.Id));
        Assert.Equal(createdAt, updated.CreatedAt);

        audit = (await _t.Db.ListAuditAsync(table, created.Id)).Items;
        Assert.Equal([AuditOperation.Update, AuditOperation.Create], audit.Select(a => a.Operation));
        var update = audit[0];
        Assert.Equal(Timestamps.Format(createdAt), (string?)update.OldValues!["updated_at"]);
        Assert.Equal(Timestamps.Format(updatedAt), (string?)update.NewValues!["updated_at"]);
        var changed = columns.Where(c => c != "updated_at" && !JsonNode.DeepEquals(update.OldValues[c], update.NewValues[c])).ToList();
        Assert.True(changed.Count > 0, $"{table}: the update changed no audited field");
        Assert.True(JsonNode.DeepEquals(create.NewValues, update.OldValues), $"{table}: the update's old values are not the created record");

        // Delete: gone, audited with the old values.
        await store.DeleteAsync(created.Id);
        Assert.Null(await store.FindAsync(created.Id));
        Assert.Equal(MdmaiErrorCode.NotFound, (await Assert.ThrowsAsync<MdmaiException>(() => store.GetAsync(created.Id))).Code);
        audit = (await _t.Db.ListAuditAsync(table, created.Id)).Items;
        Assert.Equal([AuditOperation.Delete, AuditOperation.Update, AuditOperation.Create], audit.Select(a => a.Operation));
        Assert.Null(audit[0].NewValues);
        Assert.True(JsonNode.DeepEquals(update.NewValues, audit[0].OldValues), $"{table}: the delete's old values are not the last state");
        Assert.All(RawSql.Column(_t.Path, "SELECT timestamp FROM audit_logs WHERE record_id = $0", key), t => Assert.Matches(Patterns.Timestamp(), t));

        // Unknown ids, for each operation.
        var unknown = Guid.NewGuid();
        var getError = await Assert.ThrowsAsync<MdmaiException>(() => store.GetAsync(unknown));
        Assert.Equal(MdmaiErrorCode.NotFound, getError.Code);
        Assert.Contains(table, getError.Message, StringComparison.Ordinal);
        Assert.Contains(unknown.ToString("D"), getError.Message, StringComparison.Ordinal);
        Assert.Equal(MdmaiErrorCode.NotFound, (await Assert.ThrowsAsync<MdmaiException>(() => store.DeleteAsync(unknown))).Code);
        var ghost = await store.GetAsync((await store.CreateAsync(SampleAgain())).Id);
        ghost.Id = unknown;
        Assert.Equal(MdmaiErrorCode.NotFound, (await Assert.ThrowsAsync<MdmaiException>(() => store.UpdateAsync(ghost))).Code);
        Assert.Null(await store.FindAsync(unknown));
        Assert.Empty((await _t.Db.ListAuditAsync(table, unknown)).Items);

        T SampleAgain()
        {
            var copy = EntityJson.Deserialize<T>(System.Text.Json.JsonSerializer.Serialize(created, EntityJson.Options));
            copy.Id = Guid.Empty;
            return copy;
        }
    }

    [Fact]
    public async Task A_given_id_is_kept_and_stored_lowercase()
    {
        var id = Guid.Parse("ABCDEF01-2345-6789-ABCD-EF0123456789");
        var campaign = Samples.Campaign();
        campaign.Id = id;
        await _t.Db.Campaigns.CreateAsync(campaign);
        Assert.Equal("abcdef01-2345-6789-abcd-ef0123456789", RawSql.Scalar(_t.Path, "SELECT id FROM campaigns"));
        Assert.Equal(id, (await _t.Db.Campaigns.GetAsync(id)).Id);
    }

    [Fact]
    public async Task Json_columns_left_null_are_stored_as_their_default()
    {
        var campaign = Samples.Campaign();
        campaign.Settings = null;
        var setting = Samples.Setting();
        setting.Value = null;
        var session = Samples.Session((await _t.Db.Campaigns.CreateAsync(campaign)).Id);
        session.Participants = null;
        await _t.Db.Settings.CreateAsync(setting);
        await _t.Db.Sessions.CreateAsync(session);

        Assert.Equal("{}", RawSql.Scalar(_t.Path, "SELECT settings FROM campaigns"));
        Assert.Equal("[]", RawSql.Scalar(_t.Path, "SELECT participants FROM sessions"));
        Assert.Equal("null", RawSql.Scalar(_t.Path, "SELECT value FROM settings"));
        Assert.Equal("{}", (await _t.Db.Campaigns.GetAsync(campaign.Id)).Settings!.ToJsonString());
        Assert.Null((await _t.Db.Settings.GetAsync(setting.Id)).Value);
    }

    [Fact]
    public async Task A_create_that_breaks_a_rule_writes_neither_the_record_nor_an_audit_row()
    {
        var blank = Samples.Campaign("   ");
        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.Campaigns.CreateAsync(blank));
        Assert.Equal(MdmaiErrorCode.ConstraintViolation, error.Code);
        Assert.Equal(0, RawSql.Count(_t.Path, "campaigns"));
        Assert.Equal(0, RawSql.Count(_t.Path, "audit_logs"));
        Assert.Equal(0, (await _t.Db.ListAuditAsync()).TotalCount);
    }

    [Fact]
    public async Task Deleting_a_campaign_cascades_to_what_belongs_to_it_and_audits_each_record()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var character = await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));
        var profile = await _t.Db.Profiles.CreateAsync(Samples.Profile(character.Id));
        var asset = await _t.Db.Assets.CreateAsync(Samples.Asset(campaign.Id));

        await _t.Db.Campaigns.DeleteAsync(campaign.Id);

        Assert.Null(await _t.Db.Characters.FindAsync(character.Id));
        Assert.Null(await _t.Db.Profiles.FindAsync(profile.Id));
        Assert.Null((await _t.Db.Assets.GetAsync(asset.Id)).CampaignId); // ON DELETE SET NULL
        Assert.Equal(AuditOperation.Delete, (await _t.Db.ListAuditAsync("characters", character.Id)).Items[0].Operation);
        Assert.Equal(AuditOperation.Delete, (await _t.Db.ListAuditAsync("personality_profiles", profile.Id)).Items[0].Operation);
        Assert.Equal(AuditOperation.Update, (await _t.Db.ListAuditAsync("assets", asset.Id)).Items[0].Operation);
    }

    [Fact]
    public async Task Audit_listing_pages_newest_first()
    {
        for (var i = 0; i < 5; i++)
        {
            await _t.Db.Rulebooks.CreateAsync(Samples.Rulebook($"Book {i}"));
        }

        var page = await _t.Db.ListAuditAsync("rulebooks", limit: 2, offset: 1);
        Assert.Equal(5, page.TotalCount);
        Assert.Equal(2, page.Items.Count);
        Assert.True(page.HasMore);
        Assert.True(page.Items[0].Id > page.Items[1].Id);
        Assert.Equal("Book 3", (string?)page.Items[0].NewValues!["title"]);
        Assert.Equal(MdmaiErrorCode.InvalidArgument, (await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.ListAuditAsync(limit: 0))).Code);
        Assert.Equal(MdmaiErrorCode.InvalidArgument, (await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.ListAuditAsync(offset: -1))).Code);
    }

    [Fact]
    public async Task StreamAsync_yields_every_row_in_storage_order()
    {
        var rng = new Random(20261125);
        var spells = Enumerable.Range(0, 321).Select(i => Samples.Spell($"Spell {i:D3} {rng.Next(1000)}", rng.Next(0, 10))).ToList();
        Assert.Equal(spells.Count, await _t.Db.Spells.BulkInsertAsync(spells));

        var streamed = new List<Spell>();
        await foreach (var spell in _t.Db.Spells.StreamAsync())
        {
            streamed.Add(spell);
        }

        Assert.Equal(spells.Select(s => s.Id), streamed.Select(s => s.Id));
        Samples.AssertSameFields(spells[200], streamed[200]);
        await foreach (var _ in _t.Db.Items.StreamAsync())
        {
            Assert.Fail("items is empty");
        }
    }

    [Fact]
    public async Task StreamAsync_sees_one_snapshot_even_when_writes_happen_while_it_runs()
    {
        await _t.Db.Items.BulkInsertAsync(Enumerable.Range(0, 50).Select(i => Samples.Item($"Item {i}")));
        var seen = 0;
        await foreach (var _ in _t.Db.Items.StreamAsync())
        {
            if (seen++ == 0)
            {
                await _t.Db.Items.CreateAsync(Samples.Item("Written during the stream"));
            }
        }

        Assert.Equal(50, seen);
        Assert.Equal(51, RawSql.Count(_t.Path, "items"));
    }

    [Fact]
    public async Task Patch_changes_only_the_given_fields_and_is_audited()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        _t.Clock.Advance(TimeSpan.FromSeconds(3));

        var patched = await _t.Db.Campaigns.PatchAsync(campaign.Id, new JsonObject { ["notes"] = "patched", ["status"] = "paused", ["description"] = null });

        var expected = await _t.Db.Campaigns.GetAsync(campaign.Id);
        Samples.AssertSameFields(expected, patched);
        Assert.Equal(("patched", CampaignStatus.Paused, (string?)null), (patched.Notes, patched.Status, patched.Description));
        Assert.Equal((campaign.Name, campaign.System, campaign.DmId), (patched.Name, patched.System, patched.DmId));
        Assert.Equal(campaign.CreatedAt, patched.CreatedAt);
        Assert.Equal(Timestamps.Truncate(_t.Clock.Now), patched.UpdatedAt);
        Assert.Equal(AuditOperation.Update, (await _t.Db.ListAuditAsync("campaigns", campaign.Id)).Items[0].Operation);
    }

    [Fact]
    public async Task Concurrent_patches_of_different_fields_are_all_kept()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        await Task.WhenAll(
            _t.Db.Campaigns.PatchAsync(campaign.Id, new JsonObject { ["notes"] = "from the first" }),
            _t.Db.Campaigns.PatchAsync(campaign.Id, new JsonObject { ["description"] = "from the second" }),
            _t.Db.Campaigns.PatchAsync(campaign.Id, new JsonObject { ["dm_id"] = "from the third" }));
        var read = await _t.Db.Campaigns.GetAsync(campaign.Id);
        Assert.Equal(("from the first", "from the second", "from the third"), (read.Notes, read.Description, read.DmId));
    }

    [Theory]
    [InlineData("id", MdmaiErrorCode.InvalidArgument)]
    [InlineData("created_at", MdmaiErrorCode.InvalidArgument)]
    [InlineData("updated_at", MdmaiErrorCode.InvalidArgument)]
    [InlineData("nickname", MdmaiErrorCode.MalformedJson)]
    [InlineData("status", MdmaiErrorCode.InvalidEnumValue)]
    public async Task A_bad_patch_names_the_field_and_changes_nothing(string field, MdmaiErrorCode code)
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var before = DatabaseSnapshot.Read(_t.Path);
        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.Campaigns.PatchAsync(campaign.Id, new JsonObject { [field] = "bogus" }));
        Assert.Equal(code, error.Code);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
        DatabaseSnapshot.AssertEqual(before, DatabaseSnapshot.Read(_t.Path));
    }

    [Fact]
    public async Task Patching_an_unknown_id_is_NotFound()
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.Campaigns.PatchAsync(Guid.NewGuid(), new JsonObject { ["notes"] = "x" }));
        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
    }

    [Fact]
    public void FromJson_refuses_a_record_without_its_required_fields()
    {
        var error = Assert.Throws<MdmaiException>(() => _t.Db.Campaigns.FromJson(new JsonObject { ["name"] = "No system" }));
        Assert.Equal(MdmaiErrorCode.MalformedJson, error.Code);
        Assert.Contains("system", error.Message, StringComparison.Ordinal);
        Assert.Equal("dnd5e", _t.Db.Campaigns.FromJson(new JsonObject { ["name"] = "Ok", ["system"] = "dnd5e" }).System);
    }
}
