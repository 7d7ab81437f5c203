using Mdmai.DataManager.Files;
using Mdmai.DataManager.Files.Internal;

namespace Mdmai.DataManager.Tests.Files;

public sealed class NameTableTests
{
    /// <summary>Folder and file names built from characters that sort around '/' ('-' and '.' below it, '0' and 'a' above).</summary>
    private static string Word(Random random) => new([.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => "-.0a/"[random.Next(5)])]);

    [Fact]
    public void Paths_are_joined_as_Path_Join_does_and_compare_as_CompareOrdinal_does_on_the_joined_paths()
    {
        var random = new Random(15);
        var table = new NameTable();
        var expected = new List<(string Path, int Root)>();
        // Folders that start one another ("/r/a" and "/r/a-b", "/r/a/0"), the root, a trailing separator and none at
        // all; many names in one folder (compared by name alone) and long names that fill several blocks of characters.
        var folders = new List<string> { "/", "/r", "/r/", "" };
        for (var i = 0; i < 60; i++)
        {
            var parent = folders[random.Next(folders.Count)];
            folders.Add(Path.Join(parent.Length == 0 ? "/r" : parent, Word(random)).TrimEnd('/') is { Length: > 0 } p ? p : "/");
        }

        var added = new List<(int Id, string Path, int Root)>();
        for (var i = 0; i < 3_000; i++)
        {
            if (added.Count == 0 || random.Next(4) == 0)
            {
                var path = folders[random.Next(folders.Count)];
                added.Add((table.AddFolder(path, root: added.Count % 3), path, added.Count % 3));
            }

            var (id, folder, root) = added[random.Next(added.Count)];
            var name = i % 20 == 0 ? new string('n', 200 + random.Next(56)) : Word(random).Replace("/", "_", StringComparison.Ordinal);
            table.Add(id, name);
            expected.Add((Path.Join(folder, name), root));
        }

        Assert.Equal(expected.Count, table.Count);
        for (var i = 0; i < table.Count; i++)
        {
            Assert.Equal(expected[i].Path, table.Path(i));
            Assert.Equal(expected[i].Root, table.Root(i));
        }

        for (var k = 0; k < 20_000; k++)
        {
            var (a, b) = (random.Next(table.Count), random.Next(table.Count));
            Assert.Equal(Math.Sign(string.CompareOrdinal(expected[a].Path, expected[b].Path)), Math.Sign(table.Compare(a, b)));
        }
    }

    [Fact]
    public async Task A_search_reports_files_in_ordinal_path_order_where_one_folder_name_starts_another()
    {
        using var temp = new TempFolder();
        var content = "same bytes"u8.ToArray();
        string[] relative = ["a-b/x", "a/b/x", "a/x", "a.b/x", "a0/x", "a/b-c/x", "a/b/c/x"];
        foreach (var r in relative)
        {
            var path = Path.Combine(temp.Path, r);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }

        var report = await new DuplicateFinder().FindAsync([temp.Path + "/"]);

        var group = Assert.Single(report.Groups);
        Assert.Equal(relative.Select(r => Path.Join(temp.Path + "/", r)).Order(StringComparer.Ordinal), group.Files);
    }
}
