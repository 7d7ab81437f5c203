using System.Text;
using Mdmai.DataManager.Backup;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>The one suite every <see cref="IBackupBackend"/> must pass (skippable: the S3 one needs a server).</summary>
public abstract class BackendConformanceTests : IDisposable
{
    private IBackupBackend? _created;

    private IBackupBackend Backend => _created ??= CreateBackend();

    private protected abstract IBackupBackend CreateBackend();

    public void Dispose()
    {
        Cleanup();
        GC.SuppressFinalize(this);
    }

    private protected virtual void Cleanup()
    {
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private async Task<byte[]> ReadAll(string name) => await Backend.ReadAllAsync(name);

    [SkippableFact]
    public async Task List_returns_every_item_under_a_folder_at_any_depth_and_nothing_else()
    {
        await Backend.WriteAllAsync("data/00/aa", Bytes("one"));
        await Backend.WriteAllAsync("data/01/bb", Bytes("three"));
        await Backend.WriteAllAsync("data/top", Bytes("xy"));
        await Backend.WriteAllAsync("datax/cc", Bytes("no"));
        await Backend.WriteAllAsync("index/dd", Bytes("no"));
        await Backend.WriteAllAsync("config", Bytes("no"));

        var items = new List<BackendItem>();
        await foreach (var item in Backend.ListAsync("data"))
        {
            items.Add(item);
        }

        Assert.Equal(
            [new BackendItem("data/00/aa", 3), new BackendItem("data/01/bb", 5), new BackendItem("data/top", 2)],
            items.Select(i => i with { Modified = null }).OrderBy(i => i.Name, StringComparer.Ordinal));
        Assert.Equal(["index/dd"], await BackupTesting.NamesAsync(Backend, "index"));

        // Each item says when the store wrote it (locks expire by it): about now, give or take the clocks' skew.
        Assert.All(items, i => Assert.InRange(i.Modified!.Value, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5)));
    }

    [SkippableFact]
    public async Task List_of_a_folder_that_does_not_exist_is_empty()
    {
        await Backend.WriteAllAsync("keys/k", Bytes("k"));

        Assert.Empty(await BackupTesting.NamesAsync(Backend, "snapshots"));
    }

    [SkippableFact]
    public async Task Length_of_an_item_is_its_size_and_of_a_missing_one_is_null()
    {
        await Backend.WriteAllAsync("snapshots/s1", new byte[1234]);
        await Backend.WriteAllAsync("snapshots/empty", Array.Empty<byte>());

        Assert.Equal(1234, await Backend.LengthAsync("snapshots/s1"));
        Assert.Equal(0, await Backend.LengthAsync("snapshots/empty"));
        Assert.Null(await Backend.LengthAsync("snapshots/s2"));
        Assert.Null(await Backend.LengthAsync("nowhere/deeper/s3"));
    }

    [SkippableTheory]
    [InlineData(0, 10, 10)]
    [InlineData(995, 10, 5)]
    [InlineData(999, 10, 1)]
    [InlineData(1000, 10, 0)]
    [InlineData(5000, 10, 0)]
    [InlineData(100, 0, 0)]
    public async Task Read_returns_the_bytes_at_an_offset_and_fewer_only_at_the_end(long offset, int asked, int expected)
    {
        var content = BackupTesting.RandomBytes(1000, 11);
        await Backend.WriteAllAsync("data/ab/pack", content);
        var buffer = new byte[asked + 4];
        Array.Fill(buffer, (byte)0xEE);

        var n = await Backend.ReadAsync("data/ab/pack", offset, buffer.AsMemory(0, asked));

        Assert.Equal(expected, n);
        Assert.Equal(content.AsSpan((int)Math.Min(offset, content.Length), expected).ToArray(), buffer[..n]);
        Assert.All(buffer[n..], b => Assert.Equal(0xEE, b));
    }

    [SkippableFact]
    public async Task Read_of_a_missing_item_is_FileNotFoundException_even_when_its_folder_is_missing()
    {
        await Backend.WriteAllAsync("data/ab/present", Bytes("x"));

        await Assert.ThrowsAsync<FileNotFoundException>(() => Backend.ReadAsync("data/ab/absent", 0, new byte[4]));
        await Assert.ThrowsAsync<FileNotFoundException>(() => Backend.ReadAsync("data/zz/absent", 0, new byte[4]));
        await Assert.ThrowsAsync<FileNotFoundException>(() => Backend.ReadAllAsync("data/zz/absent"));
    }

    [SkippableFact]
    public async Task A_range_opened_for_reading_gives_exactly_its_bytes_front_to_back()
    {
        var content = BackupTesting.RandomBytes(300_000, 77);
        await Backend.WriteAllAsync("data/aa/pack", content);

        await using (var stream = await Backend.OpenReadAsync("data/aa/pack", 12_345, 200_000))
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, 7_000); // small reads: the range is read across many of them
            Assert.Equal(content.AsSpan(12_345, 200_000).ToArray(), copy.ToArray());
        }

        await Assert.ThrowsAsync<FileNotFoundException>(async () =>
        {
            await using var missing = await Backend.OpenReadAsync("data/zz/absent", 0, 10);
            await missing.ReadExactlyAsync(new byte[10]);
        });
        await Assert.ThrowsAsync<EndOfStreamException>(async () =>
        {
            await using var past = await Backend.OpenReadAsync("data/aa/pack", 299_000, 5_000);
            await past.ReadExactlyAsync(new byte[5_000]);
        });
    }

    [SkippableFact]
    public async Task An_item_is_written_once_a_second_write_of_its_name_is_refused_and_changes_nothing()
    {
        await Backend.WriteAllAsync("snapshots/s", Bytes("original"));

        var error = await Assert.ThrowsAsync<MdmaiException>(() => Backend.WriteAsync("snapshots/s", async (stream, ct) =>
        {
            await stream.WriteAsync(Bytes("replacement, longer than the original"), ct);
        }));

        Assert.Equal(MdmaiErrorCode.AlreadyExists, error.Code);
        Assert.Contains("snapshots/s", error.Message, StringComparison.Ordinal);
        Assert.Equal(Bytes("original"), await ReadAll("snapshots/s"));
        Assert.Equal(["snapshots/s"], await BackupTesting.NamesAsync(Backend, "snapshots"));
    }

    [SkippableFact]
    public async Task Of_two_racing_writers_of_one_name_one_wins_whole_and_the_other_gets_AlreadyExists()
    {
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = Backend.WriteAsync("locks/l", async (stream, ct) =>
        {
            await stream.WriteAsync(Bytes("slow writer"), ct);
            inside.SetResult();
            await release.Task;
        });
        await inside.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await Backend.WriteAllAsync("locks/l", Bytes("fast"));
        release.SetResult();

        var error = await Assert.ThrowsAsync<MdmaiException>(() => slow.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(MdmaiErrorCode.AlreadyExists, error.Code);
        Assert.Equal(Bytes("fast"), await ReadAll("locks/l"));
        Assert.Equal(["locks/l"], await BackupTesting.NamesAsync(Backend, "locks"));
    }

    [SkippableFact]
    public async Task An_item_being_written_is_neither_listed_nor_readable_until_the_write_returns()
    {
        var listed = new List<string>();
        long? length = -1;

        await Backend.WriteAsync("index/i1", async (stream, ct) =>
        {
            await stream.WriteAsync(new byte[100_000], ct);
            await stream.FlushAsync(ct);
            listed = await BackupTesting.NamesAsync(Backend, "index");
            length = await Backend.LengthAsync("index/i1", ct);
        });

        Assert.Empty(listed);
        Assert.Null(length);
        Assert.Equal(["index/i1"], await BackupTesting.NamesAsync(Backend, "index"));
        Assert.Equal(100_000, await Backend.LengthAsync("index/i1"));
    }

    [SkippableFact]
    public async Task A_write_whose_producer_fails_leaves_nothing_behind_and_the_name_stays_free()
    {
        var error = await Assert.ThrowsAsync<InjectedFault>(() => Backend.WriteAsync("data/cd/pack", async (stream, ct) =>
        {
            await stream.WriteAsync(new byte[300_000], ct);
            throw new InjectedFault("disk went away");
        }));

        Assert.Equal("disk went away", error.Message);
        Assert.Null(await Backend.LengthAsync("data/cd/pack"));
        Assert.Empty(await BackupTesting.NamesAsync(Backend, "data"));
        AssertNoDebris();
        await Backend.WriteAllAsync("data/cd/pack", Bytes("second try"));
        Assert.Equal(Bytes("second try"), await ReadAll("data/cd/pack"));
    }

    [SkippableFact]
    public async Task A_cancelled_write_leaves_nothing_behind()
    {
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Backend.WriteAsync("data/ef/pack", async (stream, ct) =>
        {
            await stream.WriteAsync(new byte[1000], ct);
            await cts.CancelAsync();
            ct.ThrowIfCancellationRequested();
        }, cts.Token));

        Assert.Null(await Backend.LengthAsync("data/ef/pack"));
        AssertNoDebris();
    }

    [SkippableFact]
    public async Task Delete_removes_an_item_and_deleting_a_missing_one_is_not_an_error()
    {
        await Backend.WriteAllAsync("locks/a", Bytes("a"));
        await Backend.WriteAllAsync("locks/b", Bytes("b"));

        await Backend.DeleteAsync("locks/a");
        await Backend.DeleteAsync("locks/a");
        await Backend.DeleteAsync("locks/never");
        await Backend.DeleteAsync("nowhere/deeper/never");

        Assert.Equal(["locks/b"], await BackupTesting.NamesAsync(Backend, "locks"));
        Assert.Null(await Backend.LengthAsync("locks/a"));
        await Backend.WriteAllAsync("locks/a", Bytes("again"));
        Assert.Equal(Bytes("again"), await ReadAll("locks/a"));
    }

    [SkippableFact]
    public async Task A_large_item_streams_in_and_reads_back_exactly()
    {
        var content = BackupTesting.RandomBytes(3 * 1024 * 1024 + 17, 12);

        await Backend.WriteAsync("data/12/big", async (stream, ct) =>
        {
            for (var offset = 0; offset < content.Length; offset += 100_000)
            {
                await stream.WriteAsync(content.AsMemory(offset, Math.Min(100_000, content.Length - offset)), ct);
            }
        });

        Assert.Equal(content.Length, await Backend.LengthAsync("data/12/big"));
        Assert.Equal(content, await ReadAll("data/12/big"));
    }

    private protected virtual void AssertNoDebris()
    {
    }
}

public sealed class LocalFolderBackendConformanceTests : BackendConformanceTests
{
    private TempFolder? _folder;

    private TempFolder Folder => _folder ??= new TempFolder();

    private protected override IBackupBackend CreateBackend() => new LocalFolderBackend(Folder.Combine("repo"));

    private protected override void Cleanup() => _folder?.Dispose();

    private protected override void AssertNoDebris()
    {
        var repo = Folder.Combine("repo");
        Assert.Empty(BackupTesting.Debris(repo));
        Assert.Empty(Directory.Exists(repo) ? Directory.GetFiles(repo, "*", SearchOption.AllDirectories) : []);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("/abs")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("a/../../b")]
    [InlineData("a/")]
    [InlineData("")]
    [InlineData("a\\..\\b")]
    public async Task Names_that_could_leave_the_repository_folder_are_refused(string name)
    {
        var backend = new LocalFolderBackend(Folder.Combine("repo"));

        var write = await Assert.ThrowsAsync<MdmaiException>(() => backend.WriteAllAsync(name, "x"u8.ToArray()));
        var length = await Assert.ThrowsAsync<MdmaiException>(() => backend.LengthAsync(name));
        var read = await Assert.ThrowsAsync<MdmaiException>(() => backend.ReadAsync(name, 0, new byte[1]));
        var delete = await Assert.ThrowsAsync<MdmaiException>(() => backend.DeleteAsync(name));

        Assert.All([write, length, read, delete], e => Assert.Equal(MdmaiErrorCode.InvalidArgument, e.Code));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Folder.Path, "*", SearchOption.AllDirectories), e => e != Folder.Combine("repo"));
        Assert.False(File.Exists("/abs"));
    }

    [Fact]
    public async Task Temp_files_of_an_interrupted_write_are_not_listed()
    {
        var backend = new LocalFolderBackend(Folder.Combine("repo"));
        await backend.WriteAllAsync("data/ab/real", "r"u8.ToArray());
        await File.WriteAllBytesAsync(Path.Combine(backend.Root, "data", "ab", ".real2.0123456789abcdef.tmp"), new byte[10]);

        Assert.Equal(["data/ab/real"], await BackupTesting.NamesAsync(backend, "data"));
    }

    [Fact]
    public async Task Items_are_plain_files_under_the_root_named_by_their_path()
    {
        var backend = new LocalFolderBackend(Folder.Combine("repo"));

        await backend.WriteAllAsync("data/ab/abcdef", "content"u8.ToArray());

        Assert.Equal("content"u8.ToArray(), await File.ReadAllBytesAsync(Path.Combine(Folder.Path, "repo", "data", "ab", "abcdef")));
    }
}

public sealed class MemoryBackendConformanceTests : BackendConformanceTests
{
    private protected override IBackupBackend CreateBackend() => new MemoryBackend();

    [Fact]
    public async Task BeforeWrite_can_fail_a_write_which_then_leaves_nothing()
    {
        var backend = new MemoryBackend { BeforeWrite = name => throw new InjectedFault($"no space for {name}") };

        var error = await Assert.ThrowsAsync<InjectedFault>(() => backend.WriteAllAsync("index/x", new byte[3]));

        Assert.Contains("index/x", error.Message, StringComparison.Ordinal);
        Assert.Empty(backend.Items);
    }
}

/// <summary>The suite against a real S3 server (Ceph's gateway): a bucket per test, the repository under a prefix.</summary>
public sealed class S3BackendConformanceTests : BackendConformanceTests
{
    private S3Backend? _backend;

    private protected override IBackupBackend CreateBackend()
    {
        var server = S3TestServer.Require();
        var bucket = S3TestServer.NewBucketAsync().GetAwaiter().GetResult();
        return _backend = new S3Backend($"s3://{bucket}/repo/one", S3TestServer.Options(server));
    }

    private protected override void Cleanup() => _backend?.Dispose();

    private protected override void AssertNoDebris()
    {
        using var client = S3TestServer.Client(S3TestServer.Require());
        var objects = client.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = _backend!.Bucket }).GetAwaiter().GetResult();
        Assert.Empty(objects.S3Objects ?? []);
        var uploads = client.ListMultipartUploadsAsync(new Amazon.S3.Model.ListMultipartUploadsRequest { BucketName = _backend.Bucket }).GetAwaiter().GetResult();
        Assert.Empty(uploads.MultipartUploads ?? []);
    }

    [SkippableFact]
    public async Task Items_are_objects_under_the_prefix_named_by_their_path_and_nothing_else_is_listed()
    {
        var backend = (S3Backend)CreateBackend();
        using var client = S3TestServer.Client(S3TestServer.Require());
        await client.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = backend.Bucket, Key = "repo/onex/data/aa", ContentBody = "a neighbour" });
        await client.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = backend.Bucket, Key = "repo/data/bb", ContentBody = "another" });

        await backend.WriteAllAsync("data/ab/abcdef", "content"u8.ToArray());

        using var got = await client.GetObjectAsync(backend.Bucket, "repo/one/data/ab/abcdef");
        Assert.Equal("content", await new StreamReader(got.ResponseStream).ReadToEndAsync());
        Assert.Equal(["data/ab/abcdef"], await BackupTesting.NamesAsync(backend, "data"));
    }

    [SkippableFact]
    public async Task Every_request_is_counted_by_kind()
    {
        var backend = (S3Backend)CreateBackend();

        await backend.WriteAllAsync("index/a", "x"u8.ToArray());
        await backend.LengthAsync("index/a");
        await backend.ReadAllAsync("index/a");
        await BackupTesting.NamesAsync(backend, "index");
        await backend.DeleteAsync("index/a");

        // A whole read is one GET, without asking the length first.
        Assert.Equal(new BackendRequests(Put: 1, Get: 1, List: 1, Head: 1, Delete: 1), backend.Requests);
    }

    [SkippableTheory]
    [InlineData("s3://Upper/x")]
    [InlineData("s3://ab")]
    [InlineData("s3://bucket/a/../b")]
    [InlineData("s3:/bucket")]
    [InlineData("/local/path")]
    public void Malformed_locations_are_refused_before_any_request(string location)
    {
        var error = Assert.Throws<MdmaiException>(() => new S3Backend(location, new S3Options { Endpoint = new Uri("http://127.0.0.1:1"), AccessKey = "a", SecretKey = "b" }));

        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
    }
}
