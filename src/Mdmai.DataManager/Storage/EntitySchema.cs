using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Mdmai.DataManager.Storage.Entities;
using Mdmai.DataManager.Storage.Internal;

namespace Mdmai.DataManager.Storage;

/// <summary>The entities and their fields, known without opening a database (for help, validation and docs).</summary>
public static class EntitySchema
{
    internal static readonly EntityDescriptor<Campaign> Campaigns = Describe<Campaign>("campaigns", "name", "name", ["status", "system", "is_active", "dm_id"], ["name", "system", "status", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Character> Characters = Describe<Character>("characters", "name", "name", ["campaign_id", "status", "is_player_character", "owner_id", "class", "race", "level"], ["name", "level", "status", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Npc> Npcs = Describe<Npc>("npcs", "name", "name", ["campaign_id", "role", "importance", "is_alive", "location"], ["name", "role", "importance", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Session> Sessions = Describe<Session>("sessions", "title", "session_number", ["campaign_id", "status"], ["session_number", "date_played", "title", "status", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Rulebook> Rulebooks = Describe<Rulebook>("rulebooks", "title", "title", ["system", "is_official", "access_level", "publisher"], ["title", "system", "publisher", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<PersonalityProfile> Profiles = Describe<PersonalityProfile>("personality_profiles", "name", "name", ["character_id", "npc_id", "is_active"], ["name", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Location> Locations = Describe<Location>("locations", "name", "name", ["campaign_id", "location_type", "parent_location_id"], ["name", "location_type", "population", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Item> Items = Describe<Item>("items", "name", "name", ["system", "item_type", "rarity", "is_magical", "is_homebrew", "source_book"], ["name", "item_type", "rarity", "value_gp", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Spell> Spells = Describe<Spell>("spells", "name", "name", ["system", "level", "school", "ritual", "concentration", "is_homebrew", "source_book"], ["name", "level", "school", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Asset> Assets = Describe<Asset>("assets", "name", "name", ["campaign_id", "asset_type", "is_public", "file_hash", "mime_type"], ["name", "asset_type", "file_size", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Setting> Settings = Describe<Setting>("settings", "key", "key", ["category", "key", "is_encrypted"], ["category", "key", "created_at", "updated_at"]);

    private static readonly Dictionary<Type, object> ByType = new()
    {
        [typeof(Campaign)] = Campaigns,
        [typeof(Character)] = Characters,
        [typeof(Npc)] = Npcs,
        [typeof(Session)] = Sessions,
        [typeof(Rulebook)] = Rulebooks,
        [typeof(PersonalityProfile)] = Profiles,
        [typeof(Location)] = Locations,
        [typeof(Item)] = Items,
        [typeof(Spell)] = Spells,
        [typeof(Asset)] = Assets,
        [typeof(Setting)] = Settings,
    };

    // The properties are read here, where each type is named, so that trimming (the native CLI) keeps them.
    private static EntityDescriptor<T> Describe<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(
        string table, string searchName, string defaultSort, string[] filters, string[] sorts)
        where T : Entity, new() =>
        new(typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance), table, searchName, defaultSort, filters, sorts);

    internal static EntityDescriptor<T> Descriptor<T>() where T : Entity, new() => (EntityDescriptor<T>)ByType[typeof(T)];

    /// <summary>The fields of an entity type, in column order.</summary>
    public static IReadOnlyList<EntityField> FieldsOf<T>() where T : Entity, new() => Descriptor<T>().Fields;

    /// <summary>The table that holds an entity type.</summary>
    public static string TableOf<T>() where T : Entity, new() => Descriptor<T>().Table;
}
