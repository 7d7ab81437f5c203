namespace Mdmai.DataManager.Storage.Entities;

#pragma warning disable CA1720 // enum members are the original app's words ("object" in art_object is fine)

/// <summary>Where a campaign stands. Stored as snake_case text.</summary>
public enum CampaignStatus { /** <summary>Being prepared.</summary> */ Planning, /** <summary>Being played.</summary> */ Active, /** <summary>On hold.</summary> */ Paused, /** <summary>Finished.</summary> */ Completed, /** <summary>Put away.</summary> */ Archived }

/// <summary>What became of a character. Stored as snake_case text.</summary>
public enum CharacterStatus { /** <summary>In play.</summary> */ Active, /** <summary>Retired.</summary> */ Retired, /** <summary>Dead.</summary> */ Dead, /** <summary>Missing.</summary> */ Missing, /** <summary>Put away.</summary> */ Archived }

/// <summary>An NPC's role towards the party. Stored as snake_case text.</summary>
public enum NpcRole { /** <summary>Ally.</summary> */ Ally, /** <summary>Enemy.</summary> */ Enemy, /** <summary>Neutral.</summary> */ Neutral, /** <summary>Merchant.</summary> */ Merchant, /** <summary>Quest giver.</summary> */ QuestGiver, /** <summary>Noble.</summary> */ Noble, /** <summary>Commoner.</summary> */ Commoner, /** <summary>Authority.</summary> */ Authority, /** <summary>Other.</summary> */ Other }

/// <summary>How much an NPC matters to the story. Stored as snake_case text.</summary>
public enum NpcImportance { /** <summary>Major.</summary> */ Major, /** <summary>Minor.</summary> */ Minor, /** <summary>Background.</summary> */ Background }

/// <summary>Where a game session stands. Stored as snake_case text.</summary>
public enum SessionStatus { /** <summary>Planned.</summary> */ Planned, /** <summary>Being played.</summary> */ InProgress, /** <summary>Played.</summary> */ Completed, /** <summary>Cancelled.</summary> */ Cancelled }

/// <summary>Who may see a rulebook. Stored as snake_case text.</summary>
public enum AccessLevel { /** <summary>Everyone.</summary> */ Public, /** <summary>The owner only.</summary> */ Private, /** <summary>Selected people.</summary> */ Restricted }

/// <summary>Kind of place. Stored as snake_case text.</summary>
public enum LocationType { /** <summary>Continent.</summary> */ Continent, /** <summary>Country.</summary> */ Country, /** <summary>Region.</summary> */ Region, /** <summary>City.</summary> */ City, /** <summary>Town.</summary> */ Town, /** <summary>Village.</summary> */ Village, /** <summary>Building.</summary> */ Building, /** <summary>Dungeon.</summary> */ Dungeon, /** <summary>Landmark.</summary> */ Landmark, /** <summary>Other.</summary> */ Other }

/// <summary>Kind of item. Stored as snake_case text.</summary>
public enum ItemType { /** <summary>Weapon.</summary> */ Weapon, /** <summary>Armor.</summary> */ Armor, /** <summary>Shield.</summary> */ Shield, /** <summary>Tool.</summary> */ Tool, /** <summary>Consumable.</summary> */ Consumable, /** <summary>Wondrous item.</summary> */ Wondrous, /** <summary>Ring.</summary> */ Ring, /** <summary>Rod.</summary> */ Rod, /** <summary>Staff.</summary> */ Staff, /** <summary>Wand.</summary> */ Wand, /** <summary>Scroll.</summary> */ Scroll, /** <summary>Potion.</summary> */ Potion, /** <summary>Gem.</summary> */ Gem, /** <summary>Art object.</summary> */ ArtObject, /** <summary>Trade good.</summary> */ TradeGood, /** <summary>Other.</summary> */ Other }

/// <summary>How rare an item is. Stored as snake_case text.</summary>
public enum Rarity { /** <summary>Common.</summary> */ Common, /** <summary>Uncommon.</summary> */ Uncommon, /** <summary>Rare.</summary> */ Rare, /** <summary>Very rare.</summary> */ VeryRare, /** <summary>Legendary.</summary> */ Legendary, /** <summary>Artifact.</summary> */ Artifact }

/// <summary>School of magic. Stored as snake_case text.</summary>
public enum SpellSchool { /** <summary>Abjuration.</summary> */ Abjuration, /** <summary>Conjuration.</summary> */ Conjuration, /** <summary>Divination.</summary> */ Divination, /** <summary>Enchantment.</summary> */ Enchantment, /** <summary>Evocation.</summary> */ Evocation, /** <summary>Illusion.</summary> */ Illusion, /** <summary>Necromancy.</summary> */ Necromancy, /** <summary>Transmutation.</summary> */ Transmutation }

/// <summary>Kind of asset file. Stored as snake_case text.</summary>
public enum AssetType { /** <summary>Image.</summary> */ Image, /** <summary>Map.</summary> */ Map, /** <summary>Handout.</summary> */ Handout, /** <summary>Audio.</summary> */ Audio, /** <summary>Video.</summary> */ Video, /** <summary>Document.</summary> */ Document, /** <summary>Other.</summary> */ Other }

/// <summary>What an audit row records. Stored as snake_case text.</summary>
public enum AuditOperation { /** <summary>A record was created.</summary> */ Create, /** <summary>A record was changed.</summary> */ Update, /** <summary>A record was deleted.</summary> */ Delete, /** <summary>Data was imported.</summary> */ Import, /** <summary>Data was exported.</summary> */ Export, /** <summary>A backup was taken.</summary> */ Backup, /** <summary>A backup was restored.</summary> */ Restore }
