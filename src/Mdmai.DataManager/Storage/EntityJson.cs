using System.Text.Json;
using System.Text.Json.Serialization;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Storage;

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

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            WriteIndented = indented,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        foreach (var converter in EnumConverters())
        {
            options.Converters.Add(converter);
        }

        options.Converters.Add(new TimestampConverter());
        return options.Generated();
    }

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
            throw FromJsonException(ex);
        }
    }

    internal static MdmaiException FromJsonException(JsonException ex)
    {
        var field = ex.Path is { Length: > 2 } p ? p.TrimStart('$', '.') : null;
        var where = field is null ? "" : $"field '{field}': ";
        var detail = ex.Message.Split(" Path: ")[0].TrimEnd('.');
        return ex is InvalidEnumJsonException
            ? new MdmaiException(MdmaiErrorCode.InvalidEnumValue, $"{where}{detail}.", ex)
            : new MdmaiException(MdmaiErrorCode.MalformedJson, $"Malformed JSON: {where}{detail}.", ex);
    }

    private sealed class InvalidEnumJsonException(string message) : JsonException(message);

    private sealed class TimestampConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String && TryParse(reader.GetString()!, out var value)
                ? value
                : throw new JsonException("expected a date-time string such as 2026-11-25T19:08:00.000Z");

        private static bool TryParse(string text, out DateTimeOffset value)
        {
            try
            {
                value = Timestamps.Parse(text);
                return true;
            }
            catch (MdmaiException)
            {
                value = default;
                return false;
            }
        }

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Timestamps.Format(value));
    }

    /// <summary>
    /// A converter for every public enum of the library, named one by one: a converter made per type at run time would
    /// need code generated at run time, which native AOT has not got. A test checks that none is missing.
    /// </summary>
    internal static JsonConverter[] EnumConverters() =>
    [
        new EnumTextConverter<CampaignStatus>(), new EnumTextConverter<CharacterStatus>(), new EnumTextConverter<NpcRole>(),
        new EnumTextConverter<NpcImportance>(), new EnumTextConverter<SessionStatus>(), new EnumTextConverter<AccessLevel>(),
        new EnumTextConverter<LocationType>(), new EnumTextConverter<ItemType>(), new EnumTextConverter<Rarity>(),
        new EnumTextConverter<SpellSchool>(), new EnumTextConverter<AssetType>(), new EnumTextConverter<AuditOperation>(),
        new EnumTextConverter<FieldKind>(), new EnumTextConverter<MdmaiErrorCode>(), new EnumTextConverter<Files.DuplicateAction>(),
        new EnumTextConverter<Files.KeepRule>(), new EnumTextConverter<Files.DuplicateStage>(), new EnumTextConverter<Files.FileCategory>(),
        new EnumTextConverter<Integrity.IssueSeverity>(), new EnumTextConverter<Backup.SnapshotKind>(),
        new EnumTextConverter<Backup.SnapshotEntryType>(), new EnumTextConverter<Backup.SnapshotChange>(),
    ];

    private sealed class EnumTextConverter<TEnum> : JsonConverter<TEnum> where TEnum : struct, Enum
    {
        public override TEnum Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException($"expected one of: {string.Join(", ", EnumText.Values(typeof(TEnum)))}");
            }

            var text = reader.GetString()!;
            try
            {
                return EnumText.Parse<TEnum>(text);
            }
            catch (MdmaiException)
            {
                throw new InvalidEnumJsonException($"'{text}' is not allowed; expected one of: {string.Join(", ", EnumText.Values(typeof(TEnum)))}");
            }
        }

        public override void Write(Utf8JsonWriter writer, TEnum value, JsonSerializerOptions options) =>
            writer.WriteStringValue(EnumText.ToText(value));
    }
}
