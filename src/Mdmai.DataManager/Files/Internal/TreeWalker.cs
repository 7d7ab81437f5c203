using System.IO.Enumeration;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Files.Internal;

/// <summary>
/// A distinct file (one inode) of a given size, with every name the search found for it (as indexes into the walk's
/// <see cref="NameTable"/> while the search runs; <see cref="Detach"/> turns them into paths for the report).
/// </summary>
internal sealed class FoundFile
{
    private NameTable? _table;
    private readonly int[] _names;
    private string[]? _paths;

    public FoundFile(NameTable table, int[] names, int root, FileIdentity identity)
    {
        _table = table;
        _names = names;
        Root = root;
        Identity = identity;
    }

    /// <summary>Every name, in search-path order then by ordinal path; the first is the one reported.</summary>
    public string[] Paths => _paths ?? [.. _names.Select(_table!.Path)];

    /// <summary>The name reported (made anew from the table on each use until <see cref="Detach"/>: it is used to open the file).</summary>
    public string Path => _paths?[0] ?? _table!.Path(_names[0]);

    /// <summary>The index of the first search path the file was found under.</summary>
    public int Root { get; }

    public FileIdentity Identity { get; }

    public long Size => Identity.Size;

    /// <summary>Makes the paths once and lets go of the walk's table (a report must not keep every name found alive).</summary>
    public void Detach()
    {
        _paths ??= Paths;
        _table = null;
    }

    /// <summary>The report order: search path first, then ordinal path.</summary>
    public static int Compare(FoundFile a, FoundFile b) => a.Root != b.Root ? a.Root.CompareTo(b.Root) : string.CompareOrdinal(a.Path, b.Path);
}

/// <summary>
/// Walks the search paths without following symbolic links. An unreadable folder is reported and skipped; a folder
/// reached twice (overlapping search paths) is walked once.
/// </summary>
internal static class TreeWalker
{
    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = false,
        // Hidden files are files too (jdupes includes them by default).
        AttributesToSkip = 0,
        ReturnSpecialDirectories = false,
    };

    public static NameTable Walk(IReadOnlyList<(string Path, FileIdentity Identity)> roots, List<DuplicateProblem> problems, Action<long> onFound, CancellationToken cancellationToken)
    {
        var names = new NameTable();
        var visited = new HashSet<(ulong, ulong)>();
        var stack = new Stack<string>();
        for (var root = 0; root < roots.Count; root++)
        {
            var (path, identity) = roots[root];
            switch (identity.Kind)
            {
                case FileKind.Regular:
                    names.Add(names.AddFolder(System.IO.Path.GetDirectoryName(path) ?? "", root), System.IO.Path.GetFileName(path.AsSpan()));
                    continue;
                case FileKind.SymbolicLink:
                    problems.Add(new DuplicateProblem(path, "is a symbolic link; links are never followed, give the path it points to instead"));
                    continue;
                case FileKind.Other:
                    problems.Add(new DuplicateProblem(path, "is not a regular file or a folder; skipped"));
                    continue;
                case FileKind.Directory:
                    break;
            }

            if (FileIdentity.HasInodes && !visited.Add((identity.Device, identity.Inode)))
            {
                continue;
            }

            stack.Push(path);
            while (stack.TryPop(out var folder))
            {
                cancellationToken.ThrowIfCancellationRequested();
                WalkFolder(folder, root, names, stack, visited, problems);
                onFound(names.Count);
            }
        }

        return names;
    }

    private static void WalkFolder(string folder, int root, NameTable names, Stack<string> stack, HashSet<(ulong, ulong)> visited, List<DuplicateProblem> problems)
    {
        var subfolders = new List<string>();
        var id = names.AddFolder(folder, root);
        try
        {
            // IsDirectory comes from the directory entry's type, without a stat call; files are stat'ed (lstat) later.
            // A file's name goes into the table as it is read, without a string of its own.
            var entries = new FileSystemEnumerable<string?>(folder, (ref FileSystemEntry e) =>
            {
                if (e.IsDirectory)
                {
                    return e.ToFullPath();
                }

                names.Add(id, e.FileName);
                return null;
            }, OneLevel);
            foreach (var subfolder in entries)
            {
                if (subfolder is not null)
                {
                    subfolders.Add(subfolder);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add(new DuplicateProblem(folder, $"could not be read ({ex.Message}); its files were skipped"));
        }

        // A directory entry that is a symbolic link to a folder also says IsDirectory; lstat tells them apart.
        for (var i = subfolders.Count - 1; i >= 0; i--)
        {
            var path = subfolders[i];
            if (!FileIdentity.TryGet(path, out var identity, out var errno))
            {
                if (!FileIdentity.IsNotFound(errno))
                {
                    problems.Add(new DuplicateProblem(path, $"could not be read ({FileIdentity.Describe(errno)}); skipped"));
                }

                continue;
            }

            if (identity.Kind == FileKind.Directory && (!FileIdentity.HasInodes || visited.Add((identity.Device, identity.Inode))))
            {
                stack.Push(path);
            }
        }
    }
}
