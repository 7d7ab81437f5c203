-- Generated once from the search triggers of schema version 6; edit by adding a new migration, never in place.

-- 0007: the full-text index is brought up to date after the commit, not inside it. A write only notes which
-- search documents changed (search_pending); the library's indexer (Storage/Internal/SearchIndexer) re-indexes
-- them in batches in the background, and every search first indexes whatever is still pending, so a search
-- always sees every committed write. Before, each single-row commit wrote its own FTS5 segment and every few
-- commits paid for merging them (the write latency's long tail).

CREATE TABLE search_pending (doc_id INTEGER PRIMARY KEY);

-- What the index holds for each search document: its name and the text of its searchable columns (encrypted
-- values are left out). The indexer and the down migration read it.
CREATE VIEW search_source (doc_id, name, body) AS
    SELECT d.doc_id, x.name, CASE WHEN x.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.description, '') END
        FROM search_docs d JOIN assets x ON x.id = d.entity_id WHERE d.entity_type = 'assets'
UNION ALL
    SELECT d.doc_id, x.name, CASE WHEN x.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.description, '') END || ' ' || CASE WHEN x.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.notes, '') END
        FROM search_docs d JOIN campaigns x ON x.id = d.entity_id WHERE d.entity_type = 'campaigns'
UNION ALL
    SELECT d.doc_id, x.name, CASE WHEN x.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.class, '') END || ' ' || CASE WHEN x.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.race, '') END || ' ' || CASE WHEN x.background LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.background, '') END || ' ' || CASE WHEN x.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.notes, '') END
        FROM search_docs d JOIN characters x ON x.id = d.entity_id WHERE d.entity_type = 'characters'
UNION ALL
    SELECT d.doc_id, x.name, coalesce(json_extract(x.metadata, '$.title'), '')
        FROM search_docs d JOIN files x ON x.id = d.entity_id WHERE d.entity_type = 'files'
UNION ALL
    SELECT d.doc_id, x.name, CASE WHEN x.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.description, '') END || ' ' || CASE WHEN x.source_book LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.source_book, '') END
        FROM search_docs d JOIN items x ON x.id = d.entity_id WHERE d.entity_type = 'items'
UNION ALL
    SELECT d.doc_id, x.name, CASE WHEN x.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.description, '') END || ' ' || CASE WHEN x.government LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.government, '') END || ' ' || CASE WHEN x.climate LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.climate, '') END || ' ' || CASE WHEN x.economy LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.economy, '') END || ' ' || CASE WHEN x.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.notes, '') END
        FROM search_docs d JOIN locations x ON x.id = d.entity_id WHERE d.entity_type = 'locations'
UNION ALL
    SELECT d.doc_id, x.name, CASE WHEN x.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.race, '') END || ' ' || CASE WHEN x.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.class, '') END || ' ' || CASE WHEN x.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.location, '') END || ' ' || CASE WHEN x.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.notes, '') END
        FROM search_docs d JOIN npcs x ON x.id = d.entity_id WHERE d.entity_type = 'npcs'
UNION ALL
    SELECT d.doc_id, x.name, CASE WHEN x.background_story LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.background_story, '') END || ' ' || CASE WHEN x.chat_history_summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.chat_history_summary, '') END
        FROM search_docs d JOIN personality_profiles x ON x.id = d.entity_id WHERE d.entity_type = 'personality_profiles'
UNION ALL
    SELECT d.doc_id, x.title, CASE WHEN x.system LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.system, '') END || ' ' || CASE WHEN x.publisher LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.publisher, '') END || ' ' || CASE WHEN x.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.description, '') END
        FROM search_docs d JOIN rulebooks x ON x.id = d.entity_id WHERE d.entity_type = 'rulebooks'
UNION ALL
    SELECT d.doc_id, x.title, CASE WHEN x.summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.summary, '') END || ' ' || CASE WHEN x.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.notes, '') END || ' ' || CASE WHEN x.dm_notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.dm_notes, '') END || ' ' || CASE WHEN x.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.location, '') END
        FROM search_docs d JOIN sessions x ON x.id = d.entity_id WHERE d.entity_type = 'sessions'
UNION ALL
    SELECT d.doc_id, x.name, CASE WHEN x.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.description, '') END || ' ' || CASE WHEN x.at_higher_levels LIKE 'enc:v1:%' THEN '' ELSE coalesce(x.at_higher_levels, '') END
        FROM search_docs d JOIN spells x ON x.id = d.entity_id WHERE d.entity_type = 'spells';

DROP TRIGGER assets_search_insert;
CREATE TRIGGER assets_search_insert AFTER INSERT ON assets FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('assets', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER assets_search_update;
CREATE TRIGGER assets_search_update AFTER UPDATE ON assets FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER assets_search_delete;
CREATE TRIGGER assets_search_delete AFTER DELETE ON assets FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER campaigns_search_insert;
CREATE TRIGGER campaigns_search_insert AFTER INSERT ON campaigns FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('campaigns', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER campaigns_search_update;
CREATE TRIGGER campaigns_search_update AFTER UPDATE ON campaigns FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.notes IS NOT OLD.notes
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER campaigns_search_delete;
CREATE TRIGGER campaigns_search_delete AFTER DELETE ON campaigns FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER characters_search_insert;
CREATE TRIGGER characters_search_insert AFTER INSERT ON characters FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('characters', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER characters_search_update;
CREATE TRIGGER characters_search_update AFTER UPDATE ON characters FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.class IS NOT OLD.class OR NEW.race IS NOT OLD.race OR NEW.background IS NOT OLD.background OR NEW.notes IS NOT OLD.notes
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER characters_search_delete;
CREATE TRIGGER characters_search_delete AFTER DELETE ON characters FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER files_search_insert;
CREATE TRIGGER files_search_insert AFTER INSERT ON files FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('files', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER files_search_update;
CREATE TRIGGER files_search_update AFTER UPDATE OF name, metadata ON files FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.metadata IS NOT OLD.metadata
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER files_search_delete;
CREATE TRIGGER files_search_delete AFTER DELETE ON files FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER items_search_insert;
CREATE TRIGGER items_search_insert AFTER INSERT ON items FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('items', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER items_search_update;
CREATE TRIGGER items_search_update AFTER UPDATE ON items FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.source_book IS NOT OLD.source_book
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER items_search_delete;
CREATE TRIGGER items_search_delete AFTER DELETE ON items FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER locations_search_insert;
CREATE TRIGGER locations_search_insert AFTER INSERT ON locations FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('locations', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER locations_search_update;
CREATE TRIGGER locations_search_update AFTER UPDATE ON locations FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.government IS NOT OLD.government OR NEW.climate IS NOT OLD.climate OR NEW.economy IS NOT OLD.economy OR NEW.notes IS NOT OLD.notes
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER locations_search_delete;
CREATE TRIGGER locations_search_delete AFTER DELETE ON locations FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER npcs_search_insert;
CREATE TRIGGER npcs_search_insert AFTER INSERT ON npcs FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('npcs', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER npcs_search_update;
CREATE TRIGGER npcs_search_update AFTER UPDATE ON npcs FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.race IS NOT OLD.race OR NEW.class IS NOT OLD.class OR NEW.location IS NOT OLD.location OR NEW.notes IS NOT OLD.notes
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER npcs_search_delete;
CREATE TRIGGER npcs_search_delete AFTER DELETE ON npcs FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER personality_profiles_search_insert;
CREATE TRIGGER personality_profiles_search_insert AFTER INSERT ON personality_profiles FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('personality_profiles', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER personality_profiles_search_update;
CREATE TRIGGER personality_profiles_search_update AFTER UPDATE ON personality_profiles FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.background_story IS NOT OLD.background_story OR NEW.chat_history_summary IS NOT OLD.chat_history_summary
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER personality_profiles_search_delete;
CREATE TRIGGER personality_profiles_search_delete AFTER DELETE ON personality_profiles FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER rulebooks_search_insert;
CREATE TRIGGER rulebooks_search_insert AFTER INSERT ON rulebooks FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('rulebooks', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER rulebooks_search_update;
CREATE TRIGGER rulebooks_search_update AFTER UPDATE ON rulebooks FOR EACH ROW
    WHEN NEW.title IS NOT OLD.title OR NEW.system IS NOT OLD.system OR NEW.publisher IS NOT OLD.publisher OR NEW.description IS NOT OLD.description
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER rulebooks_search_delete;
CREATE TRIGGER rulebooks_search_delete AFTER DELETE ON rulebooks FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER sessions_search_insert;
CREATE TRIGGER sessions_search_insert AFTER INSERT ON sessions FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('sessions', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER sessions_search_update;
CREATE TRIGGER sessions_search_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.title IS NOT OLD.title OR NEW.summary IS NOT OLD.summary OR NEW.notes IS NOT OLD.notes OR NEW.dm_notes IS NOT OLD.dm_notes OR NEW.location IS NOT OLD.location
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER sessions_search_delete;
CREATE TRIGGER sessions_search_delete AFTER DELETE ON sessions FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER spells_search_insert;
CREATE TRIGGER spells_search_insert AFTER INSERT ON spells FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('spells', NEW.id);
    INSERT OR IGNORE INTO search_pending (doc_id) VALUES (last_insert_rowid());
END;
DROP TRIGGER spells_search_update;
CREATE TRIGGER spells_search_update AFTER UPDATE ON spells FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.at_higher_levels IS NOT OLD.at_higher_levels
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
END;
DROP TRIGGER spells_search_delete;
CREATE TRIGGER spells_search_delete AFTER DELETE ON spells FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id) SELECT doc_id FROM search_docs WHERE entity_id = OLD.id;
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;
