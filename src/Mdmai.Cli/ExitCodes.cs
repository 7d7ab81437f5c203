using Mdmai.DataManager;

namespace Mdmai.Cli;

/// <summary>The documented exit codes of <c>mdmai</c> (docs/cli.md).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int CheckFailed = 40;
    public const int PartialFailure = 41;
    public const int Cancelled = 130;

    /// <summary>
    /// Every error code has its own exit code, written out here as docs/cli.md's table has it (a test compares the two):
    /// nothing derives them from the enum's order, so adding or moving a code can never change one that scripts rely on.
    /// </summary>
    public static int For(MdmaiErrorCode code) => code switch
    {
        MdmaiErrorCode.NotInitialized => 3,
        MdmaiErrorCode.InvalidConfig => 4,
        MdmaiErrorCode.NotFound => 5,
        MdmaiErrorCode.InvalidArgument => 6,
        MdmaiErrorCode.InvalidEnumValue => 7,
        MdmaiErrorCode.MalformedJson => 8,
        MdmaiErrorCode.ConstraintViolation => 9,
        MdmaiErrorCode.DatabaseLocked => 10,
        MdmaiErrorCode.ReadOnly => 11,
        MdmaiErrorCode.DiskFull => 12,
        MdmaiErrorCode.Corrupt => 13,
        MdmaiErrorCode.ForeignFormat => 14,
        MdmaiErrorCode.MigrationMismatch => 15,
        MdmaiErrorCode.AlreadyExists => 16,
        MdmaiErrorCode.WrongPassword => 17,
        MdmaiErrorCode.WrongKey => 18,
        MdmaiErrorCode.Locked => 19,
        MdmaiErrorCode.UnsafePath => 20,
        MdmaiErrorCode.RemoteAccess => 21,
        MdmaiErrorCode.RemoteUnavailable => 22,
        _ => Failure,
    };
}
