using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Mdmai.DataManager.Files.Internal;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Files;

/// <summary>
/// Finds byte-identical files in folders (a download folder before it is imported, say) and, on request, replaces the
/// duplicates by hard links or deletes them.
/// </summary>
/// <remarks>
/// Files are grouped by size. Files up to 64 KiB are then told apart by a 128-bit digest of their whole content
/// (XxHash128), read once, folder by folder, each name opened relative to its folder; equal digests make them
/// duplicates in the report (two different files collide by chance with a probability of about 2^-128; the digest is
/// not made to resist files crafted to collide). Larger files are grouped by an XxHash128 of their first and last 4 KiB,
/// and the remaining candidates are compared byte by byte, all of them side by side in one pass that reads each file
/// once; very large candidate sets are told apart by a full SHA-256 instead. An action compares the bytes again before
/// it touches a file (see <see cref="ApplyAsync"/>), so no file is deleted or linked unless its bytes equal the kept
/// one's. Reads run in parallel, bounded by
/// <see cref="DuplicateFinderOptions.MaxDegreeOfParallelism"/>, with pooled buffers: memory does not grow with file
/// sizes. Symbolic links are never followed and never reported; empty files are ignored; hard links to one file are
/// one file.
/// </remarks>
public sealed class DuplicateFinder
{
    private readonly DuplicateFinderOptions _options;
    private readonly FileContent _content;

    /// <summary>Creates a finder.</summary>
    /// <param name="options">Options; <see langword="null"/> for the defaults.</param>
    public DuplicateFinder(DuplicateFinderOptions? options = null)
    {
        _options = options ?? new DuplicateFinderOptions();
        if (_options.MaxDegreeOfParallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxDegreeOfParallelism, "MaxDegreeOfParallelism must be at least 1.");
        }

        _content = new FileContent(_options.OpenFile);
    }

    /// <summary>Finds the groups of identical files under the given files and folders (recursively).</summary>
    /// <param name="paths">Files and folders to search; overlapping paths are searched once.</param>
    /// <param name="progress">Receives the stage and the bytes read, now and then.</param>
    /// <param name="cancellationToken">Stops the search.</param>
    /// <returns>The groups, and the files and folders that could not be read (the rest was still searched).</returns>
    /// <exception cref="MdmaiException"><see cref="MdmaiErrorCode.NotFound"/>: a path does not exist (the message names it).</exception>
    public async Task<DuplicateReport> FindAsync(IReadOnlyList<string> paths, IProgress<DuplicateProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give at least one file or folder to search for duplicates.");
        }

        var roots = new List<(string, FileIdentity)>(paths.Count);
        foreach (var path in paths)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "An empty path was given; name a file or folder to search.");
            }

            var full = Path.GetFullPath(path);
            if (!FileIdentity.TryGet(full, out var identity, out var errno))
            {
                throw FileIdentity.IsNotFound(errno)
                    ? new MdmaiException(MdmaiErrorCode.NotFound, $"'{path}' does not exist; check the path and try again.")
                    : new MdmaiException(MdmaiErrorCode.Unknown, $"'{path}' cannot be read: {FileIdentity.Describe(errno)}.");
            }

            roots.Add((full, identity));
        }

        // The work is blocking file-system calls and hashing; it runs on the thread pool, not the caller's thread.
        return await Task.Run(() => Find(roots, progress, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Keeps one file of each group and deletes the others or replaces them by hard links to it. Right before a file is
    /// touched it is checked again: every name must still be the same file with the same size and last-write time as
    /// the search saw, and its bytes must still equal the kept file's; a file that fails is left alone and reported in
    /// <see cref="DuplicateActionResult.Skipped"/>. The kept file is never deleted or changed.
    /// </summary>
    /// <param name="report">A report from <see cref="FindAsync"/>.</param>
    /// <param name="action">Delete, or replace by hard links (atomically: a new link in the same folder renamed over the duplicate).</param>
    /// <param name="keep">Which file of each group to keep.</param>
    /// <param name="cancellationToken">Stops between files; what was done stays done.</param>
    /// <returns>What was kept, what was changed, the bytes freed and what was skipped.</returns>
    public async Task<DuplicateActionResult> ApplyAsync(DuplicateReport report, DuplicateAction action, KeepRule keep, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (!Enum.IsDefined(action))
        {
            throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown action.");
        }

        if (!Enum.IsDefined(keep))
        {
            throw new ArgumentOutOfRangeException(nameof(keep), keep, "Unknown keep rule.");
        }

        if (action == DuplicateAction.Hardlink && !OperatingSystem.IsLinux())
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Replacing duplicates by hard links is implemented on Linux only; use the report, or the delete action.");
        }

        return await Task.Run(() => Apply(report, action, keep, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private DuplicateReport Find(List<(string, FileIdentity)> roots, IProgress<DuplicateProgress>? progress, CancellationToken cancellationToken)
    {
        var problems = new List<DuplicateProblem>();
        var meter = new Meter(progress);
        // Every name with its identity (lstat: symbolic links, empty files and anything that is not a regular file drop
        // out below), read folder by folder on all cores.
        var (names, identities) = TreeWalker.Walk(roots, problems, found => meter.Report(DuplicateStage.Scanning, found, 0), _options.MaxDegreeOfParallelism, cancellationToken);
        var runs = FolderRuns(names);
        var failures = new ConcurrentBag<DuplicateProblem>();

        // Regular, non-empty files in order of size (then path, then order found): runs of one size are the candidate
        // sets, and a name reached twice (roots that overlap) sits next to itself and counts once. One array of
        // indexes, where a list per size and a set of every path cost ~130 bytes a file (~17 MB at 130k files).
        var candidates = new List<int>(names.Count);
        for (var i = 0; i < names.Count; i++)
        {
            if (identities[i] is { Kind: FileKind.Regular, Size: > 0 })
            {
                candidates.Add(i);
            }
        }

        candidates.Sort((a, b) =>
        {
            var bySize = identities[a].Size.CompareTo(identities[b].Size);
            if (bySize != 0)
            {
                return bySize;
            }

            var byPath = names.Compare(a, b);
            return byPath != 0 ? byPath : a.CompareTo(b);
        });
        var unique = 0;
        for (var k = 0; k < candidates.Count; k++)
        {
            if (unique == 0 || names.Compare(candidates[k], candidates[unique - 1]) != 0)
            {
                candidates[unique++] = candidates[k];
            }
        }

        candidates.RemoveRange(unique, candidates.Count - unique);
        var filesScanned = candidates.Count;
        meter.FilesScanned = filesScanned;

        // Names of one inode are one file. Sizes with fewer than two distinct files cannot hold a duplicate. Small
        // files are told apart by a digest of their whole content (one read each); larger ones are sampled first, so
        // that files that merely share a size are told apart by 8 KiB instead of by all their bytes, and then compared.
        var toCompare = new List<Work>();
        var toSample = new List<FoundFile>();
        var whole = new List<(int Start, int Count)>();
        for (int start = 0, end; start < candidates.Count; start = end)
        {
            var size = identities[candidates[start]].Size;
            for (end = start + 1; end < candidates.Count && identities[candidates[end]].Size == size; end++)
            {
            }

            if (end - start < 2)
            {
                continue;
            }

            if (size <= FileContent.WholeFileLimit)
            {
                whole.Add((start, end - start));
                continue;
            }

            var files = Distinct(CollectionsMarshal.AsSpan(candidates).Slice(start, end - start), names, identities);
            if (files.Count >= 2)
            {
                toSample.AddRange(files);
            }
        }

        var confirmed = new ConcurrentBag<List<FoundFile>>();
        var (digests, hashed) = DigestSmallFiles(names, identities, candidates, whole, runs, toSample.Count * 2L * FileContent.SampleBytes, failures, meter, cancellationToken);
        var keyed = ArrayPool<(UInt128 Digest, int At)>.Shared.Rent(whole.Count == 0 ? 0 : whole.Max(w => w.Count));
        try
        {
            foreach (var (start, count) in whole)
            {
                // Every name of a file goes with the digest of its first name in the run (the one read); sorted by digest
                // (then by place in the run, as before), names of equal digests are next to one another. No object a name: most
                // digests are unique, and a grouping each was most of what a search of many small files allocated.
                var run = CollectionsMarshal.AsSpan(candidates).Slice(start, count);
                var first = FirstOfFile(run, identities);
                var n = 0;
                for (var k = 0; k < count; k++)
                {
                    if (hashed[run[first[k]]])
                    {
                        keyed[n++] = (digests[run[first[k]]], k);
                    }
                }

                var byDigest = keyed.AsSpan(0, n);
                byDigest.Sort(static (a, b) => a.Digest != b.Digest ? a.Digest.CompareTo(b.Digest) : a.At.CompareTo(b.At));
                for (int i = 0, j; i < n; i = j)
                {
                    for (j = i + 1; j < n && byDigest[j].Digest == byDigest[i].Digest; j++)
                    {
                    }

                    if (j - i < 2)
                    {
                        continue;
                    }

                    var same = new int[j - i];
                    for (var x = 0; x < same.Length; x++)
                    {
                        same[x] = run[byDigest[i + x].At];
                    }

                    if (Distinct(same, names, identities) is { Count: >= 2 } files)
                    {
                        confirmed.Add(files);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<(UInt128, int)>.Shared.Return(keyed);
        }

        (digests, hashed) = (null, null); // 17 bytes a name, not needed while larger files are compared
        var sampled = new UInt128[toSample.Count];
        var readable = new bool[toSample.Count];
        Parallel.For(0, toSample.Count, ParallelOptions(cancellationToken), i =>
        {
            try
            {
                meter.Read(_content.Sample(toSample[i], out sampled[i]));
                readable[i] = true;
            }
            catch (Exception ex) when (FileContent.IsFileError(ex))
            {
                failures.Add(Unreadable(toSample[i].Path, ex));
            }
        });

        toCompare.AddRange(Enumerable.Range(0, toSample.Count)
            .Where(i => readable[i])
            .GroupBy(i => (toSample[i].Size, sampled[i]))
            .Where(same => same.Skip(1).Any())
            .Select(same => same.Select(i => toSample[i]).ToList())
            .Select(files => new Work(files[0].Size, files)));

        // Biggest work first, so that the last file read is not a large one started late.
        toCompare.Sort((a, b) => b.Bytes.CompareTo(a.Bytes));
        meter.Stage(DuplicateStage.Comparing, toCompare.Sum(w => w.Bytes));
        Parallel.ForEach(
            toCompare,
            ParallelOptions(cancellationToken),
            () => ArrayPool<byte>.Shared.Rent(FileContent.ArenaBytes),
            (work, _, arena) =>
            {
                foreach (var identical in Confirm(work.Files, arena, failures, meter, cancellationToken))
                {
                    confirmed.Add(identical);
                }

                return arena;
            },
            arena => ArrayPool<byte>.Shared.Return(arena));
        var groups = confirmed.ToList();
        foreach (var file in groups.SelectMany(g => g))
        {
            file.Detach();
        }

        problems.AddRange(failures);
        var result = groups
            .Select(g => g.Order(Comparer<FoundFile>.Create(FoundFile.Compare)).ToArray())
            .OrderBy(g => g[0], Comparer<FoundFile>.Create(FoundFile.Compare))
            .Select(g => new DuplicateGroup(g[0].Size, g))
            .ToArray();
        problems.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return new DuplicateReport(result, problems, filesScanned, meter.BytesRead);
    }

    /// <summary>The names in runs of one folder each (the walk adds a folder's names one after the other), at most <see cref="TreeWalker.RunLength"/> long.</summary>
    private static List<(int Start, int Count)> FolderRuns(NameTable names)
    {
        var runs = new List<(int, int)>();
        for (int start = 0, end; start < names.Count; start = end)
        {
            for (end = start + 1; end < names.Count && end - start < TreeWalker.RunLength && names.Folder(end) == names.Folder(start); end++)
            {
            }

            runs.Add((start, end - start));
        }

        return runs;
    }

    /// <summary>
    /// The digest (<see cref="FileContent.WholeDigest"/>) of every name of <paramref name="whole"/> (runs of
    /// <paramref name="candidates"/> of one small size), read folder by folder in <paramref name="runs"/>: each name is
    /// opened relative to its folder, opened once per run, where by full path the kernel would look up every folder of
    /// the path for each file (~15 % of the CPU of a search of 100k small files in deep folders was that lookup). Both
    /// arrays are indexed by name; a name that cannot be read is a problem, and is not <c>Hashed</c>.
    /// </summary>
    private (UInt128[] Digests, bool[] Hashed) DigestSmallFiles(NameTable names, IdentityList identities, List<int> candidates, List<(int Start, int Count)> whole,
        List<(int Start, int Count)> runs, long sampleBytes, ConcurrentBag<DuplicateProblem> failures, Meter meter, CancellationToken cancellationToken)
    {
        // One name of each file is read (hard links share its digest), and none in a run of names of one file alone.
        var digests = new UInt128[names.Count];
        var wanted = new bool[names.Count]; // and then: hashed
        long bytes = 0;
        foreach (var (start, count) in whole)
        {
            var run = CollectionsMarshal.AsSpan(candidates).Slice(start, count);
            var first = FirstOfFile(run, identities);
            var files = 0;
            for (var k = 0; k < count; k++)
            {
                files += first[k] == k ? 1 : 0;
            }

            for (var k = 0; files >= 2 && k < count; k++)
            {
                if (first[k] == k)
                {
                    wanted[run[k]] = true;
                    bytes += identities[run[k]].Size;
                }
            }
        }

        meter.Stage(DuplicateStage.Sampling, sampleBytes + bytes);

        Parallel.For(0, runs.Count, ParallelOptions(cancellationToken), () => ArrayPool<byte>.Shared.Rent(FileContent.WholeFileLimit), (r, _, buffer) =>
        {
            var (start, count) = runs[r];
            var folder = -1;
            try
            {
                for (var i = start; i < start + count; i++)
                {
                    if (!wanted[i])
                    {
                        continue;
                    }

                    if (folder == -1)
                    {
                        folder = UnixFileCalls.TryOpenFolderPath(names.FolderPath(names.Folder(i)));
                        folder = folder < 0 ? -2 : folder; // -2: by full path (not opened again for the next name)
                    }

                    try
                    {
                        digests[i] = _content.WholeDigest(folder, names, i, identities[i], buffer);
                        meter.Read(identities[i].Size);
                    }
                    catch (Exception ex) when (FileContent.IsFileError(ex))
                    {
                        wanted[i] = false;
                        meter.Skip(identities[i].Size);
                        failures.Add(Unreadable(names.Path(i), ex));
                    }
                }
            }
            finally
            {
                UnixFileCalls.Close(folder);
            }

            return buffer;
        }, buffer => ArrayPool<byte>.Shared.Return(buffer));
        return (digests, wanted);
    }

    /// <summary>
    /// For each name of <paramref name="indexes"/>, the position of the first of them that is the same file (inode): its
    /// own for most, since most names are their file's only name. Small sets are searched directly; a dictionary takes
    /// over where that would grow quadratic. Elsewhere than Linux every name is its own file.
    /// </summary>
    private static int[] FirstOfFile(ReadOnlySpan<int> indexes, IdentityList identities)
    {
        var first = new int[indexes.Length];
        var byInode = FileIdentity.HasInodes && indexes.Length > 32 ? new Dictionary<(ulong, ulong), int>(indexes.Length) : null;
        for (var k = 0; k < indexes.Length; k++)
        {
            first[k] = k;
            if (!FileIdentity.HasInodes)
            {
                continue;
            }

            var id = identities[indexes[k]];
            if (byInode is not null)
            {
                first[k] = byInode.TryAdd((id.Device, id.Inode), k) ? k : byInode[(id.Device, id.Inode)];
                continue;
            }

            for (var j = 0; j < k; j++)
            {
                if (first[j] == j && identities[indexes[j]].Device == id.Device && identities[indexes[j]].Inode == id.Inode)
                {
                    first[k] = j;
                    break;
                }
            }
        }

        return first;
    }

    /// <summary>Byte-identical classes of candidates that share size and sample.</summary>
    private List<List<FoundFile>> Confirm(List<FoundFile> files, byte[] arena, ConcurrentBag<DuplicateProblem> failures, Meter meter, CancellationToken cancellationToken)
    {
        if (files.Count <= Math.Min(_options.LockstepLimit, FileContent.ArenaBytes / 4096))
        {
            return _content.Partition(files, arena, (file, ex) => failures.Add(Unreadable(file.Path, ex)), meter.Read, cancellationToken);
        }

        // Too many to read side by side in bounded memory: SHA-256 (a cryptographic digest) tells them apart instead.
        var byDigest = new Dictionary<Digest, List<FoundFile>>();
        foreach (var file in files)
        {
            try
            {
                var digest = _content.Hash(file, arena, meter.Read, cancellationToken);
                (Slot(byDigest, digest) ??= []).Add(file);
            }
            catch (Exception ex) when (FileContent.IsFileError(ex))
            {
                failures.Add(Unreadable(file.Path, ex));
            }
        }

        return byDigest.Values.Where(g => g.Count >= 2).ToList();
    }

    /// <summary>The distinct files (inodes) among names of one size, each with all its names in report order.</summary>
    private static List<FoundFile> Distinct(ReadOnlySpan<int> indexes, NameTable names, IdentityList identities)
    {
        var firstOf = FirstOfFile(indexes, identities);
        var owners = new List<List<int>>(indexes.Length);
        var slot = new int[indexes.Length]; // of a file's first name: its place in owners
        for (var k = 0; k < indexes.Length; k++)
        {
            if (firstOf[k] == k)
            {
                slot[k] = owners.Count;
                owners.Add([indexes[k]]);
            }
            else
            {
                owners[slot[firstOf[k]]].Add(indexes[k]);
            }
        }

        var files = new List<FoundFile>(owners.Count);
        foreach (var owner in owners)
        {
            if (owner.Count > 1)
            {
                owner.Sort((a, b) => names.Root(a) != names.Root(b) ? names.Root(a).CompareTo(names.Root(b)) : names.Compare(a, b));
            }

            var first = owner[0];
            files.Add(new FoundFile(names, [.. owner], names.Root(first), identities[first]));
        }

        return files;
    }

    /// <summary>Candidates to compare: distinct files of one size whose samples matched.</summary>
    private readonly record struct Work(long Size, List<FoundFile> Files)
    {
        /// <summary>What comparing it reads, at most.</summary>
        public long Bytes => Size * Files.Count;
    }

    private static DuplicateProblem Unreadable(string path, Exception ex) =>
        new(path, $"could not be read ({ex.Message}); left out of the comparison");

    private static ref List<T>? Slot<TKey, T>(Dictionary<TKey, List<T>> dictionary, TKey key)
        where TKey : notnull
        => ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(dictionary, key, out _);

    private ParallelOptions ParallelOptions(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism, CancellationToken = cancellationToken };

    private DuplicateActionResult Apply(DuplicateReport report, DuplicateAction action, KeepRule keep, CancellationToken cancellationToken)
    {
        var kept = new List<string>();
        var changed = new List<string>();
        var skipped = new List<DuplicateProblem>();
        long freed = 0;
        foreach (var group in report.Groups)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var keeper = Choose(group.Entries, keep);
            if (!FileIdentity.TryGet(keeper.Path, out var now, out _) || !now.Unchanged(keeper.Identity))
            {
                skipped.Add(new DuplicateProblem(keeper.Path, "the file to keep changed since the search; its group was left alone"));
                continue;
            }

            var actedOn = false;
            foreach (var duplicate in group.Entries)
            {
                if (ReferenceEquals(duplicate, keeper))
                {
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    // The bytes are compared again right before acting: size and time can stay the same while content changes.
                    if (!_content.SameContent(keeper, duplicate, cancellationToken))
                    {
                        skipped.Add(new DuplicateProblem(duplicate.Path, "no longer identical to the kept file; left alone"));
                        continue;
                    }
                }
                catch (Exception ex) when (FileContent.IsFileError(ex))
                {
                    skipped.Add(new DuplicateProblem(duplicate.Path, $"could not be compared again ({ex.Message}); left alone"));
                    continue;
                }

                var done = 0;
                var links = 0u;
                foreach (var name in duplicate.Paths)
                {
                    if (!FileIdentity.TryGet(name, out var current, out _) || !current.Unchanged(duplicate.Identity) || current.SameInode(keeper.Identity))
                    {
                        skipped.Add(new DuplicateProblem(name, "changed since the search; left alone"));
                        continue;
                    }

                    links = current.LinkCount;
                    try
                    {
                        if (action == DuplicateAction.Delete)
                        {
                            File.Delete(name);
                        }
                        else
                        {
                            ReplaceByLink(keeper, name);
                        }

                        changed.Add(name);
                        done++;
                    }
                    catch (Exception ex) when (FileContent.IsFileError(ex))
                    {
                        skipped.Add(new DuplicateProblem(name, $"{ex.Message}; left alone"));
                    }
                }

                actedOn |= done > 0;

                // The space comes back only when no name of the duplicate is left, inside the search or outside it.
                if (done > 0 && done == duplicate.Paths.Length && links == 1)
                {
                    freed += duplicate.Size;
                }
            }

            if (actedOn)
            {
                kept.Add(keeper.Path);
            }
        }

        return new DuplicateActionResult(action, keep, kept, changed, freed, skipped);
    }

    /// <summary>A new hard link to the kept file in the duplicate's folder, checked, then renamed over the duplicate (atomic).</summary>
    private static void ReplaceByLink(FoundFile keeper, string path)
    {
        var folder = Path.GetDirectoryName(path)!;
        var temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.mdmai-link");
        UnixFileCalls.Link(keeper.Path, temp);
        try
        {
            // The link must point at the file that was compared, not at whatever the kept name means by now.
            if (!FileIdentity.TryGet(temp, out var linked, out _) || !linked.Unchanged(keeper.Identity))
            {
                throw new IOException("the file to keep changed while the link was made");
            }

            UnixFileCalls.Rename(temp, path);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        AtomicFile.FlushFolder(folder);
    }

    private static FoundFile Choose(IReadOnlyList<FoundFile> files, KeepRule keep) => keep switch
    {
        KeepRule.First => files[0],
        KeepRule.Last => files[^1],
        // MinBy/MaxBy return the first of equals: ties go to the earlier file.
        KeepRule.Oldest => files.MinBy(f => f.Identity.ModifiedNanoseconds)!,
        _ => files.MaxBy(f => f.Identity.ModifiedNanoseconds)!,
    };

    /// <summary>Counts bytes from many threads and reports progress at most every 100 ms.</summary>
    private sealed class Meter(IProgress<DuplicateProgress>? progress)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _bytesRead;
        private long _lastReport = -1000;
        private DuplicateStage _stage;
        private long _toRead;

        public long FilesScanned { get; set; }

        public long BytesRead => Interlocked.Read(ref _bytesRead);

        public void Stage(DuplicateStage stage, long toRead)
        {
            _stage = stage;
            _toRead = toRead + BytesRead;
            progress?.Report(new DuplicateProgress(stage, FilesScanned, BytesRead, _toRead));
        }

        public void Read(long bytes)
        {
            Interlocked.Add(ref _bytesRead, bytes);
            Tick();
        }

        /// <summary>Takes bytes the stage counted on but will not read (a file that could not be read) off what is left to read.</summary>
        public void Skip(long bytes) => Interlocked.Add(ref _toRead, -bytes);

        public void Report(DuplicateStage stage, long filesScanned, long toRead)
        {
            _stage = stage;
            FilesScanned = filesScanned;
            _toRead = toRead;
            Tick();
        }

        private void Tick()
        {
            if (progress is null)
            {
                return;
            }

            var now = _clock.ElapsedMilliseconds;
            var last = Interlocked.Read(ref _lastReport);
            if (now - last >= 100 && Interlocked.CompareExchange(ref _lastReport, now, last) == last)
            {
                progress.Report(new DuplicateProgress(_stage, FilesScanned, BytesRead, _toRead));
            }
        }
    }
}
