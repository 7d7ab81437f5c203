using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>
/// A restored file has exactly the permissions it was backed up with, whether the create gave them (into a new or empty
/// folder, a mode the umask leaves whole) or a <c>fchmod</c> after it did (special bits, bits the umask takes, a folder
/// whose default ACL masks the mode instead of the umask, a file of several chunks written to a temp file). Which modes
/// take which way depends on the umask the tests run under (022 here and on CI); the modes must come out the same.
/// </summary>
public sealed class RestoreModeTests : IDisposable
{
    private static readonly string[] Modes = ["644", "600", "755", "400", "444", "666", "777", "700", "640", "604", "4755", "2750"];

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [DllImport("libc", EntryPoint = "setxattr", SetLastError = true)]
    private static extern int SetXattr(string path, string name, byte[] value, nuint size, int flags);

    /// <summary>A default ACL that gives the owner everything and the group and others nothing.</summary>
    private static void SetDefaultAcl(string folder)
    {
        var acl = new byte[4 + (3 * 8)];
        BitConverter.TryWriteBytes(acl.AsSpan(0), 2u); // POSIX ACL xattr version 2
        (ushort Tag, ushort Permissions)[] entries = [(0x01, 7), (0x04, 0), (0x20, 0)]; // USER_OBJ, GROUP_OBJ, OTHER
        for (var i = 0; i < entries.Length; i++)
        {
            BitConverter.TryWriteBytes(acl.AsSpan(4 + (i * 8)), entries[i].Tag);
            BitConverter.TryWriteBytes(acl.AsSpan(6 + (i * 8)), entries[i].Permissions);
            BitConverter.TryWriteBytes(acl.AsSpan(8 + (i * 8)), uint.MaxValue);
        }

        var done = SetXattr(folder, "system.posix_acl_default", acl, (nuint)acl.Length, 0) == 0;
        var errno = Marshal.GetLastPInvokeError();
        Skip.If(!done && errno == 95, "The temp folder's file system keeps no POSIX ACLs (EOPNOTSUPP).");
        Assert.True(done, $"setxattr failed: errno {errno}");
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    [SupportedOSPlatform("linux")]
    public async Task Every_file_comes_back_with_exactly_its_mode(bool defaultAcl)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only: the create with a mode, the umask from /proc and setxattr's signature are Linux's.");

        var source = _temp.Combine("source");
        var modes = Modes.Select(m => (UnixFileMode)Convert.ToInt32(m, 8)).ToList();
        foreach (var (mode, i) in modes.Select((m, i) => (m, i)))
        {
            File.SetUnixFileMode(BackupTesting.Write(Path.Combine(source, $"f{i}.txt"), BackupTesting.Text(100 + i, i)), mode);
        }

        File.SetUnixFileMode(BackupTesting.Write(Path.Combine(source, "chunks.bin"), BackupTesting.RandomBytes(300_000, 9)), (UnixFileMode)Convert.ToInt32("644", 8));
        using var repository = await BackupRepository.InitAsync(new MemoryBackend(), null, BackupTesting.SmallChunks());
        var snapshot = (await repository.CreateSnapshotAsync(new BackupSources { Includes = [source] })).Snapshot;
        var target = _temp.Combine("target");
        Directory.CreateDirectory(target);
        if (defaultAcl)
        {
            SetDefaultAcl(target);
            using (File.Create(Path.Combine(target, "probe"), 1))
            {
            }

            // What a create under it gives: the ACL's masking, not the umask's; the restore must not count on either.
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target, "probe")) & (UnixFileMode)0x1FF);
            File.Delete(Path.Combine(target, "probe"));
            Assert.Null(UnixFileCalls.CreateMask(target));
        }
        else
        {
            Assert.NotNull(UnixFileCalls.CreateMask(target));
        }

        var result = await repository.RestoreAsync(snapshot.Id, target);

        Assert.Equal(modes.Count + 1, result.Files);
        var restored = BackupTesting.Restored(target, source);
        foreach (var (mode, i) in modes.Select((m, i) => (m, i)))
        {
            Assert.Equal((Modes[i], mode), (Modes[i], File.GetUnixFileMode(Path.Combine(restored, $"f{i}.txt"))));
        }

        Assert.Equal((UnixFileMode)Convert.ToInt32("644", 8), File.GetUnixFileMode(Path.Combine(restored, "chunks.bin")));
    }
}
