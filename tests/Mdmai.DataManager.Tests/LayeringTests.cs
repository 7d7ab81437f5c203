using System.Reflection;

namespace Mdmai.DataManager.Tests;

/// <summary>
/// The layering is enforced here, not by convention: the library knows nothing of the console, storage
/// knows nothing of the layers built on it, and the CLI talks to SQLite only through the library.
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
    public void The_library_does_not_reference_console_or_command_line_packages()
    {
        var references = typeof(MdmaiException).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.DoesNotContain(references, name => name.StartsWith("Spectre", StringComparison.Ordinal));
        Assert.DoesNotContain(references, name => name.StartsWith("System.CommandLine", StringComparison.Ordinal));
    }

    // Security (keys and ciphers) sits below storage: sensitive columns are sealed with the data key.
    [Theory]
    [InlineData("Files")]
    [InlineData("Backup")]
    [InlineData("Integrity")]
    [InlineData("Caching")]
    public void Storage_does_not_use_the_layers_built_on_it(string layer)
    {
        var offenders = Sources("src/Mdmai.DataManager/Storage")
            .Where(s => s.Text.Contains($"Mdmai.DataManager.{layer}", StringComparison.Ordinal))
            .Select(s => s.File)
            .ToList();

        Assert.Empty(offenders);
    }

    // Integrity checks and repairs everything, backups included: nothing below it may depend on it.
    [Theory]
    [InlineData("src/Mdmai.DataManager/Backup")]
    [InlineData("src/Mdmai.DataManager/Files")]
    [InlineData("src/Mdmai.DataManager/Security")]
    [InlineData("src/Mdmai.DataManager/Configuration")]
    public void Lower_layers_do_not_use_integrity(string folder)
    {
        var offenders = Sources(folder)
            .Where(s => s.Text.Contains("Mdmai.DataManager.Integrity", StringComparison.Ordinal))
            .Select(s => s.File)
            .ToList();

        Assert.Empty(offenders);
    }

    [Fact]
    public void The_file_store_does_not_use_backups()
    {
        var offenders = Sources("src/Mdmai.DataManager/Files")
            .Where(s => s.Text.Contains("Mdmai.DataManager.Backup", StringComparison.Ordinal))
            .Select(s => s.File)
            .ToList();

        Assert.Empty(offenders);
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
    public void Every_up_migration_has_a_down_migration()
    {
        var folder = Path.Combine(RepositoryRoot, "src/Mdmai.DataManager/Storage/Migrations");
        var ups = Directory.GetFiles(folder, "*.up.sql").Select(f => Path.GetFileName(f)[..^".up.sql".Length]).ToList();
        var downs = Directory.GetFiles(folder, "*.down.sql").Select(f => Path.GetFileName(f)[..^".down.sql".Length]).ToList();

        Assert.NotEmpty(ups);
        Assert.Equal(ups.Order(StringComparer.Ordinal), downs.Order(StringComparer.Ordinal));
    }
}
