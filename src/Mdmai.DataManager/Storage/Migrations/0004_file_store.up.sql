-- 0004: the file store's catalog. objects: one row per stored content (content-addressed, reference
-- counted by triggers in the same transaction as the catalog change); files: what the user imported.
CREATE TABLE objects (
    object_id TEXT NOT NULL PRIMARY KEY CHECK (object_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    size INTEGER NOT NULL CHECK (size >= 0),
    stored_size INTEGER NOT NULL CHECK (stored_size >= 0),
    storage TEXT NOT NULL CHECK (storage IN ('raw', 'framed')),
    compressed INTEGER NOT NULL DEFAULT 0 CHECK (compressed IN (0, 1)),
    encrypted INTEGER NOT NULL DEFAULT 0 CHECK (encrypted IN (0, 1)),
    key_epoch INTEGER CHECK (key_epoch IS NULL OR key_epoch >= 1),
    ref_count INTEGER NOT NULL DEFAULT 0 CHECK (ref_count >= 0),
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    CHECK (storage = 'framed' OR (compressed = 0 AND encrypted = 0))
);
CREATE TABLE files (
    id TEXT NOT NULL PRIMARY KEY CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    category TEXT NOT NULL DEFAULT 'other' CHECK (category IN ('rulebook', 'character_image', 'npc_image', 'campaign_image', 'map', 'handout', 'audio', 'video', 'document', 'other')),
    mime_type TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    stored_size INTEGER NOT NULL CHECK (stored_size >= 0),
    object_id TEXT NOT NULL REFERENCES objects(object_id),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    campaign_id TEXT CHECK (campaign_id IS NULL OR campaign_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES campaigns(id) ON DELETE SET NULL,
    asset_id TEXT CHECK (asset_id IS NULL OR asset_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES assets(id) ON DELETE SET NULL,
    rulebook_id TEXT CHECK (rulebook_id IS NULL OR rulebook_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]') REFERENCES rulebooks(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z')
);
CREATE INDEX idx_files_category_name ON files(category, name);
CREATE INDEX idx_files_object ON files(object_id);
CREATE INDEX idx_files_campaign_name ON files(campaign_id, name);
CREATE INDEX idx_files_name ON files(name);
CREATE INDEX idx_objects_epoch ON objects(key_epoch);
CREATE TRIGGER files_ref_insert AFTER INSERT ON files FOR EACH ROW
BEGIN
    UPDATE objects SET ref_count = ref_count + 1 WHERE object_id = NEW.object_id;
END;
CREATE TRIGGER files_ref_delete AFTER DELETE ON files FOR EACH ROW
BEGIN
    UPDATE objects SET ref_count = ref_count - 1 WHERE object_id = OLD.object_id;
END;
CREATE TRIGGER files_ref_update AFTER UPDATE OF object_id ON files FOR EACH ROW WHEN NEW.object_id IS NOT OLD.object_id
BEGIN
    UPDATE objects SET ref_count = ref_count - 1 WHERE object_id = OLD.object_id;
    UPDATE objects SET ref_count = ref_count + 1 WHERE object_id = NEW.object_id;
END;
CREATE TRIGGER files_touch AFTER UPDATE ON files FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE files SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER files_audit_insert AFTER INSERT ON files FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('files', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'name', NEW.name, 'category', NEW.category, 'mime_type', NEW.mime_type, 'size', NEW.size, 'stored_size', NEW.stored_size, 'object_id', NEW.object_id, 'metadata', json(NEW.metadata), 'tags', json(NEW.tags), 'campaign_id', NEW.campaign_id, 'asset_id', NEW.asset_id, 'rulebook_id', NEW.rulebook_id, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at));
END;
CREATE TRIGGER files_audit_update AFTER UPDATE ON files FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.category IS NOT OLD.category OR NEW.mime_type IS NOT OLD.mime_type OR NEW.size IS NOT OLD.size OR NEW.stored_size IS NOT OLD.stored_size OR NEW.object_id IS NOT OLD.object_id OR NEW.metadata IS NOT OLD.metadata OR NEW.tags IS NOT OLD.tags OR NEW.campaign_id IS NOT OLD.campaign_id OR NEW.asset_id IS NOT OLD.asset_id OR NEW.rulebook_id IS NOT OLD.rulebook_id OR NEW.created_at IS NOT OLD.created_at
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('files', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'category', OLD.category, 'mime_type', OLD.mime_type, 'size', OLD.size, 'stored_size', OLD.stored_size, 'object_id', OLD.object_id, 'metadata', json(OLD.metadata), 'tags', json(OLD.tags), 'campaign_id', OLD.campaign_id, 'asset_id', OLD.asset_id, 'rulebook_id', OLD.rulebook_id, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'name', NEW.name, 'category', NEW.category, 'mime_type', NEW.mime_type, 'size', NEW.size, 'stored_size', NEW.stored_size, 'object_id', NEW.object_id, 'metadata', json(NEW.metadata), 'tags', json(NEW.tags), 'campaign_id', NEW.campaign_id, 'asset_id', NEW.asset_id, 'rulebook_id', NEW.rulebook_id, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at));
END;
CREATE TRIGGER files_audit_delete AFTER DELETE ON files FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('files', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'category', OLD.category, 'mime_type', OLD.mime_type, 'size', OLD.size, 'stored_size', OLD.stored_size, 'object_id', OLD.object_id, 'metadata', json(OLD.metadata), 'tags', json(OLD.tags), 'campaign_id', OLD.campaign_id, 'asset_id', OLD.asset_id, 'rulebook_id', OLD.rulebook_id, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at));
END;
CREATE TRIGGER files_search_insert AFTER INSERT ON files FOR EACH ROW
BEGIN
    INSERT INTO search_docs (entity_type, entity_id) VALUES ('files', NEW.id);
    INSERT INTO search_index (rowid, name, body) VALUES (last_insert_rowid(), NEW.name, coalesce(json_extract(NEW.metadata, '$.title'), ''));
END;
CREATE TRIGGER files_search_update AFTER UPDATE OF name, metadata ON files FOR EACH ROW
BEGIN
    UPDATE search_index SET name = NEW.name, body = coalesce(json_extract(NEW.metadata, '$.title'), '')
        WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
END;
CREATE TRIGGER files_search_delete AFTER DELETE ON files FOR EACH ROW
BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc_id FROM search_docs WHERE entity_id = OLD.id);
    DELETE FROM search_docs WHERE entity_id = OLD.id;
END;
