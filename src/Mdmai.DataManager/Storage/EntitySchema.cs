using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Mdmai.DataManager.Storage.Entities;
using Mdmai.DataManager.Storage.Internal;

namespace Mdmai.DataManager.Storage;

/// <summary>The entities and their fields, known without opening a database (for help, validation and docs).</summary>
public static class EntitySchema
{
    internal static readonly EntityDescriptor<Campaign> Campaigns = Describe<Campaign>("name", "name", ["status", "system", "is_active", "dm_id"], ["name", "system", "status", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Character> Characters = Describe<Character>("name", "name", ["campaign_id", "status", "is_player_character", "owner_id", "class", "race", "level"], ["name", "level", "status", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Npc> Npcs = Describe<Npc>("name", "name", ["campaign_id", "role", "importance", "is_alive", "location"], ["name", "role", "importance", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Session> Sessions = Describe<Session>("title", "session_number", ["campaign_id", "status"], ["session_number", "date_played", "title", "status", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Rulebook> Rulebooks = Describe<Rulebook>("title", "title", ["system", "is_official", "access_level", "publisher"], ["title", "system", "publisher", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<PersonalityProfile> Profiles = Describe<PersonalityProfile>("name", "name", ["character_id", "npc_id", "is_active"], ["name", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Location> Locations = Describe<Location>("name", "name", ["campaign_id", "location_type", "parent_location_id"], ["name", "location_type", "population", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Item> Items = Describe<Item>("name", "name", ["system", "item_type", "rarity", "is_magical", "is_homebrew", "source_book"], ["name", "item_type", "rarity", "value_gp", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Spell> Spells = Describe<Spell>("name", "name", ["system", "level", "school", "ritual", "concentration", "is_homebrew", "source_book"], ["name", "level", "school", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Asset> Assets = Describe<Asset>("name", "name", ["campaign_id", "asset_type", "is_public", "file_hash", "mime_type"], ["name", "asset_type", "file_size", "created_at", "updated_at"]);
    internal static readonly EntityDescriptor<Setting> Settings = Describe<Setting>("key", "key", ["category", "key", "is_encrypted"], ["category", "key", "created_at", "updated_at"]);

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
        string searchName, string defaultSort, string[] filters, string[] sorts)
        where T : Entity, new() =>
        new(typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance), TableOf<T>(), searchName, defaultSort, filters, sorts);

    /// <summary>
    /// The tables, apart from the descriptors: naming one does not describe every entity (reflection over eleven types,
    /// ~3 ms of each start of the native CLI, which names them all in its help).
    /// </summary>
    private static class Tables
    {
        public static readonly Dictionary<Type, string> ByType = new()
        {
            [typeof(Campaign)] = "campaigns",
            [typeof(Character)] = "characters",
            [typeof(Npc)] = "npcs",
            [typeof(Session)] = "sessions",
            [typeof(Rulebook)] = "rulebooks",
            [typeof(PersonalityProfile)] = "personality_profiles",
            [typeof(Location)] = "locations",
            [typeof(Item)] = "items",
            [typeof(Spell)] = "spells",
            [typeof(Asset)] = "assets",
            [typeof(Setting)] = "settings",
        };
    }

    internal static EntityDescriptor<T> Descriptor<T>() where T : Entity, new() => (EntityDescriptor<T>)ByType[typeof(T)];

    /// <summary>The fields of an entity type, in column order.</summary>
    public static IReadOnlyList<EntityField> FieldsOf<T>() where T : Entity, new() => Descriptor<T>().Fields;

    /// <summary>The table that holds an entity type.</summary>
    public static string TableOf<T>() where T : Entity, new() => Tables.ByType[typeof(T)];
}
