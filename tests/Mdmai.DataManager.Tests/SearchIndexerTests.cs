using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Tests;

/// <summary>The full-text index is updated after the commit (migration 0007), yet every search sees every write.</summary>
public sealed class SearchIndexerTests : IAsyncLifetime
{
    // A background interval no test waits for, unless it asks for a short one.
    private static readonly DatabaseOptions NoBackground = new() { SearchIndexInterval = TimeSpan.FromHours(1) };
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync(NoBackground);

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private long Pending => RawSql.Count(_t.Path, "search_pending");

    private long Indexed => RawSql.Count(_t.Path, "search_index");

    [Fact]
    public async Task A_write_only_queues_its_document_and_the_next_search_indexes_it()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Curse of Strahd"));

        Assert.Equal(1, Pending);
        Assert.Equal(0, Indexed);

        Assert.Equal(campaign.Id, Assert.Single(await _t.Db.SearchAsync("strahd")).Id);
        Assert.Equal(0, Pending);
        Assert.Equal(1, Indexed);
    }

    [Fact]
    public async Task Updates_and_deletes_are_seen_by_the_next_search()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Curse of Strahd"));
        Assert.Single(await _t.Db.SearchAsync("strahd"));

        campaign.Name = "Ravenloft";
        await _t.Db.Campaigns.UpdateAsync(campaign);
        Assert.Empty(await _t.Db.SearchAsync("strahd"));
        Assert.Single(await _t.Db.SearchAsync("ravenloft"));

        await _t.Db.Campaigns.DeleteAsync(campaign.Id);
        Assert.Empty(await _t.Db.SearchAsync("ravenloft"));
        Assert.Equal(0, Indexed);
        Assert.Equal(0, Pending);
    }

    [Fact]
    public async Task A_reused_document_number_indexes_the_new_record_not_the_deleted_one()
    {
        // search_docs numbers are rowids: after the newest is deleted, the next insert gets the same number while
        // the deletion is still queued.
        var first = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Princes of the Apocalypse"));
        Assert.Single(await _t.Db.SearchAsync("apocalypse"));
        var number = RawSql.Scalar(_t.Path, "SELECT doc_id FROM search_docs WHERE entity_id = $0", first.Id.ToString("D"));
        await _t.Db.Campaigns.DeleteAsync(first.Id);
        var second = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Storm King's Thunder"));
        Assert.Equal(number, RawSql.Scalar(_t.Path, "SELECT doc_id FROM search_docs WHERE entity_id = $0", second.Id.ToString("D")));

        Assert.Empty(await _t.Db.SearchAsync("apocalypse"));
        Assert.Equal(second.Id, Assert.Single(await _t.Db.SearchAsync("thunder")).Id);
        Assert.Equal(1, Indexed);
    }

    [Fact]
    public async Task The_background_indexer_empties_the_queue_without_a_search()
    {
        await _t.ReopenAsync(new DatabaseOptions { SearchIndexInterval = TimeSpan.FromMilliseconds(20) });
        await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Waterdeep"));

        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Pending > 0 && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, Pending);
        Assert.Equal(1, Indexed);
    }

    [Fact]
    public async Task Closing_indexes_what_is_pending()
    {
        for (var i = 0; i < 5; i++)
        {
            await _t.Db.Campaigns.CreateAsync(Samples.Campaign($"Campaign {i}"));
        }

        Assert.Equal(5, Pending);
        await _t.ReopenAsync(NoBackground);
        Assert.Equal(0, Pending);
        Assert.Equal(5, Indexed);
    }

    [Fact]
    public async Task More_than_a_batch_is_indexed_in_several_batches()
    {
        var count = Storage.Internal.SearchIndexer.BatchSize + 10;
        // One at a time, so each is queued (a bulk insert indexes its own rows).
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Large"));
        var npcs = Enumerable.Range(0, count).Select(i => Samples.Npc(campaign.Id, $"Goblin {i}")).ToList();
        await Task.WhenAll(npcs.Select(n => _t.Db.Npcs.CreateAsync(n)));
        Assert.Equal(count + 1, Pending);

        Assert.Equal(20, (await _t.Db.SearchAsync("goblin", limit: 20)).Count);
        Assert.Equal(0, Pending);
        Assert.Equal(count + 1, Indexed);
    }

    [Fact]
    public async Task A_bulk_insert_is_searchable_when_it_returns_and_leaves_nothing_queued()
    {
        var count = await _t.Db.Items.BulkInsertAsync(Enumerable.Range(0, 2500).Select(i => Samples.Item($"Potion {i}")));

        Assert.Equal(2500, count);
        Assert.Equal(0, Pending);
        Assert.Equal(2500, Indexed);
    }

    [Fact]
    public async Task Migrating_below_the_queue_indexes_what_is_pending_first()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Descent into Avernus"));
        Assert.Equal(1, Pending);

        await _t.Db.MigrateToAsync(6);

        Assert.Equal(1, Indexed);
        Assert.Equal(campaign.Id, Assert.Single(await _t.Db.SearchAsync("avernus")).Id);

        // At version 6 the triggers index inside the commit again.
        await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Baldur's Gate"));
        Assert.Equal(2, Indexed);
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await _t.Db.MigrateToAsync(MdmaiDatabase.LatestSchemaVersion));
        Assert.Single(await _t.Db.SearchAsync("baldur"));
    }
}
