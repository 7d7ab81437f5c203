using System.IO.Enumeration;
using System.Runtime.ExceptionServices;
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
/// Walks the search paths without following symbolic links, and reads each name's identity (<c>lstat</c>) as its folder
/// is read. An unreadable folder is reported and skipped; a folder reached twice (overlapping search paths) is walked once.
/// </summary>
/// <remarks>
/// Folders are read on several threads at once, each name stat'ed relative to its folder (open once) right after its
/// folder's entries are read: the walk and the stats used to be two passes, the first on one core (a search of 10k
/// small files spent ~10 ms of its ~65 there). A folder's names go into the table together, so they follow one another
/// as <see cref="NameTable"/>'s users expect; the order of the folders differs from run to run, and nothing that is
/// reported depends on it (groups, names and problems are put in path order).
/// </remarks>
internal static class TreeWalker
{
    /// <summary>
    /// Names one thread handles from one open folder, at most: a large folder's names are stat'ed, and later read, on all
    /// cores in runs of this many.
    /// </summary>
    public const int RunLength = 256;

    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = false,
        // Hidden files are files too (jdupes includes them by default).
        AttributesToSkip = 0,
        ReturnSpecialDirectories = false,
    };

    /// <summary>
    /// The names found under <paramref name="roots"/> (files, symbolic links and other entries; not folders), and the
    /// identity of each, by index. A name that vanished before it was stat'ed is left out; one that cannot be stat'ed
    /// is a problem, and left out.
    /// </summary>
    public static (NameTable Names, IdentityList Identities) Walk(IReadOnlyList<(string Path, FileIdentity Identity)> roots, List<DuplicateProblem> problems,
        Action<long> onFound, int parallelism, CancellationToken cancellationToken)
    {
        var walk = new Walker(problems, onFound, cancellationToken);
        for (var root = 0; root < roots.Count; root++)
        {
            var (path, identity) = roots[root];
            switch (identity.Kind)
            {
                case FileKind.Regular:
                    walk.AddFile(path, root, identity);
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

            if (walk.FirstVisit(identity))
            {
                // One search path after the other, so that a folder under two of them counts under the first.
                walk.Run(path, root, parallelism);
            }
        }

        return (walk.Names, walk.Identities);
    }

    /// <summary>The shared state of one walk: folders waiting to be read, and what was found (all under one lock).</summary>
    private sealed class Walker(List<DuplicateProblem> problems, Action<long> onFound, CancellationToken cancellationToken)
    {
        private readonly object _lock = new();
        private readonly HashSet<(ulong, ulong)> _visited = [];
        private readonly Stack<string> _waiting = new();
        private int _reading; // folders being read now
        private bool _stopped;

        public NameTable Names { get; } = new();

        /// <summary>The identity of each name, by index.</summary>
        public IdentityList Identities { get; } = new();

        public void AddFile(string path, int root, FileIdentity identity)
        {
            Names.Add(Names.AddFolder(System.IO.Path.GetDirectoryName(path) ?? "", root), System.IO.Path.GetFileName(path.AsSpan()));
            Identities.Add(identity);
        }

        /// <summary>Whether a folder is seen for the first time (always, where there are no inodes to tell).</summary>
        public bool FirstVisit(FileIdentity folder)
        {
            lock (_lock)
            {
                return Visit(folder);
            }
        }

        /// <summary>As <see cref="FirstVisit"/>, under the lock.</summary>
        private bool Visit(FileIdentity folder) => !FileIdentity.HasInodes || _visited.Add((folder.Device, folder.Inode));

        /// <summary>Walks the tree under <paramref name="top"/> with <paramref name="parallelism"/> threads; returns when all of it is read.</summary>
        public void Run(string top, int root, int parallelism)
        {
            _waiting.Push(top);
            var helpers = new Task[Math.Max(0, parallelism - 1)];
            for (var i = 0; i < helpers.Length; i++)
            {
                // Threads of their own: a walker waits for folders (Monitor.Wait), which the thread pool does not make up for,
                // and a large folder's stats run on the pool's threads.
                helpers[i] = Task.Factory.StartNew(() => Work(root, parallelism), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }

            ExceptionDispatchInfo? failure = null;
            try
            {
                Work(root, parallelism);
            }
#pragma warning disable CA1031 // rethrown below, once the helpers have stopped
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ExceptionDispatchInfo.Capture(ex);
                Stop();
            }

            try
            {
                Task.WaitAll(helpers);
            }
            catch (AggregateException ex) when (failure is null)
            {
                failure = ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]);
            }
            catch (AggregateException)
            {
                // this thread's own failure is the one reported
            }

            failure?.Throw();
        }

        private void Work(int root, int parallelism)
        {
            var found = new Found(parallelism, cancellationToken);
            try
            {
                while (Next() is { } folder)
                {
                    Read(folder, found);
                    Finish(folder, root, found);
                }
            }
            catch
            {
                Stop(); // the others stop too, rather than wait for this folder's subfolders
                throw;
            }
        }

        /// <summary>The next folder to read; null once none is waiting and none is being read (which could add more), or when stopped.</summary>
        private string? Next()
        {
            lock (_lock)
            {
                while (true)
                {
                    if (_stopped || cancellationToken.IsCancellationRequested)
                    {
                        _stopped = true;
                        Monitor.PulseAll(_lock);
                        cancellationToken.ThrowIfCancellationRequested();
                        return null;
                    }

                    if (_waiting.TryPop(out var folder))
                    {
                        _reading++;
                        return folder;
                    }

                    if (_reading == 0)
                    {
                        return null;
                    }

                    Monitor.Wait(_lock);
                }
            }
        }

        private void Stop()
        {
            lock (_lock)
            {
                _stopped = true;
                Monitor.PulseAll(_lock);
            }
        }

        /// <summary>Reads one folder's entries and stats each (outside the lock): names into <paramref name="found"/>.</summary>
        private static void Read(string folder, Found found)
        {
            found.Clear();
            var fd = UnixFileCalls.TryOpenFolderPath(folder);
            try
            {
                try
                {
                    // IsDirectory comes from the directory entry's type; a file's name is kept as a slice of one buffer, without a string.
                    var entries = new FileSystemEnumerable<bool>(folder, (ref FileSystemEntry e) =>
                    {
                        found.Entry(e.FileName, e.IsDirectory);
                        return true;
                    }, OneLevel);
                    foreach (var _ in entries)
                    {
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    found.Problems.Add(new DuplicateProblem(folder, $"could not be read ({ex.Message}); its files were skipped"));
                }

                found.Stat(folder, fd);
            }
            finally
            {
                UnixFileCalls.Close(fd);
            }
        }

        /// <summary>Adds one folder's findings: its names (in one run), its subfolders to read, its problems.</summary>
        private void Finish(string folder, int root, Found found)
        {
            int count;
            lock (_lock)
            {
                var id = Names.AddFolder(folder, root);
                for (var i = 0; i < found.Count; i++)
                {
                    if (found.Identity(i) is not { } identity)
                    {
                        continue;
                    }

                    if (found.IsFolder(i))
                    {
                        // A directory entry that is a symbolic link to a folder also says IsDirectory; lstat told them apart.
                        if (identity.Kind == FileKind.Directory && Visit(identity))
                        {
                            _waiting.Push(System.IO.Path.Join(folder, found.Name(i)));
                        }

                        continue;
                    }

                    Names.Add(id, found.Name(i));
                    Identities.Add(identity);
                }

                problems.AddRange(found.Problems);
                _reading--;
                Monitor.PulseAll(_lock);
                count = Names.Count;
            }

            onFound(count); // outside the lock: a caller's progress may take its time, or cancel
        }
    }

    /// <summary>One folder's entries as one thread reads them: names in one reused buffer, each with its identity once stat'ed.</summary>
    private sealed class Found(int parallelism, CancellationToken cancellationToken)
    {
        private readonly List<(int Offset, int Length, bool Folder)> _entries = [];
        private FileIdentity?[] _identities = new FileIdentity?[64];
        private char[] _chars = new char[4096];
        private int _used;

        public List<DuplicateProblem> Problems { get; } = [];

        public int Count => _entries.Count;

        public void Clear()
        {
            _entries.Clear();
            Problems.Clear();
            _used = 0;
        }

        public void Entry(ReadOnlySpan<char> name, bool folder)
        {
            if (_chars.Length - _used < name.Length)
            {
                Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _used + name.Length));
            }

            name.CopyTo(_chars.AsSpan(_used));
            _entries.Add((_used, name.Length, folder));
            _used += name.Length;
        }

        public ReadOnlySpan<char> Name(int i) => _chars.AsSpan(_entries[i].Offset, _entries[i].Length);

        public bool IsFolder(int i) => _entries[i].Folder;

        /// <summary>The entry's identity; null when it vanished or could not be stat'ed (then it is a problem).</summary>
        public FileIdentity? Identity(int i) => _identities[i];

        /// <summary>lstat of every entry, relative to <paramref name="fd"/> (the folder, open) or by full path where it is not open.</summary>
        public void Stat(string folder, int fd)
        {
            if (_identities.Length < _entries.Count)
            {
                _identities = new FileIdentity?[Math.Max(_entries.Count, _identities.Length * 2)];
            }

            var runs = (_entries.Count + RunLength - 1) / RunLength;
            if (runs <= 1 || parallelism <= 1)
            {
                Stat(folder, fd, 0, _entries.Count);
                return;
            }

            Parallel.For(0, runs, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, r => Stat(folder, fd, r * RunLength, Math.Min(_entries.Count, (r + 1) * RunLength)));
        }

        private void Stat(string folder, int fd, int start, int end)
        {
            for (var i = start; i < end; i++)
            {
                var name = Name(i);
                var found = fd >= 0
                    ? FileIdentity.TryGetAt(fd, name, out var identity, out var errno)
                    : FileIdentity.TryGet(System.IO.Path.Join(folder, name), out identity, out errno);
                _identities[i] = found ? identity : null;
                if (!found && !FileIdentity.IsNotFound(errno))
                {
                    lock (Problems)
                    {
                        Problems.Add(new DuplicateProblem(System.IO.Path.Join(folder, name), $"could not be read ({FileIdentity.Describe(errno)}); skipped"));
                    }
                }
            }
        }
    }
}

/// <summary>
/// The identity of each name found, by index, in blocks that are never copied to grow: a list doubling its one array
/// would hold up to twice the ~48 bytes a name, and three times while it copies (~150 MB at 1M names).
/// </summary>
internal sealed class IdentityList
{
    private const int BlockShift = 12;
    private const int BlockLength = 1 << BlockShift;

    private readonly List<FileIdentity[]> _blocks = [];

    public int Count { get; private set; }

    /// <summary>The identity of name <paramref name="index"/>, by reference (a sort compares them by the hundred thousand).</summary>
    public ref readonly FileIdentity this[int index] => ref _blocks[index >> BlockShift][index & (BlockLength - 1)];

    public void Add(FileIdentity identity)
    {
        if ((Count & (BlockLength - 1)) == 0)
        {
            _blocks.Add(new FileIdentity[BlockLength]);
        }

        _blocks[^1][Count & (BlockLength - 1)] = identity;
        Count++;
    }
}
