using System.Net;
using System.Text.Json;
using Amazon.S3;
using Amazon.S3.Model;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>
/// What only a real object store can show (Ceph's gateway on loopback): Object Lock retention on what a backup
/// writes, append-only credentials granted by a bucket policy, and locks that expire by the store's clock.
/// </summary>
public sealed class S3RepositoryTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Source => _temp.Combine("source");

    private BackupSources Sources => new() { Includes = [Source] };

    private void WriteSource(int seed)
    {
        for (var i = 0; i < 6; i++)
        {
            BackupTesting.Write(Path.Combine(Source, $"f{i}.bin"), BackupTesting.RandomBytes(200_000 + i, seed + i));
        }
    }

    [SkippableFact]
    public async Task Object_lock_keeps_every_pack_and_snapshot_and_prune_renews_it()
    {
        var server = S3TestServer.Require();
        var bucket = S3TestServer.NewBucketName();
        var backend = new S3Backend($"s3://{bucket}/repo", S3TestServer.Options(server));
        await backend.EnsureBucketAsync(objectLock: true);
        WriteSource(10);
        using var repository = await BackupRepository.InitAsync(backend, BackupTesting.Password, BackupTesting.SmallChunks() with { Kdf = BackupTesting.FastKdf, ObjectLockDays = 2 });
        var snapshot = (await repository.CreateSnapshotAsync(Sources)).Snapshot;
        using var client = S3TestServer.Client(server);
        var pack = (await BackupTesting.NamesAsync(backend, "data"))[0];

        var retention = await client.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = bucket, Key = $"repo/{pack}" });
        var snapshotRetention = await client.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = bucket, Key = $"repo/snapshots/{snapshot.Id}" });
        var version = (await client.GetObjectMetadataAsync(bucket, $"repo/{pack}")).VersionId;
        var delete = await Assert.ThrowsAsync<AmazonS3Exception>(() => client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = $"repo/{pack}", VersionId = version }));

        Assert.Equal(ObjectLockRetentionMode.Governance, retention.Retention.Mode);
        Assert.InRange(retention.Retention.RetainUntilDate!.Value, DateTime.UtcNow.AddDays(2).AddHours(-1), DateTime.UtcNow.AddDays(2).AddHours(1));
        Assert.Equal(ObjectLockRetentionMode.Governance, snapshotRetention.Retention.Mode);
        Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode); // the version cannot go while retained
        Assert.Empty(await BackupTesting.NamesAsync(backend, "locks")); // locks are not retained: they go when done

        // Maintenance a day and a half later (past half the retention) keeps everything for the whole retention again.
        var later = DateTimeOffset.UtcNow.AddHours(36);
        var renewed = await repository.RenewRetentionAsync(CancellationToken.None, later);
        var after = await client.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = bucket, Key = $"repo/{pack}" });

        Assert.True(renewed >= 4, $"{renewed} renewed"); // config, key, index, snapshot, packs
        Assert.InRange(after.Retention.RetainUntilDate!.Value, later.UtcDateTime.AddDays(2).AddHours(-1), later.UtcDateTime.AddDays(2).AddHours(1));

        // The repository still verifies and restores.
        Assert.Empty((await repository.VerifyAsync(new VerifyOptions { ReadData = true })).Errors);
    }

    [SkippableFact]
    public async Task Object_lock_needs_a_bucket_made_with_it()
    {
        var server = S3TestServer.Require();
        var bucket = await S3TestServer.NewBucketAsync(); // made without Object Lock
        var backend = new S3Backend($"s3://{bucket}/repo", S3TestServer.Options(server));

        var error = await Assert.ThrowsAsync<MdmaiException>(() => backend.EnsureBucketAsync(objectLock: true));

        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
        Assert.Contains("without Object Lock", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Append_only_credentials_granted_by_a_bucket_policy_back_up_but_cannot_forget_or_prune()
    {
        var server = S3TestServer.Require();
        var bucket = await S3TestServer.NewBucketAsync();
        using var owner = S3TestServer.Client(server);
        var policy = new
        {
            Version = "2012-10-17",
            Statement = new[]
            {
                new
                {
                    Effect = "Allow",
                    Principal = new { AWS = new[] { "arn:aws:iam:::user/mdmai-append" } },
                    Action = new[] { "s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads" },
                    Resource = new[] { $"arn:aws:s3:::{bucket}", $"arn:aws:s3:::{bucket}/*" },
                },
            },
        };
        await owner.PutBucketPolicyAsync(new PutBucketPolicyRequest { BucketName = bucket, Policy = JsonSerializer.Serialize(policy) });
        WriteSource(20);
        var location = $"s3://{bucket}/repo";
        using (var created = await BackupRepository.InitAsync(new S3Backend(location, S3TestServer.Options(server)), BackupTesting.Password, BackupTesting.SmallChunks() with { Kdf = BackupTesting.FastKdf }))
        {
            await created.CreateSnapshotAsync(Sources);
        }

        var appendOnly = S3TestServer.Options(server) with { AccessKey = server.AppendOnly.AccessKey, SecretKey = server.AppendOnly.SecretKey };
        using var laptop = await BackupRepository.OpenAsync(new S3Backend(location, appendOnly), BackupTesting.Password);
        BackupTesting.Write(Path.Combine(Source, "session-12.txt"), BackupTesting.Text(30_000, 21));
        var second = await laptop.CreateSnapshotAsync(Sources);
        var prune = await Assert.ThrowsAsync<MdmaiException>(() => laptop.PruneAsync());
        var forget = await Assert.ThrowsAsync<MdmaiException>(() => laptop.ForgetSnapshotsAsync([second.Snapshot.Id]));
        var overwrite = await Assert.ThrowsAsync<MdmaiException>(() => laptop.Backend.WriteAllAsync($"snapshots/{second.Snapshot.Id}", "ransom"u8.ToArray()));

        Assert.Equal(MdmaiErrorCode.RemoteAccess, prune.Code);
        Assert.Contains("append-only", prune.Message, StringComparison.Ordinal);
        Assert.Equal(MdmaiErrorCode.RemoteAccess, forget.Code);
        Assert.Equal(MdmaiErrorCode.AlreadyExists, overwrite.Code); // write-once: If-None-Match refuses a second PUT of a name
        Assert.Equal(2, (await laptop.ListSnapshotsAsync()).Count);

        // The maintenance keys (the owner's) see a whole repository and can prune once the left locks expire.
        using var maintenance = await BackupRepository.OpenAsync(new S3Backend(location, S3TestServer.Options(server)), BackupTesting.Password);
        Assert.Empty((await maintenance.VerifyAsync(new VerifyOptions { ReadData = true })).Errors);
        Assert.NotEmpty(await BackupTesting.NamesAsync(maintenance.Backend, "locks"));
    }

    [SkippableFact]
    public async Task A_lock_expires_by_the_stores_clock_and_a_live_one_blocks()
    {
        var server = S3TestServer.Require();
        var bucket = await S3TestServer.NewBucketAsync();
        var backend = new S3Backend($"s3://{bucket}/repo", S3TestServer.Options(server));
        WriteSource(30);
        using var repository = await BackupRepository.InitAsync(backend, null, BackupTesting.SmallChunks());
        await repository.CreateSnapshotAsync(Sources);

        var live = await BackupTesting.PlantLockAsync(backend, "other-laptop", 4242, 0, exclusive: false, ttlSeconds: 600, time: DateTimeOffset.UtcNow.AddDays(-3));
        var blocked = await Assert.ThrowsAsync<MdmaiException>(() => repository.PruneAsync());
        await backend.DeleteAsync(live);
        var dead = await BackupTesting.PlantLockAsync(backend, "other-laptop", 4242, 0, exclusive: false, ttlSeconds: 1, time: DateTimeOffset.UtcNow.AddDays(3));
        await Task.Delay(2500); // longer than its time to live, by the gateway's Last-Modified

        await repository.PruneAsync();

        Assert.Equal(MdmaiErrorCode.Locked, blocked.Code);
        Assert.DoesNotContain(dead, await BackupTesting.NamesAsync(backend, "locks"));
    }
}
