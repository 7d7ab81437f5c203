-- Generated once with 0007's up script: the search triggers of schema version 6.

-- Index what is still pending first, so the index is complete when the triggers take it over again.
DELETE FROM search_index WHERE rowid IN (SELECT doc_id FROM search_pending);
INSERT INTO search_index (rowid, name, body)
    SELECT s.doc_id, s.name, s.body FROM search_source s WHERE s.doc_id IN (SELECT doc_id FROM search_pending);
DROP VIEW search_source;
DROP TABLE search_pending;

DROP TRIGGER assets_search_insert;
CREATE TRIGGER assets_search_insert AFTER INSERT ON assets FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('assets', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END);
END;
DROP TRIGGER assets_search_update;
CREATE TRIGGER assets_search_update AFTER UPDATE ON assets FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER assets_search_delete;
CREATE TRIGGER assets_search_delete AFTER DELETE ON assets FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER campaigns_search_insert;
CREATE TRIGGER campaigns_search_insert AFTER INSERT ON campaigns FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('campaigns', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END);
END;
DROP TRIGGER campaigns_search_update;
CREATE TRIGGER campaigns_search_update AFTER UPDATE ON campaigns FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER campaigns_search_delete;
CREATE TRIGGER campaigns_search_delete AFTER DELETE ON campaigns FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER characters_search_insert;
CREATE TRIGGER characters_search_insert AFTER INSERT ON characters FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('characters', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.class, '') END || ' ' || CASE WHEN NEW.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.race, '') END || ' ' || CASE WHEN NEW.background LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.background, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END);
END;
DROP TRIGGER characters_search_update;
CREATE TRIGGER characters_search_update AFTER UPDATE ON characters FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.class IS NOT OLD.class OR NEW.race IS NOT OLD.race OR NEW.background IS NOT OLD.background OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.class, '') END || ' ' || CASE WHEN NEW.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.race, '') END || ' ' || CASE WHEN NEW.background LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.background, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER characters_search_delete;
CREATE TRIGGER characters_search_delete AFTER DELETE ON characters FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER files_search_insert;
CREATE TRIGGER files_search_insert AFTER INSERT ON files FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('files', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(json_extract(NEW.metadata, '$.title'), ''));
END;
DROP TRIGGER files_search_update;
CREATE TRIGGER files_search_update AFTER UPDATE OF name, metadata ON files FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.metadata IS NOT OLD.metadata
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(json_extract(NEW.metadata, '$.title'), '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER files_search_delete;
CREATE TRIGGER files_search_delete AFTER DELETE ON files FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER items_search_insert;
CREATE TRIGGER items_search_insert AFTER INSERT ON items FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('items', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.source_book LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.source_book, '') END);
END;
DROP TRIGGER items_search_update;
CREATE TRIGGER items_search_update AFTER UPDATE ON items FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.source_book IS NOT OLD.source_book
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.source_book LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.source_book, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER items_search_delete;
CREATE TRIGGER items_search_delete AFTER DELETE ON items FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER locations_search_insert;
CREATE TRIGGER locations_search_insert AFTER INSERT ON locations FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('locations', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.government LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.government, '') END || ' ' || CASE WHEN NEW.climate LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.climate, '') END || ' ' || CASE WHEN NEW.economy LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.economy, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END);
END;
DROP TRIGGER locations_search_update;
CREATE TRIGGER locations_search_update AFTER UPDATE ON locations FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.government IS NOT OLD.government OR NEW.climate IS NOT OLD.climate OR NEW.economy IS NOT OLD.economy OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.government LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.government, '') END || ' ' || CASE WHEN NEW.climate LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.climate, '') END || ' ' || CASE WHEN NEW.economy LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.economy, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER locations_search_delete;
CREATE TRIGGER locations_search_delete AFTER DELETE ON locations FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER npcs_search_insert;
CREATE TRIGGER npcs_search_insert AFTER INSERT ON npcs FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('npcs', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.race, '') END || ' ' || CASE WHEN NEW.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.class, '') END || ' ' || CASE WHEN NEW.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.location, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END);
END;
DROP TRIGGER npcs_search_update;
CREATE TRIGGER npcs_search_update AFTER UPDATE ON npcs FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.race IS NOT OLD.race OR NEW.class IS NOT OLD.class OR NEW.location IS NOT OLD.location OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.race, '') END || ' ' || CASE WHEN NEW.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.class, '') END || ' ' || CASE WHEN NEW.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.location, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER npcs_search_delete;
CREATE TRIGGER npcs_search_delete AFTER DELETE ON npcs FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER personality_profiles_search_insert;
CREATE TRIGGER personality_profiles_search_insert AFTER INSERT ON personality_profiles FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('personality_profiles', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.background_story LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.background_story, '') END || ' ' || CASE WHEN NEW.chat_history_summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.chat_history_summary, '') END);
END;
DROP TRIGGER personality_profiles_search_update;
CREATE TRIGGER personality_profiles_search_update AFTER UPDATE ON personality_profiles FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.background_story IS NOT OLD.background_story OR NEW.chat_history_summary IS NOT OLD.chat_history_summary
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.background_story LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.background_story, '') END || ' ' || CASE WHEN NEW.chat_history_summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.chat_history_summary, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER personality_profiles_search_delete;
CREATE TRIGGER personality_profiles_search_delete AFTER DELETE ON personality_profiles FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER rulebooks_search_insert;
CREATE TRIGGER rulebooks_search_insert AFTER INSERT ON rulebooks FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('rulebooks', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.title, CASE WHEN NEW.system LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.system, '') END || ' ' || CASE WHEN NEW.publisher LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.publisher, '') END || ' ' || CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END);
END;
DROP TRIGGER rulebooks_search_update;
CREATE TRIGGER rulebooks_search_update AFTER UPDATE ON rulebooks FOR EACH ROW
    WHEN NEW.title IS NOT OLD.title OR NEW.system IS NOT OLD.system OR NEW.publisher IS NOT OLD.publisher OR NEW.description IS NOT OLD.description
BEGIN
    UPDATE search_index SET name = NEW.title, body = CASE WHEN NEW.system LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.system, '') END || ' ' || CASE WHEN NEW.publisher LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.publisher, '') END || ' ' || CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER rulebooks_search_delete;
CREATE TRIGGER rulebooks_search_delete AFTER DELETE ON rulebooks FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER sessions_search_insert;
CREATE TRIGGER sessions_search_insert AFTER INSERT ON sessions FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('sessions', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.title, CASE WHEN NEW.summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.summary, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END || ' ' || CASE WHEN NEW.dm_notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.dm_notes, '') END || ' ' || CASE WHEN NEW.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.location, '') END);
END;
DROP TRIGGER sessions_search_update;
CREATE TRIGGER sessions_search_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.title IS NOT OLD.title OR NEW.summary IS NOT OLD.summary OR NEW.notes IS NOT OLD.notes OR NEW.dm_notes IS NOT OLD.dm_notes OR NEW.location IS NOT OLD.location
BEGIN
    UPDATE search_index SET name = NEW.title, body = CASE WHEN NEW.summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.summary, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END || ' ' || CASE WHEN NEW.dm_notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.dm_notes, '') END || ' ' || CASE WHEN NEW.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.location, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER sessions_search_delete;
CREATE TRIGGER sessions_search_delete AFTER DELETE ON sessions FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

DROP TRIGGER spells_search_insert;
CREATE TRIGGER spells_search_insert AFTER INSERT ON spells FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('spells', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.at_higher_levels LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.at_higher_levels, '') END);
END;
DROP TRIGGER spells_search_update;
CREATE TRIGGER spells_search_update AFTER UPDATE ON spells FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.at_higher_levels IS NOT OLD.at_higher_levels
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.at_higher_levels LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.at_higher_levels, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
DROP TRIGGER spells_search_delete;
CREATE TRIGGER spells_search_delete AFTER DELETE ON spells FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;
