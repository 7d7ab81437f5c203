-- Generated once from the entity table in docs/storage.md; edit by adding a new migration, never in place.

-- 0002 down.

DROP TRIGGER IF EXISTS campaigns_touch;
DROP TRIGGER IF EXISTS campaigns_audit_insert;
DROP TRIGGER IF EXISTS campaigns_audit_update;
DROP TRIGGER IF EXISTS campaigns_audit_delete;

DROP TRIGGER IF EXISTS characters_touch;
DROP TRIGGER IF EXISTS characters_audit_insert;
DROP TRIGGER IF EXISTS characters_audit_update;
DROP TRIGGER IF EXISTS characters_audit_delete;

DROP TRIGGER IF EXISTS npcs_touch;
DROP TRIGGER IF EXISTS npcs_audit_insert;
DROP TRIGGER IF EXISTS npcs_audit_update;
DROP TRIGGER IF EXISTS npcs_audit_delete;

DROP TRIGGER IF EXISTS sessions_touch;
DROP TRIGGER IF EXISTS sessions_audit_insert;
DROP TRIGGER IF EXISTS sessions_audit_update;
DROP TRIGGER IF EXISTS sessions_audit_delete;

DROP TRIGGER IF EXISTS rulebooks_touch;
DROP TRIGGER IF EXISTS rulebooks_audit_insert;
DROP TRIGGER IF EXISTS rulebooks_audit_update;
DROP TRIGGER IF EXISTS rulebooks_audit_delete;

DROP TRIGGER IF EXISTS personality_profiles_touch;
DROP TRIGGER IF EXISTS personality_profiles_audit_insert;
DROP TRIGGER IF EXISTS personality_profiles_audit_update;
DROP TRIGGER IF EXISTS personality_profiles_audit_delete;

DROP TRIGGER IF EXISTS locations_touch;
DROP TRIGGER IF EXISTS locations_audit_insert;
DROP TRIGGER IF EXISTS locations_audit_update;
DROP TRIGGER IF EXISTS locations_audit_delete;

DROP TRIGGER IF EXISTS items_touch;
DROP TRIGGER IF EXISTS items_audit_insert;
DROP TRIGGER IF EXISTS items_audit_update;
DROP TRIGGER IF EXISTS items_audit_delete;

DROP TRIGGER IF EXISTS spells_touch;
DROP TRIGGER IF EXISTS spells_audit_insert;
DROP TRIGGER IF EXISTS spells_audit_update;
DROP TRIGGER IF EXISTS spells_audit_delete;

DROP TRIGGER IF EXISTS assets_touch;
DROP TRIGGER IF EXISTS assets_audit_insert;
DROP TRIGGER IF EXISTS assets_audit_update;
DROP TRIGGER IF EXISTS assets_audit_delete;

DROP TRIGGER IF EXISTS settings_touch;
DROP TRIGGER IF EXISTS settings_audit_insert;
DROP TRIGGER IF EXISTS settings_audit_update;
DROP TRIGGER IF EXISTS settings_audit_delete;
