using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Mdmai.DataManager.Storage.Entities;

/// <summary>
/// What every stored record has: a UUID id (stored as canonical lowercase text) and its creation and last
/// change times (UTC, millisecond precision). Properties map to snake_case columns of the same name.
/// </summary>
public abstract class Entity
{
    internal Entity()
    {
    }

    /// <summary>The record's id; <see cref="Guid.Empty"/> on create means "assign one".</summary>
    [JsonPropertyOrder(-3)]
    public Guid Id { get; set; }

    /// <summary>When the record was created (set by the store).</summary>
    [JsonPropertyOrder(1)]
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the record last changed (set by the store).</summary>
    [JsonPropertyOrder(1)]
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>
/// Marks a property holding sensitive text (notes, DM notes, personality data, campaign settings): when the
/// data folder is encrypted it is stored encrypted with the data key and decrypted by the typed API.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SensitiveAttribute : Attribute;

/// <summary>Marks a property stored as a JSON document; <see cref="Default"/> is stored when it is null.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class JsonColumnAttribute(string @default) : Attribute
{
    /// <summary>The JSON stored when the property is null: <c>{}</c> or <c>[]</c>.</summary>
    public string Default { get; } = @default;
}

/// <summary>A campaign: the root that characters, NPCs, sessions and locations belong to.</summary>
public sealed class Campaign : Entity
{
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>Description.</summary>
    public string? Description { get; set; }
    /// <summary>Game system, e.g. <c>dnd5e</c>.</summary>
    [JsonRequired] public string System { get; set; } = "";
    /// <summary>Whether the campaign is in use.</summary>
    public bool IsActive { get; set; } = true;
    /// <summary>Campaign settings (JSON object).</summary>
    [Sensitive] [JsonColumn("{}")] public JsonNode? Settings { get; set; }
    /// <summary>The game master's user id.</summary>
    public string? DmId { get; set; }
    /// <summary>Path of the campaign image.</summary>
    public string? ImagePath { get; set; }
    /// <summary>Notes.</summary>
    [Sensitive] public string? Notes { get; set; }
    /// <summary>Status.</summary>
    public CampaignStatus Status { get; set; } = CampaignStatus.Planning;
}

/// <summary>A player or non-player character that belongs to a campaign.</summary>
public sealed class Character : Entity
{
    /// <summary>Owning campaign.</summary>
    [JsonRequired] public Guid CampaignId { get; set; }
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>Class.</summary>
    public string? Class { get; set; }
    /// <summary>Race.</summary>
    public string? Race { get; set; }
    /// <summary>Level (0 to 100).</summary>
    public int Level { get; set; } = 1;
    /// <summary>Whether a player plays it.</summary>
    public bool IsPlayerCharacter { get; set; } = true;
    /// <summary>Owning user id.</summary>
    public string? OwnerId { get; set; }
    /// <summary>Ability scores and other stats (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Stats { get; set; }
    /// <summary>Inventory (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Inventory { get; set; }
    /// <summary>Known spells (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Spells { get; set; }
    /// <summary>Features (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Features { get; set; }
    /// <summary>Background story.</summary>
    public string? Background { get; set; }
    /// <summary>Personality (JSON object).</summary>
    [Sensitive] [JsonColumn("{}")] public JsonNode? Personality { get; set; }
    /// <summary>Path of the portrait.</summary>
    public string? ImagePath { get; set; }
    /// <summary>Notes.</summary>
    [Sensitive] public string? Notes { get; set; }
    /// <summary>Status.</summary>
    public CharacterStatus Status { get; set; } = CharacterStatus.Active;
}

/// <summary>A non-player character of a campaign.</summary>
public sealed class Npc : Entity
{
    /// <summary>Owning campaign.</summary>
    [JsonRequired] public Guid CampaignId { get; set; }
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>Race.</summary>
    public string? Race { get; set; }
    /// <summary>Class.</summary>
    public string? Class { get; set; }
    /// <summary>Role towards the party.</summary>
    public NpcRole Role { get; set; } = NpcRole.Neutral;
    /// <summary>Stats (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Stats { get; set; }
    /// <summary>Personality (JSON object).</summary>
    [Sensitive] [JsonColumn("{}")] public JsonNode? Personality { get; set; }
    /// <summary>Relationships (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Relationships { get; set; }
    /// <summary>Where the NPC is found.</summary>
    public string? Location { get; set; }
    /// <summary>Path of the portrait.</summary>
    public string? ImagePath { get; set; }
    /// <summary>Notes.</summary>
    [Sensitive] public string? Notes { get; set; }
    /// <summary>Whether the NPC lives.</summary>
    public bool IsAlive { get; set; } = true;
    /// <summary>Importance to the story.</summary>
    public NpcImportance Importance { get; set; } = NpcImportance.Minor;
}

/// <summary>A game session of a campaign; numbers are unique within the campaign.</summary>
public sealed class Session : Entity
{
    /// <summary>Owning campaign.</summary>
    [JsonRequired] public Guid CampaignId { get; set; }
    /// <summary>Number within the campaign.</summary>
    [JsonRequired] public int SessionNumber { get; set; }
    /// <summary>Title.</summary>
    [JsonRequired] public string Title { get; set; } = "";
    /// <summary>When it was (or will be) played.</summary>
    [JsonRequired] public DateTimeOffset DatePlayed { get; set; }
    /// <summary>Length in minutes.</summary>
    public int? DurationMinutes { get; set; }
    /// <summary>Summary.</summary>
    public string? Summary { get; set; }
    /// <summary>Notes.</summary>
    [Sensitive] public string? Notes { get; set; }
    /// <summary>Notes for the game master only.</summary>
    [Sensitive] public string? DmNotes { get; set; }
    /// <summary>Who took part (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? Participants { get; set; }
    /// <summary>What happened (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? Events { get; set; }
    /// <summary>Treasure found (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? Loot { get; set; }
    /// <summary>Experience points awarded.</summary>
    public int? ExperienceAwarded { get; set; }
    /// <summary>Where it took place.</summary>
    public string? Location { get; set; }
    /// <summary>Status.</summary>
    public SessionStatus Status { get; set; } = SessionStatus.Planned;
}

/// <summary>A rulebook in the library.</summary>
public sealed class Rulebook : Entity
{
    /// <summary>Title.</summary>
    [JsonRequired] public string Title { get; set; } = "";
    /// <summary>Game system.</summary>
    [JsonRequired] public string System { get; set; } = "";
    /// <summary>Publisher.</summary>
    public string? Publisher { get; set; }
    /// <summary>Edition.</summary>
    public string? Edition { get; set; }
    /// <summary>Path of the file.</summary>
    public string? FilePath { get; set; }
    /// <summary>Size of the file in bytes.</summary>
    public long? FileSize { get; set; }
    /// <summary>Content hash of the file.</summary>
    public string? FileHash { get; set; }
    /// <summary>Number of pages.</summary>
    public int? PageCount { get; set; }
    /// <summary>Description.</summary>
    public string? Description { get; set; }
    /// <summary>Tags (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? Tags { get; set; }
    /// <summary>Whether it is an official publication.</summary>
    public bool IsOfficial { get; set; } = true;
    /// <summary>Copyright notice.</summary>
    public string? CopyrightInfo { get; set; }
    /// <summary>Who may see it.</summary>
    public AccessLevel AccessLevel { get; set; } = AccessLevel.Public;
}

/// <summary>How a character or NPC speaks and thinks, for the assistant's role play.</summary>
public sealed class PersonalityProfile : Entity
{
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>The character it belongs to (at most one of character and NPC).</summary>
    public Guid? CharacterId { get; set; }
    /// <summary>The NPC it belongs to (at most one of character and NPC).</summary>
    public Guid? NpcId { get; set; }
    /// <summary>Traits (JSON object).</summary>
    [Sensitive] [JsonColumn("{}")] public JsonNode? Traits { get; set; }
    /// <summary>Speech patterns (JSON object).</summary>
    [Sensitive] [JsonColumn("{}")] public JsonNode? SpeechPatterns { get; set; }
    /// <summary>What it knows about (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? KnowledgeAreas { get; set; }
    /// <summary>Relationships (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Relationships { get; set; }
    /// <summary>Background story.</summary>
    [Sensitive] public string? BackgroundStory { get; set; }
    /// <summary>Motivations (JSON array).</summary>
    [Sensitive] [JsonColumn("[]")] public JsonNode? Motivations { get; set; }
    /// <summary>Fears and flaws (JSON array).</summary>
    [Sensitive] [JsonColumn("[]")] public JsonNode? FearsAndFlaws { get; set; }
    /// <summary>Voice settings (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? VoiceSettings { get; set; }
    /// <summary>Summary of past conversations.</summary>
    [Sensitive] public string? ChatHistorySummary { get; set; }
    /// <summary>Whether the profile is in use.</summary>
    public bool IsActive { get; set; } = true;
}

/// <summary>A place in a campaign's world; places nest through <see cref="ParentLocationId"/>.</summary>
public sealed class Location : Entity
{
    /// <summary>Owning campaign.</summary>
    [JsonRequired] public Guid CampaignId { get; set; }
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>Kind of place.</summary>
    public LocationType LocationType { get; set; } = LocationType.Other;
    /// <summary>The place it lies in.</summary>
    public Guid? ParentLocationId { get; set; }
    /// <summary>Description.</summary>
    public string? Description { get; set; }
    /// <summary>Population.</summary>
    public long? Population { get; set; }
    /// <summary>Government.</summary>
    public string? Government { get; set; }
    /// <summary>Notable features (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? NotableFeatures { get; set; }
    /// <summary>Climate.</summary>
    public string? Climate { get; set; }
    /// <summary>Economy.</summary>
    public string? Economy { get; set; }
    /// <summary>Defenses.</summary>
    public string? Defenses { get; set; }
    /// <summary>Path of an image.</summary>
    public string? ImagePath { get; set; }
    /// <summary>Path of a map.</summary>
    public string? MapPath { get; set; }
    /// <summary>Coordinates on a map.</summary>
    public string? Coordinates { get; set; }
    /// <summary>Notes.</summary>
    [Sensitive] public string? Notes { get; set; }
}

/// <summary>An item of the compendium.</summary>
public sealed class Item : Entity
{
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>Kind of item.</summary>
    public ItemType ItemType { get; set; } = ItemType.Other;
    /// <summary>Description.</summary>
    public string? Description { get; set; }
    /// <summary>Rarity.</summary>
    public Rarity Rarity { get; set; } = Rarity.Common;
    /// <summary>Value in gold pieces.</summary>
    public long? ValueGp { get; set; }
    /// <summary>Weight.</summary>
    public double? Weight { get; set; }
    /// <summary>Properties (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Properties { get; set; }
    /// <summary>Stats (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Stats { get; set; }
    /// <summary>Requirements (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Requirements { get; set; }
    /// <summary>Path of an image.</summary>
    public string? ImagePath { get; set; }
    /// <summary>Game system.</summary>
    [JsonRequired] public string System { get; set; } = "";
    /// <summary>Source book.</summary>
    public string? SourceBook { get; set; }
    /// <summary>Whether it is magical.</summary>
    public bool IsMagical { get; set; }
    /// <summary>Whether it is home-made.</summary>
    public bool IsHomebrew { get; set; }
}

/// <summary>A spell of the compendium.</summary>
public sealed class Spell : Entity
{
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>Level, 0 (cantrip) to 9.</summary>
    [JsonRequired] public int Level { get; set; }
    /// <summary>School of magic.</summary>
    [JsonRequired] public SpellSchool School { get; set; }
    /// <summary>Casting time.</summary>
    [JsonRequired] public string CastingTime { get; set; } = "";
    /// <summary>Range.</summary>
    [JsonRequired] public string Range { get; set; } = "";
    /// <summary>Components.</summary>
    [JsonRequired] public string Components { get; set; } = "";
    /// <summary>Duration.</summary>
    [JsonRequired] public string Duration { get; set; } = "";
    /// <summary>Description.</summary>
    [JsonRequired] public string Description { get; set; } = "";
    /// <summary>Effect when cast with a higher slot.</summary>
    public string? AtHigherLevels { get; set; }
    /// <summary>Classes that can cast it (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? Classes { get; set; }
    /// <summary>Whether it can be cast as a ritual.</summary>
    public bool Ritual { get; set; }
    /// <summary>Whether it needs concentration.</summary>
    public bool Concentration { get; set; }
    /// <summary>Game system.</summary>
    [JsonRequired] public string System { get; set; } = "";
    /// <summary>Source book.</summary>
    public string? SourceBook { get; set; }
    /// <summary>Whether it is home-made.</summary>
    public bool IsHomebrew { get; set; }
}

/// <summary>A file of a campaign: image, map, handout, audio, video or document.</summary>
public sealed class Asset : Entity
{
    /// <summary>Owning campaign, if any.</summary>
    public Guid? CampaignId { get; set; }
    /// <summary>Name.</summary>
    [JsonRequired] public string Name { get; set; } = "";
    /// <summary>Kind of asset.</summary>
    public AssetType AssetType { get; set; } = AssetType.Other;
    /// <summary>Path of the file.</summary>
    [JsonRequired] public string FilePath { get; set; } = "";
    /// <summary>Size in bytes.</summary>
    [JsonRequired] public long FileSize { get; set; }
    /// <summary>Content hash.</summary>
    [JsonRequired] public string FileHash { get; set; } = "";
    /// <summary>MIME type.</summary>
    [JsonRequired] public string MimeType { get; set; } = "";
    /// <summary>Description.</summary>
    public string? Description { get; set; }
    /// <summary>Tags (JSON array).</summary>
    [JsonColumn("[]")] public JsonNode? Tags { get; set; }
    /// <summary>Metadata (JSON object).</summary>
    [JsonColumn("{}")] public JsonNode? Metadata { get; set; }
    /// <summary>Whether it may be shown to players.</summary>
    public bool IsPublic { get; set; }
    /// <summary>Copyright notice.</summary>
    public string? CopyrightInfo { get; set; }
}

/// <summary>An application setting; (category, key) is unique and the value is any JSON.</summary>
public sealed class Setting : Entity
{
    /// <summary>Category.</summary>
    [JsonRequired] public string Category { get; set; } = "";
    /// <summary>Key within the category.</summary>
    [JsonRequired] public string Key { get; set; } = "";
    /// <summary>Value (any JSON).</summary>
    [JsonRequired] [JsonColumn("null")] public JsonNode? Value { get; set; }
    /// <summary>Whether the value is stored encrypted.</summary>
    public bool IsEncrypted { get; set; }
    /// <summary>Description.</summary>
    public string? Description { get; set; }
}

/// <summary>One row of the audit log: a change to a record with the values before and after it.</summary>
public sealed record AuditEntry(
    long Id,
    string TableName,
    string RecordId,
    AuditOperation Operation,
    string? UserId,
    DateTimeOffset Timestamp,
    JsonNode? OldValues,
    JsonNode? NewValues,
    JsonNode? Metadata);
