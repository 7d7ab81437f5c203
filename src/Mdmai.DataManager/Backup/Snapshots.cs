using System.Text.Json.Serialization;

namespace Mdmai.DataManager.Backup;

/// <summary>Why a snapshot was taken.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SnapshotKind>))]
public enum SnapshotKind
{
    /// <summary>Asked for by the user.</summary>
    Manual,
    /// <summary>Taken by the schedule (retention by <c>max_backup_count</c> applies to these).</summary>
    Auto,
    /// <summary>Taken when the app closed.</summary>
    Shutdown,
    /// <summary>Taken just before an in-place restore replaced the data.</summary>
    PreRestore,
}

/// <summary>What one snapshot run read and added.</summary>
public sealed record SnapshotStats
{
    /// <summary>Regular files in the snapshot.</summary>
    public long Files { get; init; }

    /// <summary>Folders in the snapshot.</summary>
    public long Directories { get; init; }

    /// <summary>Bytes of all files in the snapshot (logical size).</summary>
    public long Bytes { get; init; }

    /// <summary>Files not in the parent snapshot.</summary>
    public long NewFiles { get; init; }

    /// <summary>Files in the parent snapshot whose content was read again because they changed.</summary>
    public long ChangedFiles { get; init; }

    /// <summary>Files taken from the parent snapshot without reading them.</summary>
    public long UnchangedFiles { get; init; }

    /// <summary>Bytes read from disk.</summary>
    public long BytesRead { get; init; }

    /// <summary>Blobs the repository did not have.</summary>
    public long NewBlobs { get; init; }

    /// <summary>Bytes of content the repository did not have (before compression).</summary>
    public long NewBytes { get; init; }

    /// <summary>Bytes added to the repository (compressed and sealed, pack headers included).</summary>
    public long StoredBytes { get; init; }

    /// <summary>Files that could not be read (named in <see cref="SnapshotResult.Errors"/>).</summary>
    public long Errors { get; init; }

    /// <summary>Wall time of the run in seconds.</summary>
    public double DurationSeconds { get; init; }
}

/// <summary>A snapshot as <c>backup list</c> shows it.</summary>
public sealed record SnapshotInfo
{
    /// <summary>The snapshot's id (32 hex digits; any unique prefix of 4 or more selects it).</summary>
    public required string Id { get; init; }

    /// <summary>When the snapshot was taken (UTC).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>Why it was taken.</summary>
    public required SnapshotKind Kind { get; init; }

    /// <summary>User tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>A free-text description.</summary>
    public string? Description { get; init; }

    /// <summary>The machine it was taken on.</summary>
    public string Host { get; init; } = "";

    /// <summary>The snapshot it was taken relative to (unchanged files were not read again).</summary>
    public string? Parent { get; init; }

    /// <summary>What was backed up: the data folder and each <c>--include</c> path.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>Counts and sizes of the run that made it.</summary>
    public SnapshotStats Stats { get; init; } = new();

    /// <summary>When it is a copy made by <c>backup copy</c>: the id of the snapshot it copies, in the repository where that was first taken.</summary>
    public string? Original { get; init; }
}

/// <summary>The kind of a snapshot entry.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SnapshotEntryType>))]
public enum SnapshotEntryType
{
    /// <summary>A regular file.</summary>
    File,
    /// <summary>A folder.</summary>
    Directory,
    /// <summary>A symbolic link (its target is recorded, never followed).</summary>
    Symlink,
}

/// <summary>One entry of a snapshot's file list.</summary>
/// <param name="Path">'/'-separated path inside the snapshot: <c>data/…</c> for the data folder, <c>include/…</c> for included folders.</param>
/// <param name="Type">File, folder or link.</param>
/// <param name="Size">Size in bytes (files).</param>
/// <param name="Modified">Last-write time when it was backed up.</param>
/// <param name="Mode">Unix permission bits.</param>
/// <param name="LinkTarget">Target of a symbolic link.</param>
public sealed record SnapshotEntry(string Path, SnapshotEntryType Type, long Size, DateTimeOffset Modified, int Mode, string? LinkTarget)
{
    /// <summary>
    /// Files: an id of the content (16 hex digits of a hash of its chunk ids — keyed, so it says nothing of the content
    /// to someone without the key): two entries with the same id hold the same bytes. Null for folders and links.
    /// </summary>
    public string? ContentId { get; init; }
}

/// <summary>How an entry differs between two snapshots.</summary>
public enum SnapshotChange
{
    /// <summary>Only in the newer snapshot.</summary>
    Added,
    /// <summary>Only in the older snapshot.</summary>
    Removed,
    /// <summary>In both, with different content or metadata.</summary>
    Modified,
}

/// <summary>One line of <c>backup diff</c>.</summary>
/// <param name="Change">Added, removed or modified.</param>
/// <param name="Path">The entry's path.</param>
/// <param name="OldSize">Size in the older snapshot.</param>
/// <param name="NewSize">Size in the newer snapshot.</param>
public sealed record SnapshotDifference(SnapshotChange Change, string Path, long? OldSize, long? NewSize);

/// <summary>What a snapshot run produced.</summary>
/// <param name="Snapshot">The new snapshot.</param>
/// <param name="Errors">Files that could not be read, with the reason; the snapshot holds everything else.</param>
public sealed record SnapshotResult(SnapshotInfo Snapshot, IReadOnlyList<string> Errors);

/// <summary>Progress of a long repository operation.</summary>
/// <param name="Files">Files done.</param>
/// <param name="Bytes">Bytes done (for a snapshot: read, or taken unchanged from the parent).</param>
/// <param name="TotalFiles">Files to do, when known.</param>
/// <param name="TotalBytes">Bytes to do, when known (for a snapshot: the parent's size, an estimate).</param>
/// <param name="Current">The file being worked on.</param>
public readonly record struct BackupProgress(long Files, long Bytes, long? TotalFiles, long? TotalBytes, string? Current);
