using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Storage.Entities;
using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage;

/// <summary>A page of a listing, shaped as the original app returned it.</summary>
/// <param name="Items">The records of this page.</param>
/// <param name="TotalCount">How many records match the filters in all.</param>
/// <param name="Limit">Most records a page holds.</param>
/// <param name="Offset">Records skipped before this page.</param>
public sealed record Page<T>(IReadOnlyList<T> Items, long TotalCount, int Limit, int Offset)
{
    /// <summary>Whether records follow this page.</summary>
    public bool HasMore => Offset + Items.Count < TotalCount;
}

/// <summary>What to list: equality filters on whitelisted columns, a whitelisted sort, and a page.</summary>
public sealed record ListQuery
{
    /// <summary>Column name (snake_case) to value; text values are parsed by the column's type.</summary>
    public IReadOnlyDictionary<string, object?> Filters { get; init; } = new Dictionary<string, object?>();

    /// <summary>Column to sort by; null means the entity's default (usually its name).</summary>
    public string? SortBy { get; init; }

    /// <summary>Sort in descending order.</summary>
    public bool Descending { get; init; }

    /// <summary>Records per page, 1 to 1000. Default: 50.</summary>
    public int Limit { get; init; } = 50;

    /// <summary>Records to skip. Default: 0.</summary>
    public int Offset { get; init; }
}

/// <summary>
/// The typed operations of one entity: create, get, update, delete, list and bulk insert. Writes go through
/// the database's single writer (grouped into shared transactions); reads use pooled read connections.
/// Every change is written to the audit log in the same transaction (by the schema's triggers).
/// </summary>
public sealed class EntityStore<T> where T : Entity, new()
{
    private readonly MdmaiDatabase _database;
    private readonly EntityDescriptor<T> _descriptor;

    internal EntityStore(MdmaiDatabase database, EntityDescriptor<T> descriptor)
    {
        _database = database;
        _descriptor = descriptor;
    }

    /// <summary>The fields of the entity, in column order.</summary>
    public IReadOnlyList<EntityField> Fields => _descriptor.Fields;

    /// <summary>Reads a record from a JSON object with snake_case field names (unknown fields are refused).</summary>
    public T FromJson(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return json.Deserialize(EntityJson.Options.For<T>())
                ?? throw new MdmaiException(MdmaiErrorCode.MalformedJson, $"Expected a JSON object describing a {typeof(T).Name}.");
        }
        catch (JsonException ex)
        {
            throw GeneratedJson.FromJsonException(ex);
        }
    }

    /// <summary>
    /// Changes the given fields of a record and keeps the rest, reading and writing in one transaction so a
    /// concurrent change is never lost. id, created_at and updated_at cannot be changed.
    /// </summary>
    /// <exception cref="MdmaiException"><see cref="MdmaiErrorCode.NotFound"/> when no record has the id.</exception>
    public Task<T> PatchAsync(Guid id, JsonObject changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var (name, _) in changes)
        {
            if (name is "id" or "created_at" or "updated_at")
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{name}' is set by the store and cannot be changed.");
            }
        }

        var patch = (JsonObject)changes.DeepClone();
        var key = id.ToString("D");
        return _database.Writer.ExecuteAsync(commands =>
        {
            var current = ReadOne(commands, key) ?? throw NotFound(id);
            var json = JsonSerializer.SerializeToNode(current, EntityJson.Options.For<T>())!.AsObject();
            foreach (var (name, value) in patch)
            {
                json[name] = value?.DeepClone();
            }

            var entity = FromJson(json);
            Stamp(entity, created: false);
            var values = _descriptor.Bind(entity, _database.Protection, _descriptor.Updatable, extra: 1);
            values[^1] = key;
            Execute(commands, _descriptor.UpdateSql, values, entity);
            return ReadOne(commands, key)!;
        }, cancellationToken);
    }

    private T? ReadOne(CommandCache commands, string key)
    {
        var get = commands.Get(_descriptor.GetSql, 1);
        get.Parameters[0].Value = key;
        using var reader = get.ExecuteReader();
        return reader.Read() ? _descriptor.Materialize(reader, _database.Protection) : null;
    }

    internal EntityDescriptor<T> Descriptor => _descriptor;

    /// <summary>The table that holds the records.</summary>
    public string TableName => _descriptor.Table;

    /// <summary>Columns that <see cref="ListQuery.Filters"/> accepts.</summary>
    public IReadOnlyCollection<string> FilterColumns => _descriptor.Filterable;

    /// <summary>Columns that <see cref="ListQuery.SortBy"/> accepts.</summary>
    public IReadOnlyCollection<string> SortColumns => _descriptor.Sortable;

    /// <summary>Inserts a record. An empty id gets a new one; created_at and updated_at are set to now.</summary>
    public Task<T> CreateAsync(T entity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        Stamp(entity, created: true);
        var values = _descriptor.Bind(entity, _database.Protection, _descriptor.Columns);
        return _database.Writer.ExecuteAsync(commands =>
        {
            Execute(commands, _descriptor.InsertSql, values, entity);
            return entity;
        }, cancellationToken);
    }

    /// <summary>Replaces a record's fields (all but id and created_at); updated_at is set to now.</summary>
    /// <exception cref="MdmaiException"><see cref="MdmaiErrorCode.NotFound"/> when no record has the id.</exception>
    public Task<T> UpdateAsync(T entity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        Stamp(entity, created: false);
        var values = _descriptor.Bind(entity, _database.Protection, _descriptor.Updatable, extra: 1);
        values[^1] = entity.Id.ToString("D");
        return _database.Writer.ExecuteAsync(commands =>
        {
            if (Execute(commands, _descriptor.UpdateSql, values, entity) == 0)
            {
                throw NotFound(entity.Id);
            }

            // Read back what is stored (created_at is kept from the stored record, not the caller's copy).
            return ReadOne(commands, (string)values[^1])!;
        }, cancellationToken);
    }

    /// <summary>Deletes a record (and, by the schema's rules, what belongs to it).</summary>
    /// <exception cref="MdmaiException"><see cref="MdmaiErrorCode.NotFound"/> when no record has the id.</exception>
    public Task DeleteAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var key = id.ToString("D");
        return _database.Writer.ExecuteAsync(commands =>
        {
            var command = commands.Get(_descriptor.DeleteSql, 1);
            command.Parameters[0].Value = key;
            return command.ExecuteNonQuery() == 0 ? throw NotFound(id) : true;
        }, cancellationToken);
    }

    /// <summary>Reads a record.</summary>
    /// <exception cref="MdmaiException"><see cref="MdmaiErrorCode.NotFound"/> when no record has the id.</exception>
    public async Task<T> GetAsync(Guid id, CancellationToken cancellationToken = default) =>
        await FindAsync(id, cancellationToken).ConfigureAwait(false) ?? throw NotFound(id);

    /// <summary>Reads a record, or null when none has the id.</summary>
    public Task<T?> FindAsync(Guid id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var key = id.ToString("D");
        return Task.FromResult(_database.Readers.Read(commands => ReadOne(commands, key), cancellationToken));
    }

    /// <summary>Lists one page of records matching the filters, with the total count, from one consistent snapshot.</summary>
    public Task<Page<T>> ListAsync(ListQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new ListQuery();
        cancellationToken.ThrowIfCancellationRequested();
        if (query.Limit is < 1 or > 1000)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"limit must be between 1 and 1000 (was {query.Limit}).");
        }

        if (query.Offset < 0)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"offset must not be negative (was {query.Offset}).");
        }

        var sort = query.SortBy ?? _descriptor.DefaultSort;
        if (!_descriptor.Sortable.Contains(sort) && sort != _descriptor.DefaultSort)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument,
                $"{_descriptor.Table} cannot be sorted by '{sort}'; sortable columns: {string.Join(", ", _descriptor.Sortable.Order(StringComparer.Ordinal))}.");
        }

        var where = new StringBuilder();
        var values = new List<object>();
        foreach (var (name, value) in query.Filters.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (!_descriptor.Filterable.Contains(name))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument,
                    $"{_descriptor.Table} cannot be filtered by '{name}'; filterable columns: {string.Join(", ", _descriptor.Filterable.Order(StringComparer.Ordinal))}.");
            }

            var column = _descriptor.ByName[name];
            var dbValue = column.ParseFilter(value);
            where.Append(where.Length == 0 ? " WHERE " : " AND ");
            if (dbValue is DBNull)
            {
                where.Append(EntityDescriptor<T>.Quote(name)).Append(" IS NULL");
            }
            else
            {
                where.Append(EntityDescriptor<T>.Quote(name)).Append(" = ").Append(CommandCache.ParameterName(values.Count));
                values.Add(dbValue);
            }
        }

        var direction = query.Descending ? "DESC" : "ASC";
        var filterCount = values.Count;
        var pageSql = $"SELECT {_descriptor.SelectColumns} FROM {_descriptor.Table}{where} ORDER BY {EntityDescriptor<T>.Quote(sort)} {direction}, rowid {direction} LIMIT {CommandCache.ParameterName(filterCount)} OFFSET {CommandCache.ParameterName(filterCount + 1)}";
        var countSql = $"SELECT count(*) FROM {_descriptor.Table}{where}";
        return Task.FromResult(_database.Readers.Read(commands =>
        {
            commands.Get("BEGIN", 0).ExecuteNonQuery();
            try
            {
                var page = commands.Get(pageSql, filterCount + 2);
                for (var i = 0; i < filterCount; i++)
                {
                    page.Parameters[i].Value = values[i];
                }

                page.Parameters[filterCount].Value = query.Limit;
                page.Parameters[filterCount + 1].Value = query.Offset;
                var items = new List<T>(Math.Min(query.Limit, 128));
                using (var reader = page.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        items.Add(_descriptor.Materialize(reader, _database.Protection));
                    }
                }

                var count = commands.Get(countSql, filterCount);
                for (var i = 0; i < filterCount; i++)
                {
                    count.Parameters[i].Value = values[i];
                }

                var total = (long)count.ExecuteScalar()!;
                return new Page<T>(items, total, query.Limit, query.Offset);
            }
            finally
            {
                commands.Get("COMMIT", 0).ExecuteNonQuery();
            }
        }, cancellationToken));
    }

    /// <summary>Streams every record from one consistent snapshot, in storage order, without loading them all.</summary>
    public async IAsyncEnumerable<T> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var lease = _database.Readers.Rent(cancellationToken);
        using var command = lease.Commands.Connection.CreateCommand();
        command.CommandText = $"SELECT {_descriptor.SelectColumns} FROM {_descriptor.Table} ORDER BY rowid";
        // A single statement is its own read transaction: every row comes from the same snapshot.
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return _descriptor.Materialize(reader, _database.Protection);
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>
    /// Inserts many records in one transaction: all of them or, if any fails (bad record, broken rule, an
    /// exception from the sequence itself), none. The sequence is consumed as it is written, so memory stays
    /// constant whatever its length.
    /// </summary>
    /// <returns>The number of records inserted.</returns>
    public Task<long> BulkInsertAsync(IEnumerable<T> entities, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entities);
        // Its own transaction: the sequence may be one-shot (a file being read), so this must run exactly once.
        return _database.Writer.ExecuteAloneAsync(commands =>
        {
            commands.Execute(_descriptor.StageCreateSql);
            commands.Execute(_descriptor.StageClearSql);
            var chunk = new List<T>(BulkChunk);
            long count = 0;
            var values = new object[_descriptor.Columns.Length];
            try
            {
                foreach (var entity in entities)
                {
                    if ((count & 1023) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    Stamp(entity, created: true);
                    _descriptor.Fill(entity, _database.Protection, _descriptor.Columns, values);
                    var stage = commands.Get(_descriptor.StageInsertSql, values.Length);
                    for (var i = 0; i < values.Length; i++)
                    {
                        stage.Parameters[i].Value = values[i];
                    }

                    stage.ExecuteNonQuery();
                    chunk.Add(entity);
                    count++;
                    if (chunk.Count == BulkChunk)
                    {
                        MoveChunk(commands, chunk, count - chunk.Count);
                        progress?.Report(count);
                    }
                }

                MoveChunk(commands, chunk, count - chunk.Count);
            }
            finally
            {
                ClearStage(commands);
            }

            progress?.Report(count);
            return count;
        }, cancellationToken);
    }

    private const int BulkChunk = 1000;

    /// <summary>Moves the staged rows in one statement; if one breaks a rule, finds it row by row to name it.</summary>
    private void MoveChunk(CommandCache commands, List<T> chunk, long first)
    {
        if (chunk.Count == 0)
        {
            return;
        }

        try
        {
            commands.Get(_descriptor.StageMoveSql, 0).ExecuteNonQuery();

            // Index the chunk in the bulk insert's own transaction: one index segment per chunk, as before the
            // index moved after the commit, and the records are searchable when the bulk insert returns.
            SearchIndexer.IndexPending(commands, int.MaxValue);
        }
        catch (SqliteException) when (!commands.Connection.AutoCommitState())
        {
            // The failed statement left nothing of the chunk behind; insert it row by row to name the culprit
            // (the whole bulk insert is rolled back by the caller's transaction either way). When SQLite has
            // rolled the whole transaction back itself (disk full), there is nothing to name and no
            // transaction to insert into: the error goes up as it is.
            var values = new object[_descriptor.Columns.Length];
            for (var i = 0; i < chunk.Count; i++)
            {
                _descriptor.Fill(chunk[i], _database.Protection, _descriptor.Columns, values);
                try
                {
                    Execute(commands, _descriptor.InsertSql, values, chunk[i]);
                }
                catch (Exception ex) when (SqliteErrors.Translate(ex) is MdmaiException translated)
                {
                    throw new MdmaiException(translated.Code, $"Record {first + i + 1}: {translated.Message}", ex);
                }
            }

            throw;
        }
        finally
        {
            ClearStage(commands);
            chunk.Clear();
        }
    }

    private void ClearStage(CommandCache commands)
    {
        try
        {
            commands.Execute(_descriptor.StageClearSql);
        }
        catch (SqliteException)
        {
            // The staging table went with a transaction SQLite rolled back (it is created inside it):
            // there is nothing to clear, and the original error is what the caller must see.
        }
    }

    private int Execute(CommandCache commands, string sql, object[] values, T entity)
    {
        var command = commands.Get(sql, values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        try
        {
            return command.ExecuteNonQuery();
        }
        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == 787)
        {
            throw DanglingReference(commands, entity, ex);
        }
    }

    /// <summary>SQLite does not say which foreign key failed; this finds the column and names the missing record.</summary>
    private Exception DanglingReference(CommandCache commands, T entity, SqliteException ex)
    {
        foreach (var column in _descriptor.Columns)
        {
            if (column.Kind is not (ColumnKind.Id or ColumnKind.NullableId) || column.Name == "id" || column.ToDb(entity) is not string key)
            {
                continue;
            }

            var target = ForeignKeys.Target(_descriptor.Table, column.Name);
            if (target is null)
            {
                continue;
            }

            using var probe = commands.Connection.CreateCommand();
            probe.CommandText = $"SELECT 1 FROM {target} WHERE id = $id";
            probe.Parameters.AddWithValue("$id", key);
            if (probe.ExecuteScalar() is null)
            {
                return new MdmaiException(MdmaiErrorCode.NotFound,
                    $"{_descriptor.Table}.{column.Name} refers to {target} '{key}', which does not exist. Create it first or fix the id.", ex);
            }
        }

        return SqliteErrors.Translate(ex, _descriptor.Table);
    }

    private void Stamp(T entity, bool created)
    {
        var now = Timestamps.Truncate(_database.Clock.GetUtcNow());
        if (created)
        {
            if (entity.Id == Guid.Empty)
            {
                entity.Id = Guid.CreateVersion7(now);
            }

            entity.CreatedAt = now;
        }

        entity.UpdatedAt = now;
    }

    private MdmaiException NotFound(Guid id) =>
        new(MdmaiErrorCode.NotFound, $"No record in {_descriptor.Table} has id '{id:D}'. List them with 'mdmai <entity> list'.");
}

/// <summary>The foreign keys of the schema, for naming a dangling reference.</summary>
internal static class ForeignKeys
{
    public static string? Target(string table, string column) => (table, column) switch
    {
        (_, "campaign_id") => "campaigns",
        ("personality_profiles", "character_id") => "characters",
        ("personality_profiles", "npc_id") => "npcs",
        ("locations", "parent_location_id") => "locations",
        _ => null,
    };
}
