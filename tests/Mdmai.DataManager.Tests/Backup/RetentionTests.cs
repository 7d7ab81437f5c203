using System.Globalization;
using Mdmai.DataManager.Backup;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>
/// The retention rules over a synthetic history: a snapshot every 6 hours from 2026-01-01 00:00 UTC for 90 days
/// (k = 0…359; the newest, k = 359, is 2026-03-31 18:00). The expected sets are worked out by hand from the calendar.
/// </summary>
public sealed class RetentionTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static string Id(int k) => "s" + k.ToString("D3", CultureInfo.InvariantCulture);

    private static SnapshotInfo At(string id, DateTimeOffset time, SnapshotKind kind = SnapshotKind.Auto) => new() { Id = id, Time = time, Kind = kind };

    /// <summary>The history, shuffled (the rules must not depend on the order they are given).</summary>
    private static List<SnapshotInfo> History(Func<int, SnapshotKind>? kind = null)
    {
        var all = Enumerable.Range(0, 360).Select(k => At(Id(k), Start.AddHours(6 * k), kind?.Invoke(k) ?? SnapshotKind.Auto)).ToList();
        var random = new Random(51);
        return [.. all.OrderBy(_ => random.Next())];
    }

    /// <summary>The snapshot of 18:00 on day <paramref name="day"/> (0 = January 1): the newest of that day.</summary>
    private static int Evening(int day) => (4 * day) + 3;

    private static string[] Keep(RetentionPolicy policy, List<SnapshotInfo>? history = null) =>
        [.. Retention.Select(history ?? History(), policy).Order(StringComparer.Ordinal)];

    private static string[] Ids(params int[] ks) => [.. ks.Select(Id).Order(StringComparer.Ordinal)];

    [Fact]
    public void Keep_last_keeps_the_newest_n()
    {
        Assert.Equal(Ids(355, 356, 357, 358, 359), Keep(new RetentionPolicy { KeepLast = 5 }));
    }

    [Fact]
    public void Keep_hourly_keeps_the_newest_of_each_of_the_last_n_hours_that_have_one()
    {
        Assert.Equal(Ids(357, 358, 359), Keep(new RetentionPolicy { KeepHourly = 3 }));
    }

    [Fact]
    public void Keep_daily_keeps_the_newest_of_each_of_the_last_n_days()
    {
        // March 25 … 31 are days 83 … 89.
        Assert.Equal(Ids([.. Enumerable.Range(83, 7).Select(Evening)]), Keep(new RetentionPolicy { KeepDaily = 7 }));
    }

    [Fact]
    public void Keep_weekly_keeps_the_newest_of_each_of_the_last_n_ISO_weeks()
    {
        // Weeks start on Monday: March 30 (the newest is Tuesday March 31), 23, 16 and 9; their newest snapshots are
        // March 31, and the Sundays March 29, 22 and 15 (days 87, 80, 73).
        Assert.Equal(Ids(359, Evening(87), Evening(80), Evening(73)), Keep(new RetentionPolicy { KeepWeekly = 4 }));
    }

    [Fact]
    public void Keep_monthly_keeps_the_newest_of_each_month_and_no_more_than_there_are()
    {
        // January 31 is day 30, February 28 day 58.
        var three = Keep(new RetentionPolicy { KeepMonthly = 3 });
        var twelve = Keep(new RetentionPolicy { KeepMonthly = 12 });

        Assert.Equal(Ids(359, Evening(58), Evening(30)), three);
        Assert.Equal(three, twelve);
    }

    [Fact]
    public void Keep_yearly_keeps_the_newest_of_the_year()
    {
        Assert.Equal(Ids(359), Keep(new RetentionPolicy { KeepYearly = 5 }));
    }

    [Fact]
    public void Keep_within_keeps_everything_within_the_span_of_the_newest_inclusive()
    {
        Assert.Equal(Ids(355, 356, 357, 358, 359), Keep(new RetentionPolicy { KeepWithin = TimeSpan.FromDays(1) }));
        Assert.Equal(Ids(356, 357, 358, 359), Keep(new RetentionPolicy { KeepWithin = TimeSpan.FromDays(1) - TimeSpan.FromTicks(1) }));
    }

    [Fact]
    public void Rules_add_up_a_snapshot_kept_by_any_rule_is_kept()
    {
        Assert.Equal(Ids(358, 359, Evening(58), Evening(30)), Keep(new RetentionPolicy { KeepLast = 2, KeepMonthly = 3 }));
        Assert.Equal(
            Ids([.. Enumerable.Range(83, 7).Select(Evening), 356, 357, 358, Evening(80), Evening(73), Evening(58), Evening(30)]),
            Keep(new RetentionPolicy { KeepDaily = 7, KeepHourly = 4, KeepWeekly = 4, KeepMonthly = 3 }));
    }

    [Fact]
    public void The_newest_snapshot_is_kept_even_by_a_policy_that_keeps_nothing()
    {
        Assert.Equal(Ids(359), Keep(new RetentionPolicy { KeepLast = 0 }));
        Assert.Equal(Ids(359), Keep(new RetentionPolicy { KeepDaily = 0, KeepWithin = TimeSpan.Zero }));
    }

    [Fact]
    public void A_kinds_filter_applies_the_rules_to_those_kinds_only_and_keeps_every_other()
    {
        // Every tenth snapshot is manual; the newest (359) is auto.
        var history = History(k => k % 10 == 0 ? SnapshotKind.Manual : SnapshotKind.Auto);

        var kept = Keep(new RetentionPolicy { KeepLast = 3, Kinds = [SnapshotKind.Auto] }, history);

        Assert.Equal(Ids([.. Enumerable.Range(0, 36).Select(i => i * 10), 357, 358, 359]), kept);
    }

    [Fact]
    public void Keep_last_under_a_kinds_filter_counts_only_that_kind()
    {
        // The newest three are manual (357 … 359): keep-last 2 of auto keeps 355 and 356.
        var history = History(k => k >= 357 ? SnapshotKind.Manual : SnapshotKind.Auto);

        var kept = Keep(new RetentionPolicy { KeepLast = 2, Kinds = [SnapshotKind.Auto] }, history);

        Assert.Equal(Ids(355, 356, 357, 358, 359), kept);
    }

    [Fact]
    public void Days_are_UTC_days_whatever_offset_a_time_carries()
    {
        var history = new List<SnapshotInfo>
        {
            At("late-utc", new DateTimeOffset(2026, 3, 1, 22, 0, 0, TimeSpan.Zero)),
            At("later-utc-but-march-2-local", new DateTimeOffset(2026, 3, 2, 1, 30, 0, TimeSpan.FromHours(2))),
            At("newest", new DateTimeOffset(2026, 3, 2, 12, 0, 0, TimeSpan.Zero)),
        };

        Assert.Equal(["later-utc-but-march-2-local", "newest"], Keep(new RetentionPolicy { KeepDaily = 2 }, history));
    }

    [Fact]
    public void An_ISO_week_spans_the_turn_of_the_year()
    {
        // 2026-12-28 is a Monday; December 31 and January 1 fall in ISO week 2026-W53, January 4 2027 starts 2027-W01.
        var history = new List<SnapshotInfo>
        {
            At("dec-28", new DateTimeOffset(2026, 12, 28, 10, 0, 0, TimeSpan.Zero)),
            At("dec-31", new DateTimeOffset(2026, 12, 31, 10, 0, 0, TimeSpan.Zero)),
            At("jan-01", new DateTimeOffset(2027, 1, 1, 10, 0, 0, TimeSpan.Zero)),
            At("jan-04", new DateTimeOffset(2027, 1, 4, 10, 0, 0, TimeSpan.Zero)),
        };

        Assert.Equal(["jan-01", "jan-04"], Keep(new RetentionPolicy { KeepWeekly = 2 }, history));
        Assert.Equal(["dec-31", "jan-04"], Keep(new RetentionPolicy { KeepYearly = 2 }, history));
    }

    [Fact]
    public void An_empty_history_keeps_nothing()
    {
        Assert.Empty(Retention.Select([], new RetentionPolicy { KeepLast = 3 }));
    }

    [Fact]
    public void A_policy_without_rules_has_no_rules()
    {
        Assert.False(new RetentionPolicy { Kinds = [SnapshotKind.Auto] }.HasRules);
        Assert.True(new RetentionPolicy { KeepWithin = TimeSpan.Zero }.HasRules);
    }
}

/// <summary>Forget applies the rules to a real repository's snapshots.</summary>
public sealed class ForgetTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private async Task<(BackupRepository Repository, MemoryBackend Backend, List<string> Ids)> ThreeSnapshotsAsync()
    {
        var backend = new MemoryBackend();
        var repository = await BackupRepository.InitAsync(backend, null, BackupTesting.SmallChunks());
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            BackupTesting.Write(_temp.Combine("notes.txt"), BackupTesting.Text(1000 + i, i));
            ids.Add((await repository.CreateSnapshotAsync(new BackupSources { Includes = [_temp.Combine("notes.txt")] })).Snapshot.Id);
        }

        return (repository, backend, ids);
    }

    [Fact]
    public async Task Forget_without_any_rule_is_refused_and_forgets_nothing()
    {
        var (repository, backend, _) = await ThreeSnapshotsAsync();
        using var _ = repository;

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.ForgetAsync(new RetentionPolicy { Kinds = [SnapshotKind.Auto] }));

        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
        Assert.Equal(3, (await BackupTesting.NamesAsync(backend, "snapshots")).Count);
    }

    [Fact]
    public async Task Forget_removes_the_snapshots_the_policy_does_not_keep()
    {
        var (repository, backend, ids) = await ThreeSnapshotsAsync();
        using var _ = repository;

        var result = await repository.ForgetAsync(new RetentionPolicy { KeepLast = 1 });

        Assert.Equal(ids[..2], result.Removed.Select(s => s.Id));
        Assert.Equal([ids[2]], result.Kept.Select(s => s.Id));
        Assert.Equal([$"snapshots/{ids[2]}"], await BackupTesting.NamesAsync(backend, "snapshots"));
    }

    [Fact]
    public async Task A_dry_run_says_what_it_would_forget_and_forgets_nothing()
    {
        var (repository, backend, ids) = await ThreeSnapshotsAsync();
        using var _ = repository;

        var result = await repository.ForgetAsync(new RetentionPolicy { KeepLast = 2 }, dryRun: true);

        Assert.Equal([ids[0]], result.Removed.Select(s => s.Id));
        Assert.Equal(3, (await BackupTesting.NamesAsync(backend, "snapshots")).Count);
    }

    [Fact]
    public async Task Forget_by_id_accepts_a_unique_prefix_and_refuses_an_unknown_id()
    {
        var (repository, backend, ids) = await ThreeSnapshotsAsync();
        using var _ = repository;

        var removed = await repository.ForgetSnapshotsAsync([ids[1][..8]]);
        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.ForgetSnapshotsAsync(["ffffffffffff"]));

        Assert.Equal(ids[1], Assert.Single(removed).Id);
        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
        Assert.Equal(2, (await BackupTesting.NamesAsync(backend, "snapshots")).Count);
    }
}
