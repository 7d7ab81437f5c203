using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>Opens connections with the design's per-connection PRAGMAs applied.</summary>
internal static class ConnectionFactory
{
    /// <summary>The PRAGMAs every connection gets, with the value SQLite reports back once set.</summary>
    public static readonly IReadOnlyList<(string Name, string Value, long Expected)> Pragmas =
    [
        ("synchronous", "NORMAL", 1),
        ("cache_size", "-64000", -64000),
        ("temp_store", "MEMORY", 2),
        ("mmap_size", "268435456", 268435456),
        ("foreign_keys", "ON", 1),
    ];

    /// <summary>
    /// Turns SQLite's memory statistics off, once, before the first connection opens. The bundled build keeps them on,
    /// so every allocation SQLite makes (several per row written) took a process-wide mutex: in a folder import of 10k
    /// files the catalog writer spent ~9 % of its time taking and releasing mutexes, under 1 % without. Nothing here
    /// reads the statistics (<c>sqlite3_memory_used</c>, a soft heap limit). Changes nothing — SQLite refuses it — if
    /// some other code in the process opened a connection first.
    /// </summary>
    static ConnectionFactory()
    {
        SQLitePCL.Batteries_V2.Init();
        _ = SQLitePCL.raw.sqlite3_config(SQLitePCL.raw.SQLITE_CONFIG_MEMSTATUS, 0);
    }

    /// <summary>
    /// Opens <paramref name="path"/>. <paramref name="readOnly"/> makes the connection refuse writes (query_only);
    /// <paramref name="copy"/> opens the file itself read-only too, for reading a file that is not ours to change (the
    /// live database a backup captures: a read-write connection closing last would checkpoint it) or a staged copy.
    /// </summary>
    public static SqliteConnection Open(string path, TimeSpan busyTimeout, bool readOnly = false, bool create = false, bool copy = false)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = copy ? SqliteOpenMode.ReadOnly : create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false, // connections are held by the writer and the reader pool for their whole life
            // Microsoft.Data.Sqlite retries BUSY itself for DefaultTimeout seconds, and 0 means forever:
            // it must be finite, or a lock held by another process hangs us instead of being reported.
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(busyTimeout.TotalSeconds)),
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            var sql = new System.Text.StringBuilder();
            sql.Append("PRAGMA busy_timeout = ").Append((long)busyTimeout.TotalMilliseconds).Append(';');
            foreach (var (name, value, _) in Pragmas)
            {
                sql.Append("PRAGMA ").Append(name).Append(" = ").Append(value).Append(';');
            }

            if (readOnly)
            {
                sql.Append("PRAGMA query_only = ON;");
            }

            command.CommandText = sql.ToString();
            command.ExecuteNonQuery();
            return connection;
        }
        catch (Exception ex)
        {
            connection.Dispose();
            throw SqliteErrors.Translate(ex, path);
        }
    }

    /// <summary>Reads a PRAGMA back (for status and for the test that proves they are per connection).</summary>
    public static long ReadPragma(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {name}";
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Statements prepared once per connection and reused; parameters are positional <c>$p0, $p1…</c>.</summary>
internal sealed class CommandCache(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private List<Action>? _undo;

    public SqliteConnection Connection { get; } = connection;

    /// <summary>
    /// Registers <paramref name="undo"/> for the write running now, for what it changed outside the database (a file
    /// moved into place): the writer runs it on its own thread, right after the rollback and before any other write, if
    /// that write's changes are rolled back — it failed, or its transaction did not commit — and forgets it once they
    /// commit. Undo actions run the last registered first; one that throws is skipped.
    /// </summary>
    public void OnRollback(Action undo) => (_undo ??= []).Add(undo);

    /// <summary>The undo actions registered since the last call (see <see cref="SqliteWriter"/>), or null.</summary>
    internal List<Action>? TakeUndo()
    {
        var undo = _undo;
        _undo = null;
        return undo;
    }

    public SqliteCommand Get(string sql, int parameterCount)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = sql;
            for (var i = 0; i < parameterCount; i++)
            {
                command.Parameters.Add(new SqliteParameter(ParameterName(i), null));
            }

            command.Prepare();
            _commands.Add(sql, command);
        }

        return command;
    }

    public static string ParameterName(int index) => index switch
    {
        0 => "$p0", 1 => "$p1", 2 => "$p2", 3 => "$p3",
        _ => "$p" + index.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public int Execute(string sql) 
    {
        using var command = Connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        Connection.Dispose();
    }
}
