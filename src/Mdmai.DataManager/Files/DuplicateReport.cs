using Mdmai.DataManager.Files.Internal;

namespace Mdmai.DataManager.Files;

/// <summary>What <see cref="DuplicateFinder.FindAsync"/> found: groups of identical files (by their bytes, or by their digests: see <see cref="DuplicateFinder"/>), and the files it could not read.</summary>
public sealed class DuplicateReport
{
    internal DuplicateReport(IReadOnlyList<DuplicateGroup> groups, IReadOnlyList<DuplicateProblem> problems, long filesScanned, long bytesRead)
    {
        Groups = groups;
        Problems = problems;
        FilesScanned = filesScanned;
        BytesRead = bytesRead;
    }

    /// <summary>The groups of identical files, each with at least two distinct files, ordered by their first file.</summary>
    public IReadOnlyList<DuplicateGroup> Groups { get; }

    /// <summary>Files and folders that could not be read or were skipped for a reason worth telling (each named); the rest was still searched.</summary>
    public IReadOnlyList<DuplicateProblem> Problems { get; }

    /// <summary>Regular files seen (every name, hard links included; empty files and symbolic links are not counted).</summary>
    public long FilesScanned { get; }

    /// <summary>Bytes read from file contents to decide the groups.</summary>
    public long BytesRead { get; }

    /// <summary>Bytes that keeping one file of each group and removing the others would free.</summary>
    public long ReclaimableBytes => Groups.Sum(g => g.Size * (g.Files.Count - 1));
}

/// <summary>Files with byte-identical contents. Hard links to one file count as one file, listed by one name.</summary>
public sealed class DuplicateGroup
{
    internal DuplicateGroup(long size, IReadOnlyList<FoundFile> entries)
    {
        Size = size;
        Entries = entries;
        Files = entries.Select(e => e.Path).ToArray();
        HardLinks = entries.SelectMany(e => e.Paths.Skip(1)).ToArray();
    }

    /// <summary>The size of each file in bytes.</summary>
    public long Size { get; }

    /// <summary>
    /// One full path per distinct file, in the order of the search paths they were found under, then by ordinal path.
    /// <see cref="KeepRule.First"/> and <see cref="KeepRule.Last"/> refer to this order.
    /// </summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>
    /// Other names (hard links) that the search found for the files in <see cref="Files"/>. They are the same files, so
    /// they are not listed as duplicates; an action on a file acts on all of its names that the search found.
    /// </summary>
    public IReadOnlyList<string> HardLinks { get; }

    internal IReadOnlyList<FoundFile> Entries { get; }
}

/// <summary>A file or folder that was skipped, and why.</summary>
public sealed class DuplicateProblem
{
    internal DuplicateProblem(string path, string message)
    {
        Path = path;
        Message = message;
    }

    /// <summary>The full path of the file or folder.</summary>
    public string Path { get; }

    /// <summary>What went wrong, for people.</summary>
    public string Message { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>What to do with the duplicates of each group.</summary>
public enum DuplicateAction
{
    /// <summary>Replace each duplicate by a hard link to the kept file (atomically: a link in the same folder, renamed over the duplicate).</summary>
    Hardlink,
    /// <summary>Delete each duplicate; the kept file is never deleted.</summary>
    Delete,
}

/// <summary>Which file of a group is kept.</summary>
public enum KeepRule
{
    /// <summary>The file with the oldest last-write time (ties: the first in <see cref="DuplicateGroup.Files"/>).</summary>
    Oldest,
    /// <summary>The file with the newest last-write time (ties: the first in <see cref="DuplicateGroup.Files"/>).</summary>
    Newest,
    /// <summary>The first file of <see cref="DuplicateGroup.Files"/>.</summary>
    First,
    /// <summary>The last file of <see cref="DuplicateGroup.Files"/>.</summary>
    Last,
}

/// <summary>What <see cref="DuplicateFinder.ApplyAsync"/> did.</summary>
public sealed class DuplicateActionResult
{
    internal DuplicateActionResult(DuplicateAction action, KeepRule keep, IReadOnlyList<string> kept, IReadOnlyList<string> changed, long bytesFreed, IReadOnlyList<DuplicateProblem> skipped)
    {
        Action = action;
        Keep = keep;
        Kept = kept;
        Changed = changed;
        BytesFreed = bytesFreed;
        Skipped = skipped;
    }

    /// <summary>The action applied.</summary>
    public DuplicateAction Action { get; }

    /// <summary>The rule that chose the kept file of each group.</summary>
    public KeepRule Keep { get; }

    /// <summary>The kept file of each group that was acted on.</summary>
    public IReadOnlyList<string> Kept { get; }

    /// <summary>The paths that were deleted or replaced by a hard link.</summary>
    public IReadOnlyList<string> Changed { get; }

    /// <summary>Bytes freed: the size of each duplicate whose every name was removed or relinked.</summary>
    public long BytesFreed { get; }

    /// <summary>Files left alone, and why (changed since the search, no longer identical, an I/O error).</summary>
    public IReadOnlyList<DuplicateProblem> Skipped { get; }
}

/// <summary>Options of a <see cref="DuplicateFinder"/>.</summary>
public sealed class DuplicateFinderOptions
{
    /// <summary>Files read at the same time (default: <see cref="Environment.ProcessorCount"/>).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Candidates of one size compared byte by byte in one lockstep pass; larger sets are told apart by SHA-256 instead.</summary>
    internal int LockstepLimit { get; init; } = 64;

    /// <summary>Opens a file for reading; tests replace it to inject faults.</summary>
    internal Func<string, Microsoft.Win32.SafeHandles.SafeFileHandle>? OpenFile { get; init; }
}

/// <summary>The stage a search is in.</summary>
public enum DuplicateStage
{
    /// <summary>Walking the folders.</summary>
    Scanning,
    /// <summary>Reading the start and end of files that share a size (small files whole).</summary>
    Sampling,
    /// <summary>Comparing the remaining candidates byte by byte.</summary>
    Comparing,
}

/// <summary>How far a search is.</summary>
public sealed class DuplicateProgress
{
    internal DuplicateProgress(DuplicateStage stage, long filesScanned, long bytesRead, long bytesToRead)
    {
        Stage = stage;
        FilesScanned = filesScanned;
        BytesRead = bytesRead;
        BytesToRead = bytesToRead;
    }

    /// <summary>The current stage.</summary>
    public DuplicateStage Stage { get; }

    /// <summary>Regular files seen so far.</summary>
    public long FilesScanned { get; }

    /// <summary>Bytes of file contents read so far.</summary>
    public long BytesRead { get; }

    /// <summary>An upper bound of the bytes the current and later stages may read (0 while scanning).</summary>
    public long BytesToRead { get; }
}
