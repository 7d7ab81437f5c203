using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Caching;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Integrity;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager;

/// <summary>The cache's counters as the last session that closed left them.</summary>
/// <param name="SessionEnded">When that session ended.</param>
/// <param name="Hits">Lookups found.</param>
/// <param name="Misses">Lookups not found.</param>
/// <param name="Evictions">Entries let go to stay within the limit.</param>
/// <param name="HitRate">Hits over lookups.</param>
/// <param name="Count">Entries held at the end.</param>
/// <param name="Bytes">Bytes held at the end.</param>
/// <param name="CapacityBytes">The limit.</param>
public sealed record CacheReport(DateTimeOffset SessionEnded, long Hits, long Misses, long Evictions, double HitRate, long Count, long Bytes, long CapacityBytes);

/// <summary>Where the backup repository is and whether it exists yet.</summary>
/// <param name="Path">A folder's full path, or <c>s3://BUCKET/PREFIX</c>.</param>
/// <param name="Exists">Whether a repository is there.</param>
public sealed record RepositoryReport(string Path, bool Exists);

/// <summary>
/// What <c>mdmai status</c> shows and the dashboard's overview starts from: the folder, its config, the database's
/// sizes and record counts, the cache's counters, the last scheduled integrity check, and the backup repository. One
/// place builds it, so every front end shows the same fields.
/// </summary>
public sealed record DataManagerStatus
{
    /// <summary>The data folder.</summary>
    public required string DataDir { get; init; }

    /// <summary>Its config (no secret is ever in it).</summary>
    public required MdmaiConfig Config { get; init; }

    /// <summary>The database's sizes and record counts.</summary>
    public required DatabaseStats Database { get; init; }

    /// <summary>The cache's counters of the last session, or null when none was recorded.</summary>
    public CacheReport? Cache { get; init; }

    /// <summary>The last scheduled integrity check, or null when none ran yet.</summary>
    public ScheduledCheck? LastIntegrityCheck { get; init; }

    /// <summary>The backup repository.</summary>
    public required RepositoryReport BackupRepository { get; init; }

    /// <summary>Reads the status of an open folder; an S3 repository's existence is asked with the AWS variables read through <paramref name="environment"/>.</summary>
    public static async Task<DataManagerStatus> ReadAsync(DataFolder folder, MdmaiDatabase database, Func<string, string?>? environment = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(database);
        var stats = await database.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var cache = CacheStatisticsFile.Load(folder.Path);
        bool exists;
        try
        {
            exists = await DataFolderBackups.RepositoryExistsAsync(folder, environment, cancellationToken).ConfigureAwait(false);
        }
        catch (MdmaiException ex) when (ex.Code is MdmaiErrorCode.RemoteAccess or MdmaiErrorCode.RemoteUnavailable)
        {
            exists = false; // the store cannot be reached now: the status still shows the rest
        }

        return new DataManagerStatus
        {
            DataDir = folder.Path,
            Config = folder.Config,
            Database = stats,
            Cache = cache is { } c ? new CacheReport(c.Time, c.Statistics.Hits, c.Statistics.Misses, c.Statistics.Evictions, c.Statistics.HitRate, c.Statistics.Count, c.Statistics.Bytes, c.Statistics.CapacityBytes) : null,
            LastIntegrityCheck = IntegrityChecker.LastRun(folder.Path),
            BackupRepository = new RepositoryReport(folder.BackupRepositoryLocation, exists),
        };
    }
}
