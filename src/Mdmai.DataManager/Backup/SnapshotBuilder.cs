using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Text.Json;
using System.Threading.Channels;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Backup;

/// <summary>
/// The archiver's pipeline, one snapshot run: a producer walks and chunks, workers hash/compress/seal, packers write
/// (on a disk one pack is filled while the last is made durable), one assembler builds the file list — every stage
/// bounded, the chunks in one arena taken at the start (ADR 0004).
/// </summary>
internal sealed class SnapshotBuilder
{
    private const int IndexFlushPacks = 32;

    /// <summary>
    /// An index file is written once this many blobs wait for one, whatever the packs: 32 packs of tiny files hold ~800k
    /// blobs, and their lists of entries (~50 bytes each) were held to the end of a backup of a million files. And each
    /// index file is made whole in memory (its entries, then compressed, then sealed: three copies on the large-object
    /// heap, which stay resident once written): at 65,536 blobs that was ~9 MB at the end of a first backup of 100k small
    /// files, whose peak dropped from 86–90 to 77–80 MB with 16,384 (three alternating runs each). A repository of 1M
    /// files then has ~60 index files of ~0.8 MB instead of ~16 (restic writes one per ~50,000 blobs).
    /// </summary>
    private const int IndexFlushBlobs = 16_384;
    private const int TreeBlobMax = 1024 * 1024;

    private readonly BackupRepository _repository;
    private readonly SnapshotOptions _options;
    private readonly IProgress<BackupProgress>? _progress;
    private readonly Task<string>? _capture;
    private PendingDatabase? _database;
    private readonly BlockArena _arena;
    private readonly Channel<ChunkJob> _work;
    // Deep enough for the producer to go on with the files after the database while the database is captured (when
    // it is full, the producer waits for the capture and chunks the database: the assembler is waiting for it).
    private readonly Channel<FileJob> _files = Channel.CreateBounded<FileJob>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true });
    private readonly Channel<SealedBlob> _sealed;
    private readonly ConcurrentDictionary<BlobId, byte> _pending = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<UInt128> _written = new();
    private readonly ConcurrentQueue<string> _writtenIndex = new();
    private long _fileCount, _directories, _bytes, _newFiles, _changed, _unchanged, _bytesRead, _newBlobs, _newBytes, _stored;
    private long _lastReport;
    private long _covered;
    private long? _estimate;

    public SnapshotBuilder(BackupRepository repository, SnapshotOptions options, IProgress<BackupProgress>? progress, Task<string>? capture)
    {
        _repository = repository;
        _options = options;
        _progress = progress;
        _capture = capture;
        _arena = new BlockArena(BackupRepository.ChunkArenaSize(repository.Chunker.Parameters.MaxSize, options.MemoryBudget));
        var workers = Math.Max(1, options.Parallelism);
        _work = Channel.CreateBounded<ChunkJob>(new BoundedChannelOptions(workers * 2) { SingleWriter = true });
        _sealed = Channel.CreateBounded<SealedBlob>(new BoundedChannelOptions(workers * 2) { SingleReader = true });
    }

    /// <summary>The packs this run wrote.</summary>
    public IReadOnlyCollection<UInt128> WrittenPacks => _written;

    /// <summary>The index files this run wrote.</summary>
    public IEnumerable<string> WrittenIndexFiles => _writtenIndex.Where(n => n.Length > 0);

    /// <summary>
    /// After the lock lapsed (the machine slept or was offline past the lock's time to live), a prune elsewhere may have
    /// run: it rewrites the index whenever it deletes an indexed pack, and deletes packs no index names. So the run's
    /// snapshot is written only when every index file it knew and every pack it wrote are still there.
    /// </summary>
    public async Task CheckNothingPrunedAsync(CancellationToken cancellationToken)
    {
        var repository = _repository;
        var written = WrittenPacks;
        var index = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Index, cancellationToken).ConfigureAwait(false))
        {
            index.Add(item.Name);
        }

        var packs = new HashSet<UInt128>();
        if (written.Count > 0)
        {
            await foreach (var item in repository.Backend.ListAsync(RepositoryNames.Data, cancellationToken).ConfigureAwait(false))
            {
                if (RepositoryNames.TryParsePack(item.Name, out var pack))
                {
                    packs.Add(pack);
                }
            }
        }

        List<string> known;
        lock (repository.IndexFiles)
        {
            known = [.. repository.IndexFiles];
        }

        if (known.Any(name => !index.Contains(name)) || written.Any(pack => !packs.Contains(pack)))
        {
            // This run's own index files may name packs the prune took: they go, so no later run trusts them.
            foreach (var name in WrittenIndexFiles)
            {
                await repository.Backend.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
            }

            throw new MdmaiException(MdmaiErrorCode.Locked,
                "This run's lock on the repository lapsed (the machine slept or was offline) and a prune ran meanwhile: data this snapshot needs may be gone, so it was not written. Run it again; what is still in the repository is reused.");
        }
    }

    /// <summary>Takes a snapshot of <paramref name="roots"/>, reusing what <paramref name="parent"/> holds of files that did not change.</summary>
    public Task<(IReadOnlyList<string> Tree, SnapshotStats Stats, IReadOnlyList<string> Errors)> RunAsync(List<Archiver.SourceRoot> roots, BackupRepository.SnapshotDocument? parent, CancellationToken cancellationToken) =>
        RunCoreAsync(ct => ProduceAsync(roots, parent, ct), parent?.Stats.Bytes, cancellationToken);

    /// <summary>
    /// Copies <paramref name="snapshot"/> of <paramref name="source"/> into this builder's repository (<c>backup copy</c>):
    /// the same file list, each file's content sent only where the target lacks it. With <paramref name="sameKeys"/>
    /// (the two repositories share their keys and chunk sizes) the chunks keep their ids and move sealed, each
    /// authenticated on the way; otherwise every file is read back from the source and chunked, hashed,
    /// compressed and sealed again as a backup would.
    /// </summary>
    public Task<(IReadOnlyList<string> Tree, SnapshotStats Stats, IReadOnlyList<string> Errors)> RunCopyAsync(BackupRepository source, BackupRepository.SnapshotDocument snapshot, bool sameKeys, CancellationToken cancellationToken) =>
        RunCoreAsync(ct => ProduceCopyAsync(source, snapshot, sameKeys, ct), snapshot.Stats.Bytes, cancellationToken);

    private async Task<(IReadOnlyList<string> Tree, SnapshotStats Stats, IReadOnlyList<string> Errors)> RunCoreAsync(Func<CancellationToken, Task> produce, long? estimate, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ct = cts.Token;
        _estimate = estimate;
        var workers = Enumerable.Range(0, Math.Max(1, _options.Parallelism)).Select(_ => Stage(() => WorkAsync(ct))).ToArray();
        var packer = Stage(() => PackAsync(ct));
        var assembler = StageOf(() => AssembleAsync(ct));
        var producer = Stage(() => produce(ct));
        var stages = new List<Task>(workers) { packer, assembler, producer };

        // Any stage that fails cancels the others at once: a stage upstream of it would otherwise wait on a full
        // channel for a reader that is gone, and the run would never end.
        Task Stage(Func<Task> body) => StageOf(async () =>
        {
            await body().ConfigureAwait(false);
            return true;
        });

        Task<T> StageOf<T>(Func<Task<T>> body) => Task.Run(async () =>
        {
            try
            {
                return await body().ConfigureAwait(false);
            }
            catch
            {
                await cts.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, ct);

        try
        {
            // Wait in pipeline order; a stage that fails has already cancelled the rest (StageOf).
            await producer.ConfigureAwait(false);
            await Task.WhenAll(workers).ConfigureAwait(false);
            var tree = await assembler.ConfigureAwait(false);
            _sealed.Writer.TryComplete();
            await packer.ConfigureAwait(false);
            var stats = new SnapshotStats
            {
                Files = _fileCount, Directories = _directories, Bytes = _bytes, NewFiles = _newFiles, ChangedFiles = _changed,
                UnchangedFiles = _unchanged, BytesRead = _bytesRead, NewBlobs = _newBlobs, NewBytes = _newBytes, StoredBytes = _stored,
                Errors = _errors.Count,
            };
            return (tree, stats, [.. _errors]);
        }
        catch (Exception ex)
        {
            await cts.CancelAsync().ConfigureAwait(false);
            _work.Writer.TryComplete();
            _files.Writer.TryComplete();
            _sealed.Writer.TryComplete();
            try
            {
                await Task.WhenAll(stages).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The first failure is the one reported.
            }

            // The stage awaited was cancelled because another failed: report that failure, not the cancellation.
            if (Pipeline.IsConsequence(ex) && !cancellationToken.IsCancellationRequested && Pipeline.FirstFailure(stages) is { } failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            throw;
        }
    }

    private async Task ProduceAsync(List<Archiver.SourceRoot> roots, BackupRepository.SnapshotDocument? parent, CancellationToken ct)
    {
        var scratch = GC.AllocateUninitializedArray<byte>(StreamChunker.BufferSize(_repository.Chunker.Parameters));
        var chunker = new StreamChunker(_repository.Chunker, scratch);
        await using var parentEntries = (parent is null ? EmptyTree() : _repository.ReadTreeAsync(parent, ct)).GetAsyncEnumerator(ct);
        var hasParent = await parentEntries.MoveNextAsync().ConfigureAwait(false);
        try
        {
            foreach (var root in roots)
            {
                foreach (var item in Walk(root))
                {
                    ct.ThrowIfCancellationRequested();
                    while (hasParent && PathOrder.Instance.Compare(parentEntries.Current.Path, item.Path) < 0)
                    {
                        hasParent = await parentEntries.MoveNextAsync().ConfigureAwait(false);
                    }

                    var previous = hasParent && parentEntries.Current.Path == item.Path ? parentEntries.Current : null;
                    if (_database is not null && _capture!.IsCompleted)
                    {
                        await ChunkDatabaseAsync(chunker, ct).ConfigureAwait(false);
                    }

                    await ProduceItemAsync(item, previous, chunker, ct).ConfigureAwait(false);
                }
            }

            if (_database is not null)
            {
                await ChunkDatabaseAsync(chunker, ct).ConfigureAwait(false);
            }
        }
        catch when (_database is { } database)
        {
            // The run fails before the database's turn came: the assembler must not wait for it.
            database.Outcome.TrySetCanceled(CancellationToken.None);
            database.Chunks.TryComplete();
            throw;
        }
        finally
        {
            _work.Writer.TryComplete();
            _files.Writer.TryComplete();
        }
    }

    private async Task ProduceCopyAsync(BackupRepository source, BackupRepository.SnapshotDocument snapshot, bool sameKeys, CancellationToken ct)
    {
        var scratch = GC.AllocateUninitializedArray<byte>(StreamChunker.BufferSize(_repository.Chunker.Parameters));
        var chunker = new StreamChunker(_repository.Chunker, scratch);
        var plain = sameKeys ? GC.AllocateUninitializedArray<byte>(source.Chunker.Parameters.MaxSize) : [];
        try
        {
            await foreach (var entry in source.ReadTreeAsync(snapshot, ct).ConfigureAwait(false))
            {
                ct.ThrowIfCancellationRequested();
                if (entry.Type != SnapshotEntryType.File)
                {
                    await WriteFileAsync(new FileJob(entry, entry.Type == SnapshotEntryType.Directory ? [] : null, null, null), chunker, ct).ConfigureAwait(false);
                    continue;
                }

                Interlocked.Increment(ref _newFiles);
                if (sameKeys)
                {
                    var known = entry.Chunks ?? [];
                    foreach (var hex in known)
                    {
                        await SendSealedAsync(source, BlobId.Parse(hex), entry, plain, ct).ConfigureAwait(false);
                    }

                    Interlocked.Add(ref _covered, entry.Size);
                    Report(entry.Path);
                    await WriteFileAsync(new FileJob(entry with { Chunks = known }, known, null, null), chunker, ct).ConfigureAwait(false);
                    continue;
                }

                var chunks = Channel.CreateUnbounded<Task<BlobId>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
                var outcome = new TaskCompletionSource<(long Size, string? Error)>(TaskCreationOptions.RunContinuationsAsynchronously);
                await WriteFileAsync(new FileJob(entry with { Chunks = null }, null, chunks.Reader, outcome.Task), chunker, ct).ConfigureAwait(false);
                try
                {
                    await using var content = new SnapshotFileStream(source, entry);
                    var size = await ChunkAsync(content.ReadAsync, entry, chunker, chunks.Writer, ct).ConfigureAwait(false);
                    if (size != entry.Size)
                    {
                        throw new MdmaiException(MdmaiErrorCode.Corrupt, $"'{entry.Path}' of snapshot {snapshot.Id[..8]} holds {size} bytes, not the {entry.Size} its entry says. Run 'mdmai backup verify' on the source.");
                    }

                    outcome.SetResult((size, null));
                }
                catch (Exception ex)
                {
                    outcome.TrySetException(ex);
                    throw;
                }
            }
        }
        finally
        {
            _work.Writer.TryComplete();
            _files.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Moves one sealed chunk from <paramref name="source"/> (same keys) to the packer, unless the target has it or it is
    /// on its way: read into the arena, authenticated (a damaged blob is never copied), then sent as it is.
    /// </summary>
    private async Task SendSealedAsync(BackupRepository source, BlobId id, TreeEntry entry, byte[] plain, CancellationToken ct)
    {
        if (!Claim(id))
        {
            return;
        }

        if (!source.Index.TryGet(id, out var location))
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"Chunk {id} of '{entry.Path}' is not in the source repository. Run 'mdmai backup verify' on it.");
        }

        var (block, none) = await _arena.AllocateAsync((int)location.StoredLength, 0, ct).ConfigureAwait(false);
        none.Dispose();
        try
        {
            var stored = block.Memory[..(int)location.StoredLength];
            var pack = RepositoryNames.Pack(location.Pack);
            await PackFormat.ReadExactlyAsync(source.Backend, pack, location.Offset, stored, ct).ConfigureAwait(false);
            source.AuthenticateBlob(id, stored.Span, plain, pack);
            Interlocked.Increment(ref _newBlobs);
            Interlocked.Add(ref _newBytes, location.RawLength);
            Interlocked.Add(ref _bytesRead, location.RawLength);
            await _sealed.Writer.WriteAsync(new SealedBlob(id, BlobType.Data, location.Compressed, location.RawLength, stored, block), ct).ConfigureAwait(false);
        }
        catch
        {
            block.Dispose();
            throw;
        }
    }

    private static async IAsyncEnumerable<TreeEntry> EmptyTree()
    {
        await Task.CompletedTask.ConfigureAwait(false);
        yield break;
    }

    private async Task ProduceItemAsync(WalkItem item, TreeEntry? previous, StreamChunker chunker, CancellationToken ct)
    {
        var entry = item.Entry;
        if (entry.Type != SnapshotEntryType.File)
        {
            await WriteFileAsync(new FileJob(entry, entry.Type == SnapshotEntryType.Directory ? [] : null, null, null), chunker, ct).ConfigureAwait(false);
            return;
        }

        if (item.Source == WalkSource.Reused && entry.Chunks is { } reused)
        {
            Interlocked.Increment(ref _unchanged);
            Interlocked.Add(ref _covered, entry.Size);
            await WriteFileAsync(new FileJob(entry, reused, null, null), chunker, ct).ConfigureAwait(false);
            return;
        }

        if (previous is { Type: SnapshotEntryType.File, Chunks: { } known } && item.Source != WalkSource.Captured && Unchanged(entry, previous)
            && known.All(c => _repository.Index.Contains(BlobId.Parse(c))))
        {
            Interlocked.Increment(ref _unchanged);
            Interlocked.Add(ref _covered, entry.Size);
            Report(entry.Path);
            await WriteFileAsync(new FileJob(entry with { Chunks = known }, known, null, null), chunker, ct).ConfigureAwait(false);
            return;
        }

        if (previous is null)
        {
            Interlocked.Increment(ref _newFiles);
        }
        else
        {
            Interlocked.Increment(ref _changed);
        }

        var chunks = Channel.CreateUnbounded<Task<BlobId>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var outcome = new TaskCompletionSource<(long Size, string? Error)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await WriteFileAsync(new FileJob(entry, null, chunks.Reader, outcome.Task), chunker, ct).ConfigureAwait(false);
        if (item.Source == WalkSource.Captured)
        {
            // The database's copy may not be ready yet: the producer goes on with the next files and chunks the
            // copy between two of them once it is (or when the assembler, waiting for it in order, has a full queue).
            _database = new PendingDatabase(entry, chunks.Writer, outcome);
            return;
        }

        await ChunkFileAsync(item.Absolute!, entry, chunker, chunks.Writer, outcome, ct, item.Folder, item.Name).ConfigureAwait(false);
    }

    /// <summary>Queues a file for the assembler; when the queue is full and the database's turn has not come, that turn is now.</summary>
    private async ValueTask WriteFileAsync(FileJob job, StreamChunker chunker, CancellationToken ct)
    {
        if (_files.Writer.TryWrite(job))
        {
            return;
        }

        if (_database is not null)
        {
            await ChunkDatabaseAsync(chunker, ct).ConfigureAwait(false);
        }

        await _files.Writer.WriteAsync(job, ct).ConfigureAwait(false);
    }

    /// <summary>Chunks the database's copy (waiting for the capture) with the producer's one chunker.</summary>
    private async Task ChunkDatabaseAsync(StreamChunker chunker, CancellationToken ct)
    {
        var database = _database!;
        _database = null;
        string path;
        try
        {
            path = await _capture!.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            database.Outcome.TrySetException(ex);
            database.Chunks.TryComplete();
            throw;
        }

        await ChunkFileAsync(path, database.Entry, chunker, database.Chunks, database.Outcome, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads <paramref name="source"/> (<paramref name="name"/> in <paramref name="folder"/> where that is open) once,
    /// front to back, handing each chunk to the workers and its id to the assembler.
    /// </summary>
    private async Task ChunkFileAsync(string source, TreeEntry entry, StreamChunker chunker, ChannelWriter<Task<BlobId>> chunks, TaskCompletionSource<(long Size, string? Error)> outcome, CancellationToken ct,
        int folder = -1, string? name = null)
    {
        var size = 0L;
        try
        {
            using var handle = (name is null ? null : UnixFileCalls.TryOpenForReadingAt(folder, name))
                ?? UnixFileCalls.TryOpenForReading(source)
                ?? File.OpenHandle(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long position = 0;
            ValueTask<int> Read(Memory<byte> buffer, CancellationToken token)
            {
                var n = UnixFileCalls.ReadAt(handle, buffer.Span, position);
                position += n;
                return ValueTask.FromResult(n);
            }

            size = await ChunkAsync(Read, entry, chunker, chunks, ct, read => size = read).ConfigureAwait(false);
            outcome.SetResult((size, null));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            outcome.SetResult((size, $"{source}: {ex.Message}"));
        }
        catch (Exception ex)
        {
            outcome.TrySetException(ex);
            throw;
        }
        finally
        {
            chunks.TryComplete();
        }
    }

    /// <summary>
    /// Chunks what <paramref name="read"/> gives, front to back, handing each chunk to the workers and its id to the
    /// assembler; returns the bytes read (<paramref name="progress"/> learns them as they go, for a failure's report).
    /// </summary>
    private async Task<long> ChunkAsync(Func<Memory<byte>, CancellationToken, ValueTask<int>> read, TreeEntry entry, StreamChunker chunker, ChannelWriter<Task<BlobId>> chunks, CancellationToken ct, Action<long>? progress = null)
    {
        long size = 0;
        try
        {
            chunker.Reset();
            while (true)
            {
                var chunk = await chunker.NextAsync(read, ct).ConfigureAwait(false);
                if (chunk.IsEmpty)
                {
                    break;
                }

                // The chunk goes where its sealed form will be (after the nonce), so an incompressible chunk is sealed in place.
                var (input, output) = await _arena.AllocateAsync(chunk.Length + RepositoryCrypto.Overhead, chunk.Length + RepositoryCrypto.Overhead, ct).ConfigureAwait(false);
                chunk.Span.CopyTo(input.Memory.Span[RepositoryCrypto.NonceSize..]);
                var job = new ChunkJob(input, output, chunk.Length, new TaskCompletionSource<BlobId>(TaskCreationOptions.RunContinuationsAsynchronously));
                chunks.TryWrite(job.Done.Task);
                await _work.Writer.WriteAsync(job, ct).ConfigureAwait(false);
                size += chunk.Length;
                progress?.Invoke(size);
                Interlocked.Add(ref _bytesRead, chunk.Length);
                Interlocked.Add(ref _covered, chunk.Length);
                Report(entry.Path);
            }

            return size;
        }
        finally
        {
            chunks.TryComplete();
        }
    }

    private static bool Unchanged(TreeEntry now, TreeEntry before) =>
        now.Size == before.Size && (IsStoreObject(now.Path)
            || (now.ModifiedNanoseconds == before.ModifiedNanoseconds && now.Inode == before.Inode && now.Device == before.Device));

    /// <summary>File store objects are named by their content and written once: same name and size is the same content.</summary>
    private static bool IsStoreObject(string path) => path.StartsWith("data/objects/", StringComparison.Ordinal);

    private void Report(string? current)
    {
        if (_progress is null)
        {
            return;
        }

        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastReport);
        if (now - last >= 100 && Interlocked.CompareExchange(ref _lastReport, now, last) == last)
        {
            // Bytes covered so far (read, or taken unchanged from the parent); the parent's size estimates the total.
            _progress.Report(new BackupProgress(Interlocked.Read(ref _fileCount), Interlocked.Read(ref _covered), null, _estimate, current));
        }
    }

    private async Task WorkAsync(CancellationToken ct)
    {
        using var compressor = new Compression.ZstdCompressor(_options.CompressionLevel);
        await foreach (var job in _work.Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            var id = _repository.Crypto.ComputeId(job.Input.Memory.Span.Slice(RepositoryCrypto.NonceSize, job.Length));
            if (!Claim(id))
            {
                job.Input.Dispose();
                job.Output.Dispose();
                job.Done.SetResult(id);
                continue;
            }

            var blob = Seal(id, BlobType.Data, job.Input, job.Output, job.Length, compressor);
            await _sealed.Writer.WriteAsync(blob, ct).ConfigureAwait(false);
            job.Done.SetResult(id);
        }
    }

    /// <summary>
    /// Seals a blob whose plaintext is at <see cref="RepositoryCrypto.NonceSize"/> in <paramref name="input"/>: compressed
    /// into <paramref name="output"/> when a sample says it pays (and it does), else in place. What is not used goes back
    /// to the arena at once.
    /// </summary>
    private SealedBlob Seal(BlobId id, BlobType type, ArenaBlock input, ArenaBlock output, int length, Compression.ZstdCompressor compressor)
    {
        Interlocked.Increment(ref _newBlobs);
        Interlocked.Add(ref _newBytes, length);
        Span<byte> idBytes = stackalloc byte[BlobId.Size];
        id.Write(idBytes);
        var data = input.Memory.Span.Slice(RepositoryCrypto.NonceSize, length);
        // Compressed only when it pays (the file store's rule), in one pass when the chunk is small.
        var compressed = Security.ObjectCodec.TryCompressIfWorth(compressor, data, output.Memory.Span.Slice(RepositoryCrypto.NonceSize, Math.Max(0, length - 1))); // -1: never larger than the data
        if (compressed > 0)
        {
            input.Dispose();
            output.Shrink(compressed + RepositoryCrypto.Overhead);
            _repository.Crypto.SealInPlace(output.Memory.Span, compressed, idBytes);
            return new SealedBlob(id, type, true, (uint)length, output.Memory[..(compressed + RepositoryCrypto.Overhead)], output);
        }

        output.Dispose();
        input.Shrink(length + RepositoryCrypto.Overhead);
        _repository.Crypto.SealInPlace(input.Memory.Span, length, idBytes);
        return new SealedBlob(id, type, false, (uint)length, input.Memory[..(length + RepositoryCrypto.Overhead)], input);
    }

    /// <summary>
    /// Packs sealed blobs and writes the packs, as many at once as the backend asks for (one for a disk, several for
    /// an object store, where each upload waits on the network); the index of the packs written goes out every
    /// <see cref="IndexFlushPacks"/> packs and at the end. A disk (one write at a time, no requests) gets two packers
    /// that take turns to fill a pack: one pack's flush to disk (<c>fsync</c>, ~50–90 ms for 16 MiB) runs while the
    /// next is filled, instead of stopping the whole pipeline behind it — its sealed blobs wait in a channel of a few,
    /// which small files fill at once. The packs are still filled one after the other, each with a run of the backup's
    /// blobs in order (what a restore reads together). One packer's failure stops the others at once.
    /// </summary>
    private async Task PackAsync(CancellationToken ct)
    {
        var pendingIndex = new List<(UInt128, IReadOnlyList<PackEntry>)>();
        var pendingBlobs = 0;
        using var indexTurn = new SemaphoreSlim(1, 1);
        var concurrent = Math.Max(1, _repository.Backend.ConcurrentWrites);
        using var fillTurn = concurrent == 1 && _repository.Backend.Requests is null ? new SemaphoreSlim(1, 1) : null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var packing = stop.Token;
        var reader = _sealed.Reader;

        Exception? failure = null; // the first packer's: what the others throw once stopped follows from it
        async Task PackerAsync()
        {
            try
            {
                await PackAllAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The other packers stop too, at once: they would go on filling packs to the end of the input. An
                // upload stopped part way may fail as a cut connection rather than as a cancellation.
                if (Interlocked.CompareExchange(ref failure, ex, null) is null)
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                }

                throw;
            }
        }

        async Task PackAllAsync()
        {
            while (true)
            {
                if (fillTurn is not null)
                {
                    await fillTurn.WaitAsync(packing).ConfigureAwait(false);
                }

                var filling = fillTurn is not null;
                void FillDone()
                {
                    if (filling)
                    {
                        filling = false;
                        fillTurn!.Release();
                    }
                }

                (UInt128 Pack, List<PackEntry> Entries, long Length) result;
                try
                {
                    if (!await reader.WaitToReadAsync(packing).ConfigureAwait(false))
                    {
                        return;
                    }

                    // A pack is begun only with a blob in hand: another packer may take the one this one woke for, and
                    // an empty pack would be an upload of nothing that no index names.
                    if (!reader.TryRead(out var first))
                    {
                        continue;
                    }

                    SealedBlob? pending = first;
                    result = await _repository.WritePackAsync(
                        async (written, token) =>
                        {
                            if (pending is { } taken)
                            {
                                pending = null;
                                return taken;
                            }

                            while (written < _repository.PackSize)
                            {
                                if (reader.TryRead(out var blob))
                                {
                                    return blob;
                                }

                                if (!await reader.WaitToReadAsync(token).ConfigureAwait(false))
                                {
                                    break;
                                }
                            }

                            FillDone(); // the pack's blobs are all in hand: the other packer fills the next while this one is made durable
                            return null;
                        },
                        packing).ConfigureAwait(false);
                }
                finally
                {
                    FillDone();
                }

                var (pack, entries, length) = result;
                Interlocked.Add(ref _stored, length);
                _written.Enqueue(pack);
                _repository.Index.Add(pack, entries);
                foreach (var entry in entries)
                {
                    // In the index now: the set of blobs on their way to a pack stays as small as the packs in flight,
                    // not as large as the backup (it was a dictionary node per blob kept to the end).
                    _pending.TryRemove(entry.Id, out _);
                }
                await indexTurn.WaitAsync(packing).ConfigureAwait(false);
                try
                {
                    pendingIndex.Add((pack, entries));
                    pendingBlobs += entries.Count;
                    if (pendingIndex.Count >= IndexFlushPacks || pendingBlobs >= IndexFlushBlobs)
                    {
                        _writtenIndex.Enqueue(await _repository.WriteIndexAsync(pendingIndex, packing).ConfigureAwait(false) ?? "");
                        pendingIndex.Clear();
                        pendingBlobs = 0;
                    }
                }
                finally
                {
                    indexTurn.Release();
                }
            }
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, fillTurn is null ? concurrent : 2).Select(_ => Task.Run(PackerAsync, packing))).ConfigureAwait(false);
        }
        catch when (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        if (await _repository.WriteIndexAsync(pendingIndex, ct).ConfigureAwait(false) is { } last)
        {
            _writtenIndex.Enqueue(last);
        }
    }

    private async Task<IReadOnlyList<string>> AssembleAsync(CancellationToken ct)
    {
        var tree = new List<string>();
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using var compressor = new Compression.ZstdCompressor(_options.CompressionLevel);
        await foreach (var job in _files.Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            var entry = job.Entry;
            if (job.Chunks is { } reader)
            {
                var ids = new List<string>();
                await foreach (var chunk in reader.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    // A chunk still queued when the run is cancelled is never sealed: its task never completes.
                    ids.Add((await chunk.WaitAsync(ct).ConfigureAwait(false)).ToString());
                }

                var (size, error) = await job.Outcome!.WaitAsync(ct).ConfigureAwait(false);
                if (error is not null)
                {
                    _errors.Enqueue(error);
                    continue;
                }

                entry = entry with { Chunks = ids, Size = size };
            }

            if (entry.Type == SnapshotEntryType.File)
            {
                Interlocked.Increment(ref _fileCount);
                Interlocked.Add(ref _bytes, entry.Size);
            }
            else if (entry.Type == SnapshotEntryType.Directory)
            {
                Interlocked.Increment(ref _directories);
            }

            if (buffer.WrittenCount > 0)
            {
                buffer.Write("\n"u8);
            }

            using (var json = new Utf8JsonWriter(buffer))
            {
                JsonSerializer.Serialize(json, entry, TreeEntry.Json.For<TreeEntry>());
            }

            // Content-defined boundaries between entries keep unchanged stretches of the list in identical blobs.
            if (buffer.WrittenCount >= TreeBlobMax || (XxHash32.HashToUInt32(System.Text.Encoding.UTF8.GetBytes(entry.Path)) & 0x7F) == 0)
            {
                tree.Add(await FlushTreeAsync(buffer, compressor, ct).ConfigureAwait(false));
            }
        }

        if (buffer.WrittenCount > 0 || tree.Count == 0)
        {
            tree.Add(await FlushTreeAsync(buffer, compressor, ct).ConfigureAwait(false));
        }

        return tree;
    }

    /// <summary>
    /// Whether this run is to store blob <paramref name="id"/>: not in the index, and not on its way to a pack already. The
    /// set is taken first and the index looked at second: a packer adds a pack's blobs to the index before it drops them
    /// from the set, so one of the two always shows a blob that is stored or being stored.
    /// </summary>
    private bool Claim(BlobId id)
    {
        if (!_pending.TryAdd(id, 0))
        {
            return false;
        }

        if (_repository.Index.Contains(id))
        {
            _pending.TryRemove(id, out _);
            return false;
        }

        return true;
    }

    private async Task<string> FlushTreeAsync(ArrayBufferWriter<byte> buffer, Compression.ZstdCompressor compressor, CancellationToken ct)
    {
        var id = _repository.Crypto.ComputeId(buffer.WrittenSpan);
        if (Claim(id))
        {
            var sealedSize = buffer.WrittenCount + RepositoryCrypto.Overhead;
            var (input, output) = await _arena.AllocateAsync(sealedSize, sealedSize, ct).ConfigureAwait(false);
            buffer.WrittenSpan.CopyTo(input.Memory.Span[RepositoryCrypto.NonceSize..]);
            var blob = Seal(id, BlobType.Tree, input, output, buffer.WrittenCount, compressor);
            _repository.TreeCache?.Write(id, blob.Data.Span); // the next backup reads its parent's file list from here
            await _sealed.Writer.WriteAsync(blob, ct).ConfigureAwait(false);
        }

        buffer.ResetWrittenCount();
        return id.ToString();
    }

    private IEnumerable<WalkItem> Walk(Archiver.SourceRoot root)
    {
        if (!FileIdentity.TryGet(root.Absolute, out var rootIdentity, out var errno))
        {
            _errors.Enqueue($"{root.Absolute}: {FileIdentity.Describe(errno)}");
            yield break;
        }

        foreach (var item in Walk(root, root.SnapshotPath, root.Absolute, rootIdentity, top: true))
        {
            yield return item;
        }
    }

    /// <summary>
    /// The entries under <paramref name="absolute"/>, in path order. Each folder is opened once (<c>O_PATH</c>, while its
    /// entries are walked and read) and its names are stat'ed and opened relative to it: by full path the kernel looks up
    /// every folder of the path again for each file. <paramref name="ownName"/> in <paramref name="parent"/> is
    /// <paramref name="absolute"/> in its folder, open so (-1: by its path).
    /// </summary>
    private IEnumerable<WalkItem> Walk(Archiver.SourceRoot root, string path, string absolute, FileIdentity identity, bool top, int parent = -1, string? ownName = null)
    {
        var entry = Entry(path, absolute, identity);
        if (entry is null)
        {
            yield break;
        }

        yield return new WalkItem(entry, WalkSource.File, absolute, parent, ownName);
        if (identity.Kind != FileKind.Directory)
        {
            yield break;
        }

        string[] names;
        try
        {
            names = [.. Directory.EnumerateFileSystemEntries(absolute).Select(Path.GetFileName).OfType<string>()];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _errors.Enqueue($"{absolute}: {ex.Message}");
            yield break;
        }

        var databaseStaged = top && root.IsDataFolder && (_capture is not null || ReusedDatabase is not null);
        if (top && root.IsDataFolder)
        {
            names = [.. names.Where(n => !BackupRepository.DatabaseFiles.Contains(n) && !BackupRepository.SkippedDataFolders.Contains(n) && !n.StartsWith(BackupRepository.RestoreJournalPrefix, StringComparison.Ordinal))];
            if (databaseStaged)
            {
                names = [.. names, BackupRepository.DatabaseFiles[0]];
            }
        }

        Array.Sort(names, StringComparer.Ordinal);
        var opened = UnixFileCalls.TryOpenFolderPath(absolute);
        try
        {
            foreach (var name in names)
            {
                var childPath = $"{path}/{name}";
                if (databaseStaged && name == BackupRepository.DatabaseFiles[0])
                {
                    if (ReusedDatabase is not null)
                    {
                        yield return new WalkItem(ReusedDatabase, WalkSource.Reused);
                    }
                    else if (FileIdentity.TryGet(Path.Combine(absolute, name), out var live, out _))
                    {
                        // The live file's metadata; its content is the copy being captured (its size comes with its chunks).
                        yield return new WalkItem(Entry(childPath, Path.Combine(absolute, name), live)! with { SourceStamp = DatabaseStampValue }, WalkSource.Captured);
                    }

                    continue;
                }

                var child = Path.Combine(absolute, name);
                if (IsExcluded(child))
                {
                    continue;
                }

                if (!(opened >= 0 ? FileIdentity.TryGetAt(opened, name, out var childIdentity, out var childErrno) : FileIdentity.TryGet(child, out childIdentity, out childErrno)))
                {
                    if (!FileIdentity.IsNotFound(childErrno))
                    {
                        _errors.Enqueue($"{child}: {FileIdentity.Describe(childErrno)}");
                    }

                    continue;
                }

                foreach (var item in Walk(root, childPath, child, childIdentity, top: false, opened, name))
                {
                    yield return item;
                }
            }
        }
        finally
        {
            UnixFileCalls.Close(opened);
        }
    }

    public IReadOnlyList<string> Excludes { get; init; } = [];

    /// <summary>The parent's database entry, when the database has not changed since (then it is not captured).</summary>
    public TreeEntry? ReusedDatabase { get; init; }

    /// <summary>The live database's stamp, recorded with its entry.</summary>
    public string? DatabaseStampValue { get; init; }

    private bool IsExcluded(string absolute) => Excludes.Count > 0 && Excludes.Contains(absolute, StringComparer.Ordinal);

    private static TreeEntry? Entry(string path, string absolute, FileIdentity identity)
    {
        var type = identity.Kind switch
        {
            FileKind.Regular => SnapshotEntryType.File,
            FileKind.Directory => SnapshotEntryType.Directory,
            FileKind.SymbolicLink => SnapshotEntryType.Symlink,
            _ => (SnapshotEntryType?)null,
        };
        if (type is null)
        {
            return null;
        }

        var mode = OperatingSystem.IsWindows() || type == SnapshotEntryType.Symlink ? 0
            : FileIdentity.HasInodes ? identity.Permissions // from the statx that found the entry: no second stat a file
            : (int)File.GetUnixFileMode(absolute);
        return new TreeEntry
        {
            Path = path,
            Type = type.Value,
            Mode = mode,
            Size = type == SnapshotEntryType.File ? identity.Size : 0,
            ModifiedNanoseconds = identity.ModifiedNanoseconds,
            Inode = identity.Inode,
            Device = identity.Device,
            LinkTarget = type == SnapshotEntryType.Symlink ? new FileInfo(absolute).LinkTarget : null,
        };
    }

    /// <summary>Where a walk item's content comes from.</summary>
    internal enum WalkSource
    {
        /// <summary>The file at <see cref="WalkItem.Absolute"/>, read as it is now.</summary>
        File,

        /// <summary>Taken whole from the parent snapshot (the unchanged database): nothing is read.</summary>
        Reused,

        /// <summary>The database, whose consistent copy SQLite captures beside the walk (see <c>CaptureDatabaseAsync</c>).</summary>
        Captured,
    }

    /// <summary>
    /// An entry the walk found, and where its content comes from (<paramref name="Absolute"/>: the file to read, for
    /// <see cref="WalkSource.File"/>; <paramref name="Name"/> in <paramref name="Folder"/>, open while the entry is
    /// handled, when that is not -1).
    /// </summary>
    internal readonly record struct WalkItem(TreeEntry Entry, WalkSource Source, string? Absolute = null, int Folder = -1, string? Name = null)
    {
        public string Path => Entry.Path;
    }

    /// <summary>A chunk at <see cref="RepositoryCrypto.NonceSize"/> in <see cref="Input"/>, with the room for its compressed copy.</summary>
    internal sealed record ChunkJob(ArenaBlock Input, ArenaBlock Output, int Length, TaskCompletionSource<BlobId> Done);

    /// <summary>The database's entry, queued for the assembler, while its copy waits for its turn with the chunker.</summary>
    internal sealed record PendingDatabase(TreeEntry Entry, ChannelWriter<Task<BlobId>> Chunks, TaskCompletionSource<(long Size, string? Error)> Outcome);

    internal sealed record FileJob(TreeEntry Entry, IReadOnlyList<string>? Known, ChannelReader<Task<BlobId>>? Chunks, Task<(long Size, string? Error)>? Outcome);
}
