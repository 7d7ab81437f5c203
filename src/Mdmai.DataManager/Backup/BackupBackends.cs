using Mdmai.DataManager.Configuration;

namespace Mdmai.DataManager.Backup;

/// <summary>The backend a repository location names: an S3 bucket for <c>s3://BUCKET/PREFIX</c>, else a local folder.</summary>
public static class BackupBackends
{
    /// <summary>
    /// Opens <paramref name="location"/>; an S3 one with <paramref name="s3"/> (default: the AWS tools' variables of
    /// this process), behind a local cache of its metadata (<see cref="S3Options.CacheFolder"/>). Release the result
    /// when done (an S3 backend holds connections).
    /// </summary>
    public static IBackupBackend Open(string location, S3Options? s3 = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (!RepositoryLocations.IsS3(location))
        {
            return new LocalFolderBackend(location);
        }

        s3 ??= S3Options.FromEnvironment();
        var backend = new S3Backend(location, s3);
        return s3.CacheFolder is ""
            ? backend
            : new CachedBackend(backend, CachedBackend.FolderFor(s3.CacheFolder ?? CachedBackend.DefaultRoot(Environment.GetEnvironmentVariable), backend.Endpoint, backend.Location));
    }

    /// <summary>The repository of a data folder (<c>backup_repository</c>), its S3 options from <paramref name="environment"/> and <c>s3_path_style</c>.</summary>
    public static IBackupBackend ForDataFolder(DataFolder folder, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var location = folder.BackupRepositoryLocation;
        return Open(location, RepositoryLocations.IsS3(location) ? S3Options.FromEnvironment(environment, folder.Config.S3PathStyle) : null);
    }

    /// <summary>Disposes a backend that holds resources (an S3 one); a folder's holds none.</summary>
    public static void Release(IBackupBackend backend) => (backend as IDisposable)?.Dispose();

    /// <summary>The backend's Object Lock, when it has one (an S3 bucket, behind its cache or not).</summary>
    public static IObjectLockBackend? ObjectLock(IBackupBackend backend) => backend switch
    {
        IObjectLockBackend direct => direct,
        CachedBackend cached => cached.Inner as IObjectLockBackend,
        _ => null,
    };

    /// <summary>The S3 bucket behind <paramref name="backend"/>, when there is one.</summary>
    public static S3Backend? S3(IBackupBackend backend) => backend switch
    {
        S3Backend direct => direct,
        CachedBackend cached => cached.Inner as S3Backend,
        _ => null,
    };
}
