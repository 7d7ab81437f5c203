using System.Reflection;
using Mdmai.DataManager.Tests.Architecture;

namespace Mdmai.DataManager.Tests;

/// <summary>
/// The layering is enforced here, not by convention: every folder of the library is a layer that may use only the
/// layers the matrix in <see cref="Layers"/> allows (docs/architecture.md draws it), read from the compiled assembly's
/// type references; no <c>Internal</c> namespace is used from outside its folder; the library knows nothing of the
/// console, and the CLI talks to SQLite only through the library.
/// </summary>
public sealed class LayeringTests
{
    private static readonly string RepositoryRoot = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mdmai.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Mdmai.slnx not found above " + AppContext.BaseDirectory);
    }

    private static IEnumerable<(string File, string Text)> Sources(string folder) =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot, folder), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path.GetRelativePath(RepositoryRoot, f), File.ReadAllText(f)));

    [Fact]
    public void Every_use_between_folders_is_an_allowed_edge()
    {
        var offenders = Layers.Uses(LibraryPath)
            .Where(u => u.From != u.To && !Layers.Allowed[u.From].Contains(u.To))
            .Select(u => $"{u.From} -> {u.To}: {u.Use}")
            .ToList();

        Assert.True(offenders.Count == 0, $"{offenders.Count} uses against the layering (docs/architecture.md):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void No_internal_namespace_is_used_from_outside_its_folder()
    {
        var offenders = Layers.Uses(LibraryPath)
            .Where(u => u.From != u.To && Layers.IsInternal(u.Use.ToNamespace))
            .Select(u => $"{u.From} -> {u.Use}")
            .ToList();

        Assert.True(offenders.Count == 0, $"{offenders.Count} uses of another folder's Internal namespace:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void Every_folder_of_the_library_has_a_place_in_the_matrix()
    {
        var folders = typeof(MdmaiException).Assembly.GetTypes()
            .Where(t => t.Namespace?.StartsWith("Mdmai.DataManager", StringComparison.Ordinal) == true)
            .Select(t => Layers.Of(t.Namespace!, t.Name))
            .ToHashSet();

        Assert.Empty(folders.Except(Layers.Allowed.Keys));
    }

    [Fact]
    public void The_matrix_has_no_cycle()
    {
        // Every allowed edge points down the order the matrix is written in, so no chain of them comes back.
        var order = Layers.Allowed.Keys.ToList();
        var upward = Layers.Allowed.SelectMany(e => e.Value.Select(to => (From: e.Key, To: to)))
            .Where(e => order.IndexOf(e.To) <= order.IndexOf(e.From))
            .ToList();

        Assert.Empty(upward);
    }

    [Fact]
    public void The_reader_sees_uses_in_signatures_bodies_and_lambdas()
    {
        // Known uses of each kind, so that a reader that went blind would fail here rather than pass everything above.
        var uses = Layers.Uses(LibraryPath).Select(u => u.Use.ToString()).ToHashSet();

        Assert.Contains("Mdmai.DataManager.MdmaiDataManager -> Mdmai.DataManager.Files.FileStore", uses);        // a field
        Assert.Contains("Mdmai.DataManager.Files.FileStore -> Mdmai.DataManager.Security.ObjectCodec", uses);     // a call
        Assert.Contains("Mdmai.DataManager.Files.FileStore -> Mdmai.DataManager.MdmaiException", uses);           // a throw
        Assert.True(Layers.Uses(LibraryPath).Count(u => u.From != u.To) > 100);
    }

    private static string LibraryPath => typeof(MdmaiException).Assembly.Location;

    [Fact]
    public void The_library_does_not_reference_console_or_command_line_packages()
    {
        var references = typeof(MdmaiException).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.DoesNotContain(references, name => name.StartsWith("Spectre", StringComparison.Ordinal));
        Assert.DoesNotContain(references, name => name.StartsWith("System.CommandLine", StringComparison.Ordinal));
    }

    [Fact]
    public void The_cli_does_not_talk_to_sqlite_directly()
    {
        var offenders = Sources("src/Mdmai.Cli")
            .Where(s => s.Text.Contains("Microsoft.Data.Sqlite", StringComparison.Ordinal) || s.Text.Contains("SqliteConnection", StringComparison.Ordinal))
            .Select(s => s.File)
            .ToList();

        Assert.Empty(offenders);
        Assert.DoesNotContain(Assembly.Load("mdmai").GetReferencedAssemblies(), a => a.Name == "Microsoft.Data.Sqlite");
    }

    [Fact]
    public void The_dashboard_does_not_talk_to_sqlite_nor_the_console_and_the_library_knows_nothing_of_it()
    {
        var offenders = Sources("src/Mdmai.Dashboard")
            .Where(s => s.Text.Contains("Microsoft.Data.Sqlite", StringComparison.Ordinal) || s.Text.Contains("Spectre", StringComparison.Ordinal))
            .Select(s => s.File)
            .ToList();
        var references = Assembly.Load("Mdmai.Dashboard").GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.Empty(offenders);
        Assert.DoesNotContain("Microsoft.Data.Sqlite", references);
        Assert.DoesNotContain(references, name => name.StartsWith("Spectre", StringComparison.Ordinal) || name.StartsWith("System.CommandLine", StringComparison.Ordinal));
        Assert.DoesNotContain(typeof(MdmaiException).Assembly.GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || a.Name == "Mdmai.Dashboard");
    }

    [Fact]
    public void Every_up_migration_has_a_down_migration()
    {
        var folder = Path.Combine(RepositoryRoot, "src/Mdmai.DataManager/Storage/Migrations");
        var ups = Directory.GetFiles(folder, "*.up.sql").Select(f => Path.GetFileName(f)[..^".up.sql".Length]).ToList();
        var downs = Directory.GetFiles(folder, "*.down.sql").Select(f => Path.GetFileName(f)[..^".down.sql".Length]).ToList();

        Assert.NotEmpty(ups);
        Assert.Equal(ups.Order(StringComparer.Ordinal), downs.Order(StringComparer.Ordinal));
    }
}
