using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Backup.Internal;
using Mdmai.DataManager.Caching;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager;

/// <summary>
/// Every type the library reads or writes as JSON, with its (de)serialization code generated at build time: nothing is
/// discovered by reflection at run time, so the natively compiled CLI (docs/adr/0005-native-cli.md) reads and writes
/// exactly the JSON the library does under the JIT. Each options instance takes this context as its resolver and keeps
/// choosing names, converters and indentation itself.
/// </summary>
[JsonSerializable(typeof(KeyFile.Document))]
[JsonSerializable(typeof(MdmaiConfig))]
[JsonSerializable(typeof(RestoreJournal.Entry))]
[JsonSerializable(typeof(IntegrityChecker.History))]
[JsonSerializable(typeof(CacheStatisticsFile.Saved))]
[JsonSerializable(typeof(BackupRepository.RepositoryConfig))]
[JsonSerializable(typeof(BackupRepository.SnapshotDocument))]
[JsonSerializable(typeof(BackupRepository.ArchiveManifest))]
[JsonSerializable(typeof(RepositoryLock.LockInfo))]
[JsonSerializable(typeof(TreeEntry))]
[JsonSerializable(typeof(Campaign))]
[JsonSerializable(typeof(Character))]
[JsonSerializable(typeof(Npc))]
[JsonSerializable(typeof(Session))]
[JsonSerializable(typeof(Rulebook))]
[JsonSerializable(typeof(PersonalityProfile))]
[JsonSerializable(typeof(Location))]
[JsonSerializable(typeof(Item))]
[JsonSerializable(typeof(Spell))]
[JsonSerializable(typeof(Asset))]
[JsonSerializable(typeof(Setting))]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(Page<Campaign>))]
[JsonSerializable(typeof(Page<Character>))]
[JsonSerializable(typeof(Page<Npc>))]
[JsonSerializable(typeof(Page<Session>))]
[JsonSerializable(typeof(Page<Rulebook>))]
[JsonSerializable(typeof(Page<PersonalityProfile>))]
[JsonSerializable(typeof(Page<Location>))]
[JsonSerializable(typeof(Page<Item>))]
[JsonSerializable(typeof(Page<Spell>))]
[JsonSerializable(typeof(Page<Asset>))]
[JsonSerializable(typeof(Page<Setting>))]
[JsonSerializable(typeof(Page<AuditEntry>))]
[JsonSerializable(typeof(SearchHit))]
[JsonSerializable(typeof(IReadOnlyList<SearchHit>))]
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class LibraryJsonContext : JsonSerializerContext;

/// <summary>Options backed by generated code, and the typed metadata to pass to <see cref="JsonSerializer"/>.</summary>
internal static class GeneratedJson
{
    /// <summary>Resolves <paramref name="options"/> through <paramref name="resolver"/> (by default the library's context) and locks it.</summary>
    public static JsonSerializerOptions Generated(this JsonSerializerOptions options, IJsonTypeInfoResolver? resolver = null)
    {
        options.TypeInfoResolver = resolver ?? LibraryJsonContext.Default;
        options.MakeReadOnly();
        return options;
    }

    /// <summary>The metadata of <typeparamref name="T"/> under <paramref name="options"/> (a type no context names throws <see cref="NotSupportedException"/>).</summary>
    public static JsonTypeInfo<T> For<T>(this JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));
}
