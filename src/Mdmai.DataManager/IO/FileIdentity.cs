using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.IO;

/// <summary>The kind of a directory entry, as <c>lstat</c> sees it (a symbolic link is never followed).</summary>
internal enum FileKind : byte
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

    /// <summary>
    /// The permission bits (<c>st_mode &amp; 07777</c>, as <see cref="UnixFileMode"/>) where <see cref="HasInodes"/>; 0 elsewhere.
    /// Read with the rest, so that a caller needing them does not stat the path again.
    /// </summary>
    public ushort Permissions { get; init; }

    /// <summary>The same file (device and inode) as <paramref name="other"/>.</summary>
    public bool SameInode(FileIdentity other) => !HasInodes || (Device == other.Device && Inode == other.Inode);

    /// <summary>The same file, and neither its size nor its last-write time changed.</summary>
    public bool Unchanged(FileIdentity other) =>
        Kind == other.Kind && SameInode(other) && Size == other.Size && ModifiedNanoseconds == other.ModifiedNanoseconds;

    /// <summary>Reads the identity of a path without following a symbolic link; false with <paramref name="errno"/> when it cannot.</summary>
    public static bool TryGet(string path, out FileIdentity identity, out int errno)
    {
        return HasInodes
            ? TryGetAt(UnixFileCalls.AtFdCwd, path, out identity, out errno)
            : TryGetPortable(path, out identity, out errno);
    }

    /// <summary>
    /// Reads the identity of <paramref name="name"/> in the folder open as <paramref name="folder"/> (from
    /// <see cref="UnixFileCalls.TryOpenFolderPath"/>, or <see cref="UnixFileCalls.AtFdCwd"/> for a path) without following
    /// a symbolic link: from an open folder the kernel looks up one name, not every folder of a full path. Linux only
    /// (where <see cref="HasInodes"/>).
    /// </summary>
    public static bool TryGetAt(int folder, ReadOnlySpan<char> name, out FileIdentity identity, out int errno)
    {
        if (UnixFileCalls.Statx(folder, name, UnixFileCalls.AtSymlinkNoFollow, UnixFileCalls.StatxBasicStats, out var buffer) != 0)
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
        return new FileIdentity(kind, device, b.Ino, (long)b.Size, (b.MtimeSec * 1_000_000_000L) + b.MtimeNsec, b.Nlink) { Permissions = (ushort)(b.Mode & 0xFFF) };
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
