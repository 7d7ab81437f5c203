using System.Runtime.InteropServices;

namespace Mdmai.DataManager.Compression;

/// <summary>
/// The platform's libzstd, when it has one (every Debian and Ubuntu system does: dpkg depends on it), reached
/// through function pointers so that a machine without it simply falls back to the managed port. Compressing text
/// with it is several times faster than with ZstdSharp, and it can spread one stream over several threads. The
/// frames are the same zstd format either way; whole frames (backup chunks) are decompressed by it too, the
/// streams of file-store objects by ZstdSharp.
/// </summary>
internal static unsafe class NativeZstd
{
    public const int CompressionLevelParameter = 100;
    public const int WorkersParameter = 400;
    public const int JobSizeParameter = 401;

    /// <summary><c>ZSTD_c_srcSizeHint</c> (experimental parameter 7): the expected content size when it is not pledged.</summary>
    public const int SourceSizeHintParameter = 1004;

    /// <summary><c>ZSTD_reset_session_and_parameters</c>.</summary>
    private const int ResetSessionAndParameters = 3;

    /// <summary>
    /// Input per job when compressing with workers. zstd's default for level 3 is 8 MiB; smaller jobs start the
    /// workers sooner and end the last job sooner, and hold less memory, for a compression ratio within a percent.
    /// Measured on 100 MiB / 1 GiB text imports (MB/s, medians of 3): 8 MiB 142 / 217, 4 MiB 154 / 203, 2 MiB 179 / 192,
    /// 1 MiB 160 / 186; peak RSS 117 → 82 MB from 8 to 2 MiB.
    /// </summary>
    public const int JobSize = 2 * 1024 * 1024;
    public const int Continue = 0;
    public const int End = 2;

    /// <summary>Oldest libzstd with the stable <c>ZSTD_compressStream2</c> API (1.4.0).</summary>
    private const uint MinimumVersion = 10400;

    private static readonly string[] LibraryNames = ["libzstd.so.1", "libzstd.so", "libzstd.1.dylib", "libzstd.dylib", "libzstd.dll", "zstd.dll"];

    private static readonly delegate* unmanaged<nint> s_createCCtx;
    private static readonly delegate* unmanaged<nint, nuint> s_freeCCtx;
    private static readonly delegate* unmanaged<nint, int, int, nuint> s_setParameter;
    private static readonly delegate* unmanaged<nint, int, nuint> s_reset;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint> s_compress2;
    private static readonly delegate* unmanaged<nint, Buffer*, Buffer*, int, nuint> s_compressStream2;
    private static readonly delegate* unmanaged<nint> s_createDCtx;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint> s_decompressDCtx;
    private static readonly delegate* unmanaged<nuint, uint> s_isError;
    private static readonly delegate* unmanaged<nuint, byte*> s_getErrorName;

    static NativeZstd()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("MDMAI_ZSTD"), "managed", StringComparison.OrdinalIgnoreCase))
        {
            return; // forced off (diagnostics, and the tests of the managed path)
        }

        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, typeof(NativeZstd).Assembly, null, out var library))
            {
                continue;
            }

            if (Export(library, "ZSTD_versionNumber") is var version && version != 0
                && ((delegate* unmanaged<uint>)version)() >= MinimumVersion
                && Export(library, "ZSTD_createCCtx") is var create && create != 0
                && Export(library, "ZSTD_freeCCtx") is var free && free != 0
                && Export(library, "ZSTD_CCtx_setParameter") is var set && set != 0
                && Export(library, "ZSTD_CCtx_reset") is var reset && reset != 0
                && Export(library, "ZSTD_compress2") is var compress && compress != 0
                && Export(library, "ZSTD_compressStream2") is var stream && stream != 0
                && Export(library, "ZSTD_isError") is var isError && isError != 0
                && Export(library, "ZSTD_getErrorName") is var errorName && errorName != 0
                && Export(library, "ZSTD_createDCtx") is var createD && createD != 0
                && Export(library, "ZSTD_decompressDCtx") is var decompress && decompress != 0)
            {
                s_createDCtx = (delegate* unmanaged<nint>)createD;
                s_decompressDCtx = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint>)decompress;
                s_createCCtx = (delegate* unmanaged<nint>)create;
                s_freeCCtx = (delegate* unmanaged<nint, nuint>)free;
                s_setParameter = (delegate* unmanaged<nint, int, int, nuint>)set;
                s_reset = (delegate* unmanaged<nint, int, nuint>)reset;
                s_compress2 = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint>)compress;
                s_compressStream2 = (delegate* unmanaged<nint, Buffer*, Buffer*, int, nuint>)stream;
                s_isError = (delegate* unmanaged<nuint, uint>)isError;
                s_getErrorName = (delegate* unmanaged<nuint, byte*>)errorName;
                IsAvailable = true;
                return;
            }

            NativeLibrary.Free(library);
        }
    }

    /// <summary>True when a usable libzstd was found.</summary>
    public static bool IsAvailable { get; }

    /// <summary><c>ZSTD_inBuffer</c> and <c>ZSTD_outBuffer</c> have the same layout.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Buffer
    {
        public byte* Data;
        public nuint Size;
        public nuint Position;
    }

    /// <summary>A compression context at <paramref name="level"/>; with <paramref name="workers"/> &gt; 0, multithreaded if the library can.</summary>
    public static nint CreateContext(int level, int workers)
    {
        var context = s_createCCtx();
        if (context == 0)
        {
            throw new InvalidOperationException("libzstd could not allocate a compression context (out of memory).");
        }

        try
        {
            Check(s_setParameter(context, CompressionLevelParameter, level));
            if (workers > 0)
            {
                // A libzstd built without threads refuses this; it then compresses on the caller's thread.
                if (s_isError(s_setParameter(context, WorkersParameter, workers)) == 0)
                {
                    _ = s_setParameter(context, JobSizeParameter, JobSize);
                }
            }
        }
        catch
        {
            s_freeCCtx(context);
            throw;
        }

        return context;
    }

    public static void FreeContext(nint context)
    {
        if (context != 0)
        {
            s_freeCCtx(context);
        }
    }

    /// <summary>Single-threaded contexts put back for the next stream, at most <see cref="PooledContexts"/>.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentBag<nint> s_pool = [];

    private const int PooledContexts = 16;

    /// <summary>
    /// A single-threaded context for one stream at <paramref name="level"/>, from the pool when it has one, told the
    /// content's expected size (<paramref name="sizeHint"/>, 0 when unknown). Without the hint zstd sizes its window and
    /// tables for content of any length, and clears them for every frame: on a folder of small files that was most of
    /// the compression's time. A wrong hint costs only ratio or speed, never correctness. Give it back with <see cref="ReturnContext"/>.
    /// </summary>
    public static nint RentContext(int level, long sizeHint)
    {
        if (!s_pool.TryTake(out var context))
        {
            context = CreateContext(level, workers: 0);
        }

        try
        {
            Check(s_reset(context, ResetSessionAndParameters));
            Check(s_setParameter(context, CompressionLevelParameter, level));
            if (sizeHint > 0)
            {
                _ = s_setParameter(context, SourceSizeHintParameter, (int)Math.Min(sizeHint, int.MaxValue)); // a library without it refuses: no harm
            }
        }
        catch
        {
            s_freeCCtx(context);
            throw;
        }

        return context;
    }

    /// <summary>Puts back a context from <see cref="RentContext"/> (freed when the pool is full).</summary>
    public static void ReturnContext(nint context)
    {
        if (context == 0)
        {
            return;
        }

        if (s_pool.Count < PooledContexts)
        {
            s_pool.Add(context);
        }
        else
        {
            s_freeCCtx(context);
        }
    }

    /// <summary>One frame of <paramref name="source"/> into <paramref name="destination"/>; -1 when it does not fit.</summary>
    public static int Compress(nint context, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            var result = s_compress2(context, dst, (nuint)destination.Length, src, (nuint)source.Length);
            return s_isError(result) != 0 ? -1 : checked((int)result);
        }
    }

    /// <summary>A decompression context (never freed: one per thread that decompresses, see <see cref="Zstd.TryDecompress"/>).</summary>
    public static nint CreateDecompressionContext()
    {
        var context = s_createDCtx();
        return context != 0 ? context : throw new InvalidOperationException("libzstd could not allocate a decompression context (out of memory).");
    }

    /// <summary>Decompresses one whole frame; -1 when it is not a valid frame or does not fit <paramref name="destination"/>.</summary>
    public static int Decompress(nint context, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            var result = s_decompressDCtx(context, dst, (nuint)destination.Length, src, (nuint)source.Length);
            return s_isError(result) != 0 ? -1 : checked((int)result);
        }
    }

    /// <summary>
    /// One step of streaming compression: consumes what it can of <paramref name="source"/> and produces into
    /// <paramref name="destination"/>. Returns what <c>ZSTD_compressStream2</c> returns (for <see cref="End"/>: 0 once the frame is complete).
    /// </summary>
    public static nuint CompressStep(nint context, ReadOnlySpan<byte> source, Span<byte> destination, int endOp, out int consumed, out int produced)
    {
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            var input = new Buffer { Data = src, Size = (nuint)source.Length };
            var output = new Buffer { Data = dst, Size = (nuint)destination.Length };
            var result = s_compressStream2(context, &output, &input, endOp);
            Check(result);
            consumed = (int)input.Position;
            produced = (int)output.Position;
            return result;
        }
    }

    private static void Check(nuint result)
    {
        if (s_isError(result) != 0)
        {
            throw new InvalidOperationException("libzstd: " + Marshal.PtrToStringAnsi((nint)s_getErrorName(result)));
        }
    }

    private static nint Export(nint library, string name) => NativeLibrary.TryGetExport(library, name, out var address) ? address : 0;
}
