using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>
/// Backups and restores through a proxy of the tests' own that throttles, resets, stalls and cuts connections between
/// the client and the real gateway: every run either completes with a repository that verifies, or fails with
/// <see cref="MdmaiErrorCode.RemoteUnavailable"/> leaving a repository that verifies and that the next run completes
/// without sending a blob twice.
/// </summary>
public sealed class S3FaultTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _temp = new();
    private S3TestServer.Server _server = null!;
    private FaultProxy _proxy = null!;
    private string _location = "";

    public async Task InitializeAsync()
    {
        if (S3TestServer.Unavailable is not null)
        {
            return;
        }

        _server = S3TestServer.Require();
        _proxy = new FaultProxy(_server.Endpoint);
        _location = $"s3://{await S3TestServer.NewBucketAsync()}/repo";
        for (var i = 0; i < 24; i++)
        {
            BackupTesting.Write(Path.Combine(Source, $"d{i % 4}", $"f{i}.bin"), i % 3 == 0 ? BackupTesting.Text(90_000 + i, 700 + i) : BackupTesting.RandomBytes(120_000 + i, 700 + i));
        }
    }

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }

    public void Dispose() => _temp.Dispose();

    private string Source => _temp.Combine("source");

    private BackupSources Sources => new() { Includes = [Source] };

    private S3Options ThroughProxy => S3TestServer.Options(_server) with
    {
        Endpoint = _proxy.Endpoint,
        StallTimeout = TimeSpan.FromSeconds(2),
        MaxAttempts = 4,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
    };

    private Task<BackupRepository> InitAsync() =>
        S3TestServer.Require() is null ? throw new InvalidOperationException() : BackupRepository.InitAsync(new S3Backend(_location, ThroughProxy), BackupTesting.Password, BackupTesting.SmallChunks() with { Kdf = BackupTesting.FastKdf, PackSize = 256 * 1024 });

    /// <summary>The repository as the gateway holds it, read without the proxy.</summary>
    private Task<BackupRepository> DirectAsync() => BackupRepository.OpenAsync(new S3Backend(_location, S3TestServer.Options(_server)), BackupTesting.Password);

    private async Task AssertWholeAsync(string snapshotId)
    {
        using var direct = await DirectAsync();
        var report = await direct.VerifyAsync(new VerifyOptions { ReadData = true });
        Assert.Empty(report.Errors);
        Assert.Equal(0, await StoredTwiceAsync(direct));
        var target = _temp.Combine("restored-" + Guid.NewGuid().ToString("N")[..8]);
        await direct.RestoreAsync(snapshotId, target);
        BackupTesting.AssertSameFiles(Source, BackupTesting.Restored(target, Source));
    }

    /// <summary>Blobs held by more than one pack: what a run that sent a pack again would leave.</summary>
    private static async Task<int> StoredTwiceAsync(BackupRepository repository)
    {
        var seen = new Dictionary<BlobId, int>();
        await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Data))
        {
            Assert.True(RepositoryNames.TryParsePack(item.Name, out var pack));
            foreach (var entry in await PackFormat.ReadHeaderAsync(repository.Backend, repository.Crypto, item.Name, pack, CancellationToken.None, item.Length))
            {
                seen[entry.Id] = seen.GetValueOrDefault(entry.Id) + 1;
            }
        }

        return seen.Values.Count(n => n > 1);
    }

    private static bool IsPackUpload(ProxiedRequest r) => r.Method == "PUT" && r.Path.Contains("/repo/data/", StringComparison.Ordinal);

    [SkippableFact]
    public async Task Throttling_and_server_errors_are_retried_with_backoff_until_the_backup_completes()
    {
        using var repository = await InitAsync();
        _proxy.Plan = r => (r.Index % 5) switch
        {
            0 => Fault.Status(503, "SlowDown"),
            1 when r.Index % 3 == 0 => Fault.Status(500, "InternalError"),
            _ => Fault.None,
        };

        var result = await repository.CreateSnapshotAsync(Sources);

        Assert.True(_proxy.Faults >= 5, $"{_proxy.Faults} faults");
        Assert.True(repository.Backend.Requests!.Value.Total > _proxy.Log.Count - _proxy.Faults, "retries are counted as requests");
        await AssertWholeAsync(result.Snapshot.Id);
    }

    [SkippableFact]
    public async Task A_connection_reset_mid_upload_is_retried()
    {
        using var repository = await InitAsync();
        var resets = 0;
        _proxy.Plan = r => IsPackUpload(r) && Interlocked.Increment(ref resets) <= 3 ? Fault.Reset : Fault.None;

        var result = await repository.CreateSnapshotAsync(Sources);

        Assert.Equal(3, _proxy.Faults);
        await AssertWholeAsync(result.Snapshot.Id);
    }

    [SkippableFact]
    public async Task An_upload_whose_answer_was_lost_is_not_sent_as_a_second_pack()
    {
        using var repository = await InitAsync();
        var cut = 0;
        // The gateway stores the pack whole; the client never hears so and sends it again: If-None-Match refuses the
        // second PUT, and the ETag (the MD5 of what was sent) says the stored object is this very upload.
        _proxy.Plan = r => IsPackUpload(r) && Interlocked.Increment(ref cut) == 1 ? Fault.Truncate(0) : Fault.None;

        var result = await repository.CreateSnapshotAsync(Sources);

        Assert.Equal(1, _proxy.Faults);
        await AssertWholeAsync(result.Snapshot.Id);
    }

    [SkippableFact]
    public async Task A_stalled_request_is_abandoned_by_the_watchdog_and_retried()
    {
        using var repository = await InitAsync();
        var stalls = 0;
        _proxy.Plan = r => r.Method == "PUT" && r.Path.Contains("/repo/data/", StringComparison.Ordinal) && Interlocked.Increment(ref stalls) == 2 ? Fault.Stall : Fault.None;

        var result = await repository.CreateSnapshotAsync(Sources);

        Assert.Equal(1, _proxy.Faults);
        await AssertWholeAsync(result.Snapshot.Id);
    }

    [SkippableFact]
    public async Task A_download_cut_short_or_stalled_is_retried_and_the_restore_is_exact()
    {
        using var repository = await InitAsync();
        var snapshot = (await repository.CreateSnapshotAsync(Sources)).Snapshot.Id;
        var gets = 0;
        _proxy.Plan = r => r.Method != "GET" || !r.Path.Contains("/repo/data/", StringComparison.Ordinal) ? Fault.None
            : Interlocked.Increment(ref gets) switch
            {
                2 => Fault.Truncate(3000),
                5 => Fault.Stall,
                8 => Fault.Reset,
                11 => Fault.Status(503, "SlowDown"),
                _ => Fault.None,
            };
        var target = _temp.Combine("target");

        await repository.RestoreAsync(snapshot, target);

        Assert.Equal(4, _proxy.Faults);
        BackupTesting.AssertSameFiles(Source, BackupTesting.Restored(target, Source));
    }

    [SkippableFact]
    public async Task An_outage_longer_than_the_retries_fails_clearly_and_the_next_run_completes_without_sending_a_pack_twice()
    {
        using var repository = await InitAsync();
        var packs = 0;
        var down = true;
        _proxy.Plan = r => down && IsPackUpload(r) && Interlocked.Increment(ref packs) > 3 ? Fault.Reset : Fault.None;

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.CreateSnapshotAsync(Sources));

        Assert.Equal(MdmaiErrorCode.RemoteUnavailable, error.Code);
        Assert.Contains("did not complete a PUT", error.Message, StringComparison.Ordinal);
        using (var direct = await DirectAsync())
        {
            Assert.Empty(await direct.ListSnapshotsAsync());
            Assert.Empty((await direct.VerifyAsync(new VerifyOptions { ReadData = true })).Errors);
            Assert.Equal(3, (await BackupTesting.NamesAsync(direct.Backend, "data")).Count);
        }

        // The connection is back: the three packs sent whole are taken from the bucket, not sent again.
        down = false;
        using var again = await BackupRepository.OpenAsync(new S3Backend(_location, ThroughProxy), BackupTesting.Password);
        var result = await again.CreateSnapshotAsync(Sources);

        await AssertWholeAsync(result.Snapshot.Id);
    }
}
