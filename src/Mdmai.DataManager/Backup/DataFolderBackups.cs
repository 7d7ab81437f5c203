using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.IO;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Backup;

/// <summary>
/// Backups of one data folder: its repository (<see cref="DataFolder.BackupRepositoryLocation"/>, created on first use,
/// encrypted with the folder's password when the folder is encrypted), snapshots of the folder plus extra paths,
/// retention of auto backups by <c>max_backup_count</c>, and in-place restore.
/// </summary>
public sealed class DataFolderBackups : IDisposable
{
    private readonly Func<string, string?>? _environment;

    private DataFolderBackups(DataFolder folder, BackupRepository repository, Func<string, string?>? environment)
    {
        Folder = folder;
        Repository = repository;
        _environment = environment;
    }

    /// <summary>The data folder backed up.</summary>
    public DataFolder Folder { get; }

    /// <summary>The repository.</summary>
    public BackupRepository Repository { get; }

    /// <summary>
    /// Opens the folder's repository, creating it when <paramref name="create"/> and it does not exist yet. An encrypted
    /// folder's repository is encrypted under <paramref name="password"/> (the folder's password by default).
    /// </summary>
    /// <remarks>An S3 repository (<c>backup_repository = s3://…</c>) is reached with the AWS tools' variables, read through <paramref name="environment"/> (default: this process's).</remarks>
    public static async Task<DataFolderBackups> OpenAsync(DataFolder folder, string? password, bool create, RepositoryOptions? options = null, Func<string, string?>? environment = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var backend = BackupBackends.ForDataFolder(folder, environment);
        BackupRepository repository;
        try
        {
            if (create && !await BackupRepository.ExistsAsync(backend, cancellationToken).ConfigureAwait(false))
            {
                if (folder.Config.EncryptionEnabled && string.IsNullOrEmpty(password))
                {
                    throw new MdmaiException(MdmaiErrorCode.WrongPassword, "The data folder is encrypted, so its backups are too: give the password.");
                }

                repository = await BackupRepository.InitAsync(backend, folder.Config.EncryptionEnabled ? password : null, options, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                repository = await BackupRepository.OpenAsync(backend, password, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            BackupBackends.Release(backend);
            throw;
        }

        if (folder.Config.EncryptionEnabled && !repository.Encrypted)
        {
            repository.Dispose();
            throw new MdmaiException(MdmaiErrorCode.ForeignFormat, $"The data folder is encrypted but the backup repository at '{folder.BackupRepositoryLocation}' is not: its backups would hold your data unprotected. Use another repository (backup_repository in mdmai.json).");
        }

        return new DataFolderBackups(folder, repository, environment);
    }

    /// <summary>The repository's folder when it is on this machine (never backed up into itself, never swapped out by a restore); null for an object store.</summary>
    private string? LocalRepository => RepositoryLocations.IsS3(Folder.BackupRepositoryLocation) ? null : Folder.BackupRepositoryLocation;

    /// <summary>Whether the folder's repository exists yet (one request for an S3 one).</summary>
    public static async Task<bool> RepositoryExistsAsync(DataFolder folder, Func<string, string?>? environment = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var backend = BackupBackends.ForDataFolder(folder, environment);
        try
        {
            return await BackupRepository.ExistsAsync(backend, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            BackupBackends.Release(backend);
        }
    }

    /// <summary>Takes a snapshot of the data folder and <paramref name="includes"/>; the level defaults to <c>backup_compression_level</c>.</summary>
    public Task<SnapshotResult> BackupAsync(SnapshotKind kind, IReadOnlyList<string>? includes = null, IReadOnlyList<string>? tags = null, string? description = null,
        int? compressionLevel = null, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Repository.CreateSnapshotAsync(
            new BackupSources { DataFolder = Folder.Path, Includes = includes ?? [], Excludes = LocalRepository is { } local ? [local] : [] },
            new SnapshotOptions { Kind = kind, Tags = tags ?? [], Description = description, CompressionLevel = compressionLevel ?? Folder.Config.BackupCompressionLevel },
            progress,
            cancellationToken);

    /// <summary>Retention for auto backups: the newest <c>max_backup_count</c> are kept; other kinds are not touched.</summary>
    public Task<ForgetResult> ApplyRetentionAsync(CancellationToken cancellationToken = default) =>
        Repository.ForgetAsync(new RetentionPolicy { KeepLast = Folder.Config.MaxBackupCount, Kinds = [SnapshotKind.Auto] }, cancellationToken: cancellationToken);

    /// <summary>
    /// Restores the data folder itself from a snapshot. The database must be closed. First a pre-restore snapshot of
    /// the current data (when its database is too damaged to be captured, the current items are moved to
    /// <c>quarantine/&lt;time&gt;-before-restore-&lt;id&gt;/</c> instead of being deleted at the end); then the snapshot's <c>data/</c> is restored into a staging folder and checked (every chunk
    /// re-hashed, the database's integrity check, the key file readable); then the current items are moved aside and
    /// the staged ones moved in under a journal, so a failure or crash at any point leaves (or, on the next open,
    /// puts back) the data exactly as it was.
    /// </summary>
    public async Task<RestoreResult> RestoreInPlaceAsync(string snapshotId, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var snapshot = await Repository.GetSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        var root = Folder.Path;

        // Nobody else may have the folder open while its items are swapped: the app holds this lock while it runs.
        await using var folderLock = FolderLock.Acquire(root);
        RestoreJournal.Recover(root);

        // The current data goes into a pre-restore snapshot. When it cannot be captured because the database is
        // damaged (the very reason to restore), it is kept as it is instead: moved to quarantine/, never deleted.
        string? keptAside = null;
        try
        {
            await BackupAsync(SnapshotKind.PreRestore, description: $"before restoring {snapshot.Id[..8]}", cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (MdmaiException ex) when (ex.Code == MdmaiErrorCode.Corrupt)
        {
            keptAside = Path.Combine(root, "quarantine", $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-before-restore-{snapshot.Id[..8]}");
        }

        var staging = Path.Combine(root, "tmp", $"restore-{Guid.NewGuid():N}");
        var replaced = Path.Combine(root, "tmp", $"replaced-{Guid.NewGuid():N}");
        try
        {
            var result = await Repository.RestoreAsync(snapshot.Id, staging, new RestoreOptions { PathPattern = "data", StripPrefix = "data", Durable = true }, progress, cancellationToken).ConfigureAwait(false);
            CheckStaged(staging);
            cancellationToken.ThrowIfCancellationRequested();

            var skipped = new HashSet<string>(BackupRepository.SkippedDataFolders, StringComparer.Ordinal) { RestoreJournal.FileName };
            var repositoryFolder = LocalRepository;
            var current = Directory.EnumerateFileSystemEntries(root).Select(p => Path.GetFileName(p)!)
                .Where(n => !skipped.Contains(n) && Path.Combine(root, n) != repositoryFolder).ToList();
            var restored = Directory.EnumerateFileSystemEntries(staging).Select(p => Path.GetFileName(p)!).ToList();
            var entry = new RestoreJournal.Entry(staging, replaced, current, restored);
            Directory.CreateDirectory(replaced);
            await RestoreJournal.WriteAsync(root, entry, cancellationToken).ConfigureAwait(false);
            try
            {
                foreach (var name in current)
                {
                    RestoreJournal.Move(Path.Combine(root, name), Path.Combine(replaced, name));
                }

                foreach (var name in restored)
                {
                    RestoreJournal.Move(Path.Combine(staging, name), Path.Combine(root, name));
                }

                AtomicFile.FlushFolder(root);
            }
            catch
            {
                RestoreJournal.RollBack(root, entry);
                File.Delete(RestoreJournal.PathIn(root));
                throw;
            }

            File.Delete(RestoreJournal.PathIn(root));
            AtomicFile.FlushFolder(root);
            if (keptAside is null)
            {
                Directory.Delete(replaced, recursive: true); // held by the pre-restore snapshot
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(keptAside)!);
                Directory.Move(replaced, keptAside);
                AtomicFile.FlushFolder(Path.GetDirectoryName(keptAside)!);
            }

            return result;
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    /// <summary>
    /// Restores a snapshot's data folder into <paramref name="path"/>, a folder that does not exist yet or is empty — a
    /// new machine, with nothing but the repository: the snapshot's <c>data/</c> is restored into a staging folder
    /// inside it and checked (every chunk re-hashed, the database's integrity check, the key file readable), then moved
    /// into place. A failure leaves the folder empty.
    /// </summary>
    public static async Task<RestoreResult> RestoreNewFolderAsync(BackupRepository repository, string snapshotId, string path, IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(snapshotId);
        ArgumentNullException.ThrowIfNull(path);
        var root = Path.GetFullPath(path);
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
        {
            throw new MdmaiException(MdmaiErrorCode.AlreadyExists,
                $"'{root}' is not empty and holds no data folder: restore into a new or empty folder, or into an initialised data folder with --in-place.");
        }

        var snapshot = await repository.GetSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(root);
        await using var folderLock = FolderLock.Acquire(root);
        var temp = Path.Combine(root, "tmp");
        var staging = Path.Combine(temp, $"restore-{Guid.NewGuid():N}");
        try
        {
            var result = await repository.RestoreAsync(snapshot.Id, staging, new RestoreOptions { PathPattern = "data", StripPrefix = "data", Durable = true }, progress, cancellationToken).ConfigureAwait(false);
            CheckStaged(staging);
            cancellationToken.ThrowIfCancellationRequested();
            var moved = new List<string>();
            try
            {
                foreach (var item in Directory.EnumerateFileSystemEntries(staging).Select(p => Path.GetFileName(p)!).ToList())
                {
                    RestoreJournal.Move(Path.Combine(staging, item), Path.Combine(root, item));
                    moved.Add(item);
                }
            }
            catch
            {
                foreach (var item in moved)
                {
                    RestoreJournal.Move(Path.Combine(root, item), Path.Combine(staging, item));
                }

                throw;
            }

            AtomicFile.FlushFolder(root);
            return result;
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            if (Directory.Exists(temp) && !Directory.EnumerateFileSystemEntries(temp).Any())
            {
                Directory.Delete(temp);
            }
        }
    }

    private static void CheckStaged(string staging)
    {
        var database = Path.Combine(staging, DataFolder.DatabaseFileName);
        if (!File.Exists(database))
        {
            throw new MdmaiException(MdmaiErrorCode.Corrupt, "The snapshot holds no database: it is not a snapshot of a data folder. Nothing was changed.");
        }

        DatabaseCopies.CheckStaged(database);

        var keys = Path.Combine(staging, Security.KeyFile.FileName);
        if (File.Exists(keys))
        {
            Security.KeyFile.Parse(File.ReadAllBytes(keys), keys);
        }
    }

    /// <summary>Zeroes the repository's keys.</summary>
    /// <summary>
    /// Copies every snapshot the off-site repository (<c>offsite_repository</c>) does not have yet into it — after each
    /// auto backup, in the background, and on demand. The first copy makes the repository (and an S3 bucket that does
    /// not exist) with the backup repository's keys, so no password is needed and blobs move sealed as they are.
    /// </summary>
    public async Task<CopyResult> CopyOffsiteAsync(IProgress<BackupProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var location = Folder.OffsiteRepositoryLocation
            ?? throw new MdmaiException(MdmaiErrorCode.InvalidConfig, "No off-site repository is set: offsite_repository in mdmai.json.");
        var backend = BackupBackends.Open(location, RepositoryLocations.IsS3(location) ? S3Options.FromEnvironment(_environment, Folder.Config.S3PathStyle) : null);
        BackupRepository target;
        try
        {
            if (BackupBackends.S3(backend) is { } s3)
            {
                await s3.EnsureBucketAsync(objectLock: false, cancellationToken).ConfigureAwait(false); // made on first use
            }

            target = await BackupRepository.ExistsAsync(backend, cancellationToken).ConfigureAwait(false)
                ? await BackupRepository.OpenSharingKeysAsync(backend, Repository, cancellationToken).ConfigureAwait(false)
                : await BackupRepository.InitCopyAsync(backend, Repository, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            BackupBackends.Release(backend);
            throw;
        }

        using (target)
        {
            return await Repository.CopySnapshotsAsync(target, null, progress, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Changes the data folder's password (its key file's slot is rewrapped; no data is re-encrypted) and the backup
    /// repository's with it when that one has the same password (the default). Returns whether the repository followed.
    /// </summary>
    /// <exception cref="MdmaiException">WrongPassword when <paramref name="current"/> does not open the key file; InvalidArgument for an unencrypted folder.</exception>
    public static async Task<bool> ChangePasswordAsync(DataFolder folder, string current, string replacement, Func<string, string?>? environment = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(replacement);
        if (!folder.Config.EncryptionEnabled)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "The data folder is not encrypted: it has no password ('mdmai init --encrypt' sets one).");
        }

        var keys = await Security.KeyFile.LoadAsync(folder.KeyFilePath, cancellationToken).ConfigureAwait(false);
        await keys.ChangePasswordAsync(current, replacement, cancellationToken).ConfigureAwait(false);

        var backend = BackupBackends.ForDataFolder(folder, environment);
        try
        {
            if (!await BackupRepository.IsEncryptedAsync(backend, cancellationToken).ConfigureAwait(false))
            {
                BackupBackends.Release(backend);
                return false;
            }
        }
        catch
        {
            BackupBackends.Release(backend);
            throw;
        }

        BackupRepository repository;
        try
        {
            repository = await BackupRepository.OpenAsync(backend, current, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            BackupBackends.Release(backend);
            if (ex is MdmaiException { Code: MdmaiErrorCode.WrongPassword })
            {
                return false; // the repository has a password of its own: left as it is
            }

            throw;
        }

        using (repository)
        {
            await repository.ChangePasswordAsync(current, replacement, cancellationToken).ConfigureAwait(false);
            return true;
        }
    }

    /// <summary>Closes the repository.</summary>
    public void Dispose() => Repository.Dispose();
}
