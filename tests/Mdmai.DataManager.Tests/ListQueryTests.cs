using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

public sealed class ListQueryTests : IAsyncLifetime
{
    private const int Count = 25;
    private TestDatabase _t = null!;
    private Campaign _campaign = null!;
    private List<Character> _characters = null!;

    public async Task InitializeAsync()
    {
        _t = await TestDatabase.OpenAsync();
        _campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var other = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Other"));
        var rng = new Random(42);
        var names = Enumerable.Range(0, Count).Select(i => $"Hero {i:D2}").OrderBy(_ => rng.Next()).ToList();
        _characters = [];
        for (var i = 0; i < Count; i++)
        {
            var c = Samples.Character(_campaign.Id, names[i]);
            c.Level = (i % 5) + 1;
            c.Status = i % 3 == 0 ? CharacterStatus.Dead : CharacterStatus.Active;
            c.IsPlayerCharacter = i % 2 == 0;
            c.OwnerId = i % 4 == 0 ? null : $"owner-{i % 4}";
            _characters.Add(await _t.Db.Characters.CreateAsync(c));
        }

        // Records of another campaign, which a campaign filter must leave out.
        await _t.Db.Characters.CreateAsync(Samples.Character(other.Id, "Outsider"));
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private Task<Page<Character>> List(ListQuery query) => _t.Db.Characters.ListAsync(query);

    private static Dictionary<string, object?> Filter(params (string Key, object? Value)[] filters) => filters.ToDictionary(f => f.Key, f => f.Value);

    [Fact]
    public async Task Default_listing_sorts_by_name_and_counts_everything()
    {
        var page = await _t.Db.Characters.ListAsync();
        Assert.Equal(Count + 1, page.TotalCount);
        Assert.Equal(Count + 1, page.Items.Count);
        Assert.False(page.HasMore);
        Assert.Equal(page.Items.Select(c => c.Name).Order(StringComparer.Ordinal), page.Items.Select(c => c.Name));
    }

    [Fact]
    public async Task Filters_on_whitelisted_columns_given_as_text()
    {
        var page = await List(new ListQuery { Filters = Filter(("campaign_id", _campaign.Id.ToString("D")), ("level", "3")) });
        Assert.Equal(_characters.Count(c => c.Level == 3), page.TotalCount);
        Assert.All(page.Items, c => Assert.Equal(3, c.Level));

        page = await List(new ListQuery { Filters = Filter(("status", "dead"), ("is_player_character", "true")) });
        Assert.Equal(_characters.Count(c => c.Status == CharacterStatus.Dead && c.IsPlayerCharacter), page.TotalCount);
        Assert.All(page.Items, c => Assert.True(c.Status == CharacterStatus.Dead && c.IsPlayerCharacter));

        page = await List(new ListQuery { Filters = Filter(("campaign_id", _campaign.Id.ToString("D").ToUpperInvariant())) });
        Assert.Equal(Count, page.TotalCount);
    }

    [Fact]
    public async Task Filters_given_as_clr_values_and_null()
    {
        var page = await List(new ListQuery { Filters = Filter(("campaign_id", _campaign.Id), ("status", CharacterStatus.Dead), ("is_player_character", false)) });
        Assert.Equal(_characters.Count(c => c.Status == CharacterStatus.Dead && !c.IsPlayerCharacter), page.TotalCount);
        Assert.All(page.Items, c => Assert.True(c.Status == CharacterStatus.Dead && !c.IsPlayerCharacter));

        page = await List(new ListQuery { Filters = Filter(("owner_id", null), ("campaign_id", _campaign.Id)) });
        Assert.Equal(_characters.Count(c => c.OwnerId is null), page.TotalCount);
        Assert.All(page.Items, c => Assert.Null(c.OwnerId));

        page = await List(new ListQuery { Filters = Filter(("level", 2)) });
        Assert.Equal(_characters.Count(c => c.Level == 2), page.TotalCount);
    }

    [Fact]
    public async Task Pagination_reports_total_count_and_has_more()
    {
        var query = new ListQuery { Filters = Filter(("campaign_id", _campaign.Id)), Limit = 10 };
        var first = await List(query);
        var second = await List(query with { Offset = 10 });
        var last = await List(query with { Offset = 20 });
        var beyond = await List(query with { Offset = 100 });

        Assert.Equal([Count, Count, Count, Count], new[] { first.TotalCount, second.TotalCount, last.TotalCount, beyond.TotalCount });
        Assert.Equal([10, 10, 5, 0], new[] { first.Items.Count, second.Items.Count, last.Items.Count, beyond.Items.Count });
        Assert.Equal([true, true, false, false], new[] { first.HasMore, second.HasMore, last.HasMore, beyond.HasMore });
        Assert.Equal(10, second.Limit);
        Assert.Equal(10, second.Offset);

        var all = first.Items.Concat(second.Items).Concat(last.Items).Select(c => c.Id).ToList();
        Assert.Equal(Count, all.Distinct().Count());
        Assert.Equal(_characters.Select(c => c.Id).Order(), all.Order());
    }

    [Fact]
    public async Task Sorting_by_a_whitelisted_column_ascending_and_descending()
    {
        var query = new ListQuery { Filters = Filter(("campaign_id", _campaign.Id)), SortBy = "level", Limit = 100 };
        var ascending = (await List(query)).Items;
        var descending = (await List(query with { Descending = true })).Items;

        Assert.Equal(ascending.Select(c => c.Level).Order(), ascending.Select(c => c.Level));
        Assert.Equal(descending.Select(c => c.Level).OrderDescending(), descending.Select(c => c.Level));
        Assert.Equal(ascending.Select(c => c.Id).Reverse(), descending.Select(c => c.Id)); // ties broken by rowid both ways

        var byName = (await List(query with { SortBy = "name", Descending = true })).Items.Select(c => c.Name).ToList();
        Assert.Equal(byName.OrderDescending(StringComparer.Ordinal), byName);
    }

    [Theory]
    [InlineData("notes")]
    [InlineData("name; DROP TABLE characters")]
    [InlineData("NAME")]
    [InlineData("")]
    public async Task An_unknown_sort_is_InvalidArgument_listing_the_allowed_columns(string sort)
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => List(new ListQuery { SortBy = sort }));
        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
        Assert.Contains("level", error.Message, StringComparison.Ordinal);
        Assert.Equal(Count + 1, RawSql.Count(_t.Path, "characters"));
    }

    [Theory]
    [InlineData("notes")]
    [InlineData("level = 1 OR 1")]
    [InlineData("id")]
    public async Task An_unknown_filter_is_InvalidArgument(string filter)
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => List(new ListQuery { Filters = Filter((filter, "1")) }));
        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
        Assert.Contains("campaign_id", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("level", "three", MdmaiErrorCode.InvalidArgument)]
    [InlineData("campaign_id", "not-a-uuid", MdmaiErrorCode.InvalidArgument)]
    [InlineData("is_player_character", "perhaps", MdmaiErrorCode.InvalidArgument)]
    [InlineData("status", "undead", MdmaiErrorCode.InvalidEnumValue)]
    public async Task A_filter_value_of_the_wrong_type_names_the_column(string column, string value, MdmaiErrorCode code)
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => List(new ListQuery { Filters = Filter((column, value)) }));
        Assert.Equal(code, error.Code);
        Assert.Contains(column, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1001, 0)]
    [InlineData(10, -1)]
    public async Task Limit_and_offset_out_of_range_are_InvalidArgument(int limit, int offset)
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => List(new ListQuery { Limit = limit, Offset = offset }));
        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
    }

    [Fact]
    public async Task Every_store_lists_with_its_default_sort_and_every_whitelisted_sort()
    {
        await _t.Db.Spells.CreateAsync(Samples.Spell());
        await _t.Db.Settings.CreateAsync(Samples.Setting());
        await _t.Db.Sessions.CreateAsync(Samples.Session(_campaign.Id));
        foreach (var sort in _t.Db.Spells.SortColumns.Concat(_t.Db.Settings.SortColumns).Concat(_t.Db.Sessions.SortColumns).Distinct())
        {
            if (_t.Db.Spells.SortColumns.Contains(sort))
            {
                Assert.Equal(1, (await _t.Db.Spells.ListAsync(new ListQuery { SortBy = sort })).TotalCount);
            }

            if (_t.Db.Settings.SortColumns.Contains(sort))
            {
                Assert.Equal(1, (await _t.Db.Settings.ListAsync(new ListQuery { SortBy = sort, Descending = true })).TotalCount);
            }

            if (_t.Db.Sessions.SortColumns.Contains(sort))
            {
                Assert.Single((await _t.Db.Sessions.ListAsync(new ListQuery { SortBy = sort })).Items);
            }
        }

        // Settings has a column named "key", a keyword for some SQL dialects; filtering on it must work.
        Assert.Single((await _t.Db.Settings.ListAsync(new ListQuery { Filters = Filter(("key", "theme")), SortBy = "key" })).Items);
    }
}
