using System.Text.Json.Serialization;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Backup;

/// <summary>
/// The repository's JSON — its config, snapshots, trees, locks — and the portable archive's manifest, with their code
/// generated at build time (see <see cref="GeneratedJson"/>).
/// </summary>
[JsonSerializable(typeof(BackupRepository.RepositoryConfig))]
[JsonSerializable(typeof(BackupRepository.SnapshotDocument))]
[JsonSerializable(typeof(PortableExport.ArchiveManifest))]
[JsonSerializable(typeof(RepositoryLock.LockInfo))]
[JsonSerializable(typeof(TreeEntry))]
internal sealed partial class BackupJsonContext : JsonSerializerContext;
