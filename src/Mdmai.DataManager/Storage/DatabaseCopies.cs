using Mdmai.DataManager.Storage.Internal;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage;

/// <summary>
/// Copies of the database outside its open connections: the consistent copy a backup captures of the live file, and
/// the check of a copy staged by a restore before it replaces anything. Both open SQLite through the one connection
/// factory and report its errors with the codes storage gives them everywhere else.
/// </summary>
internal static class DatabaseCopies
{
    /// <summary>
    /// Copies the live database at <paramref name="source"/> into <paramref name="target"/> with SQLite's online backup
    /// API: one read transaction, so the copy is a consistent snapshot, and in WAL mode the app's writers are never
    /// blocked. Locked, read-only and a full disk (the copy is written beside the data) keep their codes; the rest is
    /// <see cref="MdmaiErrorCode.Corrupt"/>. A failed copy is deleted.
    /// </summary>
    public static async Task CaptureAsync(string source, string target, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(() =>
            {
                using var from = ConnectionFactory.Open(source, TimeSpan.FromSeconds(30), readOnly: true, copy: true);
                using var to = ConnectionFactory.Open(target, TimeSpan.FromSeconds(30), create: true);
                using (var pragma = from.CreateCommand())
                {
                    // Page reads go through the OS cache; a large SQLite cache or map would only add to peak memory.
                    pragma.CommandText = "PRAGMA mmap_size=0; PRAGMA cache_size=-2000;";
                    pragma.ExecuteNonQuery();
                }

                using (var pragma = to.CreateCommand())
                {
                    // The copy lives only until it is chunked (and a crash leaves it to the next capture to remove): no
                    // journal and no flush to disk, which for a 600 MB database was 600 MB written to disk for nothing.
                    pragma.CommandText = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA mmap_size=0; PRAGMA cache_size=-2000;";
                    pragma.ExecuteNonQuery();
                }

                from.BackupDatabase(to);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            File.Delete(target);
            throw SqliteErrors.Translate(ex, "the backup could not capture the database") as MdmaiException
                ?? new MdmaiException(MdmaiErrorCode.Corrupt, $"Could not capture the database for the backup: {ex.Message}", ex);
        }
        catch
        {
            File.Delete(target);
            throw;
        }
    }

    /// <summary>Runs SQLite's full integrity check on a staged copy; anything but "ok" is <see cref="MdmaiErrorCode.Corrupt"/>, nothing changed.</summary>
    public static void CheckStaged(string database)
    {
        string? result;
        try
        {
            using var connection = ConnectionFactory.Open(database, TimeSpan.FromSeconds(5), readOnly: true, copy: true);
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA integrity_check";
            result = command.ExecuteScalar() as string;
        }
        catch (MdmaiException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The restored database cannot be opened ({ex.Message}). Nothing was changed.", ex);
        }

        if (result != "ok")
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, $"The restored database fails SQLite's integrity check ({result}). Nothing was changed.");
        }
    }
}
