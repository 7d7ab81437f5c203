using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests;

/// <summary>The one timestamp format and the schema's CHECKs on ids, timestamps and JSON, seen from raw SQL.</summary>
public sealed class TimestampsTests : IAsyncLifetime
{
    private const string Id = "0195a3c4-7b2e-7c3d-8e4f-5a6b7c8d9e0f";
    private const string Now = "2026-11-25T19:08:00.123Z";
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private static void InsertCampaign(SqliteConnection connection, string id = Id, string createdAt = Now, string updatedAt = Now, string settings = "{}") =>
        RawSql.Execute(connection,
            "INSERT INTO campaigns (id, name, system, created_at, updated_at, settings) VALUES ($0, 'Raw', 'dnd5e', $1, $2, $3)",
            id, createdAt, updatedAt, settings);

    [Fact]
    public async Task A_raw_update_that_leaves_updated_at_alone_gets_it_set_by_the_trigger_in_the_one_format()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var before = Timestamps.Format(campaign.UpdatedAt);
        var auditBefore = RawSql.Count(_t.Path, "audit_logs");

        using (var connection = RawSql.Open(_t.Path))
        {
            Assert.Equal(1, RawSql.Execute(connection, "UPDATE campaigns SET notes = 'changed outside the library' WHERE id = $0", campaign.Id.ToString()));
        }

        var after = (string)RawSql.Scalar(_t.Path, "SELECT updated_at FROM campaigns WHERE id = $0", campaign.Id.ToString())!;
        Assert.Matches(Patterns.Timestamp(), after);
        Assert.NotEqual(before, after);
        Assert.Equal(Timestamps.Format(campaign.CreatedAt), RawSql.Scalar(_t.Path, "SELECT created_at FROM campaigns WHERE id = $0", campaign.Id.ToString()));

        // The library reads it back, and the trigger's own touch is not audited a second time.
        var read = await _t.Db.Campaigns.GetAsync(campaign.Id);
        Assert.Equal(after, Timestamps.Format(read.UpdatedAt));
        Assert.Equal(auditBefore + 1, RawSql.Count(_t.Path, "audit_logs"));
        Assert.Equal("changed outside the library", (string?)(await _t.Db.ListAuditAsync("campaigns", campaign.Id)).Items[0].NewValues!["notes"]);
    }

    [Fact]
    public void A_raw_update_that_sets_updated_at_itself_keeps_that_value()
    {
        using var connection = RawSql.Open(_t.Path);
        InsertCampaign(connection);
        RawSql.Execute(connection, "UPDATE campaigns SET notes = 'x', updated_at = '2027-01-01T00:00:00.000Z'");
        Assert.Equal("2027-01-01T00:00:00.000Z", RawSql.Scalar(connection, "SELECT updated_at FROM campaigns"));
    }

    [Fact]
    public void The_canonical_format_is_accepted_by_raw_sql()
    {
        using var connection = RawSql.Open(_t.Path);
        InsertCampaign(connection);
        Assert.Equal(1L, RawSql.Scalar(connection, "SELECT count(*) FROM campaigns"));
    }

    [Theory]
    [InlineData("2026-11-25 19:08:00.123Z")]
    [InlineData("2026-11-25T19:08:00Z")]
    [InlineData("2026-11-25T19:08:00.123")]
    [InlineData("2026-11-25T19:08:00.123+00:00")]
    [InlineData("2026-11-25T19:08:00.1234Z")]
    [InlineData("yesterday")]
    [InlineData("")]
    public void A_malformed_timestamp_is_refused_by_the_schema(string timestamp)
    {
        using var connection = RawSql.Open(_t.Path);
        AssertCheckFails(() => InsertCampaign(connection, createdAt: timestamp));
        AssertCheckFails(() => InsertCampaign(connection, updatedAt: timestamp));
    }

    [Theory]
    [InlineData("0195A3C4-7B2E-7C3D-8E4F-5A6B7C8D9E0F")]
    [InlineData("{0195a3c4-7b2e-7c3d-8e4f-5a6b7c8d9e0f}")]
    [InlineData("0195a3c47b2e7c3d8e4f5a6b7c8d9e0f")]
    [InlineData("0195a3c4-7b2e-7c3d-8e4f-5a6b7c8d9e0")]
    [InlineData("0195a3c4-7b2e-7c3d-8e4f-5a6b7c8d9e0fa")]
    [InlineData("not-a-uuid")]
    public void A_non_canonical_id_is_refused_by_the_schema(string id)
    {
        using var connection = RawSql.Open(_t.Path);
        AssertCheckFails(() => InsertCampaign(connection, id: id));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("\"a string\"")]
    [InlineData("")]
    public void Invalid_json_or_the_wrong_json_type_is_refused_by_the_schema(string settings)
    {
        using var connection = RawSql.Open(_t.Path);
        AssertCheckFails(() => InsertCampaign(connection, settings: settings));
    }

    [Fact]
    public async Task A_reference_in_non_canonical_form_is_refused()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        using var connection = RawSql.Open(_t.Path);
        AssertCheckFails(() => RawSql.Execute(connection,
            "INSERT INTO characters (id, campaign_id, name, created_at, updated_at) VALUES ($0, $1, 'Upper', $2, $2)",
            Id, campaign.Id.ToString("D").ToUpperInvariant(), Now));
    }

    private static void AssertCheckFails(Action write)
    {
        var error = Assert.Throws<SqliteException>(write);
        Assert.Equal(19, error.SqliteErrorCode);
        Assert.Contains("CHECK", error.Message, StringComparison.Ordinal);
    }
}
