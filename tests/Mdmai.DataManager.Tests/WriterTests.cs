using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

/// <summary>The single writer: group commit, failure isolation, cancellation and shutdown.</summary>
public sealed class WriterTests : IAsyncLifetime
{
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    /// <summary>Occupies the writer thread until disposed, so that requests queue up behind it.</summary>
    private sealed class WriterBlock : IAsyncDisposable
    {
        private readonly ManualResetEventSlim _gate = new();
        private readonly Task<int> _blocker;

        public WriterBlock(MdmaiDatabase db)
        {
            using var started = new ManualResetEventSlim();
            _blocker = db.Writer.ExecuteExclusiveAsync(_ =>
            {
                started.Set();
                _gate.Wait(TimeSpan.FromSeconds(30));
                return 0;
            });
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the writer never picked up the blocking request");
        }

        public async ValueTask DisposeAsync()
        {
            _gate.Set();
            await _blocker;
            _gate.Dispose();
        }
    }

    [Fact]
    public async Task Concurrent_creates_all_succeed_and_share_one_commit()
    {
        const int n = 200;
        var commits = _t.Db.Writer.Commits;
        var creates = new Task<Campaign>[n];
        await using (new WriterBlock(_t.Db))
        {
            // Callers on many threads at once; the blocked writer lets them all queue up.
            Parallel.For(0, n, i => creates[i] = _t.Db.Campaigns.CreateAsync(Samples.Campaign($"Campaign {i:D3}")));
            Assert.All(creates, c => Assert.False(c.IsCompleted));
        }

        var created = await Task.WhenAll(creates);

        Assert.Equal(n, created.Select(c => c.Id).Distinct().Count());
        Assert.Equal(n, RawSql.Count(_t.Path, "campaigns"));
        Assert.Equal(n, RawSql.Count(_t.Path, "audit_logs"));
        var grouped = _t.Db.Writer.Commits - commits;
        Assert.True(grouped < n, $"{n} writes took {grouped} commits: no grouping");
        Assert.Equal(1, grouped);
    }

    [Fact]
    public async Task Concurrent_creates_without_a_block_all_succeed_in_fewer_commits_than_writes()
    {
        const int n = 200;
        var commits = _t.Db.Writer.Commits;
        var created = await Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(() => _t.Db.Items.CreateAsync(Samples.Item($"Item {i:D3}")))));
        Assert.Equal(n, created.Select(c => c.Id).Distinct().Count());
        Assert.Equal(n, RawSql.Count(_t.Path, "items"));
        Assert.InRange(_t.Db.Writer.Commits - commits, 1, n);
    }

    [Fact]
    public async Task One_failing_request_fails_alone_while_the_others_commit()
    {
        const int n = 50;
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var auditBefore = RawSql.Count(_t.Path, "audit_logs");
        var commits = _t.Db.Writer.Commits;
        var requests = new List<Task>();
        Task<Spell> bad;
        Task badUpdate;
        await using (new WriterBlock(_t.Db))
        {
            for (var i = 0; i < n; i++)
            {
                requests.Add(_t.Db.Spells.CreateAsync(Samples.Spell($"Spell {i}", i % 10)));
            }

            bad = _t.Db.Spells.CreateAsync(Samples.Spell("Forbidden", 42));
            var ghost = Samples.Session(campaign.Id);
            ghost.Id = Guid.NewGuid();
            badUpdate = _t.Db.Sessions.UpdateAsync(ghost);
            for (var i = 0; i < n; i++)
            {
                requests.Add(_t.Db.Sessions.CreateAsync(Samples.Session(campaign.Id, i + 1)));
            }
        }

        await Task.WhenAll(requests);
        Assert.Equal(MdmaiErrorCode.ConstraintViolation, (await Assert.ThrowsAsync<MdmaiException>(() => bad)).Code);
        Assert.Equal(MdmaiErrorCode.NotFound, (await Assert.ThrowsAsync<MdmaiException>(() => badUpdate)).Code);
        Assert.Equal(n, RawSql.Count(_t.Path, "spells"));
        Assert.Equal(n, RawSql.Count(_t.Path, "sessions"));
        Assert.Equal(auditBefore + (2 * n), RawSql.Count(_t.Path, "audit_logs"));
        Assert.Equal(1, _t.Db.Writer.Commits - commits);
        Assert.Empty(RawSql.Column(_t.Path, "SELECT id FROM spells WHERE name = 'Forbidden'"));
    }

    [Fact]
    public async Task A_request_cancelled_while_queued_is_not_written()
    {
        using var cancel = new CancellationTokenSource();
        Task<Campaign> cancelled;
        Task<Campaign> kept;
        await using (new WriterBlock(_t.Db))
        {
            cancelled = _t.Db.Campaigns.CreateAsync(Samples.Campaign("Never written"), cancel.Token);
            kept = _t.Db.Campaigns.CreateAsync(Samples.Campaign("Written"));
            await cancel.CancelAsync();
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal("Written", (await kept).Name);
        Assert.Equal(["Written"], RawSql.Column(_t.Path, "SELECT name FROM campaigns"));
    }

    [Fact]
    public async Task Readers_are_not_blocked_by_an_open_write_transaction_and_do_not_see_it()
    {
        using var inside = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        var write = _t.Db.Writer.ExecuteAsync(c =>
        {
            c.Execute("INSERT INTO rulebooks (id, title, system, created_at, updated_at) VALUES ('00000000-0000-7000-8000-000000000001', 'Uncommitted', 'dnd5e', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')");
            inside.Set();
            gate.Wait(TimeSpan.FromSeconds(30));
            return 0;
        });
        Assert.True(inside.Wait(TimeSpan.FromSeconds(30)));
        try
        {
            Assert.Equal(0, (await _t.Db.Rulebooks.ListAsync()).TotalCount);
            Assert.Empty(await _t.Db.SearchAsync("uncommitted"));
        }
        finally
        {
            gate.Set();
            await write;
        }

        Assert.Equal("Uncommitted", Assert.Single((await _t.Db.Rulebooks.ListAsync()).Items).Title);
    }

    [Fact]
    public async Task Dispose_finishes_queued_writes_and_later_writes_are_refused()
    {
        await using var t = await TestDatabase.OpenAsync();
        var path = t.Path;
        var pending = Enumerable.Range(0, 100).Select(i => t.Db.Items.CreateAsync(Samples.Item($"Item {i}"))).ToList();
        var db = t.Db;

        await db.DisposeAsync();

        await Task.WhenAll(pending);
        Assert.Equal(100, RawSql.Count(path, "items"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => db.Items.CreateAsync(Samples.Item()));
        await t.ReopenAsync();
        Assert.Equal(100, (await t.Db.Items.ListAsync()).TotalCount);
    }
}
