using System.Globalization;
using System.Text;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage;

/// <summary>Progress of a SQL export or import.</summary>
/// <param name="Rows">Rows written or statements executed so far.</param>
/// <param name="Bytes">Bytes of SQL written or read so far.</param>
/// <param name="TotalBytes">Size of the dump when known (import), else null.</param>
public readonly record struct SqlDumpProgress(long Rows, long Bytes, long? TotalBytes);

/// <summary>
/// A portable SQL dump that the stock <c>sqlite3</c> shell loads into an empty database, and that
/// <see cref="ImportAsync"/> loads into a fresh data folder. Format: docs/sql-dump.md.
/// </summary>
public static class SqlDump
{
    /// <summary>First line of every dump; a file without it is not ours.</summary>
    public const string Magic = "-- mdmai sql dump";

    /// <summary>Version of the dump format written by this build.</summary>
    public const int FormatVersion = 1;

    private const int RowsPerInsert = 100;

    /// <summary>
    /// Writes the whole database to <paramref name="path"/> from one read transaction (a consistent snapshot),
    /// streaming rows in batches, so memory does not grow with the data. The file appears atomically.
    /// </summary>
    public static async Task<long> ExportAsync(MdmaiDatabase database, string path, IProgress<SqlDumpProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            long rows;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                rows = await ExportToStreamAsync(database, file, progress, cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            AtomicFile.Replace(temp, full);
            return rows;
        }
        catch (IOException ex) when (MdmaiException.IsDiskFull(ex))
        {
            File.Delete(temp);
            throw new MdmaiException(MdmaiErrorCode.DiskFull, $"The disk is full while writing '{full}'; nothing was written. Free some space and try again.", ex);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Writes the dump to a stream (see the path overload).</summary>
    public static Task<long> ExportToStreamAsync(MdmaiDatabase database, Stream destination, IProgress<SqlDumpProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(destination);
        using var lease = database.Readers.Rent(cancellationToken);
        var connection = lease.Commands.Connection;
        var counting = new CountingStream(destination);
        using var writer = new StreamWriter(counting, new UTF8Encoding(false), 1 << 16) { NewLine = "\n" };
        lease.Commands.Execute("BEGIN");
        try
        {
            var rows = Write(connection, writer, counting, progress, database.Clock, cancellationToken);
            writer.Flush();
            return Task.FromResult(rows);
        }
        finally
        {
            lease.Commands.Execute("COMMIT");
        }
    }

    private sealed record SchemaObject(string Type, string Name, string Sql);

    private static long Write(SqliteConnection connection, StreamWriter writer, CountingStream counting, IProgress<SqlDumpProgress>? progress, TimeProvider clock, CancellationToken cancellationToken)
    {
        var objects = new List<SchemaObject>();
        using (var command = connection.CreateCommand())
        {
            // The first read pins the snapshot every later read of this transaction sees.
            command.CommandText = "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                objects.Add(new SchemaObject(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        var virtualTables = objects.Where(o => o.Type == "table" && o.Sql.StartsWith("CREATE VIRTUAL TABLE", StringComparison.OrdinalIgnoreCase)).Select(o => o.Name).ToList();
        bool IsShadow(string name) => virtualTables.Any(v => name.StartsWith(v + "_", StringComparison.Ordinal));
        var userVersion = Convert.ToInt64(new SqliteCommand("PRAGMA user_version", connection).ExecuteScalar(), CultureInfo.InvariantCulture);
        long schemaVersion;
        using (var command = new SqliteCommand("SELECT coalesce(max(version), 0) FROM schema_migrations", connection))
        {
            schemaVersion = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        writer.WriteLine(Magic);
        writer.WriteLine($"-- format: {FormatVersion}");
        writer.WriteLine($"-- schema_version: {schemaVersion}");
        writer.WriteLine($"-- created_at: {Timestamps.Format(clock.GetUtcNow())}");
        writer.WriteLine("-- Load with: sqlite3 new.db < this-file.sql   or   mdmai db import-sql this-file.sql --data-dir NEW-FOLDER");
        writer.WriteLine("PRAGMA foreign_keys=OFF;");
        writer.WriteLine("BEGIN TRANSACTION;");

        long rows = 0;
        foreach (var table in objects.Where(o => o.Type == "table" && !IsShadow(o.Name)))
        {
            writer.Write(table.Sql);
            writer.WriteLine(';');
            rows += WriteRows(connection, writer, table.Name, virtualTables.Contains(table.Name), counting, progress, rows, cancellationToken);
        }

        // Indexes, triggers and views come after the data, so loading does not fire triggers or maintain indexes row by row.
        foreach (var type in new[] { "index", "trigger", "view" })
        {
            foreach (var o in objects.Where(o => o.Type == type))
            {
                writer.Write(o.Sql);
                writer.WriteLine(';');
            }
        }

        writer.WriteLine($"PRAGMA user_version={userVersion};");
        writer.WriteLine("COMMIT;");
        writer.WriteLine("-- end of mdmai sql dump");
        writer.Flush();
        progress?.Report(new SqlDumpProgress(rows, counting.Position, null));
        return rows;
    }

    private static long WriteRows(SqliteConnection connection, StreamWriter writer, string table, bool isVirtual, CountingStream counting,
        IProgress<SqlDumpProgress>? progress, long rowsBefore, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = isVirtual ? $"SELECT rowid, * FROM \"{table}\"" : $"SELECT * FROM \"{table}\"";
        using var reader = command.ExecuteReader();
        var header = new StringBuilder("INSERT INTO \"").Append(table.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
        if (isVirtual)
        {
            header.Append("(rowid");
            for (var i = 1; i < reader.FieldCount; i++)
            {
                header.Append(", \"").Append(reader.GetName(i)).Append('"');
            }

            header.Append(')');
        }

        header.Append(" VALUES");
        var prefix = header.ToString();
        long rows = 0;
        var inBatch = 0;
        while (reader.Read())
        {
            if (inBatch == 0)
            {
                writer.Write(prefix);
            }
            else
            {
                writer.Write(',');
            }

            writer.Write('(');
            for (var i = 0; i < reader.FieldCount; i++)
            {
                if (i > 0)
                {
                    writer.Write(',');
                }

                WriteValue(writer, reader, i);
            }

            writer.Write(')');
            rows++;
            if (++inBatch == RowsPerInsert)
            {
                writer.WriteLine(';');
                inBatch = 0;
                if ((rows & 8191) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    progress?.Report(new SqlDumpProgress(rowsBefore + rows, counting.Position, null));
                }
            }
        }

        if (inBatch > 0)
        {
            writer.WriteLine(';');
        }

        return rows;
    }

    private static void WriteValue(StreamWriter writer, SqliteDataReader reader, int i)
    {
        switch (reader.GetFieldType(i))
        {
            case var t when reader.IsDBNull(i) || t == typeof(DBNull):
                writer.Write("NULL");
                break;
            case var t when t == typeof(long):
                writer.Write(reader.GetInt64(i).ToString(CultureInfo.InvariantCulture));
                break;
            case var t when t == typeof(double):
                writer.Write(FormatReal(reader.GetDouble(i)));
                break;
            case var t when t == typeof(byte[]):
                WriteBlob(writer, (byte[])reader.GetValue(i));
                break;
            default:
                WriteText(writer, reader.GetString(i));
                break;
        }
    }

    /// <summary>Shortest text that reads back as the same double, always recognisable as REAL.</summary>
    internal static string FormatReal(double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            return "1e999";
        }

        if (double.IsNegativeInfinity(value))
        {
            return "-1e999";
        }

        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.AsSpan().IndexOfAny(".E") >= 0 ? text : text + ".0";
    }

    private static void WriteText(StreamWriter writer, string text)
    {
        if (text.AsSpan().IndexOfAny('\0', '\r') >= 0)
        {
            // A NUL cannot sit inside an SQL literal, and line-based readers (the sqlite3 shell among them)
            // drop or rewrite a raw CR: such text goes as its UTF-8 bytes cast back to text.
            writer.Write("CAST(");
            WriteBlob(writer, Encoding.UTF8.GetBytes(text));
            writer.Write(" AS TEXT)");
            return;
        }

        writer.Write('\'');
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\'')
            {
                writer.Write(text.AsSpan(start, i - start + 1));
                writer.Write('\'');
                start = i + 1;
            }
        }

        writer.Write(text.AsSpan(start));
        writer.Write('\'');
    }

    private static void WriteBlob(StreamWriter writer, byte[] bytes)
    {
        writer.Write("X'");
        writer.Write(Convert.ToHexString(bytes));
        writer.Write('\'');
    }

    /// <summary>
    /// Loads a dump written by <see cref="ExportAsync"/>
    /// into a new database file at <paramref name="databasePath"/>, which must not exist. The load goes to a temp
    /// file that is checked (schema history, integrity, foreign keys) and only then renamed into place, so a
    /// failure leaves nothing behind.
    /// </summary>
    public static Task<long> ImportAsync(string dumpPath, string databasePath, IProgress<SqlDumpProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dumpPath);
        ArgumentNullException.ThrowIfNull(databasePath);
        var target = Path.GetFullPath(databasePath);
        if (File.Exists(target))
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists,
                $"'{target}' already exists. import-sql loads into a fresh data folder only; pass an empty --data-dir.");
        }

        var temp = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.import-{Guid.NewGuid():N}.tmp");
        try
        {
            long statements;
            using (var input = OpenDump(dumpPath))
            using (var connection = ConnectionFactory.Open(temp, TimeSpan.FromSeconds(5), create: true))
            {
                using (var setup = connection.CreateCommand())
                {
                    // A temp file that is deleted on any failure needs no journal. temp_store=FILE: the index
                    // builds at the end of a dump sort every row, and an in-memory sorter would grow with the data.
                    // cache_size also caps the sorter's in-memory runs: 16 MB loads as fast as 64 MB did (100k and 1M
                    // rows) and keeps the peak flat (with 64 MB, 1M rows needed 70 MB more than 100k). No memory map
                    // (pages written once need none) and no foreign-key checks while the dump's rows come in, in its
                    // order; the load is validated as a whole afterwards.
                    setup.CommandText = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000; PRAGMA temp_store=FILE; PRAGMA mmap_size=0; PRAGMA foreign_keys=OFF;";
                    setup.ExecuteNonQuery();
                }

                Guard(connection, on: true);
                try
                {
                    statements = Load(connection, input, progress, cancellationToken);
                }
                finally
                {
                    Guard(connection, on: false);
                }

                Validate(connection, dumpPath);
                using (var finish = connection.CreateCommand())
                {
                    finish.CommandText = "PRAGMA journal_mode=WAL;";
                    finish.ExecuteNonQuery();
                }
            }

            using (var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.FlushToDisk(handle);
            }

            File.Move(temp, target, overwrite: false);
            AtomicFile.FlushFolder(Path.GetDirectoryName(target)!);
            return Task.FromResult(statements);
        }
        catch (Exception ex)
        {
            SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
            {
                File.Delete(temp + suffix);
            }

            if (ex is IOException io && MdmaiException.IsDiskFull(io))
            {
                throw new MdmaiException(MdmaiErrorCode.DiskFull, $"The disk is full while importing '{dumpPath}'; nothing was created. Free some space and try again.", ex);
            }

            throw SqliteErrors.Translate(ex, dumpPath);
        }
    }

    private static StreamReader OpenDump(string dumpPath)
    {
        StreamReader reader;
        try
        {
            reader = new StreamReader(new FileStream(dumpPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), new UTF8Encoding(false, throwOnInvalidBytes: false), false, 1 << 16);
        }
        catch (FileNotFoundException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.NotFound, $"No dump file at '{dumpPath}'.", ex);
        }

        var first = reader.ReadLine();
        var second = reader.ReadLine();
        if (first != Magic || second is null || !second.StartsWith("-- format: ", StringComparison.Ordinal))
        {
            reader.Dispose();
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat,
                $"'{dumpPath}' is not an mdmai SQL dump (its first line is not '{Magic}'). Only dumps made by 'mdmai db export-sql' can be imported.");
        }

        if (!int.TryParse(second["-- format: ".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var format) || format > FormatVersion)
        {
            reader.Dispose();
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat,
                $"'{dumpPath}' uses dump format '{second["-- format: ".Length..]}', newer than this mdmai reads ({FormatVersion}). Upgrade mdmai.");
        }

        return reader;
    }

    private static long Load(SqliteConnection connection, StreamReader input, IProgress<SqlDumpProgress>? progress, CancellationToken cancellationToken)
    {
        var total = input.BaseStream.Length;
        var statement = new StringBuilder();
        long statements = 0;
        var sawEnd = false;
        using var command = connection.CreateCommand();
        while (input.ReadLine() is { } line)
        {
            if (statement.Length == 0 && line.StartsWith("--", StringComparison.Ordinal))
            {
                sawEnd |= line == "-- end of mdmai sql dump";
                continue;
            }

            statement.Append(line).Append('\n');
            if (!line.EndsWith(';') || SQLitePCL.raw.sqlite3_complete(statement.ToString()) == 0)
            {
                continue;
            }

            command.CommandText = statement.ToString();
            try
            {
                command.ExecuteNonQuery();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 23)
            {
                throw new MdmaiException(MdmaiErrorCode.ForeignFormat,
                    $"The dump's statement {statements + 1} is not one an mdmai dump contains (ATTACH, DETACH or a PRAGMA other than setting foreign_keys or user_version): {ex.Message}. Nothing was imported.", ex);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 1)
            {
                throw new MdmaiException(MdmaiErrorCode.ForeignFormat,
                    $"The dump is damaged at statement {statements + 1} ({ex.Message}). Export it again; nothing was imported.", ex);
            }

            statement.Clear();
            if ((++statements & 255) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new SqlDumpProgress(statements, input.BaseStream.Position, total));
            }
        }

        if (statement.ToString().Trim().Length > 0 || !sawEnd)
        {
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat,
                "The dump is truncated: it does not end with '-- end of mdmai sql dump'. Export it again; nothing was imported.");
        }

        progress?.Report(new SqlDumpProgress(statements, total, total));
        return statements;
    }

    private static void Validate(SqliteConnection connection, string dumpPath)
    {
        if (!connection.AutoCommitState())
        {
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"'{dumpPath}' left a transaction open; it is not a complete mdmai dump. Nothing was imported.");
        }

        try
        {
            var version = MigrationRunner.Verify(connection);
            if (version == 0)
            {
                throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"'{dumpPath}' holds no mdmai schema history. Nothing was imported.");
            }
        }
        catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.MigrationMismatch)
        {
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"'{dumpPath}': {ex.Message} Nothing was imported.", ex);
        }

        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA foreign_key_check";
        using (var reader = check.ExecuteReader())
        {
            if (reader.Read())
            {
                throw new MdmaiException(MdmaiErrorCode.ConstraintViolation,
                    $"'{dumpPath}': table {reader.GetString(0)} refers to a missing {reader.GetString(2)} record. Nothing was imported.");
            }
        }
    }

    private const int AuthorizePragma = 19, AuthorizeAttach = 24, AuthorizeDetach = 25, AuthorizeDeny = 1;

    /// <summary>
    /// A dump is SQL from a file someone may have handed the user, so it runs with SQLite's defensive mode on (ordinary
    /// SQL cannot corrupt the file: no <c>writable_schema</c>, no direct writes to the full-text index's shadow tables)
    /// and an authorizer that refuses <c>ATTACH</c>/<c>DETACH</c> (which would create or write other files) and every
    /// PRAGMA but the two our dumps contain. What loads is then a sound database by construction, without a
    /// <c>quick_check</c> afterwards (which re-tokenizes the whole full-text index: 6 s of a 21 s import at 100k rows).
    /// </summary>
    private static void Guard(SqliteConnection connection, bool on)
    {
        const int defensive = 1010; // SQLITE_DBCONFIG_DEFENSIVE
        var db = connection.Handle!;
        if (SQLitePCL.raw.sqlite3_db_config(db, defensive, on ? 1 : 0, out _) != 0 || SQLitePCL.raw.sqlite3_set_authorizer(db, on ? Authorize : null, null) != 0)
        {
            // Never load unguarded: a SQLite without these would make the checks above silently absent.
            throw new InvalidOperationException("SQLite refused defensive mode or the authorizer; the dump was not loaded.");
        }
    }

    private static int Authorize(object userData, int action, string? first, string? second, string? database, string? trigger) => action switch
    {
        AuthorizeAttach or AuthorizeDetach => AuthorizeDeny,
        // The full-text index reads data_version itself while the dump fills it.
        AuthorizePragma when second is null && Is(first, "data_version") => 0,
        AuthorizePragma when second is null || !(Is(first, "foreign_keys") || Is(first, "user_version")) => AuthorizeDeny,
        _ => 0,
    };

    private static bool Is(string? name, string pragma) => string.Equals(name, pragma, StringComparison.OrdinalIgnoreCase);

    /// <summary>Counts bytes written, for progress.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        private long _position;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _position;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            _position += buffer.Length;
        }
    }
}
