using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// One entry of a snapshot's file list as stored: one JSON object per line, entries in <see cref="PathOrder"/>,
/// grouped into tree blobs (docs/backup-format.md).
/// </summary>
internal sealed record TreeEntry
{
    [JsonPropertyName("path")] public required string Path { get; init; }
    [JsonPropertyName("type")] public required SnapshotEntryType Type { get; init; }
    [JsonPropertyName("mode")] public int Mode { get; init; }
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("mtime_ns")] public long ModifiedNanoseconds { get; init; }
    [JsonPropertyName("inode")] public ulong Inode { get; init; }
    [JsonPropertyName("device")] public ulong Device { get; init; }
    [JsonPropertyName("chunks")] public IReadOnlyList<string>? Chunks { get; init; }
    [JsonPropertyName("link")] public string? LinkTarget { get; init; }

    /// <summary>For the database: the live file's stamp when it was captured (an unchanged stamp means an unchanged database).</summary>
    [JsonPropertyName("source_stamp")] public string? SourceStamp { get; init; }

    public SnapshotEntry ToPublic() => new(Path, Type, Size, DateTimeOffset.UnixEpoch.AddTicks(ModifiedNanoseconds / 100), Mode, LinkTarget)
    {
        ContentId = Type == SnapshotEntryType.File
            ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(string.Join(',', Chunks ?? []))).AsSpan(0, 8))
            : null,
    };

    public static readonly JsonSerializerOptions Json = new JsonSerializerOptions
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter<SnapshotEntryType>(JsonNamingPolicy.SnakeCaseLower) },
    }.Generated(BackupJsonContext.Default);
}

/// <summary>
/// The order of a snapshot's entries: segment by segment, ordinal — a folder comes right before its contents, so
/// two sorted lists merge in one pass (parent matching, diff) with constant memory.
/// </summary>
internal sealed class PathOrder : IComparer<string>
{
    public static readonly PathOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null || y is null)
        {
            return x is null ? -1 : 1;
        }

        var i = 0;
        var n = Math.Min(x.Length, y.Length);
        while (i < n && x[i] == y[i])
        {
            i++;
        }

        if (i == x.Length || i == y.Length)
        {
            return x.Length.CompareTo(y.Length);
        }

        // The separator sorts before every other character, so "a/b" comes before "a-b".
        var a = x[i] == '/' ? -1 : x[i];
        var b = y[i] == '/' ? -1 : y[i];
        return a.CompareTo(b);
    }
}

/// <summary>Rules for the paths a snapshot may hold: relative, '/'-separated, no empty, '.' or '..' segment, no NUL.</summary>
internal static class SnapshotPaths
{
    public static bool IsSafe(string path) =>
        path.Length > 0 && !path.StartsWith('/') && !path.Contains('\0', StringComparison.Ordinal)
        && !path.Contains('\\', StringComparison.Ordinal) && !path.Split('/').Any(s => s is "" or "." or "..");

    /// <summary>Whether <paramref name="path"/> is selected by <paramref name="pattern"/>: equal, inside it, or a wildcard match ('*', '?').</summary>
    public static bool Matches(string path, string pattern)
    {
        pattern = pattern.Trim('/');
        return pattern.Length == 0 || path == pattern || path.StartsWith(pattern + "/", StringComparison.Ordinal)
            || pattern.StartsWith(path + "/", StringComparison.Ordinal)
            || System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(pattern, path, ignoreCase: false);
    }
}
