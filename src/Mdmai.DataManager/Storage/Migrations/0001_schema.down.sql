-- Generated once from the entity table in docs/storage.md; edit by adding a new migration, never in place.

-- 0001 down.

DROP TABLE IF EXISTS audit_logs;

DROP TABLE IF EXISTS settings;

DROP TABLE IF EXISTS assets;

DROP TABLE IF EXISTS spells;

DROP TABLE IF EXISTS items;

DROP TABLE IF EXISTS locations;

DROP TABLE IF EXISTS personality_profiles;

DROP TABLE IF EXISTS rulebooks;

DROP TABLE IF EXISTS sessions;

DROP TABLE IF EXISTS npcs;

DROP TABLE IF EXISTS characters;

DROP TABLE IF EXISTS campaigns;
