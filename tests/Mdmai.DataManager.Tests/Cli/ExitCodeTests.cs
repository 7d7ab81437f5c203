using System.Text.RegularExpressions;
using Mdmai.Cli;

namespace Mdmai.DataManager.Tests.Cli;

/// <summary>
/// The exit codes are a documented interface: each error code's exit code is the one docs/cli.md's table gives it,
/// whatever order the enum's members are declared in.
/// </summary>
public sealed partial class ExitCodeTests
{
    public static TheoryData<MdmaiErrorCode> Codes() => [.. Enum.GetValues<MdmaiErrorCode>()];

    [Theory]
    [MemberData(nameof(Codes))]
    public void Every_error_code_exits_as_the_documentation_says(MdmaiErrorCode code)
    {
        Assert.True(DocumentedExitCodes.Table.TryGetValue(EnumText.ToText(code), out var documented), $"docs/cli.md has no exit code for '{EnumText.ToText(code)}'");
        Assert.Equal(documented, ExitCodes.For(code));
    }

    [Fact]
    public void The_table_names_no_code_the_library_does_not_have_and_no_exit_twice()
    {
        var known = Enum.GetValues<MdmaiErrorCode>().Select(c => EnumText.ToText(c)).ToHashSet();

        Assert.DoesNotContain(DocumentedExitCodes.Table.Keys, k => !known.Contains(k));
        Assert.Equal(DocumentedExitCodes.Table.Count, DocumentedExitCodes.Table.Values.Distinct().Count());
        Assert.Equal(ExitCodes.Failure, ExitCodes.For(MdmaiErrorCode.Unknown));
    }

    [Fact]
    public void The_error_codes_keep_their_numbers()
    {
        // Callers store and compare the numbers; the enum spells each out. This pins them.
        Assert.Equal(
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18],
            new[]
            {
                MdmaiErrorCode.Unknown, MdmaiErrorCode.NotInitialized, MdmaiErrorCode.InvalidConfig, MdmaiErrorCode.NotFound,
                MdmaiErrorCode.InvalidArgument, MdmaiErrorCode.InvalidEnumValue, MdmaiErrorCode.MalformedJson, MdmaiErrorCode.ConstraintViolation,
                MdmaiErrorCode.DatabaseLocked, MdmaiErrorCode.ReadOnly, MdmaiErrorCode.DiskFull, MdmaiErrorCode.Corrupt, MdmaiErrorCode.ForeignFormat,
                MdmaiErrorCode.MigrationMismatch, MdmaiErrorCode.AlreadyExists, MdmaiErrorCode.WrongPassword, MdmaiErrorCode.WrongKey,
                MdmaiErrorCode.Locked, MdmaiErrorCode.UnsafePath,
            }.Select(c => (int)c));
    }
}

/// <summary>docs/cli.md's exit-code table: the <c>error.code</c> text of each row and its exit code. Tests expect exits from here.</summary>
internal static partial class DocumentedExitCodes
{
    public static IReadOnlyDictionary<string, int> Table { get; } = Read();

    /// <summary>The documented exit code of <paramref name="code"/>.</summary>
    public static int For(MdmaiErrorCode code) => Table[EnumText.ToText(code)];

    private static Dictionary<string, int> Read()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mdmai.slnx")))
        {
            dir = dir.Parent;
        }

        var text = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "cli.md"));
        var section = text[text.IndexOf("## Exit codes", StringComparison.Ordinal)..];
        return Row().Matches(section).ToDictionary(m => m.Groups["code"].Value, m => int.Parse(m.Groups["exit"].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^\| (?<exit>\d+) \| `(?<code>[a-z_]+)` \|", RegexOptions.Multiline)]
    private static partial Regex Row();
}
