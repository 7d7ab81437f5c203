using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Internal;

namespace Mdmai.DataManager.Tests;

public sealed class MigrationRunnerTests : IAsyncLifetime
{
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private List<string> SchemaNames(string type) =>
        RawSql.Column(_t.Path, "SELECT name FROM sqlite_schema WHERE type = $0 AND name NOT LIKE 'sqlite_%' ORDER BY name", type);

    [Fact]
    public void Migrations_are_numbered_from_one_without_gaps_and_each_has_a_way_back()
    {
        Assert.NotEmpty(MigrationRunner.All);
        Assert.Equal(Enumerable.Range(1, MigrationRunner.All.Count), MigrationRunner.All.Select(m => m.Version));
        Assert.All(MigrationRunner.All, m => Assert.False(string.IsNullOrWhiteSpace(m.Down), $"migration {m.Version} has no down script"));
        Assert.Equal(MigrationRunner.All.Count, MdmaiDatabase.LatestSchemaVersion);
    }

    [Fact]
    public async Task A_fresh_database_reaches_the_latest_version()
    {
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await _t.Db.GetSchemaVersionAsync());
        Assert.Equal((long)MdmaiDatabase.LatestSchemaVersion, RawSql.Scalar(_t.Path, "PRAGMA user_version"));
        foreach (var table in MdmaiDatabase.EntityTables.Append("audit_logs").Append("search_docs").Append("search_index"))
        {
            Assert.Contains(table, SchemaNames("table"));
        }
    }

    [Fact]
    public void Schema_history_rows_carry_the_checksum_of_each_migration()
    {
        using var connection = RawSql.Open(_t.Path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
        using var reader = command.ExecuteReader();
        var versions = new List<int>();
        while (reader.Read())
        {
            var version = reader.GetInt32(0);
            versions.Add(version);
            var migration = MigrationRunner.All[version - 1];
            Assert.Equal(migration.Name, reader.GetString(1));
            Assert.Matches("^[0-9a-f]{64}$", reader.GetString(2));
            Assert.Equal(migration.Checksum, reader.GetString(2));
            Assert.Equal(Timestamps.Format(ManualClock.Start), reader.GetString(3));
        }

        Assert.Equal(Enumerable.Range(1, MdmaiDatabase.LatestSchemaVersion), versions);
    }

    [Fact]
    public async Task Migrating_to_zero_drops_everything_but_the_history_and_forward_again_works()
    {
        Assert.Equal(0, await _t.Db.MigrateToAsync(0));
        var left = RawSql.Column(_t.Path, "SELECT type || ' ' || name FROM sqlite_schema ORDER BY name");
        Assert.Equal(["table schema_migrations"], left);
        Assert.Equal(0L, RawSql.Count(_t.Path, "schema_migrations"));
        Assert.Equal(0, await _t.Db.GetSchemaVersionAsync());
        Assert.Equal(0L, RawSql.Scalar(_t.Path, "PRAGMA user_version"));

        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await _t.Db.MigrateToAsync(MdmaiDatabase.LatestSchemaVersion));
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Phoenix Rising"));
        Assert.Equal("Phoenix Rising", (await _t.Db.Campaigns.GetAsync(campaign.Id)).Name);
        Assert.Single(await _t.Db.SearchAsync("phoenix"));
        Assert.Single((await _t.Db.ListAuditAsync("campaigns", campaign.Id)).Items);
    }

    [Fact]
    public async Task Migrating_down_to_one_and_back_rebuilds_triggers_and_the_search_index()
    {
        await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Before the fall"));

        Assert.Equal(1, await _t.Db.MigrateToAsync(1));
        Assert.Empty(SchemaNames("trigger"));
        Assert.DoesNotContain("search_index", SchemaNames("table"));
        Assert.Contains("campaigns", SchemaNames("table"));
        Assert.Equal(1L, RawSql.Scalar(_t.Path, "PRAGMA user_version"));

        // Written at version 1: no triggers, so no audit row and no index entry yet.
        var atOne = await _t.Db.Campaigns.CreateAsync(Samples.Campaign("Written at version one"));

        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await _t.Db.MigrateToAsync(MdmaiDatabase.LatestSchemaVersion));
        Assert.NotEmpty(SchemaNames("trigger"));
        var hits = await _t.Db.SearchAsync("written version");
        Assert.Equal(atOne.Id, Assert.Single(hits).Id);
        Assert.Single(await _t.Db.SearchAsync("fall"));
    }

    [Fact]
    public async Task An_edited_applied_migration_is_refused_on_open()
    {
        var path = _t.Path;
        await _t.Db.DisposeAsync();
        RawSql.Execute(path, "UPDATE schema_migrations SET checksum = $0 WHERE version = 2", new string('0', 64));

        var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDatabase.OpenAsync(path));
        Assert.Equal(MdmaiErrorCode.MigrationMismatch, error.Code);
        Assert.Contains("Migration 2", error.Message, StringComparison.Ordinal);

        var withoutMigrate = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDatabase.OpenAsync(path, new DatabaseOptions { Migrate = false }));
        Assert.Equal(MdmaiErrorCode.MigrationMismatch, withoutMigrate.Code);

        // Put it back so the fixture can close cleanly.
        RawSql.Execute(path, "UPDATE schema_migrations SET checksum = $0 WHERE version = 2", MigrationRunner.All[1].Checksum);
        await _t.ReopenAsync();
    }

    [Fact]
    public void Verify_refuses_a_known_list_whose_script_changed()
    {
        var edited = MigrationRunner.All
            .Select(m => m.Version == 2 ? new Migration(m.Version, m.Name, m.Up + "\n-- an innocent looking edit\n", m.Down) : m)
            .ToList();
        Assert.NotEqual(MigrationRunner.All[1].Checksum, edited[1].Checksum);

        using var connection = RawSql.Open(_t.Path);
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, MigrationRunner.Verify(connection));
        var error = Assert.Throws<MdmaiException>(() => MigrationRunner.Verify(connection, edited));
        Assert.Equal(MdmaiErrorCode.MigrationMismatch, error.Code);
    }

    [Fact]
    public async Task A_database_newer_than_this_build_is_refused()
    {
        var path = _t.Path;
        await _t.Db.DisposeAsync();
        var future = MdmaiDatabase.LatestSchemaVersion + 1;
        RawSql.Execute(path, "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($0, 'from_the_future', $1, '2030-01-01T00:00:00.000Z')", future, new string('f', 64));

        foreach (var options in new[] { new DatabaseOptions(), new DatabaseOptions { Migrate = false } })
        {
            var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDatabase.OpenAsync(path, options));
            Assert.Equal(MdmaiErrorCode.MigrationMismatch, error.Code);
            Assert.Contains(future.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        }

        RawSql.Execute(path, "DELETE FROM schema_migrations WHERE version = $0", future);
        await _t.ReopenAsync();
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]
    public async Task Migrating_to_an_unknown_version_is_an_invalid_argument(int version)
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.MigrateToAsync(version));
        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await _t.Db.GetSchemaVersionAsync());
    }

    [Fact]
    public void A_failing_migration_rolls_back_alone_and_leaves_the_previous_version()
    {
        var broken = new Migration(MdmaiDatabase.LatestSchemaVersion + 1, "broken", "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;", "DROP TABLE IF EXISTS half_done;");
        var known = MigrationRunner.All.Append(broken).ToList();
        using var connection = RawSql.Open(_t.Path);

        Assert.ThrowsAny<Exception>(() => MigrationRunner.MigrateTo(connection, broken.Version, TimeProvider.System, known));

        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, MigrationRunner.Verify(connection));
        Assert.Null(RawSql.Scalar(connection, "SELECT name FROM sqlite_schema WHERE name = 'half_done'"));
    }

    [Fact]
    public async Task Opening_without_migrate_accepts_an_older_schema_and_does_not_upgrade_it()
    {
        await _t.Db.MigrateToAsync(2);
        await _t.ReopenAsync(new DatabaseOptions { Migrate = false });
        Assert.Equal(2, await _t.Db.GetSchemaVersionAsync());

        await _t.ReopenAsync();
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await _t.Db.GetSchemaVersionAsync());
    }
}
