namespace Mdmai.DataManager;

/// <summary>
/// What went wrong, as a stable code that callers (and the CLI's exit codes) can switch on. The values are written out
/// and never change: they are stored by callers and the CLI documents an exit code for each (docs/cli.md); a new code
/// takes the next free value.
/// </summary>
public enum MdmaiErrorCode
{
    /// <summary>An unexpected failure that has no more specific code.</summary>
    Unknown = 0,
    /// <summary>The data folder does not exist or was never initialised (run <c>mdmai init</c>).</summary>
    NotInitialized = 1,
    /// <summary><c>mdmai.json</c> is malformed or one of its fields is out of range.</summary>
    InvalidConfig = 2,
    /// <summary>No record has the given id.</summary>
    NotFound = 3,
    /// <summary>An argument is invalid: unknown field, filter or sort column, bad id, bad number.</summary>
    InvalidArgument = 4,
    /// <summary>A value is not one of the values an enumerated field allows.</summary>
    InvalidEnumValue = 5,
    /// <summary>Input that should be JSON is not, or has the wrong shape.</summary>
    MalformedJson = 6,
    /// <summary>A write broke a rule of the schema (CHECK, UNIQUE, NOT NULL, FOREIGN KEY).</summary>
    ConstraintViolation = 7,
    /// <summary>Another process holds the database's write lock and did not release it in time.</summary>
    DatabaseLocked = 8,
    /// <summary>The database or its folder is read-only.</summary>
    ReadOnly = 9,
    /// <summary>The disk (or the database's size limit) is full.</summary>
    DiskFull = 10,
    /// <summary>The database file is damaged or is not a SQLite database.</summary>
    Corrupt = 11,
    /// <summary>A SQL dump or archive was not written by mdmai, or by an incompatible version.</summary>
    ForeignFormat = 12,
    /// <summary>The schema history disagrees with the migrations this build knows (edited or newer migration).</summary>
    MigrationMismatch = 13,
    /// <summary>The target already exists and would be overwritten.</summary>
    AlreadyExists = 14,
    /// <summary>The password (or recovery key) does not unlock the key file.</summary>
    WrongPassword = 15,
    /// <summary>Data was encrypted with a key this data folder does not hold.</summary>
    WrongKey = 16,
    /// <summary>Another process holds a conflicting lock (a backup repository in use by a prune, or the other way round).</summary>
    Locked = 17,
    /// <summary>A path would leave its target folder (<c>..</c>, an absolute path, a link planted on the way).</summary>
    UnsafePath = 18,
    /// <summary>A remote repository's store refused for good: unknown or wrong credentials, no permission, no such bucket. Not retried.</summary>
    RemoteAccess = 19,
    /// <summary>A remote repository's store could not be reached or kept failing after every retry (network down, 5xx, stalls).</summary>
    RemoteUnavailable = 20,
}

/// <summary>
/// The one domain exception of the data manager. <see cref="Code"/> says what happened; the message
/// names the object involved and says what to do.
/// </summary>
public sealed class MdmaiException : Exception
{
    /// <summary>Creates an exception with a code and a message that says what to do.</summary>
    public MdmaiException(MdmaiErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException) => Code = code;

    /// <summary>What went wrong.</summary>
    public MdmaiErrorCode Code { get; }

    /// <summary>Whether an I/O error means the disk is full (ENOSPC on Unix, ERROR_DISK_FULL on Windows).</summary>
    public static bool IsDiskFull(IOException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027)
            || exception.Message.Contains("No space left", StringComparison.Ordinal);
    }
}
