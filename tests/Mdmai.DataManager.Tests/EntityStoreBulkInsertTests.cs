using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

public sealed class EntityStoreBulkInsertTests : IAsyncLifetime
{
    private const int N = 500;
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private static IEnumerable<Spell> Spells(int count, int? badAt = null, int? throwAt = null)
    {
        var rng = new Random(7);
        for (var i = 0; i < count; i++)
        {
            if (i == throwAt)
            {
                throw new InvalidOperationException("the source failed half way");
            }

            yield return Samples.Spell($"Spell {i:D4}", i == badAt ? 42 : rng.Next(0, 10));
        }
    }

    [Fact]
    public async Task Inserts_every_record_in_one_transaction_with_an_audit_row_each()
    {
        var commits = _t.Db.Writer.Commits;
        var progress = new RecordingProgress<long>();

        Assert.Equal(N, await _t.Db.Spells.BulkInsertAsync(Spells(N), progress));

        Assert.Equal(N, RawSql.Count(_t.Path, "spells"));
        Assert.Equal(N, RawSql.Count(_t.Path, "audit_logs"));
        Assert.Equal(commits + 1, _t.Db.Writer.Commits);
        Assert.Equal(N, progress.Reports[^1]);
        Assert.Equal(N, (await _t.Db.SearchAsync("spell", limit: 1000, entityType: "spells")).Count);
    }

    [Fact]
    public async Task A_bad_record_in_the_middle_commits_nothing()
    {
        var commits = _t.Db.Writer.Commits;

        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.Spells.BulkInsertAsync(Spells(N, badAt: 250)));

        Assert.Equal(MdmaiErrorCode.ConstraintViolation, error.Code);
        Assert.Contains("Record 251", error.Message, StringComparison.Ordinal);
        Assert.Contains("level", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, RawSql.Count(_t.Path, "spells"));
        Assert.Equal(0, RawSql.Count(_t.Path, "audit_logs"));
        Assert.Equal(0, RawSql.Count(_t.Path, "search_docs"));
        Assert.Equal(commits, _t.Db.Writer.Commits);

        // The writer is healthy afterwards.
        Assert.Equal(10, await _t.Db.Spells.BulkInsertAsync(Spells(10)));
    }

    [Fact]
    public async Task An_exception_from_the_sequence_itself_rolls_back_everything()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _t.Db.Spells.BulkInsertAsync(Spells(N, throwAt: 300)));
        Assert.Equal("the source failed half way", error.Message);
        Assert.Equal(0, RawSql.Count(_t.Path, "spells"));
        Assert.Equal(0, RawSql.Count(_t.Path, "audit_logs"));
    }

    [Fact]
    public async Task A_dangling_reference_names_the_record_and_the_missing_table()
    {
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var missing = Guid.NewGuid();
        var characters = Enumerable.Range(0, 5).Select(i => Samples.Character(i == 2 ? missing : campaign.Id, $"Hero {i}"));

        var error = await Assert.ThrowsAsync<MdmaiException>(() => _t.Db.Characters.BulkInsertAsync(characters));

        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
        Assert.Contains("Record 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("campaigns", error.Message, StringComparison.Ordinal);
        Assert.Contains(missing.ToString("D"), error.Message, StringComparison.Ordinal);
        Assert.Equal(0, RawSql.Count(_t.Path, "characters"));
    }

    [Fact]
    public async Task A_cancelled_bulk_insert_writes_nothing()
    {
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _t.Db.Spells.BulkInsertAsync(Spells(N), cancellationToken: cancel.Token));
        Assert.Equal(0, RawSql.Count(_t.Path, "spells"));
    }

    [Fact]
    public async Task An_empty_sequence_inserts_nothing_and_reports_zero()
    {
        var progress = new RecordingProgress<long>();
        Assert.Equal(0, await _t.Db.Items.BulkInsertAsync([], progress));
        Assert.Equal([0L], progress.Reports);
    }
}
