using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.IO;

/// <summary>
/// libc calls .NET does not offer — <c>statx</c> (device and inode numbers), <c>open</c> of a folder or without following
/// links, <c>fsync</c>, <c>syncfs</c>, <c>link</c>, <c>rename</c> — each declared once, here, with its marshalling generated at
/// build time.
/// </summary>
internal static partial class UnixFileCalls
{
    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxBasicStats = 0x7ff;
    public const ushort SIfMt = 0xF000, SIfReg = 0x8000, SIfDir = 0x4000, SIfLnk = 0xA000;
    public const int EPERM = 1, ENOENT = 2, EACCES = 13, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, ELOOP = 40;

    /// <summary><c>struct statx</c> (linux/stat.h): the same layout on every Linux architecture.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct StatxBuffer
    {
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(112)] public long MtimeSec;
        [FieldOffset(120)] public uint MtimeNsec;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int StatxNative(int dirfd, ref byte path, int flags, uint mask, out StatxBuffer buffer);

    /// <summary>
    /// statx(2). The path is passed as NUL-terminated UTF-8 from the stack: a search calls this once per file, and the
    /// default string marshalling would allocate and free native memory each time.
    /// </summary>
    public static int Statx(int dirfd, string path, int flags, uint mask, out StatxBuffer buffer)
    {
        var length = System.Text.Encoding.UTF8.GetMaxByteCount(path.Length) + 1;
        byte[]? rented = null;
        var bytes = length <= 1024 ? stackalloc byte[length] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var written = System.Text.Encoding.UTF8.GetBytes(path, bytes);
            bytes[written] = 0;
            return StatxNative(dirfd, ref MemoryMarshal.GetReference(bytes), flags, mask, out buffer);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseNative(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(int fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFsNative(int fd);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkNative(string existing, string newPath);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameNative(string source, string destination);

    /// <summary>
    /// fsync(2) or syncfs(2) (<paramref name="wholeFileSystem"/>) of the folder <paramref name="folder"/>, opened read-only
    /// (.NET will not open a folder as a file handle). Best effort: a folder that cannot be opened is left as it is.
    /// </summary>
    public static void FlushFolder(string folder, bool wholeFileSystem)
    {
        var fd = OpenNative(folder, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            return;
        }

        try
        {
            _ = wholeFileSystem ? SyncFsNative(fd) : FsyncNative(fd);
        }
        finally
        {
            _ = CloseNative(fd);
        }
    }

    /// <summary>
    /// <c>O_NOFOLLOW</c> differs between architectures; where it is not known here, <see cref="TryOpenForReading"/>
    /// declines and the caller opens the .NET way.
    /// </summary>
    private static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 => 0x20000,
        Architecture.Arm64 or Architecture.Arm => 0x8000,
        _ => 0,
    };

    /// <summary>
    /// Opens a file for reading with <c>open(O_RDONLY | O_NOFOLLOW | O_CLOEXEC)</c>: a symbolic link is refused by the
    /// kernel, and none of what <see cref="File.OpenHandle"/> adds per file (an advisory lock taken and released, an
    /// extra <c>fstat</c>) is paid. Returns null where this is not available (not Linux, an unknown architecture).
    /// </summary>
    public static SafeFileHandle? TryOpenForReading(string path)
    {
        if (ONoFollow == 0 || !OperatingSystem.IsLinux())
        {
            return null;
        }

        const int OCloexec = 0x80000;
        var fd = OpenNative(path, ONoFollow | OCloexec);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        var errno = Marshal.GetLastPInvokeError();
        var message = errno == ELOOP ? "it is a symbolic link now; links are never followed" : Marshal.GetPInvokeErrorMessage(errno);
        throw errno switch
        {
            EACCES or EPERM => new UnauthorizedAccessException(message),
            ENOENT or ENOTDIR => new FileNotFoundException(message, path),
            _ => new IOException(message, errno),
        };
    }

    /// <summary>Creates the hard link <paramref name="newPath"/> to <paramref name="existing"/>.</summary>
    public static void Link(string existing, string newPath)
    {
        if (LinkNative(existing, newPath) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var reason = errno == EXDEV
                ? "it is on another file system than the kept file, and hard links cannot cross file systems"
                : Marshal.GetPInvokeErrorMessage(errno);
            throw new IOException($"Could not create a hard link to '{existing}' at '{newPath}': {reason}.", errno);
        }
    }

    /// <summary>rename(2): atomically replaces <paramref name="destination"/>.</summary>
    public static void Rename(string source, string destination)
    {
        if (RenameNative(source, destination) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Could not rename '{source}' to '{destination}': {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }
}
