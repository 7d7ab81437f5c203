-- Generated once from the entity table in docs/storage.md; edit by adding a new migration, never in place.

-- 0003: full-text search over names, descriptions and notes of every entity.
-- search_docs gives each indexed record a stable integer key (an INTEGER PRIMARY KEY survives VACUUM,
-- an implicit rowid does not); search_index is keyed by it.
CREATE TABLE search_docs (
    doc_id INTEGER PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE search_index USING fts5(name, body, tokenize = 'porter unicode61 remove_diacritics 2');

INSERT INTO search_docs (entity_type, entity_id) SELECT 'campaigns', id FROM campaigns;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.description, '') || ' ' || coalesce(x.notes, '') FROM campaigns x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER campaigns_search_delete AFTER DELETE ON campaigns FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'characters', id FROM characters;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.class, '') || ' ' || coalesce(x.race, '') || ' ' || coalesce(x.background, '') || ' ' || coalesce(x.notes, '') FROM characters x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER characters_search_delete AFTER DELETE ON characters FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'npcs', id FROM npcs;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.race, '') || ' ' || coalesce(x.class, '') || ' ' || coalesce(x.location, '') || ' ' || coalesce(x.notes, '') FROM npcs x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER npcs_search_delete AFTER DELETE ON npcs FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'sessions', id FROM sessions;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.title, coalesce(x.summary, '') || ' ' || coalesce(x.notes, '') || ' ' || coalesce(x.dm_notes, '') || ' ' || coalesce(x.location, '') FROM sessions x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER sessions_search_delete AFTER DELETE ON sessions FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'rulebooks', id FROM rulebooks;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.title, coalesce(x.system, '') || ' ' || coalesce(x.publisher, '') || ' ' || coalesce(x.description, '') FROM rulebooks x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER rulebooks_search_delete AFTER DELETE ON rulebooks FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'personality_profiles', id FROM personality_profiles;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.background_story, '') || ' ' || coalesce(x.chat_history_summary, '') FROM personality_profiles x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER personality_profiles_search_delete AFTER DELETE ON personality_profiles FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'locations', id FROM locations;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.description, '') || ' ' || coalesce(x.government, '') || ' ' || coalesce(x.climate, '') || ' ' || coalesce(x.economy, '') || ' ' || coalesce(x.notes, '') FROM locations x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER locations_search_delete AFTER DELETE ON locations FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'items', id FROM items;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.description, '') || ' ' || coalesce(x.source_book, '') FROM items x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER items_search_delete AFTER DELETE ON items FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'spells', id FROM spells;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.description, '') || ' ' || coalesce(x.at_higher_levels, '') FROM spells x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER spells_search_delete AFTER DELETE ON spells FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;

INSERT INTO search_docs (entity_type, entity_id) SELECT 'assets', id FROM assets;
INSERT INTO search_index (rowid, name, body)
    SELECT d.doc_id, x.name, coalesce(x.description, '') FROM assets x JOIN search_docs d ON d.entity_id = x.id;
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
CREATE TRIGGER assets_search_delete AFTER DELETE ON assets FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;
