using System.Text.Json.Nodes;

namespace Mdmai.DataManager.Files;

/// <summary>What a stored file is, as the original app categorised them. Stored as snake_case text.</summary>
public enum FileCategory
{
    /// <summary>A rulebook.</summary>
    Rulebook,
    /// <summary>A character's picture.</summary>
    CharacterImage,
    /// <summary>An NPC's picture.</summary>
    NpcImage,
    /// <summary>A campaign's picture.</summary>
    CampaignImage,
    /// <summary>A map.</summary>
    Map,
    /// <summary>A handout for players.</summary>
    Handout,
    /// <summary>Sound.</summary>
    Audio,
    /// <summary>Video.</summary>
    Video,
    /// <summary>Any other document.</summary>
    Document,
    /// <summary>Anything else.</summary>
    Other,
}

/// <summary>A file in the store's catalog. Its content is the object <see cref="ObjectId"/>, shared by identical files.</summary>
/// <param name="Id">The catalog id.</param>
/// <param name="Name">The file's name (as imported; never used as a path inside the store).</param>
/// <param name="Category">Its category.</param>
/// <param name="MimeType">MIME type found from its first bytes.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="StoredSize">Bytes its object takes on disk (compressed, framed).</param>
/// <param name="ObjectId">Content id: SHA-256 of the content, or HMAC-SHA-256 when encrypted (hex).</param>
/// <param name="Metadata">Extracted metadata (image width and height, …).</param>
/// <param name="Tags">Tags.</param>
/// <param name="CampaignId">The campaign it belongs to, if any.</param>
/// <param name="AssetId">The asset row it backs, if any.</param>
/// <param name="RulebookId">The rulebook row it backs, if any.</param>
/// <param name="CreatedAt">When it was imported.</param>
/// <param name="UpdatedAt">When its catalog row last changed.</param>
public sealed record StoredFile(
    Guid Id,
    string Name,
    FileCategory Category,
    string MimeType,
    long Size,
    long StoredSize,
    string ObjectId,
    JsonObject Metadata,
    JsonArray Tags,
    Guid? CampaignId,
    Guid? AssetId,
    Guid? RulebookId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>How to catalog an imported file.</summary>
public sealed record FileImportOptions
{
    /// <summary>Category; null means one chosen from the MIME type.</summary>
    public FileCategory? Category { get; init; }

    /// <summary>Campaign it belongs to.</summary>
    public Guid? CampaignId { get; init; }

    /// <summary>Asset row it backs.</summary>
    public Guid? AssetId { get; init; }

    /// <summary>Rulebook row it backs.</summary>
    public Guid? RulebookId { get; init; }

    /// <summary>Tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
}

/// <summary>The outcome of one import.</summary>
/// <param name="File">The new catalog row.</param>
/// <param name="Deduplicated">True when identical content was already stored and is now shared.</param>
public sealed record FileImportResult(StoredFile File, bool Deduplicated);

/// <summary>A file a folder import could not take, and why.</summary>
public sealed record FileImportError(string Path, string Message);

/// <summary>The outcome of a folder import: what went in, and what did not.</summary>
public sealed record FolderImportResult(IReadOnlyList<FileImportResult> Imported, IReadOnlyList<FileImportError> Errors);

/// <summary>The outcome of a folder import whose files were handed over one by one: how many went in, and what did not.</summary>
/// <param name="Files">Files imported.</param>
/// <param name="Deduplicated">Of those, files whose content was stored already.</param>
/// <param name="Bytes">Their size in all.</param>
/// <param name="Errors">What could not be imported.</param>
public sealed record FolderImportSummary(long Files, long Deduplicated, long Bytes, IReadOnlyList<FileImportError> Errors);

/// <summary>Progress of a folder import.</summary>
public readonly record struct FolderImportProgress(long Files, long TotalFiles, long Bytes, long TotalBytes);

/// <summary>Counts and sizes of one category.</summary>
public sealed record CategoryStats(long Files, long Bytes);

/// <summary>What the store holds and what deduplication and compression saved.</summary>
/// <param name="Files">Catalog rows.</param>
/// <param name="Objects">Distinct contents stored.</param>
/// <param name="LogicalBytes">Sum of the sizes of all files.</param>
/// <param name="UniqueBytes">Sum of the sizes of distinct contents.</param>
/// <param name="StoredBytes">Bytes the objects take on disk.</param>
/// <param name="ByCategory">Per category (snake_case name).</param>
public sealed record FileStoreStats(long Files, long Objects, long LogicalBytes, long UniqueBytes, long StoredBytes, IReadOnlyDictionary<string, CategoryStats> ByCategory)
{
    /// <summary>Bytes not stored because identical content was shared.</summary>
    public long DedupSavedBytes => LogicalBytes - UniqueBytes;

    /// <summary>Bytes compression saved (can be negative by the framing's few bytes on incompressible data).</summary>
    public long CompressionSavedBytes => UniqueBytes - StoredBytes;
}

/// <summary>An object that failed verification.</summary>
/// <param name="ObjectId">The object.</param>
/// <param name="Problem">What is wrong: missing, damaged, or content that no longer matches its id.</param>
public sealed record ObjectProblem(string ObjectId, string Problem);

/// <summary>The store's size at the end of a day files were imported on.</summary>
/// <param name="Day">The day (UTC).</param>
/// <param name="Files">Files held by then.</param>
/// <param name="Bytes">Their bytes.</param>
/// <param name="StoredBytes">Bytes they take on disk (after deduplication and compression, per file row).</param>
public sealed record StoreGrowth(DateOnly Day, long Files, long Bytes, long StoredBytes);
