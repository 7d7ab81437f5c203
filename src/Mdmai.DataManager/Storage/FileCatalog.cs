using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage;

/// <summary>A row of <c>files</c>: a stored file's name, kind and owners, and the object holding its content (texts as stored).</summary>
internal sealed record CatalogFile(
    string Id, string Name, string Category, string MimeType, long Size, long StoredSize, string ObjectId, string Metadata, string Tags,
    string? CampaignId, string? AssetId, string? RulebookId, string CreatedAt, string UpdatedAt);

/// <summary>How an object of <c>objects</c> is kept on disk: its stored size, raw or framed, compressed, and the key epoch that sealed it (null: not encrypted).</summary>
internal readonly record struct ObjectEncoding(long StoredSize, bool Framed, bool Compressed, long? KeyEpoch)
{
    public string Storage => Framed ? "framed" : "raw";
}

/// <summary>An object as the integrity check sees it: what its row records and what the files rows say of it.</summary>
internal sealed record CatalogObject(string Id, long StoredSize, long RefCount, long Files, string? FirstName);

/// <summary>The store's totals: files per category (count, bytes) and the objects' counts and sizes.</summary>
internal sealed record CatalogTotals(IReadOnlyDictionary<string, (long Files, long Bytes)> ByCategory, long Objects, long ObjectBytes, long StoredBytes);

/// <summary>
/// The catalog of the file store: the <c>files</c> rows (what the user stored, under which name) and the <c>objects</c>
/// rows (content, once per content id, reference counted by triggers). The one owner of their SQL: the file store, the
/// integrity check and repair, the backup's export and the portable import all go through it. Writes run on the
/// database's one writer thread, each a transaction (<see cref="WriteAsync{T}"/>); the work may move object files there
/// too, which is what keeps an import and a delete of the same content from racing.
/// </summary>
internal sealed class FileCatalog(MdmaiDatabase database)
{
    private const string FileColumns = "f.id, f.name, f.category, f.mime_type, f.size, f.stored_size, f.object_id, f.metadata, f.tags, f.campaign_id, f.asset_id, f.rulebook_id, f.created_at, f.updated_at";
    private const string SelectFile = "SELECT " + FileColumns + " FROM files f";
    private const string ListFilter = " WHERE ($p0 IS NULL OR f.category = $p0) AND ($p1 IS NULL OR f.campaign_id = $p1) AND ($p2 IS NULL OR substr(f.name, 1, length($p2)) = $p2)";

    /// <summary>Runs <paramref name="work"/> in one write transaction on the writer thread (it may run again after a busy retry: keep it idempotent).</summary>
    public Task<T> WriteAsync<T>(Func<Transaction, T> work, CancellationToken cancellationToken) =>
        database.Writer.ExecuteAsync(commands => work(new Transaction(commands)), cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction of its own, exactly once: bulk work (a folder import's batch) that
    /// is not grouped with other writes — grouped, it would run inside a savepoint, whose statement journal SQLite truncates
    /// from its start after every statement.
    /// </summary>
    public Task<T> WriteAloneAsync<T>(Func<Transaction, T> work, CancellationToken cancellationToken) =>
        database.Writer.ExecuteAloneAsync(commands => work(new Transaction(commands)), cancellationToken);

    /// <summary>Runs <paramref name="work"/> on the writer thread outside a transaction, alone: after a commit, to act on files only if no row claimed them since.</summary>
    public Task<T> WriteExclusiveAsync<T>(Func<Transaction, T> work, CancellationToken cancellationToken) =>
        database.Writer.ExecuteExclusiveAsync(commands => work(new Transaction(commands)), cancellationToken);

    /// <summary>The statements of one write.</summary>
    public sealed class Transaction
    {
        private readonly CommandCache _commands;

        internal Transaction(CommandCache commands) => _commands = commands;

        /// <summary>Runs <paramref name="undo"/> on the writer thread should this write's changes be rolled back (see <see cref="CommandCache.OnRollback"/>).</summary>
        public void OnRollback(Action undo) => _commands.OnRollback(undo);

        /// <summary>The stored size the catalog records for an object, or null when it records none.</summary>
        public long? StoredSizeOf(string objectId)
        {
            var command = _commands.Get("SELECT stored_size FROM objects WHERE object_id = $p0", 1);
            command.Parameters[0].Value = objectId;
            return command.ExecuteScalar() as long?;
        }

        /// <summary>Whether the catalog records the object.</summary>
        public bool HasObject(string objectId)
        {
            var command = _commands.Get("SELECT 1 FROM objects WHERE object_id = $p0", 1);
            command.Parameters[0].Value = objectId;
            return command.ExecuteScalar() is not null;
        }

        /// <summary>
        /// Indexes for search what this transaction (and any before it) left pending: a batch of many new files is
        /// indexed at once, one index segment for the batch, instead of by the background indexer in pieces afterwards.
        /// </summary>
        public void IndexSearch() => SearchIndexer.IndexPending(_commands, int.MaxValue);

        /// <summary>Records an object unless the catalog records it already: true when it was added.</summary>
        public bool TryAddObject(string objectId, long size, ObjectEncoding encoding, string createdAt)
        {
            var insert = _commands.Get("INSERT INTO objects (object_id, size, stored_size, storage, compressed, encrypted, key_epoch, created_at) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7) ON CONFLICT (object_id) DO NOTHING", 8);
            Bind(insert, objectId, size, encoding);
            insert.Parameters[7].Value = createdAt;
            return insert.ExecuteNonQuery() == 1;
        }

        /// <summary>Records how an object of <paramref name="size"/> bytes is now kept; false when the catalog has no such object of that size.</summary>
        public bool SetEncoding(string objectId, long size, ObjectEncoding encoding)
        {
            var update = _commands.Get("UPDATE objects SET stored_size = $p2, storage = $p3, compressed = $p4, encrypted = $p5, key_epoch = $p6 WHERE object_id = $p0 AND size = $p1", 7);
            Bind(update, objectId, size, encoding);
            return update.ExecuteNonQuery() == 1;
        }

        /// <summary>An object's id, size and encoding as $p0–$p6, the order both statements above take them in.</summary>
        private static void Bind(SqliteCommand command, string objectId, long size, ObjectEncoding encoding)
        {
            command.Parameters[0].Value = objectId;
            command.Parameters[1].Value = size;
            command.Parameters[2].Value = encoding.StoredSize;
            command.Parameters[3].Value = encoding.Storage;
            command.Parameters[4].Value = encoding.Compressed ? 1 : 0;
            command.Parameters[5].Value = encoding.KeyEpoch is null ? 0 : 1;
            command.Parameters[6].Value = encoding.KeyEpoch is { } epoch ? epoch : DBNull.Value;
        }

        /// <summary>Moves an object sealed under an older epoch to <paramref name="epoch"/>; false when it is there already (or gone).</summary>
        public bool SetEpoch(string objectId, long epoch, long storedSize)
        {
            var update = _commands.Get("UPDATE objects SET key_epoch = $p1, stored_size = $p2 WHERE object_id = $p0 AND key_epoch < $p1", 3);
            update.Parameters[0].Value = objectId;
            update.Parameters[1].Value = epoch;
            update.Parameters[2].Value = storedSize;
            return update.ExecuteNonQuery() == 1;
        }

        /// <summary>Records an object's new stored size on the files that use it; returns the ids of the rows it changed.</summary>
        public List<string> SetStoredSize(string objectId, long stored)
        {
            var update = _commands.Get("UPDATE files SET stored_size = $p1 WHERE object_id = $p0 AND stored_size <> $p1 RETURNING id", 2);
            update.Parameters[0].Value = objectId;
            update.Parameters[1].Value = stored;
            var ids = new List<string>();
            using var reader = update.ExecuteReader();
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }

            return ids;
        }

        /// <summary>Adds a file row. An owner (campaign, asset, rulebook) that does not exist is <see cref="MdmaiErrorCode.NotFound"/>.</summary>
        public void AddFile(CatalogFile row)
        {
            var insert = _commands.Get("INSERT INTO files (id, name, category, mime_type, size, stored_size, object_id, metadata, tags, campaign_id, asset_id, rulebook_id, created_at, updated_at) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7, $p8, $p9, $p10, $p11, $p12, $p13)", 14);
            object[] values =
            [
                row.Id, row.Name, row.Category, row.MimeType, row.Size, row.StoredSize, row.ObjectId, row.Metadata, row.Tags,
                (object?)row.CampaignId ?? DBNull.Value, (object?)row.AssetId ?? DBNull.Value, (object?)row.RulebookId ?? DBNull.Value, row.CreatedAt, row.UpdatedAt,
            ];
            for (var i = 0; i < values.Length; i++)
            {
                insert.Parameters[i].Value = values[i];
            }

            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == 787)
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, "The campaign, asset or rulebook the file should belong to does not exist. Check the id.", ex);
            }
        }

        /// <summary>
        /// Removes a file row; returns its object id and whether the object's row went too (it was the last reference).
        /// Null when there is no such row.
        /// </summary>
        public (string ObjectId, bool Orphaned)? RemoveFile(string id)
        {
            var find = _commands.Get("SELECT object_id FROM files WHERE id = $p0", 1);
            find.Parameters[0].Value = id;
            if (find.ExecuteScalar() is not string objectId)
            {
                return null;
            }

            var delete = _commands.Get("DELETE FROM files WHERE id = $p0", 1);
            delete.Parameters[0].Value = id;
            delete.ExecuteNonQuery();
            var drop = _commands.Get("DELETE FROM objects WHERE object_id = $p0 AND ref_count = 0", 1);
            drop.Parameters[0].Value = objectId;
            return (objectId, drop.ExecuteNonQuery() == 1);
        }

        /// <summary>Removes an object's row when no file uses it; false when one does (or there is no row).</summary>
        public bool RemoveObjectIfUnused(string objectId)
        {
            var delete = _commands.Get("DELETE FROM objects WHERE object_id = $p0 AND NOT EXISTS (SELECT 1 FROM files WHERE object_id = $p0)", 1);
            delete.Parameters[0].Value = objectId;
            return delete.ExecuteNonQuery() == 1;
        }

        /// <summary>Sets every object's reference count to the number of files using it; returns how many were wrong.</summary>
        public int RecountReferences() =>
            _commands.Get("UPDATE objects SET ref_count = (SELECT count(*) FROM files f WHERE f.object_id = objects.object_id) WHERE ref_count <> (SELECT count(*) FROM files f WHERE f.object_id = objects.object_id)", 0).ExecuteNonQuery();
    }

    /// <summary>A file row, or null.</summary>
    public CatalogFile? GetFile(string id, CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        var command = c.Get(SelectFile + " WHERE f.id = $p0", 1);
        command.Parameters[0].Value = id;
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadFile(reader) : null;
    }, cancellationToken);

    /// <summary>
    /// A page of file rows with the filters' total, read in one transaction, sorted by <paramref name="sort"/>: name,
    /// size, category, mime_type or created_at (anything else is <see cref="MdmaiErrorCode.InvalidArgument"/>; it is
    /// never put into the SQL).
    /// </summary>
    public (List<CatalogFile> Items, long Total) ListFiles(string? category, string? campaignId, string? namePrefix, string sort, bool descending, int limit, int offset, CancellationToken cancellationToken)
    {
        if (sort is not ("name" or "size" or "created_at" or "category" or "mime_type"))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"Files cannot be sorted by '{sort}'; use name, size, category, mime_type or created_at.");
        }

        var direction = descending ? "DESC" : "ASC";
        return database.Readers.Read(c =>
        {
            void Bind(SqliteCommand command)
            {
                command.Parameters[0].Value = (object?)category ?? DBNull.Value;
                command.Parameters[1].Value = (object?)campaignId ?? DBNull.Value;
                command.Parameters[2].Value = (object?)namePrefix ?? DBNull.Value;
            }

            c.Get("BEGIN", 0).ExecuteNonQuery();
            try
            {
                var page = c.Get($"{SelectFile}{ListFilter} ORDER BY f.{sort} {direction}, f.rowid {direction} LIMIT $p3 OFFSET $p4", 5);
                Bind(page);
                page.Parameters[3].Value = limit;
                page.Parameters[4].Value = offset;
                var items = new List<CatalogFile>();
                using (var reader = page.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        items.Add(ReadFile(reader));
                    }
                }

                var count = c.Get($"SELECT count(*) FROM files f{ListFilter}", 3);
                Bind(count);
                return (items, (long)count.ExecuteScalar()!);
            }
            finally
            {
                c.Get("COMMIT", 0).ExecuteNonQuery();
            }
        }, cancellationToken);
    }

    /// <summary>How an object is stored and its plain size, or null when the catalog does not record it.</summary>
    public (string Storage, long Size)? GetObject(string objectId, CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        var command = c.Get("SELECT storage, size FROM objects WHERE object_id = $p0", 1);
        command.Parameters[0].Value = objectId;
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetString(0), reader.GetInt64(1)) : ((string, long)?)null;
    }, cancellationToken);

    /// <summary>Every object, in id order, that <paramref name="include"/> selects (all when null): id, storage, plain size.</summary>
    public List<(string Id, string Storage, long Size)> ListObjects(Func<string, bool>? include, CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        var list = new List<(string Id, string Storage, long Size)>();
        using var reader = c.Get("SELECT object_id, storage, size FROM objects ORDER BY object_id", 0).ExecuteReader();
        while (reader.Read())
        {
            if (include is null || include(reader.GetString(0)))
            {
                list.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
            }
        }

        return list;
    }, cancellationToken);

    /// <summary>The encrypted objects sealed under an epoch older than <paramref name="epoch"/>, in id order, with whether each is compressed.</summary>
    public List<(string Id, bool Compressed)> ObjectsBeforeEpoch(long epoch, CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        var list = new List<(string Id, bool Compressed)>();
        var command = c.Get("SELECT object_id, compressed FROM objects WHERE encrypted = 1 AND key_epoch < $p0 ORDER BY object_id", 1);
        command.Parameters[0].Value = epoch;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            list.Add((reader.GetString(0), reader.GetInt64(1) != 0));
        }

        return list;
    }, cancellationToken);

    /// <summary>The ids of the objects some file uses.</summary>
    public List<string> ReferencedObjects(CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        using var reader = c.Get("SELECT object_id FROM objects WHERE ref_count > 0", 0).ExecuteReader();
        var list = new List<string>();
        while (reader.Read())
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }, cancellationToken);

    /// <summary>Every object with its recorded reference count and the files that actually use it, in id order.</summary>
    public List<CatalogObject> ObjectsWithUse(CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        var list = new List<CatalogObject>();
        using var reader = c.Get("SELECT o.object_id, o.stored_size, o.ref_count, count(f.id), min(f.name) FROM objects o LEFT JOIN files f ON f.object_id = o.object_id GROUP BY o.object_id ORDER BY o.object_id", 0).ExecuteReader();
        while (reader.Read())
        {
            list.Add(new CatalogObject(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return list;
    }, cancellationToken);

    /// <summary>Counts and sizes of files (per category) and objects, read in one transaction.</summary>
    /// <summary>Files imported, their bytes and their stored bytes, day by day (UTC), oldest first.</summary>
    public List<(string Day, long Files, long Bytes, long StoredBytes)> ImportsByDay(CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        var days = new List<(string, long, long, long)>();
        using var reader = c.Get("SELECT substr(created_at, 1, 10) AS day, count(*), coalesce(sum(size), 0), coalesce(sum(stored_size), 0) FROM files GROUP BY day ORDER BY day", 0).ExecuteReader();
        while (reader.Read())
        {
            days.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        return days;
    }, cancellationToken);

    public CatalogTotals Totals(CancellationToken cancellationToken) => database.Readers.Read(c =>
    {
        c.Get("BEGIN", 0).ExecuteNonQuery();
        try
        {
            var byCategory = new SortedDictionary<string, (long Files, long Bytes)>(StringComparer.Ordinal);
            using (var reader = c.Get("SELECT category, count(*), coalesce(sum(size), 0) FROM files GROUP BY category", 0).ExecuteReader())
            {
                while (reader.Read())
                {
                    byCategory[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
                }
            }

            using var totals = c.Get("SELECT count(*), coalesce(sum(size), 0), coalesce(sum(stored_size), 0) FROM objects", 0).ExecuteReader();
            totals.Read();
            return new CatalogTotals(byCategory, totals.GetInt64(0), totals.GetInt64(1), totals.GetInt64(2));
        }
        finally
        {
            c.Get("COMMIT", 0).ExecuteNonQuery();
        }
    }, cancellationToken);

    /// <summary>
    /// The files of a database copy that is not open (a snapshot's, being exported), with each file's object size and
    /// storage, in category and name order; none when the copy predates the file store. Read through the one connection
    /// factory, read-only.
    /// </summary>
    public static IEnumerable<(CatalogFile File, long ObjectSize, string Storage)> FilesOfCopy(string databasePath)
    {
        using var connection = ConnectionFactory.Open(databasePath, TimeSpan.FromSeconds(5), readOnly: true, copy: true);
        using var commands = new CommandCache(connection);
        if ((long)commands.Get("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('files', 'objects')", 0).ExecuteScalar()! != 2)
        {
            yield break;
        }

        using var reader = commands.Get("SELECT " + FileColumns + ", o.size, o.storage FROM files f JOIN objects o ON o.object_id = f.object_id ORDER BY f.category, f.name, f.id", 0).ExecuteReader();
        while (reader.Read())
        {
            yield return (ReadFile(reader), reader.GetInt64(14), reader.GetString(15));
        }
    }

    private static CatalogFile ReadFile(SqliteDataReader r)
    {
        string? Optional(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        return new CatalogFile(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5), r.GetString(6), r.GetString(7), r.GetString(8),
            Optional(9), Optional(10), Optional(11), r.GetString(12), r.GetString(13));
    }
}
