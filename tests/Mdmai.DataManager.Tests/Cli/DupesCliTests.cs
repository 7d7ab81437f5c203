using System.Text.Json;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Tests.Files;

namespace Mdmai.DataManager.Tests.Cli;

/// <summary><c>mdmai dupes</c> in-process: it needs no data folder, only the paths it searches.</summary>
public sealed class DupesCliTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        return await CliRunner.RunAsync(args);
    }

    private (string A, string B, string C) ThreeCopies()
    {
        var content = DuplicateFinderTests.Bytes(1, 100_000);
        Directory.CreateDirectory(_temp.Combine("sub"));
        var paths = (_temp.Combine("a.pdf"), _temp.Combine("b.pdf"), _temp.Combine("sub/c.pdf"));
        File.WriteAllBytes(paths.Item1, content);
        File.WriteAllBytes(paths.Item2, content);
        File.WriteAllBytes(paths.Item3, content);
        File.WriteAllBytes(_temp.Combine("unique.pdf"), DuplicateFinderTests.Bytes(2, 100_000));
        return paths;
    }

    [Fact]
    public async Task Json_is_a_list_of_groups_each_with_size_and_files()
    {
        var (a, b, c) = ThreeCopies();

        var (exit, output, error) = await Run("dupes", _temp.Path, "--json");

        Assert.True(exit == 0, error);
        var root = JsonDocument.Parse(output).RootElement;
        var group = Assert.Single(root.GetProperty("groups").EnumerateArray());
        Assert.Equal(["size", "files"], group.EnumerateObject().Select(p => p.Name));
        Assert.Equal(100_000, group.GetProperty("size").GetInt64());
        Assert.Equal([a, b, c], group.GetProperty("files").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(4, root.GetProperty("files_scanned").GetInt64());
        Assert.Equal(200_000, root.GetProperty("reclaimable_bytes").GetInt64());
        Assert.Equal(0, root.GetProperty("problems").GetArrayLength());
    }

    [Fact]
    public async Task The_text_report_lists_each_group_and_the_space_to_gain()
    {
        var (a, b, c) = ThreeCopies();

        var (exit, output, _) = await Run("dupes", _temp.Path);

        Assert.Equal(0, exit);
        Assert.Contains($"3 identical files of 97.7 KiB:\n  {a}\n  {b}\n  {c}\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("1 group(s), 2 duplicate file(s), 195.3 KiB reclaimable (4 files scanned).", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("hardlink")]
    public async Task An_action_without_yes_is_refused_and_changes_nothing(string action)
    {
        var (a, b, c) = ThreeCopies();
        var before = new[] { a, b, c }.Select(p => Identity(p)).ToArray();

        var (exit, _, error) = await Run("dupes", _temp.Path, "--action", action);

        Assert.Equal(6, exit);
        Assert.Contains("--yes", error, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", error, StringComparison.Ordinal);
        Assert.Equal(before, new[] { a, b, c }.Select(p => Identity(p)));
    }

    [Fact]
    public async Task Delete_with_yes_keeps_the_chosen_file_and_reports_what_it_deleted()
    {
        var (a, b, c) = ThreeCopies();

        var (exit, output, error) = await Run("dupes", _temp.Path, "--action", "delete", "--keep", "last", "--yes", "--json");

        Assert.True(exit == 0, error);
        var root = JsonDocument.Parse(output).RootElement;
        Assert.Equal("delete", root.GetProperty("action").GetString());
        Assert.Equal([c], root.GetProperty("kept").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal([a, b], root.GetProperty("changed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(200_000, root.GetProperty("bytes_freed").GetInt64());
        Assert.False(File.Exists(a));
        Assert.False(File.Exists(b));
        Assert.True(File.Exists(c));
    }

    [Fact]
    public async Task Hardlink_with_yes_links_the_duplicates_to_the_kept_file()
    {
        var (a, b, c) = ThreeCopies();

        var (exit, output, error) = await Run("dupes", _temp.Path, "--action", "hardlink", "--yes");

        Assert.True(exit == 0, error);
        Assert.Contains("Hard-linked 2 file(s)", output, StringComparison.Ordinal);
        Assert.Equal(3u, Identity(a).LinkCount);
        Assert.True(Identity(b).SameInode(Identity(a)));
        Assert.True(Identity(c).SameInode(Identity(a)));
    }

    [Fact]
    public async Task A_missing_path_exits_not_found_and_names_it()
    {
        var missing = _temp.Combine("nowhere");

        var (exit, _, error) = await Run("dupes", missing);

        Assert.Equal(5, exit);
        Assert.Contains("nowhere", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_keep_rule_is_a_usage_error()
    {
        var (exit, _, error) = await Run("dupes", _temp.Path, "--keep", "biggest");

        Assert.Equal(2, exit);
        Assert.Contains("biggest", error, StringComparison.Ordinal);
    }

    private static FileIdentity Identity(string path)
    {
        Assert.True(FileIdentity.TryGet(path, out var identity, out _));
        return identity;
    }
}
