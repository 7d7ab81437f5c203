using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.Security;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>Fast settings and seeded data shared by the backup tests.</summary>
internal static class BackupTesting
{
    public const string Password = "correct horse battery staple";

    public static readonly KdfParameters FastKdf = new(MemoryKib: 8 * 1024, Iterations: 1);

    /// <summary>Small chunks and packs, so a few hundred KiB spread over several chunks and packs.</summary>
    public static RepositoryOptions SmallChunks() => new()
    {
        Kdf = FastKdf, PackSize = 256 * 1024, MinChunkSize = 16 * 1024, AverageChunkSize = 64 * 1024, MaxChunkSize = 256 * 1024,
    };

    public static byte[] RandomBytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Compressible text (so zstd is used for its chunks).</summary>
    public static byte[] Text(int size, int seed)
    {
        var random = new Random(seed);
        string[] words = ["goblin", "wagon", "Triboar", "trail", "ambush", "dragon", "tavern", "the", "a", "of"];
        var builder = new StringBuilder(size + 16);
        while (builder.Length < size)
        {
            builder.Append(words[random.Next(words.Length)]).Append(random.Next(8) == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(builder.ToString(0, size));
    }

    public static string Write(string path, byte[] content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Where a restore puts an included source path.</summary>
    public static string Restored(string target, string source) => Path.Combine(target, "include", source.TrimStart('/'));

    /// <summary>Temp files a writer left behind (the local backend's ".x.tmp", a restore's ".x.restore").</summary>
    public static List<string> Debris(string folder) =>
        !Directory.Exists(folder) ? [] :
        [.. Directory.EnumerateFiles(folder, ".*", SearchOption.AllDirectories).Where(f => f.EndsWith(".tmp", StringComparison.Ordinal) || f.EndsWith(".restore", StringComparison.Ordinal))];

    /// <summary>Every file under <paramref name="folder"/> with its content, by relative path.</summary>
    public static SortedDictionary<string, byte[]> Files(string folder, Func<string, bool>? ignore = null) =>
        new(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => ignore is null || !ignore(Path.GetFileName(f)))
            .ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllBytes), StringComparer.Ordinal);

    /// <summary>The same files (names and bytes) under both folders, but for those whose name <paramref name="ignore"/> picks.</summary>
    public static void AssertSameFiles(string expected, string actual, Func<string, bool>? ignore = null)
    {
        var a = Files(expected, ignore);
        var b = Files(actual, ignore);
        Assert.Equal(a.Keys, b.Keys);
        foreach (var (name, content) in a)
        {
            Assert.True(content.AsSpan().SequenceEqual(b[name]), $"'{name}' differs");
        }
    }

    /// <summary>Every entry (files, folders, links) under <paramref name="folder"/>, relative.</summary>
    public static List<string> Entries(string folder) =>
        [.. Directory.EnumerateFileSystemEntries(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(e => Path.GetRelativePath(folder, e)).Order(StringComparer.Ordinal)];

    /// <summary>The total size of the items under a backend folder.</summary>
    public static async Task<long> SizeAsync(IBackupBackend backend, string folder)
    {
        long total = 0;
        await foreach (var item in backend.ListAsync(folder))
        {
            total += item.Length;
        }

        return total;
    }

    public static async Task<List<string>> NamesAsync(IBackupBackend backend, string folder)
    {
        var names = new List<string>();
        await foreach (var item in backend.ListAsync(folder))
        {
            names.Add(item.Name);
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The chunk ids of one file of a snapshot, in order.</summary>
    public static async Task<IReadOnlyList<BlobId>> ChunksOfAsync(BackupRepository repository, string snapshotId, string path)
    {
        var snapshot = await repository.FindSnapshotAsync(snapshotId, CancellationToken.None);
        await foreach (var entry in repository.ReadTreeAsync(snapshot, CancellationToken.None))
        {
            if (entry.Path == path)
            {
                return [.. (entry.Chunks ?? []).Select(BlobId.Parse)];
            }
        }

        throw new InvalidOperationException($"'{path}' is not in snapshot {snapshotId}.");
    }

    /// <summary>Starts a process that stays alive (a live pid of this host that is not ours).</summary>
    public static Process StartSleeper()
    {
        var start = new ProcessStartInfo("sleep", "30") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        return Process.Start(start)!;
    }

    public static void Stop(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        process.WaitForExit();
        process.Dispose();
    }

    /// <summary>Writes a lock file as another holder would.</summary>
    public static async Task<string> PlantLockAsync(IBackupBackend backend, string host, int pid, long processStart, bool exclusive, int ttlSeconds = 0, DateTimeOffset? time = null)
    {
        var name = $"{RepositoryNames.Locks}/{RepositoryNames.NewId()}";
        var info = new RepositoryLock.LockInfo { Host = host, Pid = pid, ProcessStart = processStart, Exclusive = exclusive, Time = time ?? DateTimeOffset.UtcNow, TtlSeconds = ttlSeconds };
        await backend.WriteAllAsync(name, JsonSerializer.SerializeToUtf8Bytes(info, BackupRepository.Json));
        return name;
    }

    public static long StartSeconds(Process process) => process.StartTime.ToUniversalTime().Ticks / TimeSpan.TicksPerSecond;
}

/// <summary>
/// Writes a snapshot whose file list is exactly the given entries, bypassing the walk of the snapshot builder: how a
/// hostile or damaged repository would look to a restore. Content blobs and the tree blob go into one pack, indexed.
/// </summary>
internal static class CraftedSnapshot
{
    public static TreeEntry FileEntry(string path, int mode = 0x1A4) => new() { Path = path, Type = SnapshotEntryType.File, Mode = mode };

    public static TreeEntry FolderEntry(string path) => new() { Path = path, Type = SnapshotEntryType.Directory, Mode = 0x1ED };

    public static TreeEntry LinkEntry(string path, string target) => new() { Path = path, Type = SnapshotEntryType.Symlink, LinkTarget = target };

    public static async Task<string> WriteAsync(BackupRepository repository, params (TreeEntry Entry, byte[]? Content)[] entries)
    {
        var blobs = new List<(BlobId Id, BlobType Type, byte[] Data)>();
        var lines = new List<string>();
        foreach (var (entry, content) in entries)
        {
            var stored = entry;
            if (content is not null)
            {
                var id = repository.Crypto.ComputeId(content);
                if (!blobs.Any(b => b.Id == id))
                {
                    blobs.Add((id, BlobType.Data, content));
                }

                stored = entry with { Size = content.Length, Chunks = [id.ToString()] };
            }

            lines.Add(JsonSerializer.Serialize(stored, TreeEntry.Json));
        }

        var tree = Encoding.UTF8.GetBytes(string.Join("\n", lines));
        var treeId = repository.Crypto.ComputeId(tree);
        blobs.Add((treeId, BlobType.Tree, tree));
        var queue = new Queue<(BlobId Id, BlobType Type, byte[] Data)>(blobs);
        var (pack, packed, _) = await repository.WritePackAsync((_, _) =>
        {
            if (!queue.TryDequeue(out var blob))
            {
                return ValueTask.FromResult<SealedBlob?>(null);
            }

            var id = new byte[BlobId.Size];
            blob.Id.Write(id);
            var sealedBlob = repository.Crypto.Seal(blob.Data, id);
            return ValueTask.FromResult<SealedBlob?>(new SealedBlob(blob.Id, blob.Type, false, (uint)blob.Data.Length, sealedBlob, NoLease.Instance));
        }, CancellationToken.None);
        repository.Index.Add(pack, packed);
        await repository.WriteIndexAsync([(pack, packed)], CancellationToken.None);
        return await repository.WriteSnapshotAsync(new BackupRepository.SnapshotDocument
        {
            Time = DateTimeOffset.UtcNow,
            Kind = SnapshotKind.Manual,
            Host = "crafted",
            Tree = [treeId.ToString()],
            Stats = new SnapshotStats { Files = entries.Count(e => e.Entry.Type == SnapshotEntryType.File) },
        }, CancellationToken.None);
    }
}

/// <summary>The lease of a blob whose bytes nobody needs to give back.</summary>
internal sealed class NoLease : IDisposable
{
    public static NoLease Instance { get; } = new();

    public void Dispose()
    {
    }
}

/// <summary>
/// A test's wrapper of a backend: passes every call on to <paramref name="inner"/>; a wrapper overrides what it watches
/// or fails. The members the interface gives a default (concurrent writes, requests, location) keep their defaults.
/// </summary>
internal abstract class ForwardingBackend(IBackupBackend inner) : IBackupBackend
{
    public IAsyncEnumerable<BackendItem> ListAsync(string folder, CancellationToken cancellationToken = default) => inner.ListAsync(folder, cancellationToken);

    public Task<long?> LengthAsync(string name, CancellationToken cancellationToken = default) => inner.LengthAsync(name, cancellationToken);

    public Task<int> ReadAsync(string name, long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(name, offset, destination, cancellationToken);

    public virtual Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(name, write, cancellationToken);

    public Task<int> DeleteIncompleteAsync(CancellationToken cancellationToken = default) => inner.DeleteIncompleteAsync(cancellationToken);

    public virtual Task DeleteAsync(string name, CancellationToken cancellationToken = default) => inner.DeleteAsync(name, cancellationToken);
}

/// <summary>A backend wrapper that can fail deletes (MemoryBackend has hooks for reads and writes only).</summary>
internal sealed class FaultingBackend(IBackupBackend inner) : ForwardingBackend(inner)
{
    public Action<string>? BeforeDelete { get; set; }

    public List<string> Deleted { get; } = [];

    public override Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        BeforeDelete?.Invoke(name);
        lock (Deleted)
        {
            Deleted.Add(name);
        }

        return base.DeleteAsync(name, cancellationToken);
    }
}

/// <summary>
/// A disk backend whose packs take <paramref name="delay"/> longer to become durable once their bytes are written (a
/// slow <c>fsync</c>): counts the packs begun, the most writes of packs in flight at once, and the packs whose bytes
/// began while another pack was still being made durable; can fail one pack's write.
/// </summary>
internal sealed class SlowDurabilityBackend(IBackupBackend inner, TimeSpan delay) : ForwardingBackend(inner)
{
    private int _inFlight, _durable, _packs, _most, _filledWhileDurable;

    /// <summary>The pack (1 for the first) whose write fails with an <see cref="InjectedFault"/>; 0 for none.</summary>
    public int FailPack { get; init; }

    public int Packs => Volatile.Read(ref _packs);

    public int MostInFlight => Volatile.Read(ref _most);

    public int FilledWhileDurable => Volatile.Read(ref _filledWhileDurable);

    public override async Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        if (!name.StartsWith(RepositoryNames.Data + "/", StringComparison.Ordinal))
        {
            await base.WriteAsync(name, write, cancellationToken);
            return;
        }

        if (Interlocked.Increment(ref _packs) == FailPack)
        {
            throw new InjectedFault($"injected: pack {FailPack} cannot be written");
        }

        var inFlight = Interlocked.Increment(ref _inFlight);
        for (var most = Volatile.Read(ref _most); inFlight > most && Interlocked.CompareExchange(ref _most, inFlight, most) != most; most = Volatile.Read(ref _most))
        {
        }

        try
        {
            await base.WriteAsync(name, async (stream, token) =>
            {
                if (Volatile.Read(ref _durable) > 0)
                {
                    Interlocked.Increment(ref _filledWhileDurable);
                }

                await write(stream, token);
            }, cancellationToken);
            Interlocked.Increment(ref _durable);
            try
            {
                await Task.Delay(delay, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _durable);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

}

/// <summary>
/// A backend of two uploads at once (as an object store is): the first pack's upload fails on its own after 200 ms;
/// the others hang until the run is stopped, then fail as a cut connection does, not as a cancellation.
/// </summary>
internal sealed class CutOffBackend(IBackupBackend inner) : ForwardingBackend(inner), IBackupBackend
{
    private int _packs;

    int IBackupBackend.ConcurrentWrites => 2;

    public override async Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        if (!name.StartsWith(RepositoryNames.Data + "/", StringComparison.Ordinal))
        {
            await base.WriteAsync(name, write, cancellationToken);
            return;
        }

        if (Interlocked.Increment(ref _packs) == 1)
        {
            await Task.Delay(200, cancellationToken);
            throw new InjectedFault("injected: the pack upload failed");
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            throw new IOException("cut off: the connection was closed");
        }
    }
}

/// <summary>The failure a fault hook throws, told apart from anything the code under test throws.</summary>
internal sealed class InjectedFault(string message) : IOException(message);

/// <summary>
/// A <see cref="TimeProvider"/> whose time and timers move only when the test says (PeriodicTimer needs real timer
/// support, which <see cref="ManualClock"/> does not have). Due callbacks run synchronously inside <see cref="Advance"/>.
/// </summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    public TaskCompletionSource TimerCreated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int TimersCreated { get; private set; }

    public int Fired { get; private set; }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_lock)
        {
            timer.Set(_now, dueTime, period);
            _timers.Add(timer);
            TimersCreated++;
        }

        TimerCreated.TrySetResult();
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        List<ManualTimer> due = [];
        lock (_lock)
        {
            _now += by;
            foreach (var timer in _timers)
            {
                while (timer.Due is { } at && at <= _now)
                {
                    due.Add(timer);
                    timer.Due = timer.Period > TimeSpan.Zero && timer.Period != Timeout.InfiniteTimeSpan ? at + timer.Period : null;
                }
            }
        }

        foreach (var timer in due)
        {
            Fired++;
            timer.Callback(timer.State);
        }
    }

    private void Remove(ManualTimer timer)
    {
        lock (_lock)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;

        public object? State { get; } = state;

        public DateTimeOffset? Due { get; set; }

        public TimeSpan Period { get; private set; }

        public void Set(DateTimeOffset now, TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? null : now + dueTime;
            Period = period;
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._lock)
            {
                Set(owner._now, dueTime, period);
            }

            return true;
        }

        public void Dispose() => owner.Remove(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
