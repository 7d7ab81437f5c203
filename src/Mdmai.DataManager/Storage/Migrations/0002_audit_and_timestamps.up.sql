-- Generated once from the entity table in docs/storage.md; edit by adding a new migration, never in place.

-- 0002: triggers keeping updated_at in the one timestamp format and writing the audit log in the same transaction as every change.
-- An update that changes nothing but updated_at (the touch trigger's own) is not audited.

CREATE TRIGGER campaigns_touch AFTER UPDATE ON campaigns FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE campaigns SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER campaigns_audit_insert AFTER INSERT ON campaigns FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('campaigns', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'system', NEW.system, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'is_active', NEW.is_active, 'settings', json(NEW.settings), 'dm_id', NEW.dm_id, 'image_path', NEW.image_path, 'notes', NEW.notes, 'status', NEW.status));
END;
CREATE TRIGGER campaigns_audit_update AFTER UPDATE ON campaigns FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.description IS NOT OLD.description OR NEW.system IS NOT OLD.system OR NEW.created_at IS NOT OLD.created_at OR NEW.is_active IS NOT OLD.is_active OR NEW.settings IS NOT OLD.settings OR NEW.dm_id IS NOT OLD.dm_id OR NEW.image_path IS NOT OLD.image_path OR NEW.notes IS NOT OLD.notes OR NEW.status IS NOT OLD.status
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('campaigns', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'system', OLD.system, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'is_active', OLD.is_active, 'settings', json(OLD.settings), 'dm_id', OLD.dm_id, 'image_path', OLD.image_path, 'notes', OLD.notes, 'status', OLD.status), json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'system', NEW.system, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'is_active', NEW.is_active, 'settings', json(NEW.settings), 'dm_id', NEW.dm_id, 'image_path', NEW.image_path, 'notes', NEW.notes, 'status', NEW.status));
END;
CREATE TRIGGER campaigns_audit_delete AFTER DELETE ON campaigns FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('campaigns', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'system', OLD.system, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'is_active', OLD.is_active, 'settings', json(OLD.settings), 'dm_id', OLD.dm_id, 'image_path', OLD.image_path, 'notes', OLD.notes, 'status', OLD.status));
END;

CREATE TRIGGER characters_touch AFTER UPDATE ON characters FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE characters SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER characters_audit_insert AFTER INSERT ON characters FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('characters', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'class', NEW.class, 'race', NEW.race, 'level', NEW.level, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'is_player_character', NEW.is_player_character, 'owner_id', NEW.owner_id, 'stats', json(NEW.stats), 'inventory', json(NEW.inventory), 'spells', json(NEW.spells), 'features', json(NEW.features), 'background', NEW.background, 'personality', json(NEW.personality), 'image_path', NEW.image_path, 'notes', NEW.notes, 'status', NEW.status));
END;
CREATE TRIGGER characters_audit_update AFTER UPDATE ON characters FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.campaign_id IS NOT OLD.campaign_id OR NEW.name IS NOT OLD.name OR NEW.class IS NOT OLD.class OR NEW.race IS NOT OLD.race OR NEW.level IS NOT OLD.level OR NEW.created_at IS NOT OLD.created_at OR NEW.is_player_character IS NOT OLD.is_player_character OR NEW.owner_id IS NOT OLD.owner_id OR NEW.stats IS NOT OLD.stats OR NEW.inventory IS NOT OLD.inventory OR NEW.spells IS NOT OLD.spells OR NEW.features IS NOT OLD.features OR NEW.background IS NOT OLD.background OR NEW.personality IS NOT OLD.personality OR NEW.image_path IS NOT OLD.image_path OR NEW.notes IS NOT OLD.notes OR NEW.status IS NOT OLD.status
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('characters', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'class', OLD.class, 'race', OLD.race, 'level', OLD.level, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'is_player_character', OLD.is_player_character, 'owner_id', OLD.owner_id, 'stats', json(OLD.stats), 'inventory', json(OLD.inventory), 'spells', json(OLD.spells), 'features', json(OLD.features), 'background', OLD.background, 'personality', json(OLD.personality), 'image_path', OLD.image_path, 'notes', OLD.notes, 'status', OLD.status), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'class', NEW.class, 'race', NEW.race, 'level', NEW.level, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'is_player_character', NEW.is_player_character, 'owner_id', NEW.owner_id, 'stats', json(NEW.stats), 'inventory', json(NEW.inventory), 'spells', json(NEW.spells), 'features', json(NEW.features), 'background', NEW.background, 'personality', json(NEW.personality), 'image_path', NEW.image_path, 'notes', NEW.notes, 'status', NEW.status));
END;
CREATE TRIGGER characters_audit_delete AFTER DELETE ON characters FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('characters', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'class', OLD.class, 'race', OLD.race, 'level', OLD.level, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'is_player_character', OLD.is_player_character, 'owner_id', OLD.owner_id, 'stats', json(OLD.stats), 'inventory', json(OLD.inventory), 'spells', json(OLD.spells), 'features', json(OLD.features), 'background', OLD.background, 'personality', json(OLD.personality), 'image_path', OLD.image_path, 'notes', OLD.notes, 'status', OLD.status));
END;

CREATE TRIGGER npcs_touch AFTER UPDATE ON npcs FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE npcs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER npcs_audit_insert AFTER INSERT ON npcs FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('npcs', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'race', NEW.race, 'class', NEW.class, 'role', NEW.role, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'stats', json(NEW.stats), 'personality', json(NEW.personality), 'relationships', json(NEW.relationships), 'location', NEW.location, 'image_path', NEW.image_path, 'notes', NEW.notes, 'is_alive', NEW.is_alive, 'importance', NEW.importance));
END;
CREATE TRIGGER npcs_audit_update AFTER UPDATE ON npcs FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.campaign_id IS NOT OLD.campaign_id OR NEW.name IS NOT OLD.name OR NEW.race IS NOT OLD.race OR NEW.class IS NOT OLD.class OR NEW.role IS NOT OLD.role OR NEW.created_at IS NOT OLD.created_at OR NEW.stats IS NOT OLD.stats OR NEW.personality IS NOT OLD.personality OR NEW.relationships IS NOT OLD.relationships OR NEW.location IS NOT OLD.location OR NEW.image_path IS NOT OLD.image_path OR NEW.notes IS NOT OLD.notes OR NEW.is_alive IS NOT OLD.is_alive OR NEW.importance IS NOT OLD.importance
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('npcs', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'race', OLD.race, 'class', OLD.class, 'role', OLD.role, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'stats', json(OLD.stats), 'personality', json(OLD.personality), 'relationships', json(OLD.relationships), 'location', OLD.location, 'image_path', OLD.image_path, 'notes', OLD.notes, 'is_alive', OLD.is_alive, 'importance', OLD.importance), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'race', NEW.race, 'class', NEW.class, 'role', NEW.role, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'stats', json(NEW.stats), 'personality', json(NEW.personality), 'relationships', json(NEW.relationships), 'location', NEW.location, 'image_path', NEW.image_path, 'notes', NEW.notes, 'is_alive', NEW.is_alive, 'importance', NEW.importance));
END;
CREATE TRIGGER npcs_audit_delete AFTER DELETE ON npcs FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('npcs', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'race', OLD.race, 'class', OLD.class, 'role', OLD.role, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'stats', json(OLD.stats), 'personality', json(OLD.personality), 'relationships', json(OLD.relationships), 'location', OLD.location, 'image_path', OLD.image_path, 'notes', OLD.notes, 'is_alive', OLD.is_alive, 'importance', OLD.importance));
END;

CREATE TRIGGER sessions_touch AFTER UPDATE ON sessions FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE sessions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER sessions_audit_insert AFTER INSERT ON sessions FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('sessions', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'session_number', NEW.session_number, 'title', NEW.title, 'date_played', NEW.date_played, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'duration_minutes', NEW.duration_minutes, 'summary', NEW.summary, 'notes', NEW.notes, 'dm_notes', NEW.dm_notes, 'participants', json(NEW.participants), 'events', json(NEW.events), 'loot', json(NEW.loot), 'experience_awarded', NEW.experience_awarded, 'location', NEW.location, 'status', NEW.status));
END;
CREATE TRIGGER sessions_audit_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.campaign_id IS NOT OLD.campaign_id OR NEW.session_number IS NOT OLD.session_number OR NEW.title IS NOT OLD.title OR NEW.date_played IS NOT OLD.date_played OR NEW.created_at IS NOT OLD.created_at OR NEW.duration_minutes IS NOT OLD.duration_minutes OR NEW.summary IS NOT OLD.summary OR NEW.notes IS NOT OLD.notes OR NEW.dm_notes IS NOT OLD.dm_notes OR NEW.participants IS NOT OLD.participants OR NEW.events IS NOT OLD.events OR NEW.loot IS NOT OLD.loot OR NEW.experience_awarded IS NOT OLD.experience_awarded OR NEW.location IS NOT OLD.location OR NEW.status IS NOT OLD.status
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('sessions', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'session_number', OLD.session_number, 'title', OLD.title, 'date_played', OLD.date_played, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'duration_minutes', OLD.duration_minutes, 'summary', OLD.summary, 'notes', OLD.notes, 'dm_notes', OLD.dm_notes, 'participants', json(OLD.participants), 'events', json(OLD.events), 'loot', json(OLD.loot), 'experience_awarded', OLD.experience_awarded, 'location', OLD.location, 'status', OLD.status), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'session_number', NEW.session_number, 'title', NEW.title, 'date_played', NEW.date_played, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'duration_minutes', NEW.duration_minutes, 'summary', NEW.summary, 'notes', NEW.notes, 'dm_notes', NEW.dm_notes, 'participants', json(NEW.participants), 'events', json(NEW.events), 'loot', json(NEW.loot), 'experience_awarded', NEW.experience_awarded, 'location', NEW.location, 'status', NEW.status));
END;
CREATE TRIGGER sessions_audit_delete AFTER DELETE ON sessions FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('sessions', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'session_number', OLD.session_number, 'title', OLD.title, 'date_played', OLD.date_played, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'duration_minutes', OLD.duration_minutes, 'summary', OLD.summary, 'notes', OLD.notes, 'dm_notes', OLD.dm_notes, 'participants', json(OLD.participants), 'events', json(OLD.events), 'loot', json(OLD.loot), 'experience_awarded', OLD.experience_awarded, 'location', OLD.location, 'status', OLD.status));
END;

CREATE TRIGGER rulebooks_touch AFTER UPDATE ON rulebooks FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE rulebooks SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER rulebooks_audit_insert AFTER INSERT ON rulebooks FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('rulebooks', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'title', NEW.title, 'system', NEW.system, 'publisher', NEW.publisher, 'edition', NEW.edition, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'file_path', NEW.file_path, 'file_size', NEW.file_size, 'file_hash', NEW.file_hash, 'page_count', NEW.page_count, 'description', NEW.description, 'tags', json(NEW.tags), 'is_official', NEW.is_official, 'copyright_info', NEW.copyright_info, 'access_level', NEW.access_level));
END;
CREATE TRIGGER rulebooks_audit_update AFTER UPDATE ON rulebooks FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.title IS NOT OLD.title OR NEW.system IS NOT OLD.system OR NEW.publisher IS NOT OLD.publisher OR NEW.edition IS NOT OLD.edition OR NEW.created_at IS NOT OLD.created_at OR NEW.file_path IS NOT OLD.file_path OR NEW.file_size IS NOT OLD.file_size OR NEW.file_hash IS NOT OLD.file_hash OR NEW.page_count IS NOT OLD.page_count OR NEW.description IS NOT OLD.description OR NEW.tags IS NOT OLD.tags OR NEW.is_official IS NOT OLD.is_official OR NEW.copyright_info IS NOT OLD.copyright_info OR NEW.access_level IS NOT OLD.access_level
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('rulebooks', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'title', OLD.title, 'system', OLD.system, 'publisher', OLD.publisher, 'edition', OLD.edition, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'file_path', OLD.file_path, 'file_size', OLD.file_size, 'file_hash', OLD.file_hash, 'page_count', OLD.page_count, 'description', OLD.description, 'tags', json(OLD.tags), 'is_official', OLD.is_official, 'copyright_info', OLD.copyright_info, 'access_level', OLD.access_level), json_object('id', NEW.id, 'title', NEW.title, 'system', NEW.system, 'publisher', NEW.publisher, 'edition', NEW.edition, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'file_path', NEW.file_path, 'file_size', NEW.file_size, 'file_hash', NEW.file_hash, 'page_count', NEW.page_count, 'description', NEW.description, 'tags', json(NEW.tags), 'is_official', NEW.is_official, 'copyright_info', NEW.copyright_info, 'access_level', NEW.access_level));
END;
CREATE TRIGGER rulebooks_audit_delete AFTER DELETE ON rulebooks FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('rulebooks', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'title', OLD.title, 'system', OLD.system, 'publisher', OLD.publisher, 'edition', OLD.edition, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'file_path', OLD.file_path, 'file_size', OLD.file_size, 'file_hash', OLD.file_hash, 'page_count', OLD.page_count, 'description', OLD.description, 'tags', json(OLD.tags), 'is_official', OLD.is_official, 'copyright_info', OLD.copyright_info, 'access_level', OLD.access_level));
END;

CREATE TRIGGER personality_profiles_touch AFTER UPDATE ON personality_profiles FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE personality_profiles SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER personality_profiles_audit_insert AFTER INSERT ON personality_profiles FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('personality_profiles', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'name', NEW.name, 'character_id', NEW.character_id, 'npc_id', NEW.npc_id, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'traits', json(NEW.traits), 'speech_patterns', json(NEW.speech_patterns), 'knowledge_areas', json(NEW.knowledge_areas), 'relationships', json(NEW.relationships), 'background_story', NEW.background_story, 'motivations', json(NEW.motivations), 'fears_and_flaws', json(NEW.fears_and_flaws), 'voice_settings', json(NEW.voice_settings), 'chat_history_summary', NEW.chat_history_summary, 'is_active', NEW.is_active));
END;
CREATE TRIGGER personality_profiles_audit_update AFTER UPDATE ON personality_profiles FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.character_id IS NOT OLD.character_id OR NEW.npc_id IS NOT OLD.npc_id OR NEW.created_at IS NOT OLD.created_at OR NEW.traits IS NOT OLD.traits OR NEW.speech_patterns IS NOT OLD.speech_patterns OR NEW.knowledge_areas IS NOT OLD.knowledge_areas OR NEW.relationships IS NOT OLD.relationships OR NEW.background_story IS NOT OLD.background_story OR NEW.motivations IS NOT OLD.motivations OR NEW.fears_and_flaws IS NOT OLD.fears_and_flaws OR NEW.voice_settings IS NOT OLD.voice_settings OR NEW.chat_history_summary IS NOT OLD.chat_history_summary OR NEW.is_active IS NOT OLD.is_active
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('personality_profiles', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'character_id', OLD.character_id, 'npc_id', OLD.npc_id, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'traits', json(OLD.traits), 'speech_patterns', json(OLD.speech_patterns), 'knowledge_areas', json(OLD.knowledge_areas), 'relationships', json(OLD.relationships), 'background_story', OLD.background_story, 'motivations', json(OLD.motivations), 'fears_and_flaws', json(OLD.fears_and_flaws), 'voice_settings', json(OLD.voice_settings), 'chat_history_summary', OLD.chat_history_summary, 'is_active', OLD.is_active), json_object('id', NEW.id, 'name', NEW.name, 'character_id', NEW.character_id, 'npc_id', NEW.npc_id, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'traits', json(NEW.traits), 'speech_patterns', json(NEW.speech_patterns), 'knowledge_areas', json(NEW.knowledge_areas), 'relationships', json(NEW.relationships), 'background_story', NEW.background_story, 'motivations', json(NEW.motivations), 'fears_and_flaws', json(NEW.fears_and_flaws), 'voice_settings', json(NEW.voice_settings), 'chat_history_summary', NEW.chat_history_summary, 'is_active', NEW.is_active));
END;
CREATE TRIGGER personality_profiles_audit_delete AFTER DELETE ON personality_profiles FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('personality_profiles', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'character_id', OLD.character_id, 'npc_id', OLD.npc_id, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'traits', json(OLD.traits), 'speech_patterns', json(OLD.speech_patterns), 'knowledge_areas', json(OLD.knowledge_areas), 'relationships', json(OLD.relationships), 'background_story', OLD.background_story, 'motivations', json(OLD.motivations), 'fears_and_flaws', json(OLD.fears_and_flaws), 'voice_settings', json(OLD.voice_settings), 'chat_history_summary', OLD.chat_history_summary, 'is_active', OLD.is_active));
END;

CREATE TRIGGER locations_touch AFTER UPDATE ON locations FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE locations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER locations_audit_insert AFTER INSERT ON locations FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('locations', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'location_type', NEW.location_type, 'parent_location_id', NEW.parent_location_id, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'description', NEW.description, 'population', NEW.population, 'government', NEW.government, 'notable_features', json(NEW.notable_features), 'climate', NEW.climate, 'economy', NEW.economy, 'defenses', NEW.defenses, 'image_path', NEW.image_path, 'map_path', NEW.map_path, 'coordinates', NEW.coordinates, 'notes', NEW.notes));
END;
CREATE TRIGGER locations_audit_update AFTER UPDATE ON locations FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.campaign_id IS NOT OLD.campaign_id OR NEW.name IS NOT OLD.name OR NEW.location_type IS NOT OLD.location_type OR NEW.parent_location_id IS NOT OLD.parent_location_id OR NEW.created_at IS NOT OLD.created_at OR NEW.description IS NOT OLD.description OR NEW.population IS NOT OLD.population OR NEW.government IS NOT OLD.government OR NEW.notable_features IS NOT OLD.notable_features OR NEW.climate IS NOT OLD.climate OR NEW.economy IS NOT OLD.economy OR NEW.defenses IS NOT OLD.defenses OR NEW.image_path IS NOT OLD.image_path OR NEW.map_path IS NOT OLD.map_path OR NEW.coordinates IS NOT OLD.coordinates OR NEW.notes IS NOT OLD.notes
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('locations', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'location_type', OLD.location_type, 'parent_location_id', OLD.parent_location_id, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'description', OLD.description, 'population', OLD.population, 'government', OLD.government, 'notable_features', json(OLD.notable_features), 'climate', OLD.climate, 'economy', OLD.economy, 'defenses', OLD.defenses, 'image_path', OLD.image_path, 'map_path', OLD.map_path, 'coordinates', OLD.coordinates, 'notes', OLD.notes), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'location_type', NEW.location_type, 'parent_location_id', NEW.parent_location_id, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'description', NEW.description, 'population', NEW.population, 'government', NEW.government, 'notable_features', json(NEW.notable_features), 'climate', NEW.climate, 'economy', NEW.economy, 'defenses', NEW.defenses, 'image_path', NEW.image_path, 'map_path', NEW.map_path, 'coordinates', NEW.coordinates, 'notes', NEW.notes));
END;
CREATE TRIGGER locations_audit_delete AFTER DELETE ON locations FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('locations', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'location_type', OLD.location_type, 'parent_location_id', OLD.parent_location_id, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'description', OLD.description, 'population', OLD.population, 'government', OLD.government, 'notable_features', json(OLD.notable_features), 'climate', OLD.climate, 'economy', OLD.economy, 'defenses', OLD.defenses, 'image_path', OLD.image_path, 'map_path', OLD.map_path, 'coordinates', OLD.coordinates, 'notes', OLD.notes));
END;

CREATE TRIGGER items_touch AFTER UPDATE ON items FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE items SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER items_audit_insert AFTER INSERT ON items FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('items', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'name', NEW.name, 'item_type', NEW.item_type, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'description', NEW.description, 'rarity', NEW.rarity, 'value_gp', NEW.value_gp, 'weight', NEW.weight, 'properties', json(NEW.properties), 'stats', json(NEW.stats), 'requirements', json(NEW.requirements), 'image_path', NEW.image_path, 'system', NEW.system, 'source_book', NEW.source_book, 'is_magical', NEW.is_magical, 'is_homebrew', NEW.is_homebrew));
END;
CREATE TRIGGER items_audit_update AFTER UPDATE ON items FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.item_type IS NOT OLD.item_type OR NEW.created_at IS NOT OLD.created_at OR NEW.description IS NOT OLD.description OR NEW.rarity IS NOT OLD.rarity OR NEW.value_gp IS NOT OLD.value_gp OR NEW.weight IS NOT OLD.weight OR NEW.properties IS NOT OLD.properties OR NEW.stats IS NOT OLD.stats OR NEW.requirements IS NOT OLD.requirements OR NEW.image_path IS NOT OLD.image_path OR NEW.system IS NOT OLD.system OR NEW.source_book IS NOT OLD.source_book OR NEW.is_magical IS NOT OLD.is_magical OR NEW.is_homebrew IS NOT OLD.is_homebrew
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('items', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'item_type', OLD.item_type, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'description', OLD.description, 'rarity', OLD.rarity, 'value_gp', OLD.value_gp, 'weight', OLD.weight, 'properties', json(OLD.properties), 'stats', json(OLD.stats), 'requirements', json(OLD.requirements), 'image_path', OLD.image_path, 'system', OLD.system, 'source_book', OLD.source_book, 'is_magical', OLD.is_magical, 'is_homebrew', OLD.is_homebrew), json_object('id', NEW.id, 'name', NEW.name, 'item_type', NEW.item_type, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'description', NEW.description, 'rarity', NEW.rarity, 'value_gp', NEW.value_gp, 'weight', NEW.weight, 'properties', json(NEW.properties), 'stats', json(NEW.stats), 'requirements', json(NEW.requirements), 'image_path', NEW.image_path, 'system', NEW.system, 'source_book', NEW.source_book, 'is_magical', NEW.is_magical, 'is_homebrew', NEW.is_homebrew));
END;
CREATE TRIGGER items_audit_delete AFTER DELETE ON items FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('items', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'item_type', OLD.item_type, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'description', OLD.description, 'rarity', OLD.rarity, 'value_gp', OLD.value_gp, 'weight', OLD.weight, 'properties', json(OLD.properties), 'stats', json(OLD.stats), 'requirements', json(OLD.requirements), 'image_path', OLD.image_path, 'system', OLD.system, 'source_book', OLD.source_book, 'is_magical', OLD.is_magical, 'is_homebrew', OLD.is_homebrew));
END;

CREATE TRIGGER spells_touch AFTER UPDATE ON spells FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE spells SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER spells_audit_insert AFTER INSERT ON spells FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('spells', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'name', NEW.name, 'level', NEW.level, 'school', NEW.school, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'casting_time', NEW.casting_time, 'range', NEW.range, 'components', NEW.components, 'duration', NEW.duration, 'description', NEW.description, 'at_higher_levels', NEW.at_higher_levels, 'classes', json(NEW.classes), 'ritual', NEW.ritual, 'concentration', NEW.concentration, 'system', NEW.system, 'source_book', NEW.source_book, 'is_homebrew', NEW.is_homebrew));
END;
CREATE TRIGGER spells_audit_update AFTER UPDATE ON spells FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.level IS NOT OLD.level OR NEW.school IS NOT OLD.school OR NEW.created_at IS NOT OLD.created_at OR NEW.casting_time IS NOT OLD.casting_time OR NEW.range IS NOT OLD.range OR NEW.components IS NOT OLD.components OR NEW.duration IS NOT OLD.duration OR NEW.description IS NOT OLD.description OR NEW.at_higher_levels IS NOT OLD.at_higher_levels OR NEW.classes IS NOT OLD.classes OR NEW.ritual IS NOT OLD.ritual OR NEW.concentration IS NOT OLD.concentration OR NEW.system IS NOT OLD.system OR NEW.source_book IS NOT OLD.source_book OR NEW.is_homebrew IS NOT OLD.is_homebrew
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('spells', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'level', OLD.level, 'school', OLD.school, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'casting_time', OLD.casting_time, 'range', OLD.range, 'components', OLD.components, 'duration', OLD.duration, 'description', OLD.description, 'at_higher_levels', OLD.at_higher_levels, 'classes', json(OLD.classes), 'ritual', OLD.ritual, 'concentration', OLD.concentration, 'system', OLD.system, 'source_book', OLD.source_book, 'is_homebrew', OLD.is_homebrew), json_object('id', NEW.id, 'name', NEW.name, 'level', NEW.level, 'school', NEW.school, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'casting_time', NEW.casting_time, 'range', NEW.range, 'components', NEW.components, 'duration', NEW.duration, 'description', NEW.description, 'at_higher_levels', NEW.at_higher_levels, 'classes', json(NEW.classes), 'ritual', NEW.ritual, 'concentration', NEW.concentration, 'system', NEW.system, 'source_book', NEW.source_book, 'is_homebrew', NEW.is_homebrew));
END;
CREATE TRIGGER spells_audit_delete AFTER DELETE ON spells FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('spells', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'name', OLD.name, 'level', OLD.level, 'school', OLD.school, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'casting_time', OLD.casting_time, 'range', OLD.range, 'components', OLD.components, 'duration', OLD.duration, 'description', OLD.description, 'at_higher_levels', OLD.at_higher_levels, 'classes', json(OLD.classes), 'ritual', OLD.ritual, 'concentration', OLD.concentration, 'system', OLD.system, 'source_book', OLD.source_book, 'is_homebrew', OLD.is_homebrew));
END;

CREATE TRIGGER assets_touch AFTER UPDATE ON assets FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE assets SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER assets_audit_insert AFTER INSERT ON assets FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('assets', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'asset_type', NEW.asset_type, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'file_path', NEW.file_path, 'file_size', NEW.file_size, 'file_hash', NEW.file_hash, 'mime_type', NEW.mime_type, 'description', NEW.description, 'tags', json(NEW.tags), 'metadata', json(NEW.metadata), 'is_public', NEW.is_public, 'copyright_info', NEW.copyright_info));
END;
CREATE TRIGGER assets_audit_update AFTER UPDATE ON assets FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.campaign_id IS NOT OLD.campaign_id OR NEW.name IS NOT OLD.name OR NEW.asset_type IS NOT OLD.asset_type OR NEW.created_at IS NOT OLD.created_at OR NEW.file_path IS NOT OLD.file_path OR NEW.file_size IS NOT OLD.file_size OR NEW.file_hash IS NOT OLD.file_hash OR NEW.mime_type IS NOT OLD.mime_type OR NEW.description IS NOT OLD.description OR NEW.tags IS NOT OLD.tags OR NEW.metadata IS NOT OLD.metadata OR NEW.is_public IS NOT OLD.is_public OR NEW.copyright_info IS NOT OLD.copyright_info
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('assets', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'asset_type', OLD.asset_type, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'file_path', OLD.file_path, 'file_size', OLD.file_size, 'file_hash', OLD.file_hash, 'mime_type', OLD.mime_type, 'description', OLD.description, 'tags', json(OLD.tags), 'metadata', json(OLD.metadata), 'is_public', OLD.is_public, 'copyright_info', OLD.copyright_info), json_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'name', NEW.name, 'asset_type', NEW.asset_type, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'file_path', NEW.file_path, 'file_size', NEW.file_size, 'file_hash', NEW.file_hash, 'mime_type', NEW.mime_type, 'description', NEW.description, 'tags', json(NEW.tags), 'metadata', json(NEW.metadata), 'is_public', NEW.is_public, 'copyright_info', NEW.copyright_info));
END;
CREATE TRIGGER assets_audit_delete AFTER DELETE ON assets FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('assets', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'name', OLD.name, 'asset_type', OLD.asset_type, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'file_path', OLD.file_path, 'file_size', OLD.file_size, 'file_hash', OLD.file_hash, 'mime_type', OLD.mime_type, 'description', OLD.description, 'tags', json(OLD.tags), 'metadata', json(OLD.metadata), 'is_public', OLD.is_public, 'copyright_info', OLD.copyright_info));
END;

CREATE TRIGGER settings_touch AFTER UPDATE ON settings FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE settings SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER settings_audit_insert AFTER INSERT ON settings FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, new_values)
    VALUES ('settings', NEW.id, 'create', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', NEW.id, 'category', NEW.category, 'key', NEW.key, 'value', json(NEW.value), 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'is_encrypted', NEW.is_encrypted, 'description', NEW.description));
END;
CREATE TRIGGER settings_audit_update AFTER UPDATE ON settings FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.category IS NOT OLD.category OR NEW.key IS NOT OLD.key OR NEW.value IS NOT OLD.value OR NEW.created_at IS NOT OLD.created_at OR NEW.is_encrypted IS NOT OLD.is_encrypted OR NEW.description IS NOT OLD.description
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values, new_values)
    VALUES ('settings', NEW.id, 'update', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'category', OLD.category, 'key', OLD.key, 'value', json(OLD.value), 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'is_encrypted', OLD.is_encrypted, 'description', OLD.description), json_object('id', NEW.id, 'category', NEW.category, 'key', NEW.key, 'value', json(NEW.value), 'created_at', NEW.created_at, 'updated_at', NEW.updated_at, 'is_encrypted', NEW.is_encrypted, 'description', NEW.description));
END;
CREATE TRIGGER settings_audit_delete AFTER DELETE ON settings FOR EACH ROW
BEGIN
    INSERT INTO audit_logs (table_name, record_id, operation, timestamp, old_values)
    VALUES ('settings', OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), json_object('id', OLD.id, 'category', OLD.category, 'key', OLD.key, 'value', json(OLD.value), 'created_at', OLD.created_at, 'updated_at', OLD.updated_at, 'is_encrypted', OLD.is_encrypted, 'description', OLD.description));
END;
