using System.Collections.Concurrent;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Files.Internal;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Tests.Files;

public sealed class DuplicateFinderTests : IDisposable
{
    private static readonly DateTime Base = new(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc);
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Root => _temp.Path;

    private string Write(string relative, byte[] content, DateTime? modified = null)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        File.SetLastWriteTimeUtc(path, modified ?? Base);
        return path;
    }

    private string Link(string existing, string relative)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        UnixFileCalls.Link(existing, path);
        return path;
    }

    internal static byte[] Bytes(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static FileIdentity Identity(string path)
    {
        Assert.True(FileIdentity.TryGet(path, out var identity, out var errno), $"stat {path}: errno {errno}");
        return identity;
    }

    private static Task<DuplicateReport> Find(params string[] paths) => new DuplicateFinder().FindAsync(paths);

    private static string[][] Groups(DuplicateReport report) => report.Groups.Select(g => g.Files.ToArray()).ToArray();

    [Fact]
    public async Task Identical_files_in_nested_folders_are_grouped_and_different_files_are_not()
    {
        var photo = Bytes(1, 200_000);
        var a = Write("a/photo.jpg", photo);
        var b = Write("a/b/c/d/copy of photo.jpg", photo);
        var c = Write("z/.hidden-copy", photo);
        var small1 = Write("notes.txt", "the same words"u8.ToArray());
        var small2 = Write("x/y/notes (1).txt", "the same words"u8.ToArray());
        Write("other.txt", "other words...."u8.ToArray());
        Write("unique.bin", Bytes(2, 200_000));

        var report = await Find(Root);

        Assert.Equal([[b, a, c], [small1, small2]], Groups(report));
        Assert.Equal([200_000L, 14L], report.Groups.Select(g => g.Size));
        Assert.Equal(7, report.FilesScanned);
        Assert.Equal(14 + (2 * 200_000), report.ReclaimableBytes);
        Assert.Empty(report.Problems);
    }

    [Fact]
    public async Task Small_files_with_names_outside_ascii_are_read_from_their_folder_and_grouped_by_content()
    {
        // Small files are opened by their own name relative to their folder (UTF-8 from the name table).
        var words = "Ærøskøbing — 東京 — Ελλάδα"u8.ToArray();
        var a = Write("ünïcödé/ſpell-book.txt", words);
        var b = Write("深い/フォルダ/📜 scroll.txt", words);
        var changed = (byte[])words.Clone();
        changed[^1] ^= 1;
        Write("ünïcödé/other.txt", changed);

        var report = await Find(Root);

        var group = Assert.Single(report.Groups);
        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), group.Files.Order(StringComparer.Ordinal));
        Assert.Empty(report.Problems);
    }

    [Fact]
    public async Task Every_name_of_a_folder_longer_than_one_stat_run_and_of_the_folders_beside_it_is_found()
    {
        // Names are read relative to their folder, opened once per run of at most 256 names: 700 in one folder are
        // three runs, and the folders before and after it are runs of their own.
        var first = Write("a/first.txt", "one pair across folders"u8.ToArray());
        var big = Enumerable.Range(0, 700).Select(i => Write($"b/deep/er/{i:D4}.txt", System.Text.Encoding.UTF8.GetBytes($"pair {i / 2:D4}"))).ToArray();
        var last = Write("c/last.txt", "one pair across folders"u8.ToArray());
        Write("c/lonely.txt", "no other file has this size"u8.ToArray());

        var report = await Find(Root);

        Assert.Equal(703, report.FilesScanned);
        Assert.Equal(351, report.Groups.Count);
        Assert.Contains([first, last], Groups(report));
        Assert.Equal(big.Order(StringComparer.Ordinal), Groups(report).Where(g => g.Length == 2 && g[0].Contains("/b/", StringComparison.Ordinal)).SelectMany(g => g).Order(StringComparer.Ordinal));
        Assert.Empty(report.Problems);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task A_wide_and_deep_tree_walked_by_several_threads_finds_every_name_once(int threads)
    {
        // 60 folders three levels deep, each with a pair inside it and one half of a pair across folders, and one folder
        // of 600 entries (files, subfolders and a symbolic link to a folder) whose stats run in parallel chunks: the
        // folders are read by several threads at once; every name must be found once, the link never followed.
        var expected = new List<string[]>();
        for (var i = 0; i < 60; i++)
        {
            var folder = $"t{i % 3}/m{i % 7}/f{i}";
            expected.Add([Write($"{folder}/a.txt", System.Text.Encoding.UTF8.GetBytes($"pair in {i:D2}")), Write($"{folder}/b.txt", System.Text.Encoding.UTF8.GetBytes($"pair in {i:D2}"))]);
            Write($"{folder}/c.txt", System.Text.Encoding.UTF8.GetBytes($"across {i / 2:D2}"));
        }

        for (var i = 0; i < 580; i++)
        {
            Write($"wide/{i:D3}.bin", System.Text.Encoding.UTF8.GetBytes($"wide pair {i / 2:D3}"));
        }

        for (var i = 0; i < 19; i++)
        {
            Write($"wide/sub{i:D2}/only.txt", System.Text.Encoding.UTF8.GetBytes($"only one with this content and size {i:D2}!"));
        }

        File.CreateSymbolicLink(Path.Combine(Root, "wide", "loop"), Path.Combine(Root, "t0"));

        var report = await new DuplicateFinder(new DuplicateFinderOptions { MaxDegreeOfParallelism = threads }).FindAsync([Root]);

        Assert.Equal(180 + 580 + 19, report.FilesScanned);
        Assert.Equal(90 + 290, report.Groups.Count);
        foreach (var pair in expected)
        {
            Assert.Contains(pair.Order(StringComparer.Ordinal).ToArray(), Groups(report));
        }

        Assert.Equal(180 + 580, Groups(report).SelectMany(g => g).Distinct().Count());
        Assert.DoesNotContain(Groups(report).SelectMany(g => g), p => p.Contains("/loop/", StringComparison.Ordinal));
        Assert.Empty(report.Problems);
    }

    [Fact]
    public void A_walk_cancelled_from_its_progress_stops_with_the_cancellation_and_no_thread_left_waiting()
    {
        for (var i = 0; i < 200; i++)
        {
            Write($"w{i % 10}/f{i}/x.txt", System.Text.Encoding.UTF8.GetBytes($"file {i}"));
        }

        using var cancel = new CancellationTokenSource();
        var reports = 0;
        var walk = Task.Run(() => TreeWalker.Walk([(Root, Identity(Root))], [], _ =>
        {
            // After the first folder: the other walking threads must stop too, not wait for folders that never come.
            Interlocked.Increment(ref reports);
            cancel.Cancel();
        }, parallelism: 3, cancel.Token));

        Assert.ThrowsAny<OperationCanceledException>(() => walk.WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult());
        Assert.InRange(reports, 1, 3); // one a thread at most: no folder is started once cancelled
    }

    [Fact]
    public async Task Files_sharing_size_and_first_and_last_megabyte_but_not_a_middle_byte_are_not_grouped()
    {
        const int Mb = 1024 * 1024;
        var content = Bytes(3, (2 * Mb) + 4099);
        var original = Write("original.pdf", content);
        var copy = Write("copy.pdf", content);
        content[Mb + 2049] ^= 0x01;
        Write("almost.pdf", content);

        var report = await Find(Root);

        var group = Assert.Single(report.Groups);
        Assert.Equal([copy, original], group.Files.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(300_000)]
    [InlineData(50_000)]
    [InlineData(3)]
    public async Task Candidates_of_one_size_and_sample_split_into_every_class_of_identical_files(int size)
    {
        var content = Bytes(4, size);
        var a1 = Write("a1", content);
        var a2 = Write("a2", content);
        content[size / 2] ^= 0xFF;
        var b1 = Write("b1", content);
        var b2 = Write("b2", content);
        var b3 = Write("b3", content);
        content[size - 1] ^= 0xFF;
        Write("c", content);

        var report = await Find(Root);

        Assert.Equal([[a1, a2], [b1, b2, b3]], Groups(report));
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(100_000)]
    public async Task Candidate_sets_larger_than_the_lockstep_limit_are_told_apart_by_sha256(int size)
    {
        var content = Bytes(5, size);
        var same = Enumerable.Range(0, 4).Select(i => Write($"same{i}", content)).ToArray();
        content[size / 2] ^= 0x10;
        Write("different", content);
        var finder = new DuplicateFinder(new DuplicateFinderOptions { LockstepLimit = 2 });

        var report = await finder.FindAsync([Root]);

        Assert.Equal([same], Groups(report));
    }

    [Fact]
    public async Task Hard_links_to_one_file_are_one_file()
    {
        var content = Bytes(6, 10_000);
        var only = Write("only/original", content);
        Link(only, "only/link");
        var book = Write("books/book.pdf", Bytes(7, 90_000));
        var bookLink = Link(book, "books/x-again/book-link.pdf");
        var bookCopy = Write("books/z-copy.pdf", Bytes(7, 90_000));

        var report = await Find(Root);

        var group = Assert.Single(report.Groups);
        Assert.Equal([book, bookCopy], group.Files);
        Assert.Equal([bookLink], group.HardLinks);
        Assert.Equal(5, report.FilesScanned);
    }

    [Fact]
    public async Task A_small_file_is_read_by_one_name_and_its_hard_links_stay_with_it()
    {
        // Small files are keyed by a digest of one name of each file: another name of it is not read again, a size
        // held by one file's names alone reads nothing, and the group lists the links of the file it keeps.
        var content = Bytes(8, 3_000);
        var note = Write("a/note.txt", content);
        var noteLink = Link(note, "b/note-link.txt");
        var copy = Write("c/copy.txt", content);
        var lonely = Write("d/lonely.bin", Bytes(9, 5_000));
        Link(lonely, "d/lonely-link.bin");
        var opened = new ConcurrentBag<string>();
        var finder = new DuplicateFinder(new DuplicateFinderOptions { OpenFile = path => { opened.Add(path); return File.OpenHandle(path); } });

        var report = await finder.FindAsync([Root]);

        var group = Assert.Single(report.Groups);
        Assert.Equal([note, copy], group.Files);
        Assert.Equal([noteLink], group.HardLinks);
        Assert.Equal(new[] { copy, note }.Order(StringComparer.Ordinal), opened.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Symbolic_links_are_neither_followed_nor_reported()
    {
        var content = Bytes(8, 5_000);
        var outside = Path.Combine(_temp.Path, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllBytes(Path.Combine(outside, "copy"), content);
        var search = Path.Combine(Root, "search");
        var original = Write("search/original", content);
        File.CreateSymbolicLink(Path.Combine(search, "link-to-original"), original);
        Directory.CreateSymbolicLink(Path.Combine(search, "link-to-outside"), outside);

        var report = await Find(search);

        Assert.Empty(report.Groups);
        Assert.Equal(1, report.FilesScanned);
    }

    [Fact]
    public async Task A_search_path_that_is_a_symbolic_link_is_reported_not_followed()
    {
        var folder = Path.Combine(Root, "real");
        Write("real/a", [1, 2, 3]);
        Write("real/b", [1, 2, 3]);
        var link = Path.Combine(Root, "link");
        Directory.CreateSymbolicLink(link, folder);

        var report = await Find(link);

        Assert.Empty(report.Groups);
        var problem = Assert.Single(report.Problems);
        Assert.Equal(link, problem.Path);
        Assert.Contains("symbolic link", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Empty_files_are_ignored()
    {
        Write("empty1", []);
        Write("sub/empty2", []);
        Write("sub/empty3", []);

        var report = await Find(Root);

        Assert.Empty(report.Groups);
        Assert.Equal(0, report.FilesScanned);
    }

    [Fact]
    public async Task Overlapping_search_paths_report_each_file_once_in_the_order_of_the_paths()
    {
        var content = Bytes(9, 1_000);
        var inner = Write("downloads/inner/a", content);
        var outer = Write("downloads/b", content);
        var library = Write("library/c", content);

        var report = await Find(Path.Combine(Root, "library"), Path.Combine(Root, "downloads"), Path.Combine(Root, "downloads", "inner"), inner);

        Assert.Equal([[library, outer, inner]], Groups(report));
        Assert.Equal(3, report.FilesScanned);
    }

    [Fact]
    public async Task An_unreadable_file_is_reported_and_the_rest_is_still_searched()
    {
        var content = Bytes(10, 80_000);
        var a = Write("a", content);
        var b = Write("b", content);
        var locked = Write("locked", content);
        var small = Write("small-locked", [7, 7, 7]);
        Write("small2", [7, 7, 7]);
        var finder = new DuplicateFinder(new DuplicateFinderOptions
        {
            OpenFile = path => path == locked || path == small
                ? throw new UnauthorizedAccessException($"Access to the path '{path}' is denied.")
                : File.OpenHandle(path),
        });

        var report = await finder.FindAsync([Root]);

        Assert.Equal([[a, b]], Groups(report));
        Assert.Equal([locked, small], report.Problems.Select(p => p.Path));
        Assert.All(report.Problems, p => Assert.Contains("denied", p.Message, StringComparison.Ordinal));
    }

    [UnprivilegedFact]
    public async Task A_file_without_read_permission_is_reported_and_the_rest_is_still_searched()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // the attribute skips it there
        }

        var content = Bytes(11, 20_000);
        var a = Write("a", content);
        var b = Write("b", content);
        var locked = Write("locked", content);
        File.SetUnixFileMode(locked, UnixFileMode.None);

        var report = await Find(Root);

        Assert.Equal([[a, b]], Groups(report));
        Assert.Equal(locked, Assert.Single(report.Problems).Path);
    }

    [Fact]
    public async Task A_missing_path_is_not_found_and_named()
    {
        var missing = Path.Combine(Root, "no such folder");

        var error = await Assert.ThrowsAsync<MdmaiException>(() => Find(Root, missing));

        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Progress_reaches_every_stage_and_counts_the_bytes_read()
    {
        var content = Bytes(12, 300_000);
        Write("a", content);
        Write("b", content);
        var stages = new List<DuplicateStage>();
        var progress = new SynchronousProgress<DuplicateProgress>(p =>
        {
            lock (stages)
            {
                stages.Add(p.Stage);
            }
        });

        var report = await new DuplicateFinder().FindAsync([Root], progress);

        Assert.Contains(DuplicateStage.Sampling, stages);
        Assert.Contains(DuplicateStage.Comparing, stages);
        Assert.Equal((2 * 2 * FileContent.SampleBytes) + (2 * 300_000), report.BytesRead);
    }

    [Fact]
    public async Task Hardlink_action_makes_the_duplicates_share_the_kept_files_inode_and_keeps_the_content()
    {
        var content = Bytes(13, 150_000);
        var keep = Write("keep/book.pdf", content);
        var dup1 = Write("downloads/book.pdf", content);
        var dup2 = Write("downloads/more/book (1).pdf", content);
        var dupLink = Link(dup2, "downloads/more/book (2).pdf");
        var finder = new DuplicateFinder();
        var report = await finder.FindAsync([Path.Combine(Root, "keep"), Path.Combine(Root, "downloads")]);

        var result = await finder.ApplyAsync(report, DuplicateAction.Hardlink, KeepRule.First);

        Assert.Equal([keep], result.Kept);
        Assert.Equal([dup1, dup2, dupLink], result.Changed);
        Assert.Empty(result.Skipped);
        Assert.Equal(2 * 150_000, result.BytesFreed);
        var kept = Identity(keep);
        Assert.Equal(4u, kept.LinkCount);
        foreach (var path in new[] { keep, dup1, dup2, dupLink })
        {
            Assert.True(Identity(path).SameInode(kept), path);
            Assert.Equal(content, File.ReadAllBytes(path));
        }

        Assert.DoesNotContain(Directory.GetFiles(Root, "*", SearchOption.AllDirectories), f => f.EndsWith(".mdmai-link", StringComparison.Ordinal));
        Assert.Empty((await finder.FindAsync([Root])).Groups);
    }

    [Theory]
    [InlineData(KeepRule.First, "a")]
    [InlineData(KeepRule.Last, "d")]
    [InlineData(KeepRule.Oldest, "b")]
    [InlineData(KeepRule.Newest, "c")]
    public async Task Delete_action_keeps_exactly_the_file_the_rule_chooses(KeepRule rule, string expected)
    {
        var content = Bytes(14, 70_000);
        Write("a", content, Base.AddDays(2));
        Write("b", content, Base);
        Write("sub/c", content, Base.AddDays(3));
        Write("sub/d", content, Base.AddDays(1));
        Write("other", Bytes(15, 70_000));
        var finder = new DuplicateFinder();
        var report = await finder.FindAsync([Path.Combine(Root, "a"), Path.Combine(Root, "b"), Path.Combine(Root, "sub")]);

        var result = await finder.ApplyAsync(report, DuplicateAction.Delete, rule);

        var left = Directory.GetFiles(Root, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { expected, "other" }.Order(StringComparer.Ordinal), left);
        Assert.Equal(expected, Path.GetFileName(Assert.Single(result.Kept)));
        Assert.Equal(3, result.Changed.Count);
        Assert.Equal(3 * 70_000, result.BytesFreed);
        Assert.Equal(content, File.ReadAllBytes(Assert.Single(result.Kept)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_modified_between_find_and_apply_is_not_touched(bool keepSizeAndTime)
    {
        var content = Bytes(16, 90_000);
        var keep = Write("1-keep", content);
        var changed = Write("2-changed", content);
        var other = Write("3-other", content);
        var finder = new DuplicateFinder();
        var report = await finder.FindAsync([Root]);
        var edited = (byte[])content.Clone();
        edited[45_000] ^= 0x01;
        if (keepSizeAndTime)
        {
            // Same size, same last-write time: only comparing the bytes again can tell.
            File.WriteAllBytes(changed, edited);
            File.SetLastWriteTimeUtc(changed, Base);
        }
        else
        {
            File.WriteAllBytes(changed, [.. edited, 1]);
        }

        var result = await finder.ApplyAsync(report, DuplicateAction.Delete, KeepRule.First);

        Assert.Equal([other], result.Changed);
        Assert.Equal(changed, Assert.Single(result.Skipped).Path);
        Assert.True(File.Exists(keep));
        Assert.Equal(keepSizeAndTime ? edited : [.. edited, 1], File.ReadAllBytes(changed));
    }

    [Fact]
    public async Task When_the_file_to_keep_changed_its_group_is_left_alone()
    {
        var content = Bytes(17, 3_000);
        var keep = Write("1-keep", content);
        var dup = Write("2-dup", content);
        var finder = new DuplicateFinder();
        var report = await finder.FindAsync([Root]);
        File.AppendAllText(keep, "more");

        var result = await finder.ApplyAsync(report, DuplicateAction.Hardlink, KeepRule.First);

        Assert.Empty(result.Changed);
        Assert.Empty(result.Kept);
        Assert.Equal(keep, Assert.Single(result.Skipped).Path);
        Assert.Equal(content, File.ReadAllBytes(dup));
        Assert.False(Identity(dup).SameInode(Identity(keep)));
    }

    [JdupesFact]
    public async Task The_groups_are_the_groups_jdupes_finds_on_a_generated_tree()
    {
        var tree = DuplicateTree.Generate(Root, seed: 20261125, originals: 150);

        var ours = await Find(tree);
        var (exit, stdout, stderr) = await Tool.RunAsync(Tool.FindOnPath("jdupes")!, ["-r", "-q", tree], null);

        Assert.True(exit == 0, $"jdupes exited with {exit}: {stderr}");
        var theirs = DuplicateTree.ParseJdupes(stdout);
        Assert.True(theirs.Count >= 20, $"the generated tree should hold many groups, jdupes found {theirs.Count}");
        Assert.Equal(DuplicateTree.ByInode(theirs), DuplicateTree.ByInode(ours.Groups.Select(g => (IReadOnlyList<string>)g.Files)));
        // jdupes may list more than one name of a hard-linked file; each of them is one of our names.
        var ourNames = ours.Groups.SelectMany(g => g.Files.Concat(g.HardLinks)).ToHashSet(StringComparer.Ordinal);
        Assert.All(theirs.SelectMany(g => g), name => Assert.Contains(name, ourNames));
    }

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to the thread pool, after the test looked).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>A test that compares with the stock jdupes; skipped when jdupes is not installed (.ci/run installs it).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class JdupesFactAttribute : FactAttribute
{
    public JdupesFactAttribute()
    {
        if (Tool.FindOnPath("jdupes") is null)
        {
            Skip = "jdupes is not installed (apt-get install jdupes); .ci/run installs it.";
        }
    }
}

/// <summary>
/// A seeded tree of the kinds of files a duplicate finder must tell apart: copies in other folders, files of one size
/// with different contents (also differing only in the middle), hard links, empty files and symbolic links.
/// </summary>
internal static class DuplicateTree
{
    public static string Generate(string parent, int seed, int originals)
    {
        var root = Path.Combine(parent, "tree");
        var random = new Random(seed);
        var folders = Enumerable.Range(0, 12).Select(i => Path.Combine(root, $"d{i % 4}", $"sub{i}")).Prepend(root).ToArray();
        foreach (var folder in folders)
        {
            Directory.CreateDirectory(folder);
        }

        string Next(string name) => Path.Combine(folders[random.Next(folders.Length)], name);
        var sizes = new[] { 1, 2, 100, 4095, 4096, 4097, 8192, 8193, 65_535, 65_536, 65_537, 120_000 };
        for (var i = 0; i < originals; i++)
        {
            var size = random.Next(4) == 0 ? sizes[random.Next(sizes.Length)] : random.Next(1, 150_000);
            var content = new byte[size];
            random.NextBytes(content);
            var original = Next($"f{i}.bin");
            File.WriteAllBytes(original, content);
            var kind = random.Next(10);
            if (kind < 4)
            {
                for (var c = random.Next(1, 4); c > 0; c--)
                {
                    File.WriteAllBytes(Next($"f{i}-copy{c}.bin"), content);
                }
            }

            if (kind is 3 or 4 && size > 2)
            {
                // Same size, same start and end, one byte different in the middle.
                content[size / 2] ^= 0x5A;
                File.WriteAllBytes(Next($"f{i}-almost.bin"), content);
                content[size / 2] ^= 0x5A;
            }

            if (kind is 2 or 5)
            {
                UnixFileCalls.Link(original, Next($"f{i}-hardlink.bin"));
            }

            if (kind == 6)
            {
                File.CreateSymbolicLink(Next($"f{i}-symlink.bin"), original);
            }

            if (kind == 7)
            {
                File.WriteAllBytes(Next($"f{i}-empty.bin"), []);
            }
        }

        return root;
    }

    public static List<List<string>> ParseJdupes(string output)
    {
        var groups = new List<List<string>>();
        var current = new List<string>();
        foreach (var line in output.Split('\n'))
        {
            if (line.Length == 0)
            {
                if (current.Count > 0)
                {
                    groups.Add(current);
                }

                current = [];
            }
            else
            {
                current.Add(line);
            }
        }

        if (current.Count > 0)
        {
            groups.Add(current);
        }

        return groups;
    }

    /// <summary>Each group as its set of distinct files (device:inode), groups ordered: names of one file compare equal.</summary>
    public static List<string> ByInode(IEnumerable<IReadOnlyList<string>> groups) => groups
        .Select(g => string.Join(' ', g.Select(Inode).Distinct().Order(StringComparer.Ordinal)))
        .Order(StringComparer.Ordinal)
        .ToList();

    private static string Inode(string path)
    {
        Assert.True(FileIdentity.TryGet(path, out var identity, out var errno), $"stat {path}: errno {errno}");
        return $"{identity.Device}:{identity.Inode}";
    }
}
