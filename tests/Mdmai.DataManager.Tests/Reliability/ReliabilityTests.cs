using Xunit.Abstractions;

namespace Mdmai.DataManager.Tests.Reliability;

/// <summary>
/// The reliability suite's CI part: a handful of SIGKILL trials and one seeded corruption sweep (scripts/reliability.sh
/// runs many more; docs/reliability.md has the method and the figures).
/// </summary>
public sealed class ReliabilityTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Crash_consistency_a_worker_killed_at_random_moments_loses_no_acknowledged_write()
    {
        var log = new StringWriter();
        var summary = await CrashTrials.RunAsync(_temp.Path, trials: 6, seed: 7, log);
        output.WriteLine(log.ToString());
        output.WriteLine(summary.ToString());

        Assert.True(summary.Failures.Count == 0, string.Join("\n", summary.Failures));
        Assert.Equal(6, summary.Ok);
        Assert.Equal(0, summary.Lost);
        Assert.True(summary.Acked > 0);
    }

    [Fact]
    public async Task Corruption_sweep_every_damage_is_detected_naming_it_and_repaired_or_reported()
    {
        var log = new StringWriter();
        var summary = await CorruptionSweep.RunAsync(CorruptionSweep.Cases(seed: 1), _temp.Path, log);
        output.WriteLine(log.ToString());
        output.WriteLine(summary.ToString());

        Assert.Equal(30, summary.Cases);
        Assert.True(summary.Unhandled == 0, log.ToString());
        Assert.Equal(summary.Cases, summary.Detected);
        // Objects come back from the snapshot and index files by prune; a pack's or a snapshot's lost data is reported;
        // the database is restored in place from the snapshot, or the refusal names it.
        Assert.All(summary.Outcomes.Where(o => o.Case.Target is SweepTarget.Object or SweepTarget.Index), o => Assert.True(o.Repaired, o.ToString()));
        Assert.All(summary.Outcomes.Where(o => o.Case.Target is SweepTarget.Pack or SweepTarget.Snapshot), o => Assert.True(o.Reported, o.ToString()));
    }
}
