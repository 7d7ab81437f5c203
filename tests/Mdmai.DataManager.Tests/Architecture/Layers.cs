namespace Mdmai.DataManager.Tests.Architecture;

/// <summary>
/// The library's layers — one per top-level folder (= namespace) — and which each may use. The order written here is
/// the order of docs/architecture.md, top to bottom; an edge may only point down it. The root namespace holds two
/// layers: the facade (<see cref="FacadeTypes"/>) at the top and the shared vocabulary every layer speaks (errors,
/// timestamps, enum text, JSON plumbing) at the bottom.
/// </summary>
internal static class Layers
{
    public const string Facade = "Facade";
    public const string Base = "Base";

    private static readonly string[] BelowStorage = ["Security", "Compression", "IO", Base];

    /// <summary>Each layer and the layers it may use.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlySet<string>> Allowed = new Dictionary<string, IReadOnlySet<string>>
    {
        [Facade] = Set(["Integrity", "Backup", "Configuration", "Files", "Caching", "Storage", .. BelowStorage]),
        ["Integrity"] = Set(["Backup", "Configuration", "Files", "Caching", "Storage", .. BelowStorage]),
        ["Backup"] = Set(["Configuration", "Files", "Caching", "Storage", .. BelowStorage]),
        ["Configuration"] = Set(["Files", "Caching", "Storage", .. BelowStorage]),
        ["Files"] = Set(["Caching", "Storage", .. BelowStorage]),
        ["Caching"] = Set("IO", Base),
        ["Storage"] = Set(BelowStorage),
        ["Security"] = Set("Compression", "IO", Base),
        ["Compression"] = Set("IO", Base),
        ["IO"] = Set(Base),
        [Base] = Set(),
    };

    /// <summary>The root namespace's types that are the facade rather than the vocabulary below every layer.</summary>
    public static readonly IReadOnlySet<string> FacadeTypes = Set("MdmaiDataManager", "DataManagerOptions", "DataManagerStatistics", "DataManagerJson", "DataManagerStatus", "CacheReport", "RepositoryReport");

    /// <summary>The layer of a top-level type of the library.</summary>
    public static string Of(string ns, string type)
    {
        const string Root = "Mdmai.DataManager";
        if (ns == Root)
        {
            return FacadeTypes.Contains(type) ? Facade : Base;
        }

        return ns[(Root.Length + 1)..].Split('.')[0];
    }

    /// <summary>A namespace private to its folder.</summary>
    public static bool IsInternal(string ns) => ns.Split('.').Contains("Internal");

    /// <summary>Every use between the library's own types, with the layer of each end.</summary>
    public static IReadOnlyList<(string From, string To, TypeReferences.Use Use)> Uses(string assemblyPath) =>
    [
        .. TypeReferences.Read(assemblyPath)
            .Where(u => IsOurs(u.FromNamespace) && IsOurs(u.ToNamespace))
            .Select(u => (Of(u.FromNamespace, u.FromType), Of(u.ToNamespace, u.ToType), u)),
    ];

    // Compiler- and generator-made types outside our namespaces (<PrivateImplementationDetails>, the regex generator's).
    private static bool IsOurs(string ns) => ns == "Mdmai.DataManager" || ns.StartsWith("Mdmai.DataManager.", StringComparison.Ordinal);

    private static HashSet<string> Set(params string[] layers) => new(layers, StringComparer.Ordinal);
}
