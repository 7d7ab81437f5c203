-- Generated once from the search triggers of schema version 5; edit by adding a new migration, never in place.

-- 0006: a row's search entry is rewritten only when a searchable column changed. Before, every UPDATE rewrote it
-- (an FTS5 delete and insert of the whole text) — twice when the timestamp trigger touched the row again.

DROP TRIGGER assets_search_update;
CREATE TRIGGER assets_search_update AFTER UPDATE ON assets FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER campaigns_search_update;
CREATE TRIGGER campaigns_search_update AFTER UPDATE ON campaigns FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER characters_search_update;
CREATE TRIGGER characters_search_update AFTER UPDATE ON characters FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.class IS NOT OLD.class OR NEW.race IS NOT OLD.race OR NEW.background IS NOT OLD.background OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.class, '') END || ' ' || CASE WHEN NEW.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.race, '') END || ' ' || CASE WHEN NEW.background LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.background, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER files_search_update;
CREATE TRIGGER files_search_update AFTER UPDATE OF name, metadata ON files FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.metadata IS NOT OLD.metadata
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(json_extract(NEW.metadata, '$.title'), '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER items_search_update;
CREATE TRIGGER items_search_update AFTER UPDATE ON items FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.source_book IS NOT OLD.source_book
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.source_book LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.source_book, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER locations_search_update;
CREATE TRIGGER locations_search_update AFTER UPDATE ON locations FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.government IS NOT OLD.government OR NEW.climate IS NOT OLD.climate OR NEW.economy IS NOT OLD.economy OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.government LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.government, '') END || ' ' || CASE WHEN NEW.climate LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.climate, '') END || ' ' || CASE WHEN NEW.economy LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.economy, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER npcs_search_update;
CREATE TRIGGER npcs_search_update AFTER UPDATE ON npcs FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.race IS NOT OLD.race OR NEW.class IS NOT OLD.class OR NEW.location IS NOT OLD.location OR NEW.notes IS NOT OLD.notes
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.race LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.race, '') END || ' ' || CASE WHEN NEW.class LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.class, '') END || ' ' || CASE WHEN NEW.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.location, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER personality_profiles_search_update;
CREATE TRIGGER personality_profiles_search_update AFTER UPDATE ON personality_profiles FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.background_story IS NOT OLD.background_story OR NEW.chat_history_summary IS NOT OLD.chat_history_summary
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.background_story LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.background_story, '') END || ' ' || CASE WHEN NEW.chat_history_summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.chat_history_summary, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER rulebooks_search_update;
CREATE TRIGGER rulebooks_search_update AFTER UPDATE ON rulebooks FOR EACH ROW
    WHEN NEW.title IS NOT OLD.title OR NEW.system IS NOT OLD.system OR NEW.publisher IS NOT OLD.publisher OR NEW.description IS NOT OLD.description
BEGIN
    UPDATE search_index SET name = NEW.title, body = CASE WHEN NEW.system LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.system, '') END || ' ' || CASE WHEN NEW.publisher LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.publisher, '') END || ' ' || CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER sessions_search_update;
CREATE TRIGGER sessions_search_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.title IS NOT OLD.title OR NEW.summary IS NOT OLD.summary OR NEW.notes IS NOT OLD.notes OR NEW.dm_notes IS NOT OLD.dm_notes OR NEW.location IS NOT OLD.location
BEGIN
    UPDATE search_index SET name = NEW.title, body = CASE WHEN NEW.summary LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.summary, '') END || ' ' || CASE WHEN NEW.notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.notes, '') END || ' ' || CASE WHEN NEW.dm_notes LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.dm_notes, '') END || ' ' || CASE WHEN NEW.location LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.location, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER spells_search_update;
CREATE TRIGGER spells_search_update AFTER UPDATE ON spells FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.at_higher_levels IS NOT OLD.at_higher_levels
BEGIN
    UPDATE search_index SET name = NEW.name, body = CASE WHEN NEW.description LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.description, '') END || ' ' || CASE WHEN NEW.at_higher_levels LIKE 'enc:v1:%' THEN '' ELSE coalesce(NEW.at_higher_levels, '') END
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
