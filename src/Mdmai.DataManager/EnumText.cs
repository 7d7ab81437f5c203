using System.Collections.Concurrent;
using System.Text.Json;

namespace Mdmai.DataManager;

/// <summary>
/// The one mapping between enum members and their stored text: snake_case of the member name
/// (<c>QuestGiver</c> ↔ <c>quest_giver</c>). The database, the JSON of the API and the CLI all use it.
/// </summary>
public static class EnumText
{
    private sealed record Map(string[] Texts, Dictionary<string, object> Values, Dictionary<object, string> ByValue);

    private static readonly ConcurrentDictionary<Type, Map> Maps = new();

    private static Map For(Type type) => Maps.GetOrAdd(type, static t =>
    {
        // Names and underlying values come in the same (value) order; neither needs an array of the enum type made
        // at run time, which native AOT cannot do.
        var names = Enum.GetNames(t);
        var values = Enum.GetValuesAsUnderlyingType(t);
        var texts = new string[names.Length];
        var byText = new Dictionary<string, object>(StringComparer.Ordinal);
        var byValue = new Dictionary<object, string>();
        for (var i = 0; i < names.Length; i++)
        {
            var value = Enum.ToObject(t, values.GetValue(i)!);
            texts[i] = JsonNamingPolicy.SnakeCaseLower.ConvertName(names[i]);
            byText.Add(texts[i], value);
            byValue.Add(value, texts[i]);
        }

        return new Map(texts, byText, byValue);
    });

    /// <summary>Every stored text of <paramref name="enumType"/>, in declaration order.</summary>
    public static IReadOnlyList<string> Values(Type enumType) => For(enumType).Texts;

    /// <summary>The stored text of a member.</summary>
    public static string ToText(Type enumType, object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return For(enumType).ByValue.TryGetValue(value, out var text)
            ? text
            : throw new MdmaiException(MdmaiErrorCode.InvalidEnumValue, $"{value} is not a valid {enumType.Name}; expected one of {string.Join(", ", For(enumType).Texts)}.");
    }

    /// <summary>The stored text of a member.</summary>
    public static string ToText<TEnum>(TEnum value) where TEnum : struct, Enum => ToText(typeof(TEnum), value);

    /// <summary>Parses stored text; unknown text names the field and lists the allowed values.</summary>
    public static object Parse(Type enumType, string text, string field)
    {
        ArgumentNullException.ThrowIfNull(text);
        return For(enumType).Values.TryGetValue(text, out var value)
            ? value
            : throw new MdmaiException(MdmaiErrorCode.InvalidEnumValue,
                $"'{text}' is not a valid value for '{field}'; expected one of: {string.Join(", ", For(enumType).Texts)}.");
    }

    /// <summary>Parses stored text into a member.</summary>
    public static TEnum Parse<TEnum>(string text) where TEnum : struct, Enum => Parse<TEnum>(text, "value");

    /// <summary>Parses stored text into a member; an error names <paramref name="field"/>.</summary>
    public static TEnum Parse<TEnum>(string text, string field) where TEnum : struct, Enum => (TEnum)Parse(typeof(TEnum), text, field);
}
