using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Mdmai.DataManager;

/// <summary>
/// The plumbing every layer's JSON goes through. Each folder names the types it reads or writes in a context of its own
/// (<c>StorageJsonContext</c>, <c>BackupJsonContext</c>, …) whose (de)serialization code is generated at build time:
/// nothing is discovered by reflection at run time, so the natively compiled CLI (docs/adr/0005-native-cli.md) reads and
/// writes exactly the JSON the library does under the JIT. Each options instance takes its folder's context as its
/// resolver and keeps choosing names, converters and indentation itself.
/// </summary>
internal static class GeneratedJson
{
    /// <summary>Resolves <paramref name="options"/> through <paramref name="resolver"/> (a folder's context) and locks it.</summary>
    public static JsonSerializerOptions Generated(this JsonSerializerOptions options, IJsonTypeInfoResolver resolver)
    {
        options.TypeInfoResolver = resolver;
        options.MakeReadOnly();
        return options;
    }

    /// <summary>The metadata of <typeparamref name="T"/> under <paramref name="options"/> (a type no context names throws <see cref="NotSupportedException"/>).</summary>
    public static JsonTypeInfo<T> For<T>(this JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    /// <summary>A <see cref="JsonException"/> from reading a record as the error a caller sees: the field it names, malformed JSON or an unknown enum text.</summary>
    public static MdmaiException FromJsonException(JsonException ex)
    {
        var field = ex.Path is { Length: > 2 } p ? p.TrimStart('$', '.') : null;
        var where = field is null ? "" : $"field '{field}': ";
        var detail = ex.Message.Split(" Path: ")[0].TrimEnd('.');
        return ex is InvalidEnumJsonException
            ? new MdmaiException(MdmaiErrorCode.InvalidEnumValue, $"{where}{detail}.", ex)
            : new MdmaiException(MdmaiErrorCode.MalformedJson, $"Malformed JSON: {where}{detail}.", ex);
    }

    private sealed class InvalidEnumJsonException(string message) : JsonException(message);

    /// <summary>Timestamps in the one format of <see cref="Timestamps"/>.</summary>
    public sealed class TimestampConverter : JsonConverter<DateTimeOffset>
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
    /// An enum as its <see cref="EnumText"/>. Made per enum type by name (a converter made per type at run time would need
    /// code generated at run time, which native AOT has not got): each layer lists its own enums.
    /// </summary>
    public sealed class EnumTextConverter<TEnum> : JsonConverter<TEnum> where TEnum : struct, Enum
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
