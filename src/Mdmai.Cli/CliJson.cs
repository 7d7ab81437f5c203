using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.Cli;

/// <summary>
/// The library's result types the CLI prints with <c>--json</c>, with their serialization generated at build time (the
/// CLI is compiled natively, with no reflection-based JSON). Records the library reads and writes itself (entities,
/// pages, search hits) come from the library's own options; the shapes the CLI adds are <see cref="JsonObject"/>s.
/// </summary>
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonArray))]
[JsonSerializable(typeof(MdmaiConfig))]
[JsonSerializable(typeof(DatabaseStats))]
[JsonSerializable(typeof(DatabaseCheck))]
[JsonSerializable(typeof(ScheduledCheck))]
[JsonSerializable(typeof(KdfParameters))]
[JsonSerializable(typeof(IReadOnlyList<uint>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(Page<StoredFile>))]
[JsonSerializable(typeof(FolderImportResult))]
[JsonSerializable(typeof(FileStoreStats))]
[JsonSerializable(typeof(IReadOnlyList<ObjectProblem>))]
[JsonSerializable(typeof(DuplicateReport))]
[JsonSerializable(typeof(DuplicateActionResult))]
[JsonSerializable(typeof(IntegrityReport))]
[JsonSerializable(typeof(IReadOnlyList<IntegrityIssue>))]
[JsonSerializable(typeof(RepairReport))]
[JsonSerializable(typeof(SnapshotResult))]
[JsonSerializable(typeof(SnapshotInfo))]
[JsonSerializable(typeof(IReadOnlyList<SnapshotInfo>))]
[JsonSerializable(typeof(ForgetResult))]
[JsonSerializable(typeof(PruneResult))]
[JsonSerializable(typeof(CopyResult))]
[JsonSerializable(typeof(VerifyReport))]
[JsonSerializable(typeof(RestoreResult))]
[JsonSerializable(typeof(DateTimeOffset))]
[JsonSerializable(typeof(DataManagerStatus))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

/// <summary>The options of every <c>--json</c> output: the library's callers' (DataManagerJson: snake_case, enum texts, timestamps), indented.</summary>
internal static class CliJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(DataManagerJson.Indented)
        {
            TypeInfoResolver = JsonTypeInfoResolver.Combine(DataManagerJson.Indented.TypeInfoResolver!, CliJsonContext.Default),
        };
        options.MakeReadOnly();
        return options;
    }

    /// <summary>The metadata of <typeparamref name="T"/> (a type neither context names throws <see cref="NotSupportedException"/>).</summary>
    public static JsonTypeInfo<T> For<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));

    /// <summary>The metadata of an entity type under the library's compact options (one record per line).</summary>
    public static JsonTypeInfo<T> Compact<T>() => (JsonTypeInfo<T>)DataManagerJson.Options.GetTypeInfo(typeof(T));

    /// <summary>A value as a node, written as the library writes it (names, enum texts, the one timestamp format).</summary>
    public static JsonNode? Node<T>(T value) => JsonSerializer.SerializeToNode(value, For<T>());

    /// <summary>Values as an array of nodes, each made by <paramref name="shape"/>.</summary>
    public static JsonArray Array<T>(IEnumerable<T> values, Func<T, JsonNode?> shape) => new([.. values.Select(shape)]);
}
