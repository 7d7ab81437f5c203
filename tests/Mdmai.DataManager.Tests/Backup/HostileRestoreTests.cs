using Mdmai.DataManager.Backup;
using Xunit.Abstractions;
using static Mdmai.DataManager.Tests.Backup.CraftedSnapshot;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>A restore writes only inside its target, whatever the snapshot says and whatever the target already holds.</summary>
public sealed class HostileRestoreTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _temp = Sandboxed();

    private static TempFolder Sandboxed()
    {
        var temp = new TempFolder();
        Directory.CreateDirectory(Path.Combine(temp.Path, "sandbox", "outside"));
        return temp;
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>The folder around the target: a restore may create nothing in it but the target.</summary>
    private string Sandbox => _temp.Combine("sandbox");

    private string Target => Path.Combine(Sandbox, "target");

    /// <summary>A folder outside the target that hostile entries aim at.</summary>
    private string Outside => Path.Combine(Sandbox, "outside");

    private string AbsoluteVictim => _temp.Combine("absolute-victim");

    private void AssertNothingEscaped()
    {
        Assert.Equal(["outside", "target"], Directory.GetFileSystemEntries(Sandbox).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.GetFileSystemEntries(Outside));
        Assert.False(Path.Exists(AbsoluteVictim));
        Assert.Equal(["sandbox"], Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName));
    }

    private static async Task<BackupRepository> NewRepositoryAsync() =>
        await BackupRepository.InitAsync(new MemoryBackend(), BackupTesting.Password, BackupTesting.SmallChunks());

    public static TheoryData<string> HostilePaths => new()
    {
        "../evil",
        "a/../../evil",
        "data/../../evil",
        "/ABSOLUTE",
        "a//b",
        "./evil",
        "a/.",
        "..\\evil",
    };

    private string Resolve(string hostile) => hostile.Replace("/ABSOLUTE", AbsoluteVictim, StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(HostilePaths))]
    public async Task A_file_entry_with_a_path_that_could_leave_the_target_is_refused(string hostile)
    {
        using var repository = await NewRepositoryAsync();
        var snapshot = await WriteAsync(repository, (FolderEntry("data"), null), (FileEntry("data/ok.txt"), "fine"u8.ToArray()), (FileEntry(Resolve(hostile)), "pwned"u8.ToArray()));

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(snapshot, Target));

        Assert.Equal(MdmaiErrorCode.UnsafePath, error.Code);
        Assert.Contains(Resolve(hostile), error.Message, StringComparison.Ordinal);
        AssertNothingEscaped();
    }

    [Theory]
    [MemberData(nameof(HostilePaths))]
    public async Task A_folder_or_link_entry_with_such_a_path_is_refused_too(string hostile)
    {
        using var repository = await NewRepositoryAsync();
        var folder = await WriteAsync(repository, (FolderEntry(Resolve(hostile)), null));
        var link = await WriteAsync(repository, (LinkEntry(Resolve(hostile), Outside), null));

        var folderError = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(folder, Target));
        var linkError = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(link, Target));

        Assert.Equal(MdmaiErrorCode.UnsafePath, folderError.Code);
        Assert.Equal(MdmaiErrorCode.UnsafePath, linkError.Code);
        AssertNothingEscaped();
    }

    [Fact]
    public async Task Listing_a_hostile_snapshot_refuses_its_paths()
    {
        using var repository = await NewRepositoryAsync();
        var snapshot = await WriteAsync(repository, (FileEntry("../evil"), "x"u8.ToArray()));

        var error = await Assert.ThrowsAsync<MdmaiException>(async () => await repository.ListEntriesAsync(snapshot).ToListAsync());

        Assert.Equal(MdmaiErrorCode.UnsafePath, error.Code);
    }

    [Fact]
    public async Task A_link_planted_by_the_snapshot_is_never_written_through_by_a_later_entry()
    {
        using var repository = await NewRepositoryAsync();
        var snapshot = await WriteAsync(repository,
            (LinkEntry("link", Outside), null),
            (FileEntry("link/file"), "through the link"u8.ToArray()),
            (FolderEntry("d"), null),
            (LinkEntry("d/l", "../../outside"), null),
            (FileEntry("d/l/x"), "through a relative link"u8.ToArray()));

        try
        {
            await repository.RestoreAsync(snapshot, Target);
        }
        catch (Exception ex) when (ex is MdmaiException or IOException)
        {
            // Refusing is fine; writing through the link is not.
            output.WriteLine($"refused: {ex.GetType().Name}: {ex.Message}");
        }

        output.WriteLine("target holds: " + string.Join(", ", BackupTesting.Entries(Target)));

        AssertNothingEscaped();
        foreach (var written in Directory.EnumerateFiles(Target, "*", SearchOption.AllDirectories))
        {
            var real = Path.GetFullPath(new FileInfo(written).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? written);
            Assert.StartsWith(Target + Path.DirectorySeparatorChar, real, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_link_entry_is_restored_as_a_link_without_touching_what_it_points_at()
    {
        using var repository = await NewRepositoryAsync();
        var snapshot = await WriteAsync(repository, (LinkEntry("to-outside", Outside), null), (LinkEntry("to-nowhere", "/tmp/mdmai-nowhere-" + Guid.NewGuid().ToString("N")), null));

        var result = await repository.RestoreAsync(snapshot, Target);

        Assert.Equal(2, result.Symlinks);
        Assert.Equal(Outside, new FileInfo(Path.Combine(Target, "to-outside")).LinkTarget);
        Assert.StartsWith("/tmp/mdmai-nowhere-", new FileInfo(Path.Combine(Target, "to-nowhere")).LinkTarget, StringComparison.Ordinal);
        Assert.False(Path.Exists(new FileInfo(Path.Combine(Target, "to-nowhere")).LinkTarget));
        AssertNothingEscaped();
    }

    /// <summary>A real backup of a folder with sub/file.txt and file.txt, restored with its include prefix stripped.</summary>
    private async Task<(BackupRepository Repository, string Snapshot, RestoreOptions Options)> RealBackupAsync()
    {
        var source = _temp.Combine("source");
        BackupTesting.Write(Path.Combine(source, "sub", "file.txt"), "restored content"u8.ToArray());
        BackupTesting.Write(Path.Combine(source, "file.txt"), "top level"u8.ToArray());
        var repository = await BackupRepository.InitAsync(new LocalFolderBackend(_temp.Combine("repo")), null, BackupTesting.SmallChunks());
        var snapshot = (await repository.CreateSnapshotAsync(new BackupSources { Includes = [source] })).Snapshot.Id;
        Directory.CreateDirectory(Target);
        return (repository, snapshot, new RestoreOptions { StripPrefix = "include/" + source.TrimStart('/') });
    }

    private void AssertOnlyExpectedOutside()
    {
        Assert.Empty(Directory.GetFileSystemEntries(Outside));
        Assert.Equal(["outside", "target"], Directory.GetFileSystemEntries(Sandbox).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_file_under_a_symlinked_folder_already_in_the_target_is_refused()
    {
        var (repository, snapshot, options) = await RealBackupAsync();
        using var _ = repository;
        Directory.CreateSymbolicLink(Path.Combine(Target, "sub"), Outside);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(snapshot, Target, options));

        Assert.Equal(MdmaiErrorCode.UnsafePath, error.Code);
        Assert.Contains("symbolic link", error.Message, StringComparison.Ordinal);
        AssertOnlyExpectedOutside();
    }

    [Fact]
    public async Task A_file_whose_name_is_a_symlink_in_the_target_replaces_the_link_and_leaves_its_target_alone()
    {
        var (repository, snapshot, options) = await RealBackupAsync();
        using var _ = repository;
        var victim = BackupTesting.Write(Path.Combine(Outside, "victim.txt"), "keep me"u8.ToArray());
        File.CreateSymbolicLink(Path.Combine(Target, "file.txt"), victim);

        await repository.RestoreAsync(snapshot, Target, options);

        Assert.Equal("keep me"u8.ToArray(), await File.ReadAllBytesAsync(victim));
        Assert.Null(new FileInfo(Path.Combine(Target, "file.txt")).LinkTarget);
        Assert.Equal("top level"u8.ToArray(), await File.ReadAllBytesAsync(Path.Combine(Target, "file.txt")));
        Assert.Equal(["victim.txt"], Directory.GetFileSystemEntries(Outside).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_file_where_the_snapshot_has_a_folder_is_refused()
    {
        var (repository, snapshot, options) = await RealBackupAsync();
        using var _ = repository;
        await File.WriteAllTextAsync(Path.Combine(Target, "sub"), "in the way");

        var error = await Assert.ThrowsAsync<MdmaiException>(() => repository.RestoreAsync(snapshot, Target, options));

        Assert.Equal(MdmaiErrorCode.UnsafePath, error.Code);
        Assert.Equal("in the way", await File.ReadAllTextAsync(Path.Combine(Target, "sub")));
        AssertOnlyExpectedOutside();
    }

    [Fact]
    public async Task The_same_backup_restores_normally_into_a_clean_target()
    {
        var (repository, snapshot, options) = await RealBackupAsync();
        using var _ = repository;

        var result = await repository.RestoreAsync(snapshot, Target, options);

        Assert.Equal(2, result.Files);
        Assert.Equal("restored content"u8.ToArray(), await File.ReadAllBytesAsync(Path.Combine(Target, "sub", "file.txt")));
        AssertOnlyExpectedOutside();
    }
}
