using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Files.Internal;

/// <summary>The kind of a directory entry, as <c>lstat</c> sees it (a symbolic link is never followed).</summary>
internal enum FileKind
{
    Regular,
    Directory,
    SymbolicLink,
    Other,
}

/// <summary>
/// Who a file is (device + inode) and what it looked like (size, last-write time), read with <c>statx</c> without
/// following symbolic links. Two names with one identity are hard links to one file; a file whose identity, size or
/// time changed is not the file that was compared.
/// </summary>
internal readonly record struct FileIdentity(FileKind Kind, ulong Device, ulong Inode, long Size, long ModifiedNanoseconds, uint LinkCount)
{
    /// <summary>Whether device and inode numbers are real (Linux); elsewhere every name is its own file.</summary>
    public static bool HasInodes { get; } = OperatingSystem.IsLinux();

    public DateTime LastWriteTimeUtc => DateTime.UnixEpoch.AddTicks(ModifiedNanoseconds / 100);

    /// <summary>The same file (device and inode) as <paramref name="other"/>.</summary>
    public bool SameInode(FileIdentity other) => !HasInodes || (Device == other.Device && Inode == other.Inode);

    /// <summary>The same file, and neither its size nor its last-write time changed.</summary>
    public bool Unchanged(FileIdentity other) =>
        Kind == other.Kind && SameInode(other) && Size == other.Size && ModifiedNanoseconds == other.ModifiedNanoseconds;

    /// <summary>Reads the identity of a path without following a symbolic link; false with <paramref name="errno"/> when it cannot.</summary>
    public static bool TryGet(string path, out FileIdentity identity, out int errno)
    {
        if (!HasInodes)
        {
            return TryGetPortable(path, out identity, out errno);
        }

        if (UnixFileCalls.Statx(UnixFileCalls.AtFdCwd, path, UnixFileCalls.AtSymlinkNoFollow, UnixFileCalls.StatxBasicStats, out var buffer) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            identity = default;
            return false;
        }

        errno = 0;
        identity = From(buffer);
        return true;
    }

    /// <summary>The identity of an open file.</summary>
    public static bool TryGet(SafeFileHandle handle, out FileIdentity identity)
    {
        if (!HasInodes)
        {
            identity = new FileIdentity(FileKind.Regular, 0, 0, RandomAccess.GetLength(handle), 0, 1);
            return true;
        }

        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            if (UnixFileCalls.Statx(fd, "", UnixFileCalls.AtEmptyPath, UnixFileCalls.StatxBasicStats, out var buffer) != 0)
            {
                identity = default;
                return false;
            }

            identity = From(buffer);
            return true;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    public static bool IsNotFound(int errno) => errno is UnixFileCalls.ENOENT or UnixFileCalls.ENOTDIR;

    private static FileIdentity From(in UnixFileCalls.StatxBuffer b)
    {
        var kind = (b.Mode & UnixFileCalls.SIfMt) switch
        {
            UnixFileCalls.SIfReg => FileKind.Regular,
            UnixFileCalls.SIfDir => FileKind.Directory,
            UnixFileCalls.SIfLnk => FileKind.SymbolicLink,
            _ => FileKind.Other,
        };
        var device = ((ulong)b.DevMajor << 32) | b.DevMinor;
        return new FileIdentity(kind, device, b.Ino, (long)b.Size, (b.MtimeSec * 1_000_000_000L) + b.MtimeNsec, b.Nlink);
    }

    private static bool TryGetPortable(string path, out FileIdentity identity, out int errno)
    {
        identity = default;
        errno = 0;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists && !Directory.Exists(path))
            {
                errno = UnixFileCalls.ENOENT;
                return false;
            }

            var kind = info.LinkTarget is not null ? FileKind.SymbolicLink
                : (info.Attributes & FileAttributes.Directory) != 0 ? FileKind.Directory
                : FileKind.Regular;
            var size = kind == FileKind.Regular ? info.Length : 0;
            identity = new FileIdentity(kind, 0, 0, size, (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100, 1);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errno = UnixFileCalls.EACCES;
            return false;
        }
    }
}

/// <summary>libc calls .NET does not offer: <c>statx</c> (device and inode numbers), <c>link</c> and <c>rename</c>.</summary>
internal static class UnixFileCalls
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

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int StatxNative(int dirfd, ref byte path, int flags, uint mask, out StatxBuffer buffer);

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

    [DllImport("libc", EntryPoint = "open", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int OpenNative(string path, int flags);

    [DllImport("libc", EntryPoint = "link", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int LinkNative(string existing, string newPath);

    [DllImport("libc", EntryPoint = "rename", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int RenameNative(string source, string destination);

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
