namespace Mdmai.DataManager.Storage;

/// <summary>How <see cref="MdmaiDatabase"/> opens a database file.</summary>
public sealed record DatabaseOptions
{
    /// <summary>Apply pending migrations on open. When false the schema must already be current or older. Default: true.</summary>
    public bool Migrate { get; init; } = true;

    /// <summary>How long a statement waits for another process's lock before failing with <see cref="MdmaiErrorCode.DatabaseLocked"/>. Default: 5 s.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most read connections open at once; readers beyond this wait. Default: 16.</summary>
    public int MaxReaders { get; init; } = 16;

    /// <summary>Most write requests grouped into one transaction (group commit). Default: 256.</summary>
    public int MaxWriteBatch { get; init; } = 256;

    /// <summary>
    /// Whether the data folder is encrypted: sensitive columns are then stored encrypted, and without
    /// <see cref="Keys"/> they can be neither read nor written. Default: false.
    /// </summary>
    public bool Encrypted { get; init; }

    /// <summary>The unlocked keys of an encrypted data folder. The database does not own them.</summary>
    public Security.KeyRing? Keys { get; init; }

    /// <summary>How often the background checkpointer looks at the WAL's size. Default: 250 ms.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How often the background indexer brings the full-text index up to date with committed writes. A search
    /// always indexes what is pending first, so this bounds only how long the work can wait. Default: 1 s.
    /// </summary>
    public TimeSpan SearchIndexInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The clock used for created_at and updated_at. Default: the system clock.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
