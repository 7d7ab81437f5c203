using System.Globalization;
using System.Text;

namespace Mdmai.Bench;

/// <summary>
/// A deterministic tree of many small files shaped like the folders users keep beside their rulebooks (an unpacked web
/// export, a VTT module, a code checkout): sizes log-normal around a median of a few KB with a long tail up to 8 MB,
/// HTML/JS/CSS/Markdown text that compresses, PNG/JPEG-like noise that does not, binaries in between, folders 2–7 deep
/// and up to a few dozen wide, and about a sixth of the files near-copies of another (one line changed).
/// <para>
/// Version <c>v</c> (1–4) of a tree is version <c>v − 1</c> with small edits: about 1 % of the files changed, 0.5 %
/// added, 0.3 % removed, each chosen by the seed — so the same (files, seed, version) always gives the same bytes, and
/// four versions are the shape of the published Kopia/restic/Borg comparisons.
/// </para>
/// </summary>
internal static class SmallFilesTree
{
    private static readonly string[] TextKinds = [".html", ".js", ".css", ".md", ".json", ".txt"];
    private static readonly string[] NoiseKinds = [".png", ".jpg", ".webp", ".ogg"];
    private static readonly string[] BinaryKinds = [".so", ".wasm", ".bin", ".dat"];
    private static readonly string[] Words = ("the dragon map token scene actor item spell journal compendium module handout initiative combat "
        + "dungeon room door trap treasure goblin kobold wizard cleric rogue fighter ranger paladin sorcerer druid bard warlock monk "
        + "function return const let var export import class this value index length render update style color margin padding").Split(' ');

    /// <summary>One file of the tree: its path (relative) and the version its content was last changed in.</summary>
    private readonly record struct Entry(string Path, int File, int Edited);

    /// <summary>
    /// Writes version <paramref name="version"/> of the tree of about <paramref name="files"/> files into <paramref name="root"/>
    /// (which must not exist); with <paramref name="tiny"/>, files of a few hundred bytes (median ~500, at most 64 KiB) — the
    /// 1M-file scale point. The <paramref name="seed"/> fixes every byte.
    /// </summary>
    public static (long Files, long Bytes, long MedianSize) Write(string root, int files, int version, int seed, bool tiny = false)
    {
        var entries = Entries(files, version, seed);
        var sizes = new List<long>(entries.Count);
        long bytes = 0;
        var buffer = new byte[9 * 1024 * 1024];
        foreach (var entry in entries)
        {
            var path = Path.Combine(root, entry.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var length = Content(entry, seed, buffer, tiny);
            File.WriteAllBytes(path, buffer.AsSpan(0, length).ToArray());
            sizes.Add(length);
            bytes += length;
        }

        sizes.Sort();
        return (entries.Count, bytes, sizes.Count == 0 ? 0 : sizes[sizes.Count / 2]);
    }

    /// <summary>Brings <paramref name="root"/>, holding version <paramref name="version"/> − 1, to <paramref name="version"/>: writes what changed or came, deletes what went.</summary>
    public static (long Changed, long Added, long Removed) Advance(string root, int files, int version, int seed)
    {
        var before = Entries(files, version - 1, seed).ToDictionary(e => e.Path, StringComparer.Ordinal);
        var after = Entries(files, version, seed);
        var buffer = new byte[9 * 1024 * 1024];
        long changed = 0, added = 0;
        foreach (var entry in after)
        {
            var known = before.Remove(entry.Path, out var old);
            if (known && old.Edited == entry.Edited)
            {
                continue;
            }

            var path = Path.Combine(root, entry.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, buffer.AsSpan(0, Content(entry, seed, buffer)).ToArray());
            if (known)
            {
                changed++;
            }
            else
            {
                added++;
            }
        }

        foreach (var gone in before.Keys)
        {
            File.Delete(Path.Combine(root, gone));
        }

        return (changed, added, before.Count);
    }

    /// <summary>The files of a version, in a fixed order.</summary>
    private static List<Entry> Entries(int files, int version, int seed)
    {
        var random = new Random(seed);
        var folders = Folders(files, random);
        var list = new List<Entry>(files + (files / 100 * version));
        for (var i = 0; i < files; i++)
        {
            list.Add(new Entry(FileName(folders, i, random), i, 1));
        }

        for (var v = 2; v <= version; v++)
        {
            var edits = new Random(Mix(seed, v));
            var count = list.Count;
            for (var k = 0; k < count / 100; k++)
            {
                var at = edits.Next(list.Count);
                list[at] = list[at] with { Edited = v };
            }

            for (var k = 0; k < count * 3 / 1000 && list.Count > 1; k++)
            {
                list.RemoveAt(edits.Next(list.Count));
            }

            for (var k = 0; k < count / 200; k++)
            {
                var file = files + (v * 1_000_000) + k;
                list.Add(new Entry(FileName(folders, file, edits), file, v));
            }
        }

        return list;
    }

    /// <summary>Folder paths, 2–7 deep, about 20 files each on average.</summary>
    private static List<string> Folders(int files, Random random)
    {
        var folders = new List<string> { "assets" };
        var depths = new List<int> { 0 }; // a folder's depth, kept beside it: at 1M files nearly every pick is too deep, and counting slashes each time took minutes
        var names = new[] { "modules", "packs", "scenes", "src", "lib", "vendor", "images", "tokens", "maps", "journal", "styles", "scripts", "audio", "lang", "templates", "dist" };
        var open = new List<int> { 0 }; // folders not at the depth cap yet
        while (folders.Count < Math.Max(4, files / 20))
        {
            // Up to 200k files a parent is any folder, and one at the cap is drawn again (the trees measured so far);
            // beyond, nearly every draw would be at the cap, so the parent is drawn among the folders that can take one.
            var pick = files <= 200_000 ? random.Next(folders.Count) : open[random.Next(open.Count)];
            if (depths[pick] >= 6)
            {
                continue;
            }

            if (depths[pick] + 1 < 6)
            {
                open.Add(folders.Count);
            }

            folders.Add($"{folders[pick]}/{names[random.Next(names.Length)]}-{folders.Count.ToString(CultureInfo.InvariantCulture)}");
            depths.Add(depths[pick] + 1);
        }

        return folders;
    }

    private static string FileName(List<string> folders, int file, Random random) =>
        $"{folders[random.Next(folders.Count)]}/{Words[random.Next(Words.Length)]}-{file.ToString(CultureInfo.InvariantCulture)}{Extension(file)}";

    /// <summary>
    /// The file a file's content comes from: itself, or — for every sixth file past the first hundred — one of the 96
    /// files before it that is not a near-copy itself, whose content it repeats but for one line (a near-copy).
    /// (Until 2026-12-06 the source was drawn among the earlier multiples of six, near-copies themselves, and followed
    /// down to the first hundred: a sixth of every tree came from 16 files, and a tree of 1M files took an hour to list.)
    /// </summary>
    private static int Source(int file, int seed)
    {
        if (file <= 100 || file % 6 != 0)
        {
            return file;
        }

        var source = file - 1 - new Random(Mix(seed, file, 3)).Next(96);
        return source % 6 == 0 ? source - 1 : source;
    }

    /// <summary>62 % text (HTML, JS, CSS, …), 26 % noise (images, audio), 12 % binaries; a near-copy has its source's kind.</summary>
    private static string Extension(int file)
    {
        var source = Source(file, 0);
        var random = new Random(Mix(source, 5));
        var kind = random.Next(100);
        return kind < 62 ? TextKinds[random.Next(TextKinds.Length)] : kind < 88 ? NoiseKinds[random.Next(NoiseKinds.Length)] : BinaryKinds[random.Next(BinaryKinds.Length)];
    }

    /// <summary>A seed from several numbers, the same in every process (HashCode's is randomised per process).</summary>
    private static int Mix(int a, int b, int c = 0)
    {
        var x = ((ulong)(uint)a * 0x9E3779B97F4A7C15UL) ^ ((ulong)(uint)b * 0xBF58476D1CE4E5B9UL) ^ ((ulong)(uint)c * 0x94D049BB133111EBUL);
        x ^= x >> 31;
        x *= 0xD6E8FEB86659FD93UL;
        return (int)(x ^ (x >> 32));
    }

    /// <summary>The bytes of a file at the version it was last edited in, into <paramref name="buffer"/>; returns the length.</summary>
    private static int Content(Entry entry, int seed, byte[] buffer, bool tiny = false)
    {
        // A sixth of the files are near-copies of an earlier one: the same content with one line changed (below).
        var random = new Random(Mix(seed, Source(entry.File, 0), 17));

        // Log-normal sizes: median e^8.3 ≈ 4 KB, σ 1.6 — a long tail, cut at 8 MB (tiny: median e^6.2 ≈ 500 bytes, cut at 64 KiB).
        var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var length = (int)Math.Clamp(Math.Exp((tiny ? 6.2 : 8.3) + (1.6 * normal)), 16, tiny ? 64 * 1024 : 8 * 1024 * 1024);
        var extension = Path.GetExtension(entry.Path);
        if (TextKinds.Contains(extension))
        {
            var written = 0;
            var line = new StringBuilder();
            while (written < length)
            {
                line.Clear();
                for (var w = random.Next(3, 12); w > 0; w--)
                {
                    line.Append(Words[random.Next(Words.Length)]).Append(' ');
                }

                line.Append('\n');
                var bytes = Encoding.ASCII.GetBytes(line.ToString());
                var take = Math.Min(bytes.Length, length - written);
                bytes.AsSpan(0, take).CopyTo(buffer.AsSpan(written));
                written += take;
            }
        }
        else if (NoiseKinds.Contains(extension))
        {
            random.NextBytes(buffer.AsSpan(0, length));
        }
        else
        {
            // Binaries: stretches of noise between stretches of zeros and repeats, about half compressible.
            for (var at = 0; at < length;)
            {
                var run = Math.Min(length - at, random.Next(64, 4096));
                if (random.Next(2) == 0)
                {
                    random.NextBytes(buffer.AsSpan(at, run));
                }
                else
                {
                    buffer.AsSpan(at, run).Fill((byte)random.Next(4));
                }

                at += run;
            }
        }

        // The edit that makes this file differ from its source, and from its own earlier versions: one line.
        var mark = Encoding.ASCII.GetBytes($"\n{entry.File.ToString(CultureInfo.InvariantCulture)} v{entry.Edited.ToString(CultureInfo.InvariantCulture)}\n");
        var place = new Random(Mix(seed, entry.File, entry.Edited)).Next(Math.Max(1, length - mark.Length));
        mark.AsSpan(0, Math.Min(mark.Length, length - place)).CopyTo(buffer.AsSpan(place));
        return length;
    }
}
