using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Storage;

/// <summary>The records storage reads and writes as JSON, with their code generated at build time (see <see cref="GeneratedJson"/>).</summary>
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
internal sealed partial class StorageJsonContext : JsonSerializerContext;

/// <summary>
/// JSON for records as the API and CLI exchange them: snake_case field names (the column names), enums as
/// their stored text, timestamps in the one format, ids as lowercase UUIDs.
/// </summary>
public static class EntityJson
{
    /// <summary>Options for reading and writing entities, pages and search hits.</summary>
    public static JsonSerializerOptions Options { get; } = Create(indented: false);

    /// <summary>The same, indented for people.</summary>
    public static JsonSerializerOptions Indented { get; } = Create(indented: true);

    /// <summary>Options with entities' names, enums and timestamps, resolved through storage's context, with <paramref name="converters"/> for the enums.</summary>
    internal static JsonSerializerOptions Create(bool indented, IEnumerable<JsonConverter> converters)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            WriteIndented = indented,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        foreach (var converter in converters)
        {
            options.Converters.Add(converter);
        }

        options.Converters.Add(new GeneratedJson.TimestampConverter());
        return options.Generated(StorageJsonContext.Default);
    }

    private static JsonSerializerOptions Create(bool indented) => Create(indented, EnumConverters());

    /// <summary>
    /// Reads a record from JSON text. Malformed JSON, unknown fields and wrong types are
    /// <see cref="MdmaiErrorCode.MalformedJson"/>; an unknown enum text is <see cref="MdmaiErrorCode.InvalidEnumValue"/>;
    /// both name the field.
    /// </summary>
    public static T Deserialize<T>(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize(json, Options.For<T>())
                ?? throw new MdmaiException(MdmaiErrorCode.MalformedJson, $"Expected a JSON object describing a {typeof(T).Name}, got null.");
        }
        catch (JsonException ex)
        {
            throw GeneratedJson.FromJsonException(ex);
        }
    }

    /// <summary>The converters of storage's enums (and the error codes below it); the layers above add theirs (<see cref="DataManagerJson"/>).</summary>
    internal static JsonConverter[] EnumConverters() =>
    [
        new GeneratedJson.EnumTextConverter<CampaignStatus>(), new GeneratedJson.EnumTextConverter<CharacterStatus>(),
        new GeneratedJson.EnumTextConverter<NpcRole>(), new GeneratedJson.EnumTextConverter<NpcImportance>(),
        new GeneratedJson.EnumTextConverter<SessionStatus>(), new GeneratedJson.EnumTextConverter<AccessLevel>(),
        new GeneratedJson.EnumTextConverter<LocationType>(), new GeneratedJson.EnumTextConverter<ItemType>(),
        new GeneratedJson.EnumTextConverter<Rarity>(), new GeneratedJson.EnumTextConverter<SpellSchool>(),
        new GeneratedJson.EnumTextConverter<AssetType>(), new GeneratedJson.EnumTextConverter<AuditOperation>(),
        new GeneratedJson.EnumTextConverter<FieldKind>(), new GeneratedJson.EnumTextConverter<MdmaiErrorCode>(),
        new GeneratedJson.EnumTextConverter<DatabaseProblemKind>(),
    ];
}
