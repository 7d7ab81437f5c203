using System.Globalization;
using System.Text.Json.Nodes;

namespace Mdmai.DataManager.Storage;

/// <summary>The kind of value a field holds.</summary>
#pragma warning disable CA1720 // the kinds are named after SQL's types on purpose
public enum FieldKind
{
    /// <summary>A UUID (lowercase text).</summary>
    Id,
    /// <summary>Free text.</summary>
    Text,
    /// <summary>A whole number.</summary>
    Integer,
    /// <summary>A floating-point number.</summary>
    Real,
    /// <summary>true or false.</summary>
    Boolean,
    /// <summary>A moment in time (UTC ISO-8601 with milliseconds).</summary>
    Timestamp,
    /// <summary>One of a fixed set of snake_case words.</summary>
    Enum,
    /// <summary>A JSON document.</summary>
    Json,
}
#pragma warning restore CA1720

/// <summary>Describes one field of an entity: its snake_case name, kind, and what listing may do with it.</summary>
/// <param name="Name">The column and JSON name.</param>
/// <param name="Kind">The kind of value.</param>
/// <param name="Required">Whether a value must be given on create (no default).</param>
/// <param name="AllowedValues">For enums, every allowed value; else empty.</param>
/// <param name="Filterable">Whether <see cref="ListQuery.Filters"/> accepts it.</param>
/// <param name="Sortable">Whether <see cref="ListQuery.SortBy"/> accepts it.</param>
public sealed record EntityField(string Name, FieldKind Kind, bool Required, IReadOnlyList<string> AllowedValues, bool Filterable, bool Sortable)
{
    /// <summary>Whether the store sets it (id on create, created_at, updated_at).</summary>
    public bool IsManaged => Name is "id" or "created_at" or "updated_at";

    /// <summary>
    /// Converts text typed by a person (a CLI option) to the JSON value of this field:
    /// <c>true</c>/<c>false</c>, numbers, JSON documents; everything else stays text and is validated when read.
    /// </summary>
    public JsonNode? ParseText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var inv = CultureInfo.InvariantCulture;
        switch (Kind)
        {
            case FieldKind.Integer:
                return long.TryParse(text, NumberStyles.Integer, inv, out var l) ? JsonValue.Create(l) : throw Invalid(text, "an integer");
            case FieldKind.Real:
                return double.TryParse(text, NumberStyles.Float, inv, out var d) && double.IsFinite(d) ? JsonValue.Create(d) : throw Invalid(text, "a number");
            case FieldKind.Boolean:
                return text.ToUpperInvariant() switch
                {
                    "TRUE" or "1" or "YES" => JsonValue.Create(true),
                    "FALSE" or "0" or "NO" => JsonValue.Create(false),
                    _ => throw Invalid(text, "true or false"),
                };
            case FieldKind.Json:
                try
                {
                    return JsonNode.Parse(text);
                }
                catch (System.Text.Json.JsonException ex)
                {
                    throw new MdmaiException(MdmaiErrorCode.MalformedJson, $"Malformed JSON for '{Name}': {ex.Message.Split(" Path: ")[0]}", ex);
                }

            case FieldKind.Enum when !AllowedValues.Contains(text):
                throw new MdmaiException(MdmaiErrorCode.InvalidEnumValue, $"'{text}' is not a valid value for '{Name}'; expected one of: {string.Join(", ", AllowedValues)}.");
            default:
                return JsonValue.Create(text);
        }
    }

    private MdmaiException Invalid(string text, string expected) =>
        new(MdmaiErrorCode.InvalidArgument, $"'{text}' is not a valid value for '{Name}'; expected {expected}.");
}
