using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage;

namespace Mdmai.Dashboard.Internal;

/// <summary>
/// The library's result types the API returns, their serialization generated at build time (the server runs in the
/// native CLI). Entities, pages and search hits come from the library's own options (<see cref="DataManagerJson"/>).
/// </summary>
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonArray))]
[JsonSerializable(typeof(DataManagerStatus))]
[JsonSerializable(typeof(MdmaiConfig))]
[JsonSerializable(typeof(DatabaseStats))]
[JsonSerializable(typeof(Page<StoredFile>))]
[JsonSerializable(typeof(StoredFile))]
[JsonSerializable(typeof(FileImportResult))]
[JsonSerializable(typeof(FileStoreStats))]
[JsonSerializable(typeof(IntegrityReport))]
[JsonSerializable(typeof(RepairReport))]
[JsonSerializable(typeof(ScheduledCheck))]
[JsonSerializable(typeof(SnapshotResult))]
[JsonSerializable(typeof(SnapshotInfo))]
[JsonSerializable(typeof(IReadOnlyList<SnapshotInfo>))]
[JsonSerializable(typeof(SnapshotEntry))]
[JsonSerializable(typeof(ForgetResult))]
[JsonSerializable(typeof(PruneResult))]
[JsonSerializable(typeof(CopyResult))]
[JsonSerializable(typeof(VerifyReport))]
[JsonSerializable(typeof(RestoreResult))]
internal sealed partial class DashboardJsonContext : JsonSerializerContext;

/// <summary>The options of every answer: the library's (snake_case, enum texts, timestamps) with the types above.</summary>
internal static class DashboardJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(DataManagerJson.Options)
        {
            TypeInfoResolver = JsonTypeInfoResolver.Combine(DataManagerJson.Options.TypeInfoResolver!, DashboardJsonContext.Default),
        };
        options.MakeReadOnly();
        return options;
    }
}
