using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

public sealed class SearchTests : IAsyncLifetime
{
    private TestDatabase _t = null!;
    private Campaign _campaign = null!;
    private Npc _keeper = null!;
    private Item _amulet = null!;
    private Spell _spell = null!;
    private Location _cave = null!;

    public async Task InitializeAsync()
    {
        _t = await TestDatabase.OpenAsync();
        var db = _t.Db;
        _campaign = Samples.Campaign("Tomb of Annihilation");
        _campaign.Description = "Jungle adventure in Chult";
        _campaign.Notes = "Salt and pepper on the table";
        _campaign = await db.Campaigns.CreateAsync(_campaign);

        // The distinctive word "glimmerstone": in one name, and in the bodies of three other records.
        var keeper = Samples.Npc(_campaign.Id, "Glimmerstone Keeper");
        keeper.Notes = "Guards the vault";
        _keeper = await db.Npcs.CreateAsync(keeper);

        var amulet = Samples.Item("Amulet of the Deep");
        amulet.Description = "Carved from a single glimmerstone, it hums at night";
        _amulet = await db.Items.CreateAsync(amulet);

        var spell = Samples.Spell("Shimmer Ward", 2);
        spell.Description = "A ward that glows like glimmerstone when struck";
        _spell = await db.Spells.CreateAsync(spell);

        var cave = Samples.Location(_campaign.Id, "Crystal Cave");
        cave.Description = "Walls of glimmerstone and quartz";
        cave.Notes = "Ancient über-ruins";
        _cave = await db.Locations.CreateAsync(cave);

        var character = Samples.Character(_campaign.Id, "Artus Cimber");
        character.Background = "Bearer of the Ring of Winter";
        await db.Characters.CreateAsync(character);
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    [Fact]
    public async Task Finds_records_across_entities()
    {
        var hits = await _t.Db.SearchAsync("glimmerstone");
        Assert.Equal(
            new[] { ("npcs", _keeper.Id), ("items", _amulet.Id), ("spells", _spell.Id), ("locations", _cave.Id) }.Order(),
            hits.Select(h => (h.EntityType, h.Id)).Order());
        var amulet = hits.Single(h => h.Id == _amulet.Id);
        Assert.Equal("Amulet of the Deep", amulet.Name);
        Assert.Contains("[glimmerstone]", amulet.Snippet, StringComparison.Ordinal);

        Assert.Equal(_campaign.Id, Assert.Single(await _t.Db.SearchAsync("chult")).Id);
        Assert.Single(await _t.Db.SearchAsync("winter ring"));
    }

    [Fact]
    public async Task A_hit_on_a_name_shows_the_name_with_the_match_marked()
    {
        // "Artus Cimber" has no description or notes: its body is blank, and the snippet must not be.
        var artus = Assert.Single(await _t.Db.SearchAsync("artus"));
        Assert.Equal("[Artus] Cimber", artus.Snippet);

        var keeper = (await _t.Db.SearchAsync("glimmerstone")).Single(h => h.Id == _keeper.Id);
        Assert.Equal("[Glimmerstone] Keeper", keeper.Snippet);
    }

    [Fact]
    public async Task A_name_match_ranks_above_a_body_match()
    {
        var hits = await _t.Db.SearchAsync("glimmerstone");
        Assert.Equal(_keeper.Id, hits[0].Id);
        Assert.Equal(hits.Select(h => h.Rank).Order(), hits.Select(h => h.Rank));
    }

    [Fact]
    public async Task The_entity_type_filter_keeps_only_that_table()
    {
        Assert.Equal(_amulet.Id, Assert.Single(await _t.Db.SearchAsync("glimmerstone", entityType: "items")).Id);
        Assert.Empty(await _t.Db.SearchAsync("glimmerstone", entityType: "campaigns"));
        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.SearchAsync("glimmerstone", entityType: "dragons"));
        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
    }

    [Fact]
    public async Task Words_must_all_occur_and_a_trailing_star_is_a_prefix()
    {
        Assert.Equal(_cave.Id, Assert.Single(await _t.Db.SearchAsync("glimmerstone quartz")).Id);
        Assert.Equal(4, (await _t.Db.SearchAsync("glimmer*")).Count);
        Assert.Empty(await _t.Db.SearchAsync("glimmer"));
        Assert.Equal(_cave.Id, Assert.Single(await _t.Db.SearchAsync("uber")).Id); // diacritics removed
        Assert.Equal(2, (await _t.Db.SearchAsync("glimmerstone", limit: 2)).Count);
    }

    [Theory]
    [InlineData("\"")]
    [InlineData("\"\"")]
    [InlineData("\"glimmerstone")]
    [InlineData("AND")]
    [InlineData("OR")]
    [InlineData("NOT")]
    [InlineData("NEAR")]
    [InlineData("*")]
    [InlineData("**")]
    [InlineData("(")]
    [InlineData(")")]
    [InlineData("glimmerstone AND")]
    [InlineData("NEAR(glimmerstone quartz)")]
    [InlineData("name:glimmerstone")]
    [InlineData("-glimmerstone")]
    [InlineData("+")]
    [InlineData("^glimmerstone")]
    [InlineData("{name body}: x")]
    [InlineData("'; DROP TABLE search_index; --")]
    [InlineData("glimmer\\*")]
    [InlineData("🐉")]
    [InlineData("   ")]
    [InlineData("")]
    public async Task Special_characters_and_operators_in_the_query_do_not_fail(string query)
    {
        var hits = await _t.Db.SearchAsync(query);
        Assert.NotNull(hits);
        Assert.Equal(4, (await _t.Db.SearchAsync("glimmerstone")).Count); // and the index is intact
    }

    [Fact]
    public async Task Operators_are_matched_as_plain_words()
    {
        // "and" is a word in the campaign's notes and the cave's description; as a query it is that word, not the operator.
        Assert.Equal(new[] { _campaign.Id, _cave.Id }.Order(), (await _t.Db.SearchAsync("AND")).Select(h => h.Id).Order());
        Assert.Equal(_keeper.Id, Assert.Single(await _t.Db.SearchAsync("\"glimmerstone keeper\"")).Id);
        Assert.Empty(await _t.Db.SearchAsync("NOT glimmerstone"));
        Assert.Empty(await _t.Db.SearchAsync("keeper OR quartz"));
    }

    [Fact]
    public async Task Updating_a_record_updates_the_index()
    {
        var keeper = await _t.Db.Npcs.GetAsync(_keeper.Id);
        keeper.Name = "Obsidian Warden";
        await _t.Db.Npcs.UpdateAsync(keeper);

        Assert.Empty(await _t.Db.SearchAsync("keeper"));
        var hit = Assert.Single(await _t.Db.SearchAsync("obsidian"));
        Assert.Equal(("npcs", _keeper.Id, "Obsidian Warden"), (hit.EntityType, hit.Id, hit.Name));
        Assert.Equal(3, (await _t.Db.SearchAsync("glimmerstone")).Count);
    }

    [Fact]
    public async Task Deleting_a_record_removes_it_from_the_index()
    {
        await _t.Db.Items.DeleteAsync(_amulet.Id);
        Assert.DoesNotContain(await _t.Db.SearchAsync("glimmerstone"), h => h.Id == _amulet.Id);
        Assert.Empty(await _t.Db.SearchAsync("amulet"));
    }

    [Fact]
    public async Task Deleting_a_campaign_removes_its_cascaded_records_from_the_index()
    {
        await _t.Db.Campaigns.DeleteAsync(_campaign.Id);
        var hits = await _t.Db.SearchAsync("glimmerstone");
        Assert.Equal(new[] { _amulet.Id, _spell.Id }.Order(), hits.Select(h => h.Id).Order());
        Assert.Empty(await _t.Db.SearchAsync("artus"));
        Assert.Equal(0L, RawSql.Scalar(_t.Path, "SELECT count(*) FROM search_docs d WHERE NOT EXISTS (SELECT 1 FROM search_index s WHERE s.rowid = d.doc_id)"));
        Assert.Equal(2L, RawSql.Scalar(_t.Path, "SELECT count(*) FROM search_docs"));
    }

    [Fact]
    public async Task A_common_word_ranks_the_newest_matches_and_every_name_match()
    {
        // Five newer records that mention the word in their notes; only the newest three are ranked.
        var newer = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var npc = Samples.Npc(_campaign.Id, $"Miner {i}");
            npc.Notes = "glimmerstone glimmerstone glimmerstone dust";
            newer.Add((await _t.Db.Npcs.CreateAsync(npc)).Id);
        }

        _t.Db.RankedMatches = 3;
        var hits = await _t.Db.SearchAsync("glimmerstone", limit: 50);

        // The old record named after the word is still found, first; the older body-only matches are not ranked.
        Assert.Equal(_keeper.Id, hits[0].Id);
        Assert.Equal(new[] { _keeper.Id, newer[2], newer[3], newer[4] }.Order(), hits.Select(h => h.Id).Order());
        Assert.All(hits.Skip(1), h => Assert.Contains("[glimmerstone]", h.Snippet, StringComparison.Ordinal));

        // An old and a new record alike are scored alike, whichever way each was found.
        var twin = Samples.Npc(_campaign.Id, "Glimmerstone Keeper");
        twin.Notes = "Guards the vault";
        var twinId = (await _t.Db.Npcs.CreateAsync(twin)).Id;
        var both = await _t.Db.SearchAsync("glimmerstone", limit: 50);
        Assert.Equal(both.Single(h => h.Id == _keeper.Id).Rank, both.Single(h => h.Id == twinId).Rank, 9);
        Assert.Equal(new[] { _keeper.Id, twinId }.Order(), both.Take(2).Select(h => h.Id).Order());

        // The window is counted within the type asked for: the one item that matches is found behind newer NPCs.
        Assert.Equal(_amulet.Id, Assert.Single(await _t.Db.SearchAsync("glimmerstone", entityType: "items")).Id);

        // Below the cap every match is ranked.
        _t.Db.RankedMatches = 100;
        Assert.Equal(10, (await _t.Db.SearchAsync("glimmerstone", limit: 50)).Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public async Task A_limit_out_of_range_is_InvalidArgument(int limit)
    {
        Assert.Equal(MdmaiErrorCode.InvalidArgument, (await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.SearchAsync("x", limit))).Code);
    }

    [Fact]
    public void The_match_expression_quotes_every_word()
    {
        Assert.Equal("\"a\" \"b\"\"c\" \"d\"*", MdmaiDatabase.ToMatchExpression("a  b\"c d*"));
        Assert.Equal("", MdmaiDatabase.ToMatchExpression(" \t\n"));
    }
}
