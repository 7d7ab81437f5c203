using System.Runtime.InteropServices;

namespace Mdmai.Cli;

/// <summary>How the command-line process has the C library hand out native memory (the library leaves its host's alone).</summary>
internal static partial class NativeMemory
{
    /// <summary><c>M_ARENA_MAX</c> of glibc's <c>mallopt</c>.</summary>
    private const int ArenaMax = -8;

    /// <summary>
    /// Caps glibc's malloc arenas at two from here on (threads the runtime started before <c>Main</c> may already have
    /// one of their own). By default every thread that allocates may get an arena of its own (up to eight per core), and what SQLite, zstd and OpenSSL free in one stays resident there: a first backup of 100k small
    /// files peaked ~4 MB lower with two (89.6 against 93.5 MB, medians of three alternating runs), a folder import
    /// ~6 MB, at the same CPU time (docs/adr/0005-native-cli.md). Does nothing where the C library is not glibc.
    /// </summary>
    public static void LimitArenas()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            _ = Mallopt(ArenaMax, 2);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // not glibc (musl has no arenas to limit)
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);
}
