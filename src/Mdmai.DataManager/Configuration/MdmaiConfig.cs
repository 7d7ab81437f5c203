using System.Text.Json;
using System.Text.Json.Serialization;
using Mdmai.DataManager.IO;

namespace Mdmai.DataManager.Configuration;

/// <summary>
/// The settings stored in <c>mdmai.json</c> in the data folder. Defaults are those of the original app.
/// Property names map to snake_case in the file (<c>auto_backup_interval_minutes</c>).
/// </summary>
public sealed record MdmaiConfig
{
    /// <summary>Whether files and sensitive columns are encrypted at rest. Default: false.</summary>
    public bool EncryptionEnabled { get; set; }

    /// <summary>Minutes between automatic backups; 0 disables them. Default: 60.</summary>
    public int AutoBackupIntervalMinutes { get; set; } = 60;

    /// <summary>How many automatic backups retention keeps. Default: 10.</summary>
    public int MaxBackupCount { get; set; } = 10;

    /// <summary>Upper bound of the cache, in megabytes. Default: 500.</summary>
    public int CacheSizeLimitMb { get; set; } = 500;

    /// <summary>Whether scheduled integrity checks run. Default: true.</summary>
    public bool IntegrityCheckingEnabled { get; set; } = true;

    /// <summary>Hours between scheduled integrity checks. Default: 24.</summary>
    public int IntegrityCheckIntervalHours { get; set; } = 24;

    /// <summary>zstd level used for backups, 1 to 19. Default: 6.</summary>
    public int BackupCompressionLevel { get; set; } = 6;

    /// <summary>
    /// The backup repository: a folder (another disk, say; relative paths are under the data folder) or an S3 bucket
    /// and prefix, <c>s3://BUCKET/PREFIX</c>, reached with the AWS tools' variables and credentials. Default: <c>backups</c>.
    /// </summary>
    public string BackupRepository { get; set; } = "backups";

    /// <summary>
    /// A second repository for the 3-2-1 rule (a folder on another disk, or <c>s3://BUCKET/PREFIX</c>): the app copies
    /// each new snapshot there after its auto backup (<c>mdmai backup copy</c> by hand). Made on first use with the
    /// backup repository's keys. Default: null (none).
    /// </summary>
    public string? OffsiteRepository { get; set; }

    /// <summary>Path-style S3 addressing (<c>ENDPOINT/BUCKET/KEY</c>); null: on for a custom endpoint, off for AWS. Default: null.</summary>
    public bool? S3PathStyle { get; set; }

    /// <summary>Whether closing the app takes a backup. Default: false.</summary>
    public bool BackupOnShutdown { get; set; }

    internal static readonly JsonSerializerOptions SerializerOptions = new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    }.Generated(ConfigurationJsonContext.Default);

    /// <summary>Checks every field's range and throws <see cref="MdmaiException"/> naming the first bad one.</summary>
    public void Validate()
    {
        Require(AutoBackupIntervalMinutes is >= 0 and <= 7 * 24 * 60, "auto_backup_interval_minutes", "between 0 (off) and 10080 (one week)");
        Require(MaxBackupCount is >= 1 and <= 100_000, "max_backup_count", "between 1 and 100000");
        Require(CacheSizeLimitMb is >= 0 and <= 1_048_576, "cache_size_limit_mb", "between 0 and 1048576");
        Require(IntegrityCheckIntervalHours is >= 1 and <= 24 * 365, "integrity_check_interval_hours", "between 1 and 8760");
        Require(BackupCompressionLevel is >= 1 and <= 19, "backup_compression_level", "between 1 and 19");
        Require(!string.IsNullOrWhiteSpace(BackupRepository) && BackupRepository.IndexOf('\0', StringComparison.Ordinal) < 0, "backup_repository", "a folder path or an s3://BUCKET/PREFIX URL");
        Require(OffsiteRepository is null || (!string.IsNullOrWhiteSpace(OffsiteRepository) && OffsiteRepository.IndexOf('\0', StringComparison.Ordinal) < 0), "offsite_repository", "a folder path or an s3://BUCKET/PREFIX URL");
    }

    private static void Require(bool ok, string field, string range)
    {
        if (!ok)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidConfig, $"mdmai.json: field '{field}' must be {range}.");
        }
    }

    /// <summary>Reads and validates a config file; a malformed file names the offending field.</summary>
    public static async Task<MdmaiConfig> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        MdmaiConfig? config;
        try
        {
            await using var stream = File.OpenRead(path);
            config = await JsonSerializer.DeserializeAsync(stream, SerializerOptions.For<MdmaiConfig>(), cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return new MdmaiConfig();
        }
        catch (JsonException ex)
        {
            var field = ex.Path is { Length: > 2 } p ? p.TrimStart('$', '.') : "(document)";
            throw new MdmaiException(MdmaiErrorCode.InvalidConfig,
                $"{path}: field '{field}' is invalid ({ex.Message.Split('.')[0]}). Fix or delete the field to use its default.", ex);
        }

        config ??= new MdmaiConfig();
        config.Validate();
        return config;
    }

    /// <summary>Writes the config atomically (temp file, flush, rename).</summary>
    public Task SaveAsync(string path, CancellationToken cancellationToken = default)
    {
        Validate();
        var bytes = JsonSerializer.SerializeToUtf8Bytes(this, SerializerOptions.For<MdmaiConfig>());
        return AtomicFile.WriteAllBytesAsync(path, bytes, cancellationToken);
    }
}

/// <summary>The data folder's own JSON files (mdmai.json, the restore journal), with their code generated at build time (see <see cref="GeneratedJson"/>).</summary>
[JsonSerializable(typeof(MdmaiConfig))]
[JsonSerializable(typeof(RestoreJournal.Entry))]
internal sealed partial class ConfigurationJsonContext : JsonSerializerContext;
