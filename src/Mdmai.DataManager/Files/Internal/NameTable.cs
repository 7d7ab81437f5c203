namespace Mdmai.DataManager.Files.Internal;

/// <summary>
/// Every name the duplicate finder's walk found, kept small: each folder's path once, each file's own name in blocks of
/// characters shared by all, and 12 bytes a name to tie the two together. A full path is made only when a file is
/// opened, stat'ed or reported. Holding a full path string per name cost ~190 bytes a file, most of the search's
/// memory on trees of many small files (~17 MB at 100k files).
/// </summary>
internal sealed class NameTable
{
    /// <summary>Characters a block holds: 64 KiB, below the large-object heap's threshold, so blocks are never copied to grow.</summary>
    private const int BlockChars = 32 * 1024;

    private readonly List<string> _folders = [];
    private readonly List<int> _folderRoots = [];
    private readonly List<char[]> _blocks = [];
    private readonly List<Name> _names = [];
    private int _used = BlockChars;

    /// <summary>A name: its folder, and where its own characters are (block, offset, length).</summary>
    private readonly record struct Name(int Folder, int Block, ushort Offset, ushort Length);

    public int Count => _names.Count;

    /// <summary>
    /// Adds a folder whose names follow; <paramref name="root"/> is the index of the search path it was found under. The
    /// same folder added again for the same root (files named one by one on the command line) is the entry it already has.
    /// </summary>
    public int AddFolder(string path, int root)
    {
        if (_folders.Count > 0 && _folderRoots[^1] == root && string.Equals(_folders[^1], path, StringComparison.Ordinal))
        {
            return _folders.Count - 1;
        }

        _folders.Add(path);
        _folderRoots.Add(root);
        return _folders.Count - 1;
    }

    /// <summary>Adds a name in <paramref name="folder"/> (a name of a file is at most 255 bytes on every file system we run on).</summary>
    public void Add(int folder, ReadOnlySpan<char> name)
    {
        if (name.Length > ushort.MaxValue)
        {
            throw new PathTooLongException($"A name of {name.Length} characters in '{_folders[folder]}' is longer than any file system allows.");
        }

        if (BlockChars - _used < name.Length)
        {
            _blocks.Add(new char[Math.Max(BlockChars, name.Length)]);
            _used = 0;
        }

        name.CopyTo(_blocks[^1].AsSpan(_used));
        _names.Add(new Name(folder, _blocks.Count - 1, (ushort)_used, (ushort)name.Length));
        _used += name.Length;
    }

    /// <summary>The index of the search path the name was found under.</summary>
    public int Root(int index) => _folderRoots[_names[index].Folder];

    /// <summary>The folder (as added by <see cref="AddFolder"/>) the name is in.</summary>
    public int Folder(int index) => _names[index].Folder;

    /// <summary>The path of a folder added by <see cref="AddFolder"/>.</summary>
    public string FolderPath(int folder) => _folders[folder];

    /// <summary>The name's own characters, without its folder.</summary>
    public ReadOnlySpan<char> OwnName(int index) => Chars(_names[index]);

    /// <summary>The full path, as <see cref="System.IO.Path.Join(string, string)"/> makes it from the folder and the name.</summary>
    public string Path(int index)
    {
        var name = _names[index];
        var folder = _folders[name.Folder];
        return string.Create(Length(name, folder), (Table: this, Name: name, Folder: folder), static (span, s) => s.Table.Join(s.Name, s.Folder, span));
    }

    /// <summary>Compares two full paths ordinally (as <see cref="string.CompareOrdinal(string, string)"/>), without making them.</summary>
    public int Compare(int a, int b)
    {
        var x = _names[a];
        var y = _names[b];
        if (x.Folder == y.Folder)
        {
            return Chars(x).SequenceCompareTo(Chars(y));
        }

        var fx = _folders[x.Folder];
        var fy = _folders[y.Folder];
        var common = Math.Min(fx.Length, fy.Length);
        var byFolder = fx.AsSpan(0, common).SequenceCompareTo(fy.AsSpan(0, common));
        if (byFolder != 0)
        {
            return byFolder; // they differ inside both folders' paths: the names cannot change that
        }

        // One folder's path starts the other's (a folder and one below it, or "a" and "a-b"): compare the joined
        // paths, made on the stack when they are of a usual length.
        return CompareJoined(x, fx, y, fy);
    }

    private int CompareJoined(Name x, string fx, Name y, string fy)
    {
        const int OnStack = 512;
        var lx = Length(x, fx);
        var ly = Length(y, fy);
        var a = lx <= OnStack ? stackalloc char[OnStack] : new char[lx];
        var b = ly <= OnStack ? stackalloc char[OnStack] : new char[ly];
        return Join(x, fx, a).SequenceCompareTo(Join(y, fy, b));
    }

    private static int Length(Name name, string folder) => folder.Length + (NeedsSeparator(folder) ? 1 : 0) + name.Length;

    private ReadOnlySpan<char> Join(Name name, string folder, Span<char> into)
    {
        folder.CopyTo(into);
        var at = folder.Length;
        if (NeedsSeparator(folder))
        {
            into[at++] = System.IO.Path.DirectorySeparatorChar;
        }

        Chars(name).CopyTo(into[at..]);
        return into[..(at + name.Length)];
    }

    private ReadOnlySpan<char> Chars(Name name) => _blocks[name.Block].AsSpan(name.Offset, name.Length);

    private static bool NeedsSeparator(string folder) => folder.Length > 0 && folder[^1] != '/' && folder[^1] != System.IO.Path.DirectorySeparatorChar;
}
