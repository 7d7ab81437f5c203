using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Mdmai.DataManager.IO;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Files.Internal;

/// <summary>A SHA-256 digest as a value that can key a dictionary.</summary>
internal readonly record struct Digest(ulong A, ulong B, ulong C, ulong D)
{
    public static Digest From(ReadOnlySpan<byte> hash) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(hash),
        BinaryPrimitives.ReadUInt64LittleEndian(hash[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(hash[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(hash[24..]));
}

/// <summary>
/// Reads file contents with pooled buffers, never a whole file at once: the cheap sample, the byte-by-byte lockstep
/// comparison that decides a group, and the SHA-256 that stands in for it when a candidate set is very large.
/// </summary>
internal sealed class FileContent(Func<string, SafeFileHandle>? open)
{
    /// <summary>Bytes sampled at each end of a file.</summary>
    public const int SampleBytes = 4096;

    /// <summary>Files up to this size skip the sample: they are compared whole, in one read each.</summary>
    public const int WholeFileLimit = 64 * 1024;

    /// <summary>
    /// The buffer each comparing worker owns (rented once per search, not per group): a lockstep comparison of k
    /// files reads chunks of up to 1 MiB, and at most this divided by k, into its slices.
    /// </summary>
    public const int ArenaBytes = 4 * 1024 * 1024;

    private const int StreamChunk = 1024 * 1024;

    /// <summary>
    /// The sample key of a file larger than <see cref="WholeFileLimit"/>: the 128-bit XxHash3 of its first and last
    /// <see cref="SampleBytes"/>. A key only sorts out candidates; equal keys decide nothing. Returns the bytes read.
    /// </summary>
    /// <remarks>
    /// Not SHA-256: the first SHA-256 of a process loads OpenSSL (libssl, libcrypto and its configuration file), ~4 ms of
    /// a search of 10k small files that takes ~70; the key needs no resistance to crafted files, as the bytes decide.
    /// </remarks>
    public int Sample(FoundFile file, out UInt128 key)
    {
        const int Length = 2 * SampleBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(Length);
        try
        {
            using var handle = Open(file, FileOptions.RandomAccess);
            ReadExactly(handle, buffer.AsSpan(0, SampleBytes), 0, file.Path);
            ReadExactly(handle, buffer.AsSpan(SampleBytes, SampleBytes), file.Size - SampleBytes, file.Path);
            key = System.IO.Hashing.XxHash128.HashToUInt128(buffer.AsSpan(0, Length));
            return Length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Splits files of one size into classes of byte-identical files by reading all of them side by side, chunk by
    /// chunk, each once; a file that differs from every other drops out as soon as it does. Only classes of two or
    /// more are returned. A file that cannot be read is reported through <paramref name="onError"/> and left out.
    /// The files share <paramref name="arena"/> (each its own slice), so memory does not depend on their number.
    /// </summary>
    public List<List<FoundFile>> Partition(IReadOnlyList<FoundFile> files, byte[] arena, Action<FoundFile, Exception> onError, Action<long> onRead, CancellationToken cancellationToken)
    {
        var size = files[0].Size;
        var chunk = (int)Math.Min(Math.Min(StreamChunk, arena.Length / files.Count / 4096 * 4096), size);
        if (chunk <= 0)
        {
            throw new ArgumentException($"An arena of {arena.Length} bytes cannot hold {files.Count} files side by side.", nameof(arena));
        }

        var open = new List<Member>(files.Count);
        try
        {
            foreach (var file in files)
            {
                try
                {
                    open.Add(new Member(file, Open(file, FileOptions.SequentialScan), open.Count * chunk));
                }
                catch (Exception ex) when (IsFileError(ex))
                {
                    onError(file, ex);
                }
            }

            List<List<Member>> classes = open.Count >= 2 ? [open] : [];
            for (long offset = 0; offset < size && classes.Count > 0; offset += chunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var length = (int)Math.Min(chunk, size - offset);
                var next = new List<List<Member>>(classes.Count);
                foreach (var members in classes)
                {
                    var alive = new List<Member>(members.Count);
                    foreach (var member in members)
                    {
                        try
                        {
                            ReadExactly(member.Handle, arena.AsSpan(member.Offset, length), offset, member.File.Path);
                            alive.Add(member);
                        }
                        catch (Exception ex) when (IsFileError(ex))
                        {
                            onError(member.File, ex);
                            member.Close();
                        }
                    }

                    onRead((long)length * alive.Count);
                    foreach (var same in Split(alive, arena, length))
                    {
                        if (same.Count >= 2)
                        {
                            next.Add(same);
                        }
                        else
                        {
                            same[0].Close();
                        }
                    }
                }

                classes = next;
            }

            return classes.Select(c => c.Select(m => m.File).ToList()).ToList();
        }
        finally
        {
            foreach (var member in open)
            {
                member.Close();
            }
        }
    }

    /// <summary>SHA-256 of a whole file, streamed through <paramref name="buffer"/>.</summary>
    public Digest Hash(FoundFile file, byte[] buffer, Action<long> onRead, CancellationToken cancellationToken)
    {
        var chunk = Math.Min(StreamChunk, buffer.Length);
        using var handle = Open(file, FileOptions.SequentialScan);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long offset = 0; offset < file.Size; offset += chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var length = (int)Math.Min(chunk, file.Size - offset);
            ReadExactly(handle, buffer.AsSpan(0, length), offset, file.Path);
            sha.AppendData(buffer, 0, length);
            onRead(length);
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        sha.GetHashAndReset(hash);
        return Digest.From(hash);
    }

    /// <summary>Whether two files of one size have the same bytes, read side by side.</summary>
    public bool SameContent(FoundFile a, FoundFile b, CancellationToken cancellationToken)
    {
        var first = ArrayPool<byte>.Shared.Rent(StreamChunk);
        var second = ArrayPool<byte>.Shared.Rent(StreamChunk);
        try
        {
            using var ha = Open(a, FileOptions.SequentialScan); // each checked to still have the size the walk saw
            using var hb = Open(b, FileOptions.SequentialScan);

            for (long offset = 0; offset < a.Size; offset += StreamChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var length = (int)Math.Min(StreamChunk, a.Size - offset);
                ReadExactly(ha, first.AsSpan(0, length), offset, a.Path);
                ReadExactly(hb, second.AsSpan(0, length), offset, b.Path);
                if (!first.AsSpan(0, length).SequenceEqual(second.AsSpan(0, length)))
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(first);
            ArrayPool<byte>.Shared.Return(second);
        }
    }

    public static bool IsFileError(Exception ex) => ex is IOException or UnauthorizedAccessException;

    /// <summary>
    /// The 128-bit XxHash3 of the whole content of a file of at most <see cref="WholeFileLimit"/> bytes:
    /// name <paramref name="index"/> of <paramref name="names"/>, opened relative to its folder, open as
    /// <paramref name="folder"/> (by its full path where that is negative). Small files of one size are told apart by
    /// it after one read each, made folder by folder; equal digests make them duplicates (see the remarks of
    /// <see cref="DuplicateFinder"/>).
    /// </summary>
    public UInt128 WholeDigest(int folder, NameTable names, int index, FileIdentity identity, Span<byte> buffer)
    {
        var content = buffer[..checked((int)identity.Size)];
        var handle = open is null ? UnixFileCalls.TryOpenForReadingAt(folder, names.OwnName(index)) : null;
        using (handle = Checked(handle ?? OpenPath(names.Path(index), FileOptions.None), identity))
        {
            if (!UnixFileCalls.TryReadExactlyAt(handle, content, 0))
            {
                throw Shrunk(names.Path(index));
            }
        }

        return System.IO.Hashing.XxHash128.HashToUInt128(content);
    }

    /// <summary>Opens the file by its first name and makes sure it is still the file the walk saw (no link swapped in since).</summary>
    private SafeFileHandle Open(FoundFile file, FileOptions options) => Checked(OpenPath(file.Path, options), file.Identity);

    private SafeFileHandle OpenPath(string path, FileOptions options) =>
        open?.Invoke(path)
        ?? UnixFileCalls.TryOpenForReading(path)
        ?? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, options);

    private static SafeFileHandle Checked(SafeFileHandle handle, FileIdentity seen)
    {
        if (!FileIdentity.TryGet(handle, out var now) || !now.SameInode(seen) || now.Size != seen.Size)
        {
            handle.Dispose();
            throw new IOException("changed since it was scanned (no longer the same file, or a different size)");
        }

        return handle;
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path)
    {
        if (!UnixFileCalls.TryReadExactlyAt(handle, buffer, offset))
        {
            throw Shrunk(path);
        }
    }

    private static EndOfStreamException Shrunk(string path) => new($"'{path}' became shorter while it was read; it is being changed");

    /// <summary>Groups members whose current chunks are equal; each member is compared with one representative per class.</summary>
    private static List<List<Member>> Split(List<Member> members, byte[] arena, int length)
    {
        var classes = new List<List<Member>>();
        foreach (var member in members)
        {
            var chunk = arena.AsSpan(member.Offset, length);
            var placed = false;
            foreach (var c in classes)
            {
                if (chunk.SequenceEqual(arena.AsSpan(c[0].Offset, length)))
                {
                    c.Add(member);
                    placed = true;
                    break;
                }
            }

            if (!placed)
            {
                classes.Add([member]);
            }
        }

        return classes;
    }

    private sealed class Member(FoundFile file, SafeFileHandle handle, int offset)
    {
        public FoundFile File { get; } = file;
        public SafeFileHandle Handle { get; } = handle;

        /// <summary>Where this file's chunk lives in the shared arena.</summary>
        public int Offset { get; } = offset;

        public void Close() => Handle.Dispose();
    }
}
