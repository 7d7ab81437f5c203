using System.Text.Json;
using System.Text.Json.Serialization;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager;

/// <summary>
/// JSON as the library's callers exchange it — the CLI's <c>--json</c>, the dashboard's API: <see cref="EntityJson"/>'s
/// names, timestamps and enum texts, with the enums of every layer (files, integrity, backups) written as their text too.
/// The facade owns it because only the top of the library may name every layer.
/// </summary>
public static class DataManagerJson
{
    /// <summary>Options for records and results, one value per line.</summary>
    public static JsonSerializerOptions Options { get; } = Create(indented: false);

    /// <summary>The same, indented for people.</summary>
    public static JsonSerializerOptions Indented { get; } = Create(indented: true);

    /// <summary>Every public enum of the library, each named once (a test checks that none is missing).</summary>
    internal static JsonConverter[] EnumConverters() =>
    [
        .. EntityJson.EnumConverters(),
        new GeneratedJson.EnumTextConverter<DuplicateAction>(), new GeneratedJson.EnumTextConverter<KeepRule>(),
        new GeneratedJson.EnumTextConverter<DuplicateStage>(), new GeneratedJson.EnumTextConverter<FileCategory>(),
        new GeneratedJson.EnumTextConverter<IssueSeverity>(), new GeneratedJson.EnumTextConverter<SnapshotKind>(),
        new GeneratedJson.EnumTextConverter<SnapshotEntryType>(), new GeneratedJson.EnumTextConverter<SnapshotChange>(),
        new GeneratedJson.EnumTextConverter<FolderAccess>(),
    ];

    private static JsonSerializerOptions Create(bool indented) => EntityJson.Create(indented, EnumConverters());
}
