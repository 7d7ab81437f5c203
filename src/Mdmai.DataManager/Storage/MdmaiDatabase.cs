using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Storage.Entities;
using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage;

/// <summary>One full-text search result.</summary>
/// <param name="EntityType">Table of the record, e.g. <c>npcs</c>.</param>
/// <param name="Id">The record's id.</param>
/// <param name="Name">Its name or title.</param>
/// <param name="Snippet">Matching text with the hits in [brackets].</param>
/// <param name="Rank">BM25 rank; lower is better.</param>
public sealed record SearchHit(string EntityType, Guid Id, string Name, string Snippet, double Rank);

/// <summary>Sizes and counts of the database.</summary>
public sealed record DatabaseStats(
    string Path,
    string SqliteVersion,
    int SchemaVersion,
    long FileBytes,
    long WalBytes,
    long PageSize,
    long PageCount,
    long FreelistCount,
    IReadOnlyDictionary<string, long> RowCounts);

/// <summary>What a problem of the database's own checks is.</summary>
public enum DatabaseProblemKind
{
    /// <summary>Damage to the file itself (a page, an index, the full-text index): restore from a backup.</summary>
    Damage = 0,

    /// <summary>A row breaks a rule of the schema (CHECK, NOT NULL, a column's type).</summary>
    BrokenRule = 1,

    /// <summary>A row refers to a record that does not exist (a foreign key).</summary>
    MissingReference = 2,
}

/// <summary>One problem the database's checks found.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Subject">What it concerns: the table (or <c>table.column</c>) of a broken rule, <c>table row N</c> of a missing reference, the database file for damage.</param>
/// <param name="Message">SQLite's words for it, prefixed with the check that found it.</param>
public sealed record DatabaseProblem(DatabaseProblemKind Kind, string Subject, string Message);

/// <summary>The outcome of <see cref="MdmaiDatabase.CheckAsync"/>: no <see cref="Findings"/> means healthy.</summary>
public sealed record DatabaseCheck(IReadOnlyList<DatabaseProblem> Findings)
{
    /// <summary>Whether no problem was found.</summary>
    public bool Ok => Findings.Count == 0;

    /// <summary>Each finding's message.</summary>
    public IReadOnlyList<string> Problems => [.. Findings.Select(f => f.Message)];
}

/// <summary>
/// The embedded SQLite database: typed stores for every entity, the audit log, full-text search,
/// maintenance and the SQL dump. One writer (group commit) and pooled readers under WAL.
/// </summary>
public sealed class MdmaiDatabase : IAsyncDisposable
{
    private readonly ReaderPool _readers;
    private readonly SqliteWriter _writer;
    private readonly Checkpointer _checkpointer;
    private readonly SearchIndexer _indexer;
    private readonly TimeSpan _busyTimeout;

    private MdmaiDatabase(string path, DatabaseOptions options, SqliteConnection writerConnection)
    {
        Path = path;
        Clock = options.Clock;
        _busyTimeout = options.BusyTimeout;
        Protection = options.Keys is { } keys ? new ColumnProtection(new Security.ColumnCipher(keys), required: true)
            : options.Encrypted ? new ColumnProtection(null, required: true) : ColumnProtection.None;
        _writer = new SqliteWriter(writerConnection, options.MaxWriteBatch);
        _readers = new ReaderPool(path, options.BusyTimeout, Math.Max(1, options.MaxReaders));
        _checkpointer = new Checkpointer(path, _writer, options.CheckpointInterval);
        _indexer = new SearchIndexer(_writer, options.SearchIndexInterval);
        Campaigns = new(this, EntitySchema.Campaigns);
        Characters = new(this, EntitySchema.Characters);
        Npcs = new(this, EntitySchema.Npcs);
        Sessions = new(this, EntitySchema.Sessions);
        Rulebooks = new(this, EntitySchema.Rulebooks);
        Profiles = new(this, EntitySchema.Profiles);
        Locations = new(this, EntitySchema.Locations);
        Items = new(this, EntitySchema.Items);
        Spells = new(this, EntitySchema.Spells);
        Assets = new(this, EntitySchema.Assets);
        Settings = new(this, EntitySchema.Settings);
    }

    /// <summary>Full path of the database file.</summary>
    public string Path { get; }

    internal TimeProvider Clock { get; }
    internal ColumnProtection Protection { get; }
    internal SqliteWriter Writer => _writer;
    internal ReaderPool Readers => _readers;
    internal Checkpointer Checkpointer => _checkpointer;

    /// <summary>Campaigns.</summary>
    public EntityStore<Campaign> Campaigns { get; }
    /// <summary>Characters.</summary>
    public EntityStore<Character> Characters { get; }
    /// <summary>Non-player characters.</summary>
    public EntityStore<Npc> Npcs { get; }
    /// <summary>Game sessions.</summary>
    public EntityStore<Session> Sessions { get; }
    /// <summary>Rulebooks.</summary>
    public EntityStore<Rulebook> Rulebooks { get; }
    /// <summary>Personality profiles.</summary>
    public EntityStore<PersonalityProfile> Profiles { get; }
    /// <summary>Locations.</summary>
    public EntityStore<Location> Locations { get; }
    /// <summary>Items.</summary>
    public EntityStore<Item> Items { get; }
    /// <summary>Spells.</summary>
    public EntityStore<Spell> Spells { get; }
    /// <summary>Assets.</summary>
    public EntityStore<Asset> Assets { get; }
    /// <summary>Application settings.</summary>
    public EntityStore<Setting> Settings { get; }

    /// <summary>Tables of user data, in dependency order.</summary>
    public static IReadOnlyList<string> EntityTables { get; } =
        ["campaigns", "characters", "npcs", "sessions", "rulebooks", "personality_profiles", "locations", "items", "spells", "assets", "settings"];

    /// <summary>Tables whose records full-text search finds: the entities and the file catalog.</summary>
    public static IReadOnlyList<string> SearchTables { get; } = [.. EntityTables, "files"];

    /// <summary>The newest schema version this build knows.</summary>
    public static int LatestSchemaVersion => MigrationRunner.Latest;

    /// <summary>
    /// Opens (creating if needed) a database file in WAL mode and brings its schema up to date, unless
    /// <see cref="DatabaseOptions.Migrate"/> is false. An edited or unknown applied migration is refused.
    /// </summary>
    public static Task<MdmaiDatabase> OpenAsync(string path, DatabaseOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new DatabaseOptions();
        cancellationToken.ThrowIfCancellationRequested();
        var full = System.IO.Path.GetFullPath(path);
        var connection = ConnectionFactory.Open(full, options.BusyTimeout, create: true);
        try
        {
            using (var wal = connection.CreateCommand())
            {
                // Checkpoints run in the background (Internal/Checkpointer), not inside a commit.
                wal.CommandText = "PRAGMA wal_autocheckpoint = 0";
                wal.ExecuteNonQuery();
                wal.CommandText = "PRAGMA journal_mode = WAL";
                var mode = (string?)wal.ExecuteScalar();
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    throw new MdmaiException(MdmaiErrorCode.ReadOnly, $"Could not switch '{full}' to WAL mode (got '{mode}'); the folder may be read-only or on a file system without shared memory.");
                }
            }

            if (options.Migrate)
            {
                MigrationRunner.MigrateTo(connection, MigrationRunner.Latest, options.Clock);
            }
            else
            {
                MigrationRunner.Verify(connection);
            }
        }
        catch (Exception ex)
        {
            connection.Dispose();
            throw SqliteErrors.Translate(ex, full);
        }

        return Task.FromResult(new MdmaiDatabase(full, options, connection));
    }

    /// <summary>The schema version the database is at.</summary>
    public Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_readers.Read(c => Convert.ToInt32(c.Get("SELECT coalesce(max(version), 0) FROM schema_migrations", 0).ExecuteScalar(), CultureInfo.InvariantCulture), cancellationToken));

    /// <summary>Rolls the schema forward or back to <paramref name="version"/> (0 to <see cref="LatestSchemaVersion"/>).</summary>
    public Task<int> MigrateToAsync(int version, CancellationToken cancellationToken = default) =>
        _writer.ExecuteExclusiveAsync(c => MigrationRunner.MigrateTo(c.Connection, version, Clock), cancellationToken);

    /// <summary>
    /// How many of the newest matching documents a search ranks (and as many of the newest whose name matches): the
    /// bound on a search's work when a word is common in a big library. Below it every match is ranked.
    /// </summary>
    internal int RankedMatches { get; set; } = 10_000;

    /// <summary>
    /// Full-text search over names, descriptions and notes of every entity, best match first. Words are
    /// matched as given (all must occur); a word ending in <c>*</c> matches as a prefix.
    /// </summary>
    public async Task<IReadOnlyList<SearchHit>> SearchAsync(string text, int limit = 20, string? entityType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (limit is < 1 or > 1000)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"limit must be between 1 and 1000 (was {limit}).");
        }

        if (entityType is not null && !SearchTables.Contains(entityType))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{entityType}' is not a searchable table; use one of {string.Join(", ", SearchTables)}.");
        }

        var match = ToMatchExpression(text);
        if (match.Length == 0)
        {
            return [];
        }

        // Writes reach the index after their commit (migration 0007): index what is pending so the search sees them.
        if (_readers.Read(SearchIndexer.AnyPending, cancellationToken))
        {
            await _indexer.CatchUpAsync(cancellationToken).ConfigureAwait(false);
        }

        // Ranking is the cost of a search: bm25 for every match, and a common word matches much of a big library
        // ("wizard": 446,000 of 1M records, ~0.5 s). So a search ranks the newest RankedMatches documents that
        // match, plus the newest RankedMatches whose name matches (a name hit weighs ×10, so an old record named
        // after the words is never lost behind newer notes that mention them). Below the cap every match is ranked.
        // Then two steps: the best `limit` by rank, and a snippet and a name for those alone (in one query the sorter
        // carried every ranked match's snippet). The second step looks each one up by rowid within the same MATCH
        // (FTS5 seeks its doclist to it) so that snippet() has the match's positions.
        // snippet's column -1: the text comes from whichever column matched best — the name, for a hit on a name (a
        // fixed body column gave a name hit its record's unmarked, often empty, body: "   ").
        var typeJoin = entityType is null ? "" : " JOIN search_docs t ON t.doc_id = s.rowid";
        var typeWhere = entityType is null ? " AND $p1 IS NULL" : " AND t.entity_type = $p1";
        var cutoffSql = $"SELECT s.rowid FROM search_index s{typeJoin} WHERE search_index MATCH $p0{typeWhere} ORDER BY s.rowid DESC LIMIT 1 OFFSET $p2";
        // The older name matches are only found by the name-only expression; they are scored by the whole one, as the
        // newer matches are (a name-only bm25 is on another scale: it would put every old name match above every new one).
        var sql = $"WITH named AS (SELECT s.rowid AS doc FROM search_index s{typeJoin} WHERE search_index MATCH $p4{typeWhere} AND s.rowid < $p3 ORDER BY s.rowid DESC LIMIT $p5), " +
                  "top AS (SELECT doc, r FROM (" +
                  $"SELECT s.rowid AS doc, bm25(search_index, 10.0, 1.0) AS r FROM search_index s{typeJoin} WHERE search_index MATCH $p0{typeWhere} AND s.rowid >= $p3 " +
                  "UNION ALL SELECT s.rowid AS doc, bm25(search_index, 10.0, 1.0) AS r FROM named JOIN search_index s ON s.rowid = named.doc WHERE search_index MATCH $p0" +
                  ") ORDER BY r LIMIT $p2) " +
                  "SELECT d.entity_type, d.entity_id, s.name, snippet(search_index, -1, '[', ']', '…', 16), top.r " +
                  "FROM top JOIN search_index s ON s.rowid = top.doc JOIN search_docs d ON d.doc_id = top.doc " +
                  "WHERE search_index MATCH $p0 ORDER BY top.r, top.doc";
        return _readers.Read(c =>
        {
            c.Get("BEGIN", 0).ExecuteNonQuery();
            try
            {
                var cutoff = c.Get(cutoffSql, 3);
                cutoff.Parameters[0].Value = match;
                cutoff.Parameters[1].Value = (object?)entityType ?? DBNull.Value;
                cutoff.Parameters[2].Value = RankedMatches - 1;
                var oldestRanked = cutoff.ExecuteScalar() is long rowid ? rowid : long.MinValue;

                var command = c.Get(sql, 6);
                command.Parameters[0].Value = match;
                command.Parameters[1].Value = (object?)entityType ?? DBNull.Value;
                command.Parameters[2].Value = limit;
                command.Parameters[3].Value = oldestRanked;
                command.Parameters[4].Value = "{name} : (" + match + ")";
                command.Parameters[5].Value = RankedMatches;
                var hits = new List<SearchHit>();
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    hits.Add(new SearchHit(reader.GetString(0), Guid.Parse(reader.GetString(1)), reader.IsDBNull(2) ? "" : reader.GetString(2),
                        reader.IsDBNull(3) ? "" : reader.GetString(3), reader.GetDouble(4)));
                }

                return hits;
            }
            finally
            {
                c.Get("COMMIT", 0).ExecuteNonQuery();
            }
        }, cancellationToken);
    }

    /// <summary>Turns user text into an FTS5 expression in which every word is a literal (quotes doubled).</summary>
    internal static string ToMatchExpression(string text)
    {
        var terms = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var builder = new StringBuilder();
        foreach (var term in terms)
        {
            var prefix = term.Length > 1 && term.EndsWith('*');
            var word = prefix ? term[..^1] : term;
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append('"').Append(word.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
            if (prefix)
            {
                builder.Append('*');
            }
        }

        return builder.ToString();
    }

    /// <summary>Reads the audit log, newest first, optionally for one table and record.</summary>
    public Task<Page<AuditEntry>> ListAuditAsync(string? tableName = null, Guid? recordId = null, int limit = 50, int offset = 0, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000 || offset < 0)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "limit must be between 1 and 1000 and offset not negative.");
        }

        const string where = " WHERE ($p0 IS NULL OR table_name = $p0) AND ($p1 IS NULL OR record_id = $p1)";
        return Task.FromResult(_readers.Read(c =>
        {
            c.Get("BEGIN", 0).ExecuteNonQuery();
            try
            {
                var page = c.Get("SELECT id, table_name, record_id, operation, user_id, timestamp, old_values, new_values, metadata FROM audit_logs" + where + " ORDER BY id DESC LIMIT $p2 OFFSET $p3", 4);
                page.Parameters[0].Value = (object?)tableName ?? DBNull.Value;
                page.Parameters[1].Value = (object?)recordId?.ToString("D") ?? DBNull.Value;
                page.Parameters[2].Value = limit;
                page.Parameters[3].Value = offset;
                var items = new List<AuditEntry>();
                using (var reader = page.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        items.Add(new AuditEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                            EnumText.Parse<AuditOperation>(reader.GetString(3), "operation"), reader.IsDBNull(4) ? null : reader.GetString(4),
                            Timestamps.Parse(reader.GetString(5)), Json(reader, 6), Json(reader, 7), Json(reader, 8)));
                    }
                }

                var count = c.Get("SELECT count(*) FROM audit_logs" + where, 2);
                count.Parameters[0].Value = (object?)tableName ?? DBNull.Value;
                count.Parameters[1].Value = (object?)recordId?.ToString("D") ?? DBNull.Value;
                return new Page<AuditEntry>(items, (long)count.ExecuteScalar()!, limit, offset);
            }
            finally
            {
                c.Get("COMMIT", 0).ExecuteNonQuery();
            }
        }, cancellationToken));

        static JsonNode? Json(SqliteDataReader reader, int i) => reader.IsDBNull(i) ? null : JsonNode.Parse(reader.GetString(i));
    }

    /// <summary>Row counts per table, file, WAL and page sizes.</summary>
    public Task<DatabaseStats> GetStatsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_readers.Read(c =>
        {
            long Scalar(string sql) => Convert.ToInt64(c.Get(sql, 0).ExecuteScalar(), CultureInfo.InvariantCulture);
            c.Get("BEGIN", 0).ExecuteNonQuery();
            try
            {
                var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
                foreach (var table in SearchTables.Append("objects").Append("audit_logs"))
                {
                    counts[table] = Scalar($"SELECT count(*) FROM {table}");
                }

                var wal = new FileInfo(Path + "-wal");
                return new DatabaseStats(Path, (string)c.Get("SELECT sqlite_version()", 0).ExecuteScalar()!,
                    (int)Scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"),
                    new FileInfo(Path).Length, wal.Exists ? wal.Length : 0,
                    Scalar("PRAGMA page_size"), Scalar("PRAGMA page_count"), Scalar("PRAGMA freelist_count"), counts);
            }
            finally
            {
                c.Get("COMMIT", 0).ExecuteNonQuery();
            }
        }, cancellationToken));

    /// <summary>Runs <c>PRAGMA integrity_check</c> and <c>PRAGMA foreign_key_check</c> and reports every problem found.</summary>
    public Task<DatabaseCheck> CheckAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // A fresh connection: FTS5's part of integrity_check compares against structure a long-lived
        // connection may have cached from before later writes, and reports a false checksum mismatch.
        using var connection = ConnectionFactory.Open(Path, _busyTimeout, readOnly: true);
        var problems = new List<DatabaseProblem>();
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA integrity_check";
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    var line = reader.GetString(0);
                    if (line != "ok")
                    {
                        problems.Add(IntegrityProblem(line));
                    }
                }
            }

            command.CommandText = "PRAGMA foreign_key_check";
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    var row = $"{reader.GetString(0)} row {reader.GetValue(1)}";
                    problems.Add(new DatabaseProblem(DatabaseProblemKind.MissingReference, row, $"foreign_key_check: {row} refers to a missing {reader.GetString(2)} record"));
                }
            }
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.Translate(ex, Path);
        }

        return Task.FromResult(new DatabaseCheck(problems));
    }

    /// <summary>
    /// A line of SQLite's integrity_check as a problem: a broken rule names its table or column ("CHECK constraint
    /// failed in spells", "NULL value in spells.name", "non-integer value in t.c"); anything else is damage.
    /// </summary>
    private static DatabaseProblem IntegrityProblem(string line)
    {
        var message = "integrity_check: " + line;
        foreach (var prefix in (ReadOnlySpan<string>)["CHECK constraint failed in ", "NULL value in "])
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal) && !line[prefix.Length..].Contains(' ', StringComparison.Ordinal))
            {
                return new DatabaseProblem(DatabaseProblemKind.BrokenRule, line[prefix.Length..], message);
            }
        }

        if (line.StartsWith("non-", StringComparison.Ordinal) && line.IndexOf(" value in ", StringComparison.Ordinal) is > 4 and var at
            && !line[..at].Contains(' ', StringComparison.Ordinal) && !line[(at + 10)..].Contains(' ', StringComparison.Ordinal))
        {
            return new DatabaseProblem(DatabaseProblemKind.BrokenRule, line[(at + 10)..], message);
        }

        return new DatabaseProblem(DatabaseProblemKind.Damage, DataFolderFile, message);
    }

    /// <summary>The subject of damage: the database file, by its name in the data folder.</summary>
    private const string DataFolderFile = "mdmai.db";

    /// <summary>
    /// <c>PRAGMA optimize</c>, <c>ANALYZE</c>, <c>VACUUM</c> and a truncating WAL checkpoint, run while no
    /// other write can start. Returns the bytes the file shrank by.
    /// </summary>
    public Task<long> MaintainAsync(CancellationToken cancellationToken = default) =>
        _writer.ExecuteExclusiveAsync(c =>
        {
            // Pages still in the WAL belong to the "before" size: checkpoint them first.
            c.Execute("PRAGMA wal_checkpoint(TRUNCATE);");
            var before = new FileInfo(Path).Length;
            c.Execute("PRAGMA optimize; ANALYZE; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
            return before - new FileInfo(Path).Length;
        }, cancellationToken);

    /// <summary>Reads PRAGMA values back from a fresh read connection (status and tests).</summary>
    internal IReadOnlyDictionary<string, long> ReadConnectionPragmas() =>
        _readers.Read(c => ConnectionFactory.Pragmas.ToDictionary(p => p.Name, p => ConnectionFactory.ReadPragma(c.Connection, p.Name)), CancellationToken.None);

    /// <summary>Waits for queued writes, then closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _indexer.DisposeAsync().ConfigureAwait(false);
        try
        {
            // Leave the index complete for whoever opens the file next (another process, the sqlite3 shell).
            await _indexer.CatchUpAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MdmaiException or ObjectDisposedException)
        {
            // Read-only, full or already closed: the queue stays in the file and is indexed on the next open.
        }

        await _checkpointer.DisposeAsync().ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
        _readers.Dispose();
        if (Protection != ColumnProtection.None)
        {
            Protection.Dispose();
        }
    }
}
