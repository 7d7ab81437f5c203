using Mdmai.DataManager.Configuration;

namespace Mdmai.DataManager.Backup;

/// <summary>The backend a repository location names: an S3 bucket for <c>s3://BUCKET/PREFIX</c>, else a local folder.</summary>
public static class BackupBackends
{
    /// <summary>
    /// Opens <paramref name="location"/>; an S3 one with <paramref name="s3"/> (default: the AWS tools' variables of
    /// this process). Dispose the result when done (an S3 backend holds connections).
    /// </summary>
    public static IBackupBackend Open(string location, S3Options? s3 = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        return RepositoryLocations.IsS3(location) ? new S3Backend(location, s3) : new LocalFolderBackend(location);
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
}
