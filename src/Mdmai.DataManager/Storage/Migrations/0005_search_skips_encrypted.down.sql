-- Generated once from the entity table in docs/storage.md; edit by adding a new migration, never in place.

-- 0005 down: the search triggers of 0003.

DROP TRIGGER campaigns_search_insert;
DROP TRIGGER campaigns_search_update;
CREATE TRIGGER campaigns_search_insert AFTER INSERT ON campaigns FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('campaigns', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.description, '') || ' ' || coalesce(NEW.notes, ''));
END;
CREATE TRIGGER campaigns_search_update AFTER UPDATE ON campaigns FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.description, '') || ' ' || coalesce(NEW.notes, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER characters_search_insert;
DROP TRIGGER characters_search_update;
CREATE TRIGGER characters_search_insert AFTER INSERT ON characters FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('characters', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.class, '') || ' ' || coalesce(NEW.race, '') || ' ' || coalesce(NEW.background, '') || ' ' || coalesce(NEW.notes, ''));
END;
CREATE TRIGGER characters_search_update AFTER UPDATE ON characters FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.class, '') || ' ' || coalesce(NEW.race, '') || ' ' || coalesce(NEW.background, '') || ' ' || coalesce(NEW.notes, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER npcs_search_insert;
DROP TRIGGER npcs_search_update;
CREATE TRIGGER npcs_search_insert AFTER INSERT ON npcs FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('npcs', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.race, '') || ' ' || coalesce(NEW.class, '') || ' ' || coalesce(NEW.location, '') || ' ' || coalesce(NEW.notes, ''));
END;
CREATE TRIGGER npcs_search_update AFTER UPDATE ON npcs FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.race, '') || ' ' || coalesce(NEW.class, '') || ' ' || coalesce(NEW.location, '') || ' ' || coalesce(NEW.notes, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER sessions_search_insert;
DROP TRIGGER sessions_search_update;
CREATE TRIGGER sessions_search_insert AFTER INSERT ON sessions FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('sessions', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.title, coalesce(NEW.summary, '') || ' ' || coalesce(NEW.notes, '') || ' ' || coalesce(NEW.dm_notes, '') || ' ' || coalesce(NEW.location, ''));
END;
CREATE TRIGGER sessions_search_update AFTER UPDATE ON sessions FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.title, body = coalesce(NEW.summary, '') || ' ' || coalesce(NEW.notes, '') || ' ' || coalesce(NEW.dm_notes, '') || ' ' || coalesce(NEW.location, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER rulebooks_search_insert;
DROP TRIGGER rulebooks_search_update;
CREATE TRIGGER rulebooks_search_insert AFTER INSERT ON rulebooks FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('rulebooks', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.title, coalesce(NEW.system, '') || ' ' || coalesce(NEW.publisher, '') || ' ' || coalesce(NEW.description, ''));
END;
CREATE TRIGGER rulebooks_search_update AFTER UPDATE ON rulebooks FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.title, body = coalesce(NEW.system, '') || ' ' || coalesce(NEW.publisher, '') || ' ' || coalesce(NEW.description, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER personality_profiles_search_insert;
DROP TRIGGER personality_profiles_search_update;
CREATE TRIGGER personality_profiles_search_insert AFTER INSERT ON personality_profiles FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('personality_profiles', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.background_story, '') || ' ' || coalesce(NEW.chat_history_summary, ''));
END;
CREATE TRIGGER personality_profiles_search_update AFTER UPDATE ON personality_profiles FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.background_story, '') || ' ' || coalesce(NEW.chat_history_summary, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER locations_search_insert;
DROP TRIGGER locations_search_update;
CREATE TRIGGER locations_search_insert AFTER INSERT ON locations FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('locations', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.description, '') || ' ' || coalesce(NEW.government, '') || ' ' || coalesce(NEW.climate, '') || ' ' || coalesce(NEW.economy, '') || ' ' || coalesce(NEW.notes, ''));
END;
CREATE TRIGGER locations_search_update AFTER UPDATE ON locations FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.description, '') || ' ' || coalesce(NEW.government, '') || ' ' || coalesce(NEW.climate, '') || ' ' || coalesce(NEW.economy, '') || ' ' || coalesce(NEW.notes, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER items_search_insert;
DROP TRIGGER items_search_update;
CREATE TRIGGER items_search_insert AFTER INSERT ON items FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('items', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.description, '') || ' ' || coalesce(NEW.source_book, ''));
END;
CREATE TRIGGER items_search_update AFTER UPDATE ON items FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.description, '') || ' ' || coalesce(NEW.source_book, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER spells_search_insert;
DROP TRIGGER spells_search_update;
CREATE TRIGGER spells_search_insert AFTER INSERT ON spells FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('spells', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.description, '') || ' ' || coalesce(NEW.at_higher_levels, ''));
END;
CREATE TRIGGER spells_search_update AFTER UPDATE ON spells FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.description, '') || ' ' || coalesce(NEW.at_higher_levels, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;

DROP TRIGGER assets_search_insert;
DROP TRIGGER assets_search_update;
CREATE TRIGGER assets_search_insert AFTER INSERT ON assets FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('assets', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(NEW.description, ''));
END;
CREATE TRIGGER assets_search_update AFTER UPDATE ON assets FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(NEW.description, '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
