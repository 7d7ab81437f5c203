using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>One numbered schema change with its way back.</summary>
internal sealed record Migration(int Version, string Name, string Up, string Down)
{
    /// <summary>SHA-256 of the up script: an applied migration whose text changed is refused.</summary>
    public string Checksum => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Up)));
}

/// <summary>
/// The only owner of the schema. Migrations are SQL files embedded in the assembly
/// (<c>NNNN_name.up.sql</c> and <c>NNNN_name.down.sql</c>); each is applied in its own transaction and
/// recorded in <c>schema_migrations</c> with its checksum.
/// </summary>
internal static class MigrationRunner
{
    private const string Prefix = "Mdmai.Migrations.";

    /// <summary>Every migration with its scripts, read on first use (by whatever opens a database, not by every process).</summary>
    public static IReadOnlyList<Migration> All => Loaded.All;

    /// <summary>The newest version, from the scripts' names alone: the CLI names it in a command's help at start-up.</summary>
    public static int Latest { get; } = UpScripts().Select(Version).DefaultIfEmpty(0).Max();

    private static class Loaded
    {
        public static readonly IReadOnlyList<Migration> All = Load();
    }

    private static IEnumerable<string> UpScripts() => typeof(MigrationRunner).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".up.sql", StringComparison.Ordinal))
        .Order(StringComparer.Ordinal);

    private static int Version(string upScript) => int.Parse(upScript.AsSpan(Prefix.Length, 4), CultureInfo.InvariantCulture);

    private static List<Migration> Load()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var list = new List<Migration>();
        foreach (var up in UpScripts())
        {
            var stem = up[Prefix.Length..^".up.sql".Length];
            var version = Version(up);
            var down = Prefix + stem + ".down.sql";
            list.Add(new Migration(version, stem[5..], Read(assembly, up), Read(assembly, down)));
        }

        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Migrations must be numbered 1..N without gaps; found {list[i].Version} at position {i + 1}.");
            }
        }

        return list;
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded migration '{name}' is missing (every up script needs a down script).");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The applied migrations, checked against the embedded ones; returns the current version.</summary>
    public static int Verify(SqliteConnection connection, IReadOnlyList<Migration>? known = null)
    {
        known ??= All;
        EnsureHistoryTable(connection);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
        using var reader = command.ExecuteReader();
        var current = 0;
        while (reader.Read())
        {
            var version = reader.GetInt32(0);
            if (version > known.Count)
            {
                throw new MdmaiException(MdmaiErrorCode.MigrationMismatch,
                    $"The database has schema version {version} ('{reader.GetString(1)}'), newer than this mdmai knows ({known.Count}). Upgrade mdmai to open it.");
            }

            var migration = known[version - 1];
            if (!string.Equals(migration.Checksum, reader.GetString(2), StringComparison.Ordinal))
            {
                throw new MdmaiException(MdmaiErrorCode.MigrationMismatch,
                    $"Migration {version} ('{migration.Name}') differs from the one applied to this database (checksum mismatch). Applied migrations must never be edited; add a new migration instead.");
            }

            current = version;
        }

        return current;
    }

    /// <summary>Rolls forward or back to <paramref name="target"/>, one transaction per migration.</summary>
    public static int MigrateTo(SqliteConnection connection, int target, TimeProvider clock, IReadOnlyList<Migration>? known = null)
    {
        known ??= All;
        if (target < 0 || target > known.Count)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"There is no schema version {target}; this mdmai knows versions 0 to {known.Count}.");
        }

        var current = Verify(connection, known);
        while (current < target)
        {
            var migration = known[current];
            InTransaction(connection, migration.Up,
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($p0, $p1, $p2, $p3)",
                migration.Version, migration.Name, migration.Checksum, Timestamps.Format(clock.GetUtcNow()));
            current++;
        }

        while (current > target)
        {
            var migration = known[current - 1];
            InTransaction(connection, migration.Down, "DELETE FROM schema_migrations WHERE version = $p0", migration.Version);
            current--;
        }

        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA user_version";
        if (Convert.ToInt32(pragma.ExecuteScalar(), CultureInfo.InvariantCulture) != current)
        {
            pragma.CommandText = $"PRAGMA user_version = {current}";
            pragma.ExecuteNonQuery();
        }

        return current;
    }

    private static void EnsureHistoryTable(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        // Look before creating: opening an up-to-date database must not need the write lock.
        command.CommandText = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'";
        if (command.ExecuteScalar() is not null)
        {
            return;
        }

        command.CommandText = """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )
            """;
        command.ExecuteNonQuery();
    }

    private static void InTransaction(SqliteConnection connection, string script, string record, params object[] values)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = script;
            command.ExecuteNonQuery();
        }

        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = record;
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters.AddWithValue(CommandCache.ParameterName(i), values[i]);
            }

            command.ExecuteNonQuery();
        }

        transaction.Commit();
    }
}
