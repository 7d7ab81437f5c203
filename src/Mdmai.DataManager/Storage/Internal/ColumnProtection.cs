using System.Text.Json.Nodes;
using Mdmai.DataManager.Security;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>
/// Applies the encryption of sensitive columns between the typed API and SQLite. Text columns hold
/// <c>enc:v1:…</c>; JSON object columns hold <c>{"$enc": "enc:v1:…"}</c> and JSON array columns (default
/// <c>[]</c>) <c>[{"$enc": "enc:v1:…"}]</c>, so they stay valid JSON objects or arrays for the schema's checks. Without keys on an encrypted database, writing or reading a sensitive value is
/// refused (WrongKey) rather than stored or shown in plain text.
/// </summary>
internal sealed class ColumnProtection(ColumnCipher? cipher, bool required) : IDisposable
{
    private const string JsonMarker = "$enc";

    public static ColumnProtection None { get; } = new(null, required: false);

    public bool Active => cipher is not null;

    public object Protect<T>(Column<T> column, object value, string table, string id)
    {
        if (!column.IsSensitive || value is not string text || text == column.JsonDefault)
        {
            return value;
        }

        if (cipher is null)
        {
            return required
                ? throw new MdmaiException(MdmaiErrorCode.WrongKey, $"{table}.{column.Name} is encrypted in this data folder; unlock it with the password to write it.")
                : value;
        }

        var sealedText = cipher.Encrypt(text, table, column.Name, id);
        if (column.Kind != ColumnKind.Json)
        {
            return sealedText;
        }

        var sealedJson = new JsonObject { [JsonMarker] = sealedText };
        return IsArrayColumn(column) ? new JsonArray(sealedJson).ToJsonString() : sealedJson.ToJsonString();
    }

    public string Reveal<T>(Column<T> column, string stored, string table, string id)
    {
        string? sealedText = null;
        if (column.Kind == ColumnKind.Json)
        {
            if (stored.StartsWith("{\"" + JsonMarker + "\"", StringComparison.Ordinal) && JsonNode.Parse(stored) is JsonObject { Count: 1 } o && o[JsonMarker] is JsonValue v)
            {
                sealedText = v.GetValue<string>();
            }
            else if (IsArrayColumn(column) && stored.StartsWith("[{\"" + JsonMarker + "\"", StringComparison.Ordinal)
                && JsonNode.Parse(stored) is JsonArray { Count: 1 } a && a[0] is JsonObject { Count: 1 } e && e[JsonMarker] is JsonValue w)
            {
                sealedText = w.GetValue<string>();
            }
        }
        else if (ColumnCipher.IsEncrypted(stored))
        {
            sealedText = stored;
        }

        if (sealedText is null)
        {
            return stored;
        }

        return cipher is null
            ? throw new MdmaiException(MdmaiErrorCode.WrongKey, $"{table}.{column.Name} is encrypted; unlock the data folder with its password to read it.")
            : cipher.Decrypt(sealedText, table, column.Name, id);
    }

    /// <summary>A JSON column that holds an array (its CHECK wants json_type 'array'): its default is <c>[]</c>.</summary>
    private static bool IsArrayColumn<T>(Column<T> column) => column.JsonDefault == "[]";

    public void Dispose() => cipher?.Dispose();
}
