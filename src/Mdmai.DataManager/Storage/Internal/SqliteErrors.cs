using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Storage.Internal;

/// <summary>The one place where SQLite's error codes become the data manager's errors.</summary>
internal static class SqliteErrors
{
    private const int Busy = 5, Locked = 6, ReadOnlyCode = 8, CorruptCode = 11, Full = 13, CantOpen = 14, Constraint = 19, NotADb = 26;
    private const int ConstraintForeignKey = 787;

    public static bool IsBusy(SqliteException ex) => ex.SqliteErrorCode is Busy or Locked;

    public static Exception Translate(Exception exception, string? context = null)
    {
        if (exception is not SqliteException ex)
        {
            return exception;
        }

        var where = context is null ? "" : $" ({context})";
        return ex.SqliteErrorCode switch
        {
            Busy or Locked => new MdmaiException(MdmaiErrorCode.DatabaseLocked,
                $"The database is locked by another process{where}. Close the other program using this data folder (another mdmai or the app) and try again.", ex),
            ReadOnlyCode => new MdmaiException(MdmaiErrorCode.ReadOnly,
                $"The database is read-only{where}. Check the permissions of the data folder and its files, or the disk's mount options.", ex),
            Full => new MdmaiException(MdmaiErrorCode.DiskFull,
                $"The disk is full{where}; nothing was written. Free some space and try again.", ex),
            CorruptCode or NotADb => new MdmaiException(MdmaiErrorCode.Corrupt,
                $"The database file is damaged or is not an mdmai database{where}: {ex.Message}. Restore it from a backup.", ex),
            CantOpen => new MdmaiException(MdmaiErrorCode.ReadOnly,
                $"The database file cannot be opened{where}: the folder may be missing, read-only, or not accessible.", ex),
            Constraint when ex.SqliteExtendedErrorCode == ConstraintForeignKey => new MdmaiException(MdmaiErrorCode.ConstraintViolation,
                $"A referenced record does not exist, or the record is still referenced{where}. Check the ids it points to.", ex),
            Constraint => new MdmaiException(MdmaiErrorCode.ConstraintViolation,
                $"The change breaks a rule of the schema{where}: {CleanMessage(ex)}. Nothing was written.", ex),
            _ => ex,
        };
    }

    private static string CleanMessage(SqliteException ex)
    {
        // "SQLite Error 19: 'CHECK constraint failed: level BETWEEN 0 AND 9'." -> the part in quotes.
        var m = ex.Message;
        var start = m.IndexOf('\'', StringComparison.Ordinal);
        var end = m.LastIndexOf('\'');
        return start >= 0 && end > start ? m[(start + 1)..end] : m;
    }
}
