-- Generated once from the entity table in docs/storage.md; edit by adding a new migration, never in place.

-- 0003 down.

DROP TRIGGER IF EXISTS campaigns_search_insert;
DROP TRIGGER IF EXISTS campaigns_search_update;
DROP TRIGGER IF EXISTS campaigns_search_delete;

DROP TRIGGER IF EXISTS characters_search_insert;
DROP TRIGGER IF EXISTS characters_search_update;
DROP TRIGGER IF EXISTS characters_search_delete;

DROP TRIGGER IF EXISTS npcs_search_insert;
DROP TRIGGER IF EXISTS npcs_search_update;
DROP TRIGGER IF EXISTS npcs_search_delete;

DROP TRIGGER IF EXISTS sessions_search_insert;
DROP TRIGGER IF EXISTS sessions_search_update;
DROP TRIGGER IF EXISTS sessions_search_delete;

DROP TRIGGER IF EXISTS rulebooks_search_insert;
DROP TRIGGER IF EXISTS rulebooks_search_update;
DROP TRIGGER IF EXISTS rulebooks_search_delete;

DROP TRIGGER IF EXISTS personality_profiles_search_insert;
DROP TRIGGER IF EXISTS personality_profiles_search_update;
DROP TRIGGER IF EXISTS personality_profiles_search_delete;

DROP TRIGGER IF EXISTS locations_search_insert;
DROP TRIGGER IF EXISTS locations_search_update;
DROP TRIGGER IF EXISTS locations_search_delete;

DROP TRIGGER IF EXISTS items_search_insert;
DROP TRIGGER IF EXISTS items_search_update;
DROP TRIGGER IF EXISTS items_search_delete;

DROP TRIGGER IF EXISTS spells_search_insert;
DROP TRIGGER IF EXISTS spells_search_update;
DROP TRIGGER IF EXISTS spells_search_delete;

DROP TRIGGER IF EXISTS assets_search_insert;
DROP TRIGGER IF EXISTS assets_search_update;
DROP TRIGGER IF EXISTS assets_search_delete;

DROP TABLE IF EXISTS search_index;
DROP TABLE IF EXISTS search_docs;
