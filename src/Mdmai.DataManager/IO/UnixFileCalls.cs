using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.IO;

/// <summary>
/// libc calls .NET does not offer, or offers with more calls around them — <c>statx</c> (device and inode numbers),
/// <c>open</c> of a folder or without following links, <c>pread</c> and <c>pwrite</c> without a seek check, <c>fchmod</c>
/// and <c>futimens</c> on an open file, <c>fsync</c>, <c>syncfs</c>, <c>link</c>, <c>rename</c>, <c>close</c> — each
/// declared once, here, with its marshalling generated at build time.
/// </summary>
internal static partial class UnixFileCalls
{
    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxBasicStats = 0x7ff;
    public const ushort SIfMt = 0xF000, SIfReg = 0x8000, SIfDir = 0x4000, SIfLnk = 0xA000;
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EACCES = 13, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, ELOOP = 40, ENODATA = 61;

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
    public static int Statx(int dirfd, ReadOnlySpan<char> path, int flags, uint mask, out StatxBuffer buffer)
    {
        using var utf8 = new Utf8Path(path, stackalloc byte[Utf8Path.StackBytes]);
        return StatxNative(dirfd, ref utf8.Reference, flags, mask, out buffer);
    }

    /// <summary>A path as NUL-terminated UTF-8, in the caller's stack buffer when it fits (else a pooled array): no native memory per call.</summary>
    private readonly ref struct Utf8Path
    {
        public const int StackBytes = 1024;

        private readonly byte[]? _rented;
        private readonly Span<byte> _bytes;

        public Utf8Path(ReadOnlySpan<char> path, Span<byte> stack)
        {
            var length = System.Text.Encoding.UTF8.GetMaxByteCount(path.Length) + 1;
            _bytes = length <= stack.Length ? stack : (_rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
            _bytes[System.Text.Encoding.UTF8.GetBytes(path, _bytes)] = 0;
        }

        public ref byte Reference => ref MemoryMarshal.GetReference(_bytes);

        public void Dispose()
        {
            if (_rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(_rented);
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
    /// (.NET will not open a folder as a file handle). Best effort — a folder that cannot be opened is left as it is —
    /// unless <paramref name="throwOnError"/>: then a folder that cannot be opened or flushed is an <see cref="IOException"/>.
    /// </summary>
    public static void FlushFolder(string folder, bool wholeFileSystem, bool throwOnError = false)
    {
        var fd = OpenNative(folder, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            ThrowIf(throwOnError, folder);
            return;
        }

        try
        {
            if ((wholeFileSystem ? SyncFsNative(fd) : FsyncNative(fd)) != 0)
            {
                ThrowIf(throwOnError, folder);
            }
        }
        finally
        {
            _ = CloseNative(fd);
        }
    }

    private static void ThrowIf(bool throwOnError, string folder)
    {
        if (throwOnError)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Could not flush '{folder}' to disk: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
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
    /// Whether the direct calls below are made: Linux, an architecture whose flags are known here, and a 64-bit process
    /// (a 32-bit C library's <c>open</c>, <c>pread</c>, <c>pwrite</c> and <c>timespec</c> take 32-bit offsets and times
    /// unless called by their <c>64</c> names). Elsewhere each caller goes the .NET way.
    /// </summary>
    private static readonly bool Direct = OperatingSystem.IsLinux() && Environment.Is64BitProcess && ONoFollow != 0;

    /// <summary>
    /// Opens a file for reading with <c>open(O_RDONLY | O_NOFOLLOW | O_CLOEXEC)</c>: a symbolic link is refused by the
    /// kernel, and none of what <see cref="File.OpenHandle"/> adds per file (an advisory lock taken and released, an
    /// extra <c>fstat</c>) is paid. Returns null where this is not available (see <see cref="Direct"/>).
    /// </summary>
    public static SafeFileHandle? TryOpenForReading(string path)
    {
        if (!Direct)
        {
            return null;
        }

        var fd = OpenNative(path, ONoFollow | OCloexec);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw ReadError(Marshal.GetLastPInvokeError(), path);
    }

    /// <summary>
    /// As <see cref="TryOpenForReading"/>, for <paramref name="name"/> in the folder open as <paramref name="folder"/>
    /// (<see cref="TryOpenFolderPath"/>): the kernel looks up one name instead of every folder of a full path. Null
    /// where this is not available or <paramref name="folder"/> is -1.
    /// </summary>
    public static SafeFileHandle? TryOpenForReadingAt(int folder, ReadOnlySpan<char> name)
    {
        if (!Direct || folder < 0)
        {
            return null;
        }

        using var utf8 = new Utf8Path(name, stackalloc byte[Utf8Path.StackBytes]);
        var fd = OpenAtNative(folder, ref utf8.Reference, ONoFollow | OCloexec);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw ReadError(Marshal.GetLastPInvokeError(), null);
    }

    private const int OCloexec = 0x80000; // the same on every architecture ONoFollow knows

    private static Exception ReadError(int errno, string? path)
    {
        var message = errno == ELOOP ? "it is a symbolic link now; links are never followed" : Marshal.GetPInvokeErrorMessage(errno);
        return errno switch
        {
            EACCES or EPERM => new UnauthorizedAccessException(message),
            ENOENT or ENOTDIR => new FileNotFoundException(message, path),
            _ => new IOException(message, errno),
        };
    }

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static partial int OpenAtNative(int dirfd, ref byte path, int flags);

    /// <summary>
    /// Opens a folder as a place to look names up from (<c>O_PATH | O_CLOEXEC</c>: no read permission needed, nothing
    /// read), for <see cref="Statx"/> relative to it; -1 where it cannot be opened or this is not available (see
    /// <see cref="Direct"/>), and the caller uses full paths. Close it with <see cref="Close"/>.
    /// </summary>
    public static int TryOpenFolderPath(string folder)
    {
        const int OPath = 0x200000; // the same on every architecture ONoFollow knows
        return !Direct ? -1 : OpenNative(folder, OPath | OCloexec);
    }

    /// <summary>close(2) of a descriptor from <see cref="TryOpenFolderPath"/> (a negative one is ignored).</summary>
    public static void Close(int fd)
    {
        if (fd >= 0)
        {
            _ = CloseNative(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenModeNative(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial nint PwriteNative(SafeFileHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial nint PreadNative(SafeFileHandle fd, byte* buffer, nuint count, long offset);

    /// <summary>
    /// Reads into <paramref name="buffer"/> from <paramref name="offset"/>: the bytes read, 0 at the end. On Linux one
    /// pread(2); <see cref="RandomAccess.Read(SafeFileHandle, Span{byte}, long)"/> elsewhere, which first asks a handle
    /// it did not open whether it can seek (an <c>lseek</c> per file, and the import, the backup and <c>dupes</c> open
    /// hundreds of thousands). On Linux a handle that cannot be read at an offset (a pipe) is an <see cref="IOException"/>.
    /// </summary>
    public static unsafe int ReadAt(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        if (!Direct)
        {
            return RandomAccess.Read(handle, buffer, offset);
        }

        fixed (byte* start = buffer)
        {
            while (true)
            {
                var n = PreadNative(handle, start, (nuint)buffer.Length, offset);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    throw new IOException($"Could not read: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
                }
            }
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="offset"/> (<see cref="ReadAt"/> until full); false when the file ends first.</summary>
    public static bool TryReadExactlyAt(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            var read = ReadAt(handle, buffer, offset);
            if (read == 0)
            {
                return false;
            }

            buffer = buffer[read..];
            offset += read;
        }

        return true;
    }

    /// <summary>
    /// Writes all of <paramref name="content"/> at <paramref name="offset"/>: pwrite(2) until done on Linux (without the
    /// <c>lseek</c> <see cref="RandomAccess"/> asks first), <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/> elsewhere.
    /// </summary>
    public static unsafe void WriteAt(SafeFileHandle handle, ReadOnlySpan<byte> content, long offset)
    {
        if (!Direct)
        {
            RandomAccess.Write(handle, content, offset);
            return;
        }

        fixed (byte* start = content)
        {
            var done = 0;
            while (done < content.Length)
            {
                var n = PwriteNative(handle, start + done, (nuint)(content.Length - done), offset + done);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }

                    throw new IOException($"Could not write: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
                }

                if (n == 0)
                {
                    throw new IOException("Could not write: the file system accepted no bytes.");
                }

                done += (int)n;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int FchmodNative(SafeFileHandle fd, int mode);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    private static partial int FutimensNative(SafeFileHandle fd, ReadOnlySpan<Timespec> times);

    /// <summary>
    /// Opens (creating it, mode 0600) a file for writing with <c>open(O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC)</c>,
    /// without what <see cref="File.OpenHandle"/> adds per file (an advisory lock, an extra <c>fstat</c>): a restore of
    /// many small files pays for every call. Returns null where this is not available (see <see cref="Direct"/>).
    /// </summary>
    public static SafeFileHandle? TryOpenForWriting(string path) => Open(path, exclusive: false, Private, out _);

    /// <summary>
    /// Creates a new file for writing (<c>O_EXCL</c> added to <see cref="TryOpenForWriting"/>'s flags): null with
    /// <paramref name="exists"/> when something of that name is already there, null without it where this is not
    /// available.
    /// </summary>
    public static SafeFileHandle? TryCreateNew(string path, out bool exists) => Open(path, exclusive: true, Private, out exists);

    /// <summary>
    /// <see cref="TryCreateNew(string, out bool)"/> with the permissions <paramref name="mode"/> (at most 0777) instead
    /// of 0600, less what <see cref="CreateMask"/> takes away, as for any create.
    /// </summary>
    public static SafeFileHandle? TryCreateNew(string path, int mode, out bool exists)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(mode & ~0x1FF, 0, nameof(mode));
        return Open(path, exclusive: true, mode, out exists);
    }

    private const int Private = 0x180; // 0600

    /// <summary>
    /// The permission bits a file created in <paramref name="folder"/>, or in a folder made below it, loses from the mode
    /// it is created with: the process's umask (read now: a long-lived host may change it). Null where that cannot be
    /// told: the umask is unknown; the folder has a default ACL (which masks the mode instead of the umask, and which
    /// folders made below it inherit); or its file system has no POSIX ACLs at all (sshfs, NFSv4, CIFS), which says
    /// nothing of how it applies a create's mode (an SFTP server may apply a umask of its own). Only a file system
    /// that keeps POSIX ACLs and finds none on the folder (<c>ENODATA</c>) is taken at its word. A mode that keeps
    /// all its bits then needs no <c>fchmod</c> after the create.
    /// </summary>
    public static int? CreateMask(string folder)
    {
        if (!Direct || GetXattrNative(folder, "system.posix_acl_default", 0, 0) >= 0 || Marshal.GetLastPInvokeError() != ENODATA)
        {
            return null;
        }

        return ReadUmask();
    }

    /// <summary>The process's umask, read from <c>/proc/self/status</c> (Linux 4.7+; not by <c>umask(2)</c>, which sets it too, for every thread); null where unknown.</summary>
    private static int? ReadUmask()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                {
                    return Convert.ToInt32(line["Umask:".Length..].Trim(), 8);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
        }

        return null;
    }

    [LibraryImport("libc", EntryPoint = "getxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetXattrNative(string path, string name, nint value, nuint size);

    private static SafeFileHandle? Open(string path, bool exclusive, int mode, out bool exists)
    {
        exists = false;
        if (!Direct)
        {
            return null;
        }

        const int OWronly = 0x1, OCreat = 0x40, OExcl = 0x80;
        var fd = OpenModeNative(path, OWronly | OCreat | ONoFollow | OCloexec | (exclusive ? OExcl : 0), mode);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        var errno = Marshal.GetLastPInvokeError();
        if (exclusive && errno == EEXIST)
        {
            exists = true;
            return null;
        }

        var message = $"Cannot write '{path}': {Marshal.GetPInvokeErrorMessage(errno)}.";
        throw errno is EACCES or EPERM ? new UnauthorizedAccessException(message) : new IOException(message, errno);
    }

    /// <summary>fchmod(2) and futimens(2) on an open file: permissions and modification time without resolving its path again.</summary>
    public static void SetModeAndTime(SafeFileHandle handle, int mode, long modifiedNanoseconds)
    {
        if (mode != 0 && FchmodNative(handle, mode & 0xFFF) != 0)
        {
            throw new IOException($"Could not set a file's permissions: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
        }

        var seconds = Math.DivRem(modifiedNanoseconds, 1_000_000_000L, out var nanoseconds);
        if (nanoseconds < 0)
        {
            seconds--;
            nanoseconds += 1_000_000_000L;
        }

        ReadOnlySpan<Timespec> times = [new Timespec { Seconds = seconds, Nanoseconds = nanoseconds }, new Timespec { Seconds = seconds, Nanoseconds = nanoseconds }];
        if (FutimensNative(handle, times) != 0)
        {
            throw new IOException($"Could not set a file's modification time: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
        }
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
