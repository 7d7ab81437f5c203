using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Tests;

public sealed class MdmaiDatabaseTests : IAsyncLifetime
{
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    [Fact]
    public async Task Open_creates_the_file_in_wal_mode()
    {
        Assert.True(File.Exists(_t.Path));
        Assert.Equal("wal", RawSql.Scalar(_t.Path, "PRAGMA journal_mode"));
        Assert.Equal(Path.GetFullPath(_t.Path), _t.Db.Path);
        await _t.ReopenAsync();
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await _t.Db.GetSchemaVersionAsync());
    }

    [Fact]
    public async Task Stats_count_the_rows_of_every_table()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));
        await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id, "Second"));

        var stats = await _t.Db.GetStatsAsync();

        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, stats.SchemaVersion);
        Assert.Equal(1, stats.RowCounts["campaigns"]);
        Assert.Equal(2, stats.RowCounts["characters"]);
        Assert.Equal(3, stats.RowCounts["audit_logs"]);
        Assert.Equal(MdmaiDatabase.SearchTables.Append("objects").Append("audit_logs").Order(StringComparer.Ordinal), stats.RowCounts.Keys.Order(StringComparer.Ordinal));
        Assert.True(stats.PageCount > 0 && stats.PageSize > 0 && stats.FileBytes > 0);
        Assert.Matches(@"^3\.\d+\.\d+", stats.SqliteVersion);
    }

    [Fact]
    public async Task Check_is_ok_on_a_healthy_database()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));
        var check = await _t.Db.CheckAsync();
        Assert.True(check.Ok, string.Join("; ", check.Problems));
    }

    [Fact]
    public async Task Check_reports_a_reference_to_a_missing_record()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));

        // Only a connection that turns foreign keys off can leave an orphan behind.
        using (var connection = RawSql.Open(_t.Path))
        {
            RawSql.Execute(connection, "PRAGMA foreign_keys = OFF");
            RawSql.Execute(connection, "DELETE FROM campaigns");
        }

        var check = await _t.Db.CheckAsync();
        Assert.False(check.Ok);
        Assert.Contains(check.Problems, p => p.StartsWith("foreign_key_check", StringComparison.Ordinal) && p.Contains("characters", StringComparison.Ordinal) && p.Contains("campaigns", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_stays_ok_when_records_change_between_two_checks()
    {
        // A long-running app checks periodically; a change between two checks must not look like corruption.
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));
        Assert.True((await _t.Db.CheckAsync()).Ok);

        await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Another"));
        await _t.Db.Campaigns.DeleteAsync(campaign.Id);

        var check = await _t.Db.CheckAsync();
        using var fresh = RawSql.Open(_t.Path, readOnly: true);
        Assert.Equal("ok", RawSql.Scalar(fresh, "PRAGMA integrity_check")); // the file really is healthy
        Assert.True(check.Ok, "CheckAsync reported problems in a healthy database: " + string.Join("; ", check.Problems));
    }

    [Fact]
    public async Task Maintain_keeps_the_data_and_the_search_index()
    {
        var spells = Enumerable.Range(0, 300).Select(i => Samples.Spell($"Spell {i} quixotic", i % 10)).ToList();
        await _t.Db.Spells.BulkInsertAsync(spells);
        foreach (var spell in spells.Take(200))
        {
            await _t.Db.Spells.DeleteAsync(spell.Id);
        }

        var before = DatabaseSnapshot.Read(_t.Path);
        var shrunk = await _t.Db.MaintainAsync();

        Assert.True(shrunk >= 0);
        DatabaseSnapshot.AssertEqual(before, DatabaseSnapshot.Read(_t.Path));
        Assert.Equal(100, (await _t.Db.SearchAsync("quixotic", limit: 1000)).Count);
        Assert.True((await _t.Db.CheckAsync()).Ok);
    }
}
