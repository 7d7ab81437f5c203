using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Tests.Files;
using Xunit.Abstractions;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>Allocation is measured process-wide, so these run alone.</summary>
[Collection(nameof(MemoryMeasurements))]
public sealed class BackupMemoryTests(ITestOutputHelper output) : IDisposable
{
    private const long Size = 64L * 1024 * 1024;
    private const long Bound = 8L * 1024 * 1024;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Writes <paramref name="size"/> bytes of seeded pseudo-random data (no two chunks alike) through a 1 MiB buffer.</summary>
    private static void Generate(string path, long size, ulong seed)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var buffer = new byte[1024 * 1024];
        var state = seed | 1;
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        for (long written = 0; written < size; written += buffer.Length)
        {
            var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(buffer.AsSpan());
            for (var i = 0; i < words.Length; i++)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                words[i] = state;
            }

            stream.Write(buffer, 0, (int)Math.Min(buffer.Length, size - written));
        }
    }

    [Fact]
    public async Task Backup_and_restore_of_a_file_larger_than_every_buffer_allocate_a_small_constant()
    {
        var source = _temp.Combine("source");
        Generate(Path.Combine(source, "warm-up.bin"), 3 * 1024 * 1024, 1);
        var options = BackupTesting.SmallChunks() with { PackSize = 16 * 1024 * 1024 };
        using var repository = await BackupRepository.InitAsync(new LocalFolderBackend(_temp.Combine("repo")), BackupTesting.Password, options);
        var warmUp = await repository.CreateSnapshotAsync(new BackupSources { Includes = [source] });
        await repository.RestoreAsync(warmUp.Snapshot.Id, _temp.Combine("warm-up"));
        Generate(Path.Combine(source, "rulebook.pdf"), Size, 2);

        // The pipeline holds chunks in one block of memory taken at the start (its budget): 4 MiB here, for a 64 MiB file.
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var result = await repository.CreateSnapshotAsync(new BackupSources { Includes = [source] }, new SnapshotOptions { MemoryBudget = 4 * 1024 * 1024 });
        var backup = GC.GetTotalAllocatedBytes(precise: true) - before;

        before = GC.GetTotalAllocatedBytes(precise: true);
        var restored = await repository.RestoreAsync(result.Snapshot.Id, _temp.Combine("target"), new RestoreOptions { PathPattern = "*/rulebook.pdf" });
        var restore = GC.GetTotalAllocatedBytes(precise: true) - before;

        output.WriteLine($"backup allocated {backup / 1024.0 / 1024:F2} MiB, restore {restore / 1024.0 / 1024:F2} MiB, for a {Size / 1024 / 1024} MiB file");
        Assert.Equal(Size, result.Snapshot.Stats.BytesRead);
        Assert.Equal(Size, restored.Bytes);
        Assert.Equal(await HashAsync(Path.Combine(source, "rulebook.pdf")), await HashAsync(BackupTesting.Restored(_temp.Combine("target"), Path.Combine(source, "rulebook.pdf"))));
        Assert.True(backup < Bound, $"backup allocated {backup / 1024 / 1024.0:F1} MiB for a {Size / 1024 / 1024} MiB file");
        Assert.True(restore < Bound, $"restore allocated {restore / 1024 / 1024.0:F1} MiB for a {Size / 1024 / 1024} MiB file");
    }

    private static async Task<string> HashAsync(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexString(await System.Security.Cryptography.SHA256.HashDataAsync(stream));
    }
}
