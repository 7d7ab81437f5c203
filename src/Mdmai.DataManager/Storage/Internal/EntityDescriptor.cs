using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Storage.Entities;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage.Internal;

internal enum ColumnKind { Id, NullableId, Text, Int32, NullableInt32, Int64, NullableInt64, NullableDouble, Bool, Timestamp, Enum, Json }

/// <summary>One column: its name (the property's name in snake_case), how it converts, and fast accessors.</summary>
internal sealed class Column<T>
{
    private Func<T, object?>? _get;
    private Action<T, object?>? _set;

    public Column(PropertyInfo property)
    {
        Property = property;
        Name = JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
        var type = property.PropertyType;
        JsonDefault = property.GetCustomAttribute<JsonColumnAttribute>()?.Default;
        IsSensitive = property.GetCustomAttribute<SensitiveAttribute>() is not null;
        Kind = JsonDefault is not null ? ColumnKind.Json
            : type == typeof(Guid) ? ColumnKind.Id
            : type == typeof(Guid?) ? ColumnKind.NullableId
            : type == typeof(string) ? ColumnKind.Text
            : type == typeof(int) ? ColumnKind.Int32
            : type == typeof(int?) ? ColumnKind.NullableInt32
            : type == typeof(long) ? ColumnKind.Int64
            : type == typeof(long?) ? ColumnKind.NullableInt64
            : type == typeof(double?) ? ColumnKind.NullableDouble
            : type == typeof(bool) ? ColumnKind.Bool
            : type == typeof(DateTimeOffset) ? ColumnKind.Timestamp
            : type.IsEnum ? ColumnKind.Enum
            : throw new NotSupportedException($"{typeof(T).Name}.{property.Name}: type {type} has no column mapping.");
    }

    /// <summary>
    /// The property's getter, made on first use: every process describes every entity type (the CLI's commands name
    /// their fields), most never read one. Where code is compiled (the JIT) it is a compiled expression; in the native
    /// CLI an expression would only be interpreted — slower than reflection, and building eleven types' worth of them
    /// was half of the CLI's start-up.
    /// </summary>
    private Func<T, object?> Getter => _get ??= MakeGetter(Property);

    private Action<T, object?> Setter => _set ??= MakeSetter(Property);

    private static Func<T, object?> MakeGetter(PropertyInfo property)
    {
        if (!RuntimeFeature.IsDynamicCodeCompiled)
        {
            return entity => property.GetValue(entity);
        }

        var target = Expression.Parameter(typeof(T));
        return Expression.Lambda<Func<T, object?>>(Expression.Convert(Expression.Property(target, property), typeof(object)), target).Compile();
    }

    private static Action<T, object?> MakeSetter(PropertyInfo property)
    {
        if (!RuntimeFeature.IsDynamicCodeCompiled)
        {
            return (entity, value) => property.SetValue(entity, value);
        }

        var target = Expression.Parameter(typeof(T));
        var value = Expression.Parameter(typeof(object));
        return Expression.Lambda<Action<T, object?>>(
            Expression.Assign(Expression.Property(target, property), Expression.Convert(value, property.PropertyType)), target, value).Compile();
    }

    public PropertyInfo Property { get; }
    public string Name { get; }
    public ColumnKind Kind { get; }
    public string? JsonDefault { get; }
    public bool IsSensitive { get; }
    public bool IsNullable => Kind is ColumnKind.NullableId or ColumnKind.NullableInt32 or ColumnKind.NullableInt64 or ColumnKind.NullableDouble
        || (Kind == ColumnKind.Text && new NullabilityInfoContext().Create(Property).WriteState == NullabilityState.Nullable);

    /// <summary>The value as SQLite stores it.</summary>
    public object ToDb(T entity) => ToDb(Getter(entity));

    public object ToDb(object? value) => value switch
    {
        null => Kind == ColumnKind.Json ? JsonDefault! : DBNull.Value,
        Guid g => g.ToString("D"),
        bool b => b ? 1L : 0L,
        DateTimeOffset t => Timestamps.Format(t),
        JsonNode n => n.ToJsonString(),
        Enum e => EnumText.ToText(Property.PropertyType, e),
        _ => value,
    };

    public void Read(T entity, SqliteDataReader reader, int ordinal, ColumnProtection protection, string table, string id)
    {
        if (reader.IsDBNull(ordinal))
        {
            // A NULL where the property cannot hold one (a file edited outside mdmai): said, never read as 0 or an empty
            // id — the reflection setter of the native CLI would store the default silently.
            if (Kind is ColumnKind.Id or ColumnKind.Int32 or ColumnKind.Int64 or ColumnKind.Bool or ColumnKind.Timestamp or ColumnKind.Enum)
            {
                throw new InvalidDataException($"{table} {id}: column '{Name}' is NULL, which {typeof(T).Name}.{Property.Name} cannot hold.");
            }

            Setter(entity, null);
            return;
        }

        if (IsSensitive)
        {
            var text = protection.Reveal(this, reader.GetString(ordinal), table, id);
            Setter(entity, Kind == ColumnKind.Json ? JsonNode.Parse(text) : (object)text);
            return;
        }

        object? value = Kind switch
        {
            ColumnKind.Id or ColumnKind.NullableId => Guid.Parse(reader.GetString(ordinal)),
            ColumnKind.Text => reader.GetString(ordinal),
            ColumnKind.Int32 or ColumnKind.NullableInt32 => reader.GetInt32(ordinal),
            ColumnKind.Int64 or ColumnKind.NullableInt64 => reader.GetInt64(ordinal),
            ColumnKind.NullableDouble => reader.GetDouble(ordinal),
            ColumnKind.Bool => reader.GetInt64(ordinal) != 0,
            ColumnKind.Timestamp => Timestamps.Parse(reader.GetString(ordinal)),
            ColumnKind.Enum => EnumText.Parse(Property.PropertyType, reader.GetString(ordinal), Name),
            ColumnKind.Json => ReadJson(reader, ordinal),
            _ => throw new InvalidOperationException(),
        };
        Setter(entity, value);
    }

    /// <summary>
    /// Parses a JSON column from the UTF-8 bytes SQLite holds: reading it as a string first decoded it to UTF-16
    /// only for the parser to encode it back (two passes over every JSON value of a page, a third of its time).
    /// </summary>
    private static JsonNode? ReadJson(SqliteDataReader reader, int ordinal) =>
        JsonNode.Parse(reader.GetFieldValue<byte[]>(ordinal)); // sqlite3_column_blob of the TEXT: its UTF-8, copied once

    /// <summary>Converts a filter value given as text (CLI) or as a CLR value (API) to what the column stores.</summary>
    public object ParseFilter(object? value)
    {
        if (value is null)
        {
            return DBNull.Value;
        }

        if (value is not string text)
        {
            return ToDb(value);
        }

        var inv = CultureInfo.InvariantCulture;
        return Kind switch
        {
            ColumnKind.Id or ColumnKind.NullableId => Guid.TryParse(text, out var g) ? g.ToString("D") : throw Invalid(text, "a UUID"),
            ColumnKind.Int32 or ColumnKind.NullableInt32 or ColumnKind.Int64 or ColumnKind.NullableInt64 =>
                long.TryParse(text, NumberStyles.Integer, inv, out var l) ? l : throw Invalid(text, "an integer"),
            ColumnKind.NullableDouble => double.TryParse(text, NumberStyles.Float, inv, out var d) ? d : throw Invalid(text, "a number"),
            ColumnKind.Bool => text.ToUpperInvariant() switch
            {
                "TRUE" or "1" or "YES" => 1L,
                "FALSE" or "0" or "NO" => 0L,
                _ => throw Invalid(text, "true or false"),
            },
            ColumnKind.Timestamp => Timestamps.Format(Timestamps.Parse(text)),
            ColumnKind.Enum => EnumText.ToText(Property.PropertyType, EnumText.Parse(Property.PropertyType, text, Name)),
            _ => text,
        };
    }

    private MdmaiException Invalid(string text, string expected) =>
        new(MdmaiErrorCode.InvalidArgument, $"'{text}' is not a valid value for '{Name}'; expected {expected}.");
}

/// <summary>How an entity type maps to its table: columns, prepared SQL, and the filter and sort whitelists.</summary>
internal sealed class EntityDescriptor<T> where T : Entity, new()
{
    // properties: the public instance properties of T, read where the type is named (EntitySchema) so that trimming keeps them.
    public EntityDescriptor(PropertyInfo[] properties, string table, string searchName, string defaultSort, string[] filters, string[] sorts)
    {
        Table = table;
        SearchName = searchName;
        Columns = [.. properties
            .OrderBy(p => p.DeclaringType == typeof(Entity) ? 0 : 1)
            .Select(p => new Column<T>(p))];
        ByName = Columns.ToDictionary(c => c.Name, StringComparer.Ordinal);
        Filterable = filters.ToHashSet(StringComparer.Ordinal);
        Sortable = sorts.ToHashSet(StringComparer.Ordinal);
        DefaultSort = defaultSort;
        foreach (var name in filters.Concat(sorts).Append(defaultSort))
        {
            if (!ByName.ContainsKey(name))
            {
                throw new InvalidOperationException($"{table}: '{name}' is not a column.");
            }
        }

        var names = string.Join(", ", Columns.Select(c => Quote(c.Name)));
        SelectColumns = names;
        InsertSql = $"INSERT INTO {table} ({names}) VALUES ({string.Join(", ", Columns.Select((_, i) => CommandCache.ParameterName(i)))})";
        Updatable = [.. Columns.Where(c => c.Name is not ("id" or "created_at"))];
        UpdateSql = $"UPDATE {table} SET {string.Join(", ", Updatable.Select((c, i) => $"{Quote(c.Name)} = {CommandCache.ParameterName(i)}"))} WHERE id = {CommandCache.ParameterName(Updatable.Length)}";
        DeleteSql = $"DELETE FROM {table} WHERE id = $p0";
        GetSql = $"SELECT {names} FROM {table} WHERE id = $p0";
        StageCreateSql = $"CREATE TEMP TABLE IF NOT EXISTS stage_{table} AS SELECT {names} FROM main.{table} WHERE 0";
        StageInsertSql = $"INSERT INTO temp.stage_{table} ({names}) VALUES ({string.Join(", ", Columns.Select((_, i) => CommandCache.ParameterName(i)))})";
        StageMoveSql = $"INSERT INTO main.{table} ({names}) SELECT {names} FROM temp.stage_{table} ORDER BY rowid";
        StageClearSql = $"DELETE FROM temp.stage_{table}";
        Fields = [.. Columns.Select(c => new EntityField(
            c.Name,
            c.Kind switch
            {
                ColumnKind.Id or ColumnKind.NullableId => FieldKind.Id,
                ColumnKind.Int32 or ColumnKind.NullableInt32 or ColumnKind.Int64 or ColumnKind.NullableInt64 => FieldKind.Integer,
                ColumnKind.NullableDouble => FieldKind.Real,
                ColumnKind.Bool => FieldKind.Boolean,
                ColumnKind.Timestamp => FieldKind.Timestamp,
                ColumnKind.Enum => FieldKind.Enum,
                ColumnKind.Json => FieldKind.Json,
                _ => FieldKind.Text,
            },
            Required: c.Property.GetCustomAttribute<System.Text.Json.Serialization.JsonRequiredAttribute>() is not null,
            c.Kind == ColumnKind.Enum ? EnumText.Values(c.Property.PropertyType) : [],
            Filterable.Contains(c.Name),
            Sortable.Contains(c.Name) || c.Name == DefaultSort))];
    }

    public IReadOnlyList<EntityField> Fields { get; }

    public string Table { get; }
    /// <summary>The column shown as the record's name in search results and lists.</summary>
    public string SearchName { get; }
    public Column<T>[] Columns { get; }
    public Column<T>[] Updatable { get; }
    public Dictionary<string, Column<T>> ByName { get; }
    public HashSet<string> Filterable { get; }
    public HashSet<string> Sortable { get; }
    public string DefaultSort { get; }
    public string SelectColumns { get; }
    public string InsertSql { get; }
    public string UpdateSql { get; }
    public string DeleteSql { get; }
    public string GetSql { get; }

    /// <summary>
    /// Bulk inserts go through a TEMP staging table and move in chunks with one INSERT … SELECT: FTS5 flushes
    /// its pending index data at every statement that fires triggers, so one statement per row would write a
    /// tiny index segment per row (docs/benchmarks.md measured 4× between the two).
    /// </summary>
    public string StageCreateSql { get; }
    public string StageInsertSql { get; }
    public string StageMoveSql { get; }
    public string StageClearSql { get; }

    public static string Quote(string identifier) => identifier is "range" or "key" or "class" or "value" ? $"\"{identifier}\"" : identifier;

    public T Materialize(SqliteDataReader reader, ColumnProtection protection)
    {
        var entity = new T();
        var id = reader.GetString(0); // Entity's Id is always the first column
        for (var i = 0; i < Columns.Length; i++)
        {
            Columns[i].Read(entity, reader, i, protection, Table, id);
        }

        return entity;
    }

    /// <summary>The values of every column as SQLite stores them, sensitive ones sealed.</summary>
    public object[] Bind(T entity, ColumnProtection protection, Column<T>[] columns, int extra = 0)
    {
        var values = new object[columns.Length + extra];
        Fill(entity, protection, columns, values);
        return values;
    }

    public void Fill(T entity, ColumnProtection protection, Column<T>[] columns, object[] values)
    {
        var id = entity.Id.ToString("D");
        for (var i = 0; i < columns.Length; i++)
        {
            values[i] = protection.Protect(columns[i], columns[i].ToDb(entity), Table, id);
        }
    }
}
