-- 0004 down.
DROP TRIGGER IF EXISTS files_search_delete;
DROP TRIGGER IF EXISTS files_search_update;
DROP TRIGGER IF EXISTS files_search_insert;
DELETE FROM search_index WHERE rowid IN (SELECT doc_id FROM search_docs WHERE entity_type = 'files');
DELETE FROM search_docs WHERE entity_type = 'files';
DROP TABLE IF EXISTS files;
DROP TABLE IF EXISTS objects;
