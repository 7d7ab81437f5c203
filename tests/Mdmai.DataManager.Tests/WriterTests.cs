using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

/// <summary>The single writer: group commit, failure isolation, cancellation and shutdown.</summary>
public sealed class WriterTests : IAsyncLifetime
{
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

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
    public async Task Undo_actions_run_for_the_writes_rolled_back_and_not_for_those_committed()
    {
        // Effects outside the database (a file moved into place) are undone with the write that made them: a failing
        // write alone, a failing write in a group (its savepoint only), never one that commits.
        var undone = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Task<int> Write(string name, bool fail) => _t.Db.Writer.ExecuteAsync(c =>
        {
            c.OnRollback(() => undone.Enqueue(name + ":first"));
            c.OnRollback(() => undone.Enqueue(name + ":second"));
            if (fail)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "refused");
            }

            return 1;
        });

        await Assert.ThrowsAsync<MdmaiException>(() => Write("alone", fail: true));
        Assert.Equal(["alone:second", "alone:first"], undone);
        undone.Clear();

        await Write("committed", fail: false);
        Assert.Empty(undone);

        Task<int>[] group;
        var commits = _t.Db.Writer.Commits;
        await using (new WriterBlock(_t.Db))
        {
            group = [Write("before", fail: false), Write("failing", fail: true), Write("after", fail: false)];
        }

        await Assert.ThrowsAsync<MdmaiException>(() => group[1]);
        Assert.Equal(1, await group[0]);
        Assert.Equal(1, await group[2]);
        Assert.Equal(["failing:second", "failing:first"], undone);
        Assert.Equal(1, _t.Db.Writer.Commits - commits); // one group, one transaction
        undone.Clear();

        // A request that runs outside a transaction has nothing rolled back, and leaves nothing for the next one.
        await _t.Db.Writer.ExecuteExclusiveAsync(c =>
        {
            c.OnRollback(() => undone.Enqueue("exclusive"));
            return 0;
        });
        await Assert.ThrowsAsync<MdmaiException>(() => Write("next", fail: true));
        Assert.Equal(["next:second", "next:first"], undone);
    }

    [Fact]
    public async Task A_group_rolled_back_whole_undoes_the_writes_before_and_runs_them_again()
    {
        // An error such as SQLITE_IOERR or SQLITE_NOMEM may make SQLite roll back the whole transaction; here the failing
        // write does so itself (deterministically). The writes before it are undone and run again in a new transaction;
        // one that failed in its savepoint on its first run and succeeds on the second reports its success.
        var undone = new System.Collections.Concurrent.ConcurrentQueue<string>();
        static string Rulebook(int n, string title) =>
            $"INSERT INTO rulebooks (id, title, system, created_at, updated_at) VALUES ('00000000-0000-7000-8000-00000000000{n}', '{title}', 'dnd5e', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')";
        var flakyRuns = 0;
        var commits = _t.Db.Writer.Commits;
        Task<int> first, flaky, after;
        Task<int> full;
        await using (new WriterBlock(_t.Db))
        {
            first = _t.Db.Writer.ExecuteAsync(c =>
            {
                c.OnRollback(() => undone.Enqueue("first"));
                return c.Execute(Rulebook(1, "First"));
            });
            flaky = _t.Db.Writer.ExecuteAsync(c =>
            {
                c.OnRollback(() => undone.Enqueue("flaky"));
                return ++flakyRuns == 1 ? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "not this time") : flakyRuns;
            });
            full = _t.Db.Writer.ExecuteAsync(c =>
            {
                c.OnRollback(() => undone.Enqueue("full"));
                c.Execute(Rulebook(2, "Lost"));
                return WriterFaults.RollBackWholeTransaction(c);
            });
            after = _t.Db.Writer.ExecuteAsync(c =>
            {
                c.OnRollback(() => undone.Enqueue("after"));
                return c.Execute(Rulebook(3, "After"));
            });
        }

        Assert.Equal(MdmaiErrorCode.DiskFull, (await Assert.ThrowsAsync<MdmaiException>(() => full)).Code);
        Assert.Equal(1, await first);
        Assert.Equal(2, await flaky);
        Assert.Equal(1, await after);
        Assert.Equal(["flaky", "full", "first"], undone); // its savepoint; then the whole transaction, the last first
        Assert.Equal(1, _t.Db.Writer.Commits - commits);
        Assert.Equal(["After", "First"], RawSql.Column(_t.Path, "SELECT title FROM rulebooks ORDER BY title"));
    }

    [Fact]
    public async Task A_commit_that_fails_undoes_every_write_of_its_group()
    {
        // A foreign key deferred to the commit (a session of a campaign that does not exist) makes the COMMIT itself
        // fail: every write of the group fails with it, and each one's undo runs, the last write's first.
        var undone = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Task<int>[] group;
        await using (new WriterBlock(_t.Db))
        {
            group =
            [
                _t.Db.Writer.ExecuteAsync(c =>
                {
                    c.OnRollback(() => undone.Enqueue("first"));
                    return c.Execute("INSERT INTO rulebooks (id, title, system, created_at, updated_at) VALUES ('00000000-0000-7000-8000-000000000001', 'Kept?', 'dnd5e', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')");
                }),
                _t.Db.Writer.ExecuteAsync(c =>
                {
                    c.OnRollback(() => undone.Enqueue("orphan"));
                    return WriterFaults.FailAtCommit(c);
                }),
            ];
        }

        foreach (var write in group)
        {
            await Assert.ThrowsAsync<MdmaiException>(() => write);
        }

        Assert.Equal(["orphan", "first"], undone);
        Assert.Equal(0, RawSql.Count(_t.Path, "rulebooks"));
        Assert.Equal(0, RawSql.Count(_t.Path, "sessions"));
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
