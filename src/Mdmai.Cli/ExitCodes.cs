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

    /// <summary>Every error code has its own exit code: 2 + the code's number (NotInitialized = 3 … AlreadyExists = 16).</summary>
    public static int For(MdmaiErrorCode code) => code == MdmaiErrorCode.Unknown ? Failure : 2 + (int)code;
}
