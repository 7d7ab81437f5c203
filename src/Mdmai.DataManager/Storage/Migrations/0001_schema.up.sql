-- Generated once from the entity table in docs/storage.md; edit by adding a new migration, never in place.

-- 0001: tables, constraints and indexes of every entity, the audit log.

CREATE TABLE campaigns (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    description TEXT,
    system TEXT NOT NULL CHECK (length(trim(system)) > 0),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    dm_id TEXT,
    image_path TEXT,
    notes TEXT,
    status TEXT NOT NULL DEFAULT 'planning' CHECK (status IN ('planning', 'active', 'paused', 'completed', 'archived'))
);

CREATE TABLE characters (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    campaign_id TEXT NOT NULL CHECK (campaign_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES campaigns(id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    class TEXT,
    race TEXT,
    level INTEGER NOT NULL DEFAULT 1 CHECK (level BETWEEN 0 AND 100),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    is_player_character INTEGER NOT NULL DEFAULT 1 CHECK (is_player_character IN (0, 1)),
    owner_id TEXT,
    stats TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stats) AND json_type(stats) = 'object'),
    inventory TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(inventory) AND json_type(inventory) = 'object'),
    spells TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(spells) AND json_type(spells) = 'object'),
    features TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(features) AND json_type(features) = 'object'),
    background TEXT,
    personality TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(personality) AND json_type(personality) = 'object'),
    image_path TEXT,
    notes TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired', 'dead', 'missing', 'archived'))
);

CREATE TABLE npcs (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    campaign_id TEXT NOT NULL CHECK (campaign_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES campaigns(id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    race TEXT,
    class TEXT,
    role TEXT NOT NULL DEFAULT 'neutral' CHECK (role IN ('ally', 'enemy', 'neutral', 'merchant', 'quest_giver', 'noble', 'commoner', 'authority', 'other')),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    stats TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stats) AND json_type(stats) = 'object'),
    personality TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(personality) AND json_type(personality) = 'object'),
    relationships TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(relationships) AND json_type(relationships) = 'object'),
    location TEXT,
    image_path TEXT,
    notes TEXT,
    is_alive INTEGER NOT NULL DEFAULT 1 CHECK (is_alive IN (0, 1)),
    importance TEXT NOT NULL DEFAULT 'minor' CHECK (importance IN ('major', 'minor', 'background'))
);

CREATE TABLE sessions (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    campaign_id TEXT NOT NULL CHECK (campaign_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES campaigns(id) ON DELETE CASCADE,
    session_number INTEGER NOT NULL CHECK (session_number >= 0),
    title TEXT NOT NULL CHECK (length(trim(title)) > 0),
    date_played TEXT NOT NULL CHECK (date_played GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    duration_minutes INTEGER CHECK (duration_minutes IS NULL OR duration_minutes >= 0),
    summary TEXT,
    notes TEXT,
    dm_notes TEXT,
    participants TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(participants) AND json_type(participants) = 'array'),
    events TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events) AND json_type(events) = 'array'),
    loot TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(loot) AND json_type(loot) = 'array'),
    experience_awarded INTEGER CHECK (experience_awarded IS NULL OR experience_awarded >= 0),
    location TEXT,
    status TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'in_progress', 'completed', 'cancelled')),
    UNIQUE (campaign_id, session_number)
);

CREATE TABLE rulebooks (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    title TEXT NOT NULL CHECK (length(trim(title)) > 0),
    system TEXT NOT NULL CHECK (length(trim(system)) > 0),
    publisher TEXT,
    edition TEXT,
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    file_path TEXT,
    file_size INTEGER CHECK (file_size IS NULL OR file_size >= 0),
    file_hash TEXT,
    page_count INTEGER CHECK (page_count IS NULL OR page_count >= 0),
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    is_official INTEGER NOT NULL DEFAULT 1 CHECK (is_official IN (0, 1)),
    copyright_info TEXT,
    access_level TEXT NOT NULL DEFAULT 'public' CHECK (access_level IN ('public', 'private', 'restricted'))
);

CREATE TABLE personality_profiles (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    character_id TEXT CHECK (character_id IS NULL OR character_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES characters(id) ON DELETE CASCADE,
    npc_id TEXT CHECK (npc_id IS NULL OR npc_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES npcs(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    traits TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(traits) AND json_type(traits) = 'object'),
    speech_patterns TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(speech_patterns) AND json_type(speech_patterns) = 'object'),
    knowledge_areas TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(knowledge_areas) AND json_type(knowledge_areas) = 'array'),
    relationships TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(relationships) AND json_type(relationships) = 'object'),
    background_story TEXT,
    motivations TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(motivations) AND json_type(motivations) = 'array'),
    fears_and_flaws TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(fears_and_flaws) AND json_type(fears_and_flaws) = 'array'),
    voice_settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(voice_settings) AND json_type(voice_settings) = 'object'),
    chat_history_summary TEXT,
    is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    CHECK (character_id IS NULL OR npc_id IS NULL)
);

CREATE TABLE locations (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    campaign_id TEXT NOT NULL CHECK (campaign_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES campaigns(id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    location_type TEXT NOT NULL DEFAULT 'other' CHECK (location_type IN ('continent', 'country', 'region', 'city', 'town', 'village', 'building', 'dungeon', 'landmark', 'other')),
    parent_location_id TEXT CHECK (parent_location_id IS NULL OR parent_location_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES locations(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    description TEXT,
    population INTEGER CHECK (population IS NULL OR population >= 0),
    government TEXT,
    notable_features TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(notable_features) AND json_type(notable_features) = 'array'),
    climate TEXT,
    economy TEXT,
    defenses TEXT,
    image_path TEXT,
    map_path TEXT,
    coordinates TEXT,
    notes TEXT,
    CHECK (parent_location_id IS NULL OR parent_location_id <> id)
);

CREATE TABLE items (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    item_type TEXT NOT NULL DEFAULT 'other' CHECK (item_type IN ('weapon', 'armor', 'shield', 'tool', 'consumable', 'wondrous', 'ring', 'rod', 'staff', 'wand', 'scroll', 'potion', 'gem', 'art_object', 'trade_good', 'other')),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    description TEXT,
    rarity TEXT NOT NULL DEFAULT 'common' CHECK (rarity IN ('common', 'uncommon', 'rare', 'very_rare', 'legendary', 'artifact')),
    value_gp INTEGER CHECK (value_gp IS NULL OR value_gp >= 0),
    weight REAL CHECK (weight IS NULL OR weight >= 0),
    properties TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(properties) AND json_type(properties) = 'object'),
    stats TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stats) AND json_type(stats) = 'object'),
    requirements TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(requirements) AND json_type(requirements) = 'object'),
    image_path TEXT,
    system TEXT NOT NULL CHECK (length(trim(system)) > 0),
    source_book TEXT,
    is_magical INTEGER NOT NULL DEFAULT 0 CHECK (is_magical IN (0, 1)),
    is_homebrew INTEGER NOT NULL DEFAULT 0 CHECK (is_homebrew IN (0, 1))
);

CREATE TABLE spells (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 9),
    school TEXT NOT NULL CHECK (school IN ('abjuration', 'conjuration', 'divination', 'enchantment', 'evocation', 'illusion', 'necromancy', 'transmutation')),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    casting_time TEXT NOT NULL,
    range TEXT NOT NULL,
    components TEXT NOT NULL,
    duration TEXT NOT NULL,
    description TEXT NOT NULL,
    at_higher_levels TEXT,
    classes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(classes) AND json_type(classes) = 'array'),
    ritual INTEGER NOT NULL DEFAULT 0 CHECK (ritual IN (0, 1)),
    concentration INTEGER NOT NULL DEFAULT 0 CHECK (concentration IN (0, 1)),
    system TEXT NOT NULL CHECK (length(trim(system)) > 0),
    source_book TEXT,
    is_homebrew INTEGER NOT NULL DEFAULT 0 CHECK (is_homebrew IN (0, 1))
);

CREATE TABLE assets (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    campaign_id TEXT CHECK (campaign_id IS NULL OR campaign_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES campaigns(id) ON DELETE SET NULL,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    asset_type TEXT NOT NULL DEFAULT 'other' CHECK (asset_type IN ('image', 'map', 'handout', 'audio', 'video', 'document', 'other')),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    file_path TEXT NOT NULL,
    file_size INTEGER NOT NULL CHECK (file_size >= 0),
    file_hash TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
    copyright_info TEXT
);

CREATE TABLE settings (
    id TEXT NOT NULL CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') PRIMARY KEY,
    category TEXT NOT NULL CHECK (length(trim(category)) > 0),
    key TEXT NOT NULL CHECK (length(trim(key)) > 0),
    value TEXT NOT NULL CHECK (json_valid(value)),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    is_encrypted INTEGER NOT NULL DEFAULT 0 CHECK (is_encrypted IN (0, 1)),
    description TEXT,
    UNIQUE (category, key)
);

CREATE TABLE audit_logs (
    id INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete', 'import', 'export', 'backup', 'restore')),
    user_id TEXT,
    timestamp TEXT NOT NULL CHECK (timestamp GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    old_values TEXT CHECK (old_values IS NULL OR json_valid(old_values)),
    new_values TEXT CHECK (new_values IS NULL OR json_valid(new_values)),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object')
);

CREATE INDEX idx_campaigns_status_updated ON campaigns(status, updated_at);
CREATE INDEX idx_campaigns_system_name ON campaigns(system, name);
CREATE INDEX idx_campaigns_name ON campaigns(name);
CREATE INDEX idx_campaigns_updated ON campaigns(updated_at);
CREATE INDEX idx_characters_campaign_name ON characters(campaign_id, name);
CREATE INDEX idx_characters_campaign_status ON characters(campaign_id, status, name);
CREATE INDEX idx_characters_campaign_pc ON characters(campaign_id, is_player_character, name);
CREATE INDEX idx_characters_owner ON characters(owner_id);
CREATE INDEX idx_npcs_campaign_name ON npcs(campaign_id, name);
CREATE INDEX idx_npcs_campaign_role ON npcs(campaign_id, role, name);
CREATE INDEX idx_npcs_campaign_importance ON npcs(campaign_id, importance, name);
CREATE INDEX idx_sessions_campaign_date ON sessions(campaign_id, date_played);
CREATE INDEX idx_sessions_campaign_status ON sessions(campaign_id, status, session_number);
CREATE INDEX idx_rulebooks_system_title ON rulebooks(system, title);
CREATE INDEX idx_rulebooks_official ON rulebooks(is_official, title);
CREATE INDEX idx_rulebooks_file_hash ON rulebooks(file_hash);
CREATE INDEX idx_profiles_character ON personality_profiles(character_id);
CREATE INDEX idx_profiles_npc ON personality_profiles(npc_id);
CREATE INDEX idx_profiles_active_name ON personality_profiles(is_active, name);
CREATE INDEX idx_locations_campaign_name ON locations(campaign_id, name);
CREATE INDEX idx_locations_campaign_type ON locations(campaign_id, location_type, name);
CREATE INDEX idx_locations_parent ON locations(parent_location_id);
CREATE INDEX idx_items_system_type ON items(system, item_type, name);
CREATE INDEX idx_items_rarity_name ON items(rarity, name);
CREATE INDEX idx_items_type_name ON items(item_type, name);
CREATE INDEX idx_items_name ON items(name);
CREATE INDEX idx_spells_system_level ON spells(system, level, name);
CREATE INDEX idx_spells_level_name ON spells(level, name);
CREATE INDEX idx_spells_school_level ON spells(school, level, name);
CREATE INDEX idx_spells_name ON spells(name);
CREATE INDEX idx_assets_campaign_type ON assets(campaign_id, asset_type, name);
CREATE INDEX idx_assets_type_name ON assets(asset_type, name);
CREATE INDEX idx_assets_file_hash ON assets(file_hash);
CREATE INDEX idx_settings_category ON settings(category, key);
CREATE INDEX idx_audit_logs_table_record ON audit_logs(table_name, record_id, id);
CREATE INDEX idx_audit_logs_timestamp ON audit_logs(timestamp);
