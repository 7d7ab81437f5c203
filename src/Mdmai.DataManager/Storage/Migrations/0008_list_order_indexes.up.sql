-- A list page sorted by a table's default column (name, title, session_number, key) or by when a record last changed
-- reads its page from an index instead of sorting the whole table for every page: on the 1M-row library an unfiltered
-- page of NPCs by name took ~1 s (a full scan into a temporary B-tree), with the index a few milliseconds.
-- Lists filtered by campaign already have (campaign_id, name) and friends from 0001.
CREATE INDEX idx_characters_name ON characters(name);
CREATE INDEX idx_characters_updated ON characters(updated_at);
CREATE INDEX idx_npcs_name ON npcs(name);
CREATE INDEX idx_npcs_updated ON npcs(updated_at);
CREATE INDEX idx_sessions_number ON sessions(session_number);
CREATE INDEX idx_sessions_updated ON sessions(updated_at);
CREATE INDEX idx_locations_name ON locations(name);
CREATE INDEX idx_locations_updated ON locations(updated_at);
CREATE INDEX idx_items_updated ON items(updated_at);
CREATE INDEX idx_spells_updated ON spells(updated_at);
CREATE INDEX idx_rulebooks_title ON rulebooks(title);
CREATE INDEX idx_profiles_name ON personality_profiles(name);
CREATE INDEX idx_assets_name ON assets(name);
CREATE INDEX idx_settings_key ON settings(key);
