using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.Bench;

/// <summary>
/// Deterministic, seeded generator of realistic campaign data as the library's entity classes. The same seed
/// and size give the same records, ids included. Every stream is an <see cref="IEnumerable{T}"/> that makes
/// one record at a time, so a million rows need no memory.
/// </summary>
/// <remarks>
/// Each stream (campaigns, characters, ...) has its own <see cref="Random"/> for its content and another for its
/// ids, both seeded from (seed, stream). So the ids of a table can be regenerated cheaply without generating
/// its text (<see cref="Ids"/>), and a stream does not depend on which other streams were generated before it.
/// </remarks>
#pragma warning disable CA5394 // System.Random is the point: seeded, reproducible, not security related.
public sealed class DataGenerator
{
    /// <summary>Default seed of the benchmarks.</summary>
    public const int DefaultSeed = 20261125;

    /// <summary>Game systems of the compendium and the campaigns.</summary>
    public static readonly string[] Systems = ["dnd5e", "pathfinder2e", "call_of_cthulhu", "blades_in_the_dark"];

    private static readonly DateTimeOffset Epoch = new(2019, 3, 1, 18, 0, 0, TimeSpan.Zero);

    private readonly int _seed;

    /// <summary>A generator for a library of about <paramref name="totalRows"/> records.</summary>
    public DataGenerator(long totalRows, int seed = DefaultSeed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalRows, 1);
        _seed = seed;
        TotalRows = totalRows;
        // Shape per 1,000 rows: one campaign with 300 characters, 200 NPCs, 80 sessions, 120 locations
        // (700 rows), 200 items and 100 spells of the compendium. Small libraries keep the proportions.
        Campaigns = Math.Max(1, (int)(totalRows / 1000));
        var perCampaignBudget = (int)Math.Min(700, Math.Max(7, totalRows * 7 / 10 / Campaigns));
        CharactersPerCampaign = perCampaignBudget * 3 / 7;
        NpcsPerCampaign = perCampaignBudget * 2 / 7;
        SessionsPerCampaign = Math.Max(1, perCampaignBudget * 8 / 70);
        LocationsPerCampaign = Math.Max(1, perCampaignBudget * 12 / 70);
        ItemCount = Math.Max(1, totalRows / 5);
        SpellCount = Math.Max(1, totalRows / 10);
        RulebookCount = (int)Math.Clamp(totalRows / 10_000, 12, 400);
        ProfilesPerCampaign = Math.Max(1, NpcsPerCampaign / 20);
    }

    /// <summary>Size the generator was made for.</summary>
    public long TotalRows { get; }

    /// <summary>Number of campaigns.</summary>
    public int Campaigns { get; }

    /// <summary>Characters in each campaign.</summary>
    public int CharactersPerCampaign { get; }

    /// <summary>NPCs in each campaign.</summary>
    public int NpcsPerCampaign { get; }

    /// <summary>Sessions in each campaign.</summary>
    public int SessionsPerCampaign { get; }

    /// <summary>Locations in each campaign.</summary>
    public int LocationsPerCampaign { get; }

    /// <summary>Personality profiles in each campaign (for its first NPCs).</summary>
    public int ProfilesPerCampaign { get; }

    /// <summary>Items of the compendium.</summary>
    public long ItemCount { get; }

    /// <summary>Spells of the compendium.</summary>
    public long SpellCount { get; }

    /// <summary>Rulebooks of the library.</summary>
    public int RulebookCount { get; }

    /// <summary>Total characters.</summary>
    public long CharacterCount => (long)Campaigns * CharactersPerCampaign;

    /// <summary>Records of every table together.</summary>
    public long ActualRows => Campaigns + CharacterCount + (long)Campaigns * (NpcsPerCampaign + SessionsPerCampaign + LocationsPerCampaign + ProfilesPerCampaign)
        + ItemCount + SpellCount + RulebookCount;

    /// <summary>The streams, each with its own seeds.</summary>
    public enum Source
    {
        /// <summary>Campaigns.</summary>
        Campaigns = 1,
        /// <summary>Characters.</summary>
        Characters,
        /// <summary>NPCs.</summary>
        Npcs,
        /// <summary>Sessions.</summary>
        Sessions,
        /// <summary>Locations.</summary>
        Locations,
        /// <summary>Items.</summary>
        Items,
        /// <summary>Spells.</summary>
        Spells,
        /// <summary>Rulebooks.</summary>
        Rulebooks,
        /// <summary>Personality profiles.</summary>
        Profiles,
        /// <summary>Records made during a benchmark (creates), never part of the data set.</summary>
        Extra,
    }

    /// <summary>The seeded random source of a stream's content (or, with <paramref name="ids"/>, of its ids).</summary>
    public Random RandomFor(Source source, bool ids = false) => new(unchecked((_seed * 1_000_003) + ((int)source * 7919) + (ids ? 104_729 : 0)));

    /// <summary>The ids of a stream, in the order its records are generated, without generating the records.</summary>
    public IEnumerable<Guid> Ids(Source source, long count)
    {
        var random = RandomFor(source, ids: true);
        for (long i = 0; i < count; i++)
        {
            yield return NextId(random);
        }
    }

    /// <summary>A random version-4 UUID from <paramref name="random"/>.</summary>
    public static Guid NextId(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>Campaigns.</summary>
    public IEnumerable<Campaign> GenerateCampaigns()
    {
        var random = RandomFor(Source.Campaigns);
        var ids = RandomFor(Source.Campaigns, ids: true);
        var text = new TextMaker(random);
        for (var i = 0; i < Campaigns; i++)
        {
            var created = Epoch.AddHours(i * 7.5);
            yield return new Campaign
            {
                Id = NextId(ids),
                Name = $"{text.Title(2, 4)} #{i + 1}",
                Description = text.Paragraphs(200, 1200),
                System = Systems[random.Next(Systems.Length)],
                IsActive = random.Next(4) != 0,
                Settings = new JsonObject
                {
                    ["house_rules"] = new JsonArray(text.Sentence(), text.Sentence()),
                    ["xp_mode"] = random.Next(2) == 0 ? "milestone" : "experience",
                    ["max_level"] = random.Next(10, 21),
                },
                DmId = $"user-{random.Next(1, 50)}",
                ImagePath = random.Next(3) == 0 ? null : $"campaigns/{i}/cover.png",
                Notes = text.Notes(),
                Status = (CampaignStatus)random.Next(5),
                CreatedAt = created,
                UpdatedAt = created.AddDays(random.Next(0, 400)),
            };
        }
    }

    /// <summary>Characters, campaign by campaign.</summary>
    public IEnumerable<Character> GenerateCharacters()
    {
        var random = RandomFor(Source.Characters);
        var ids = RandomFor(Source.Characters, ids: true);
        var text = new TextMaker(random);
        var campaign = 0;
        foreach (var campaignId in Ids(Source.Campaigns, Campaigns))
        {
            for (var i = 0; i < CharactersPerCampaign; i++)
            {
                yield return NewCharacter(random, text, NextId(ids), campaignId, campaign, i);
            }

            campaign++;
        }
    }

    /// <summary>A character (also used to make new records during the point-operation benchmark).</summary>
    public static Character NewCharacter(Random random, TextMaker text, Guid id, Guid campaignId, int campaign, int index)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(text);
        var created = Epoch.AddHours((campaign * 7.5) + (index * 0.25));
        var cls = Words.Classes[random.Next(Words.Classes.Length)];
        return new Character
        {
            Id = id,
            CampaignId = campaignId,
            Name = text.PersonName(),
            Class = cls,
            Race = Words.Races[random.Next(Words.Races.Length)],
            Level = random.Next(1, 21),
            IsPlayerCharacter = random.Next(5) == 0,
            OwnerId = random.Next(3) == 0 ? $"user-{random.Next(1, 400)}" : null,
            Stats = new JsonObject
            {
                ["str"] = random.Next(3, 21), ["dex"] = random.Next(3, 21), ["con"] = random.Next(3, 21),
                ["int"] = random.Next(3, 21), ["wis"] = random.Next(3, 21), ["cha"] = random.Next(3, 21),
                ["hp"] = random.Next(4, 250), ["ac"] = random.Next(8, 24),
            },
            Inventory = new JsonObject
            {
                ["gold"] = random.Next(0, 5000),
                ["items"] = new JsonArray(text.Title(1, 3), text.Title(1, 3), text.Title(1, 2)),
            },
            Spells = random.Next(2) == 0 ? null : new JsonObject { ["known"] = new JsonArray(text.Title(1, 3), text.Title(1, 3)) },
            Features = new JsonObject { ["feats"] = new JsonArray(text.Title(1, 2)), ["background"] = text.Word() },
            Background = random.Next(2) == 0 ? text.Paragraphs(150, 1500) : null,
            Personality = new JsonObject { ["traits"] = text.Sentence(), ["ideal"] = text.Sentence(), ["flaw"] = text.Sentence() },
            ImagePath = random.Next(2) == 0 ? null : $"portraits/{id:N}.webp",
            Notes = text.Notes(),
            Status = (CharacterStatus)(random.Next(10) < 7 ? 0 : random.Next(5)),
            CreatedAt = created,
            UpdatedAt = created.AddHours(random.Next(0, 5000)),
        };
    }

    /// <summary>NPCs, campaign by campaign.</summary>
    public IEnumerable<Npc> GenerateNpcs()
    {
        var random = RandomFor(Source.Npcs);
        var ids = RandomFor(Source.Npcs, ids: true);
        var text = new TextMaker(random);
        var campaign = 0;
        foreach (var campaignId in Ids(Source.Campaigns, Campaigns))
        {
            for (var i = 0; i < NpcsPerCampaign; i++)
            {
                var created = Epoch.AddHours((campaign * 7.5) + (i * 0.3));
                yield return new Npc
                {
                    Id = NextId(ids),
                    CampaignId = campaignId,
                    Name = text.PersonName(),
                    Race = Words.Races[random.Next(Words.Races.Length)],
                    Class = random.Next(3) == 0 ? null : Words.Classes[random.Next(Words.Classes.Length)],
                    Role = (NpcRole)random.Next(9),
                    Stats = new JsonObject { ["cr"] = random.Next(0, 25), ["hp"] = random.Next(1, 400) },
                    Personality = new JsonObject { ["demeanor"] = text.Word(), ["quirk"] = text.Sentence() },
                    Relationships = new JsonObject { ["faction"] = text.Title(1, 3), ["attitude"] = random.Next(-3, 4) },
                    Location = text.Title(1, 3),
                    ImagePath = null,
                    Notes = text.Notes(),
                    IsAlive = random.Next(6) != 0,
                    Importance = (NpcImportance)random.Next(3),
                    CreatedAt = created,
                    UpdatedAt = created.AddHours(random.Next(0, 5000)),
                };
            }

            campaign++;
        }
    }

    /// <summary>Sessions, numbered 1.. within each campaign.</summary>
    public IEnumerable<Session> GenerateSessions()
    {
        var random = RandomFor(Source.Sessions);
        var ids = RandomFor(Source.Sessions, ids: true);
        var text = new TextMaker(random);
        var campaign = 0;
        foreach (var campaignId in Ids(Source.Campaigns, Campaigns))
        {
            for (var i = 0; i < SessionsPerCampaign; i++)
            {
                var played = Epoch.AddHours(campaign * 7.5).AddDays(i * 7);
                yield return new Session
                {
                    Id = NextId(ids),
                    CampaignId = campaignId,
                    SessionNumber = i + 1,
                    Title = text.Title(2, 6),
                    DatePlayed = played,
                    DurationMinutes = random.Next(90, 360),
                    Summary = text.Paragraphs(200, 900),
                    Notes = text.Notes(),
                    DmNotes = random.Next(10) < 3 ? text.Paragraphs(100, 800) : null,
                    Participants = new JsonArray(text.PersonName(), text.PersonName(), text.PersonName(), text.PersonName()),
                    Events = new JsonArray(text.Sentence(), text.Sentence()),
                    Loot = random.Next(2) == 0 ? null : new JsonArray(new JsonObject { ["item"] = text.Title(1, 3), ["gp"] = random.Next(1, 2000) }),
                    ExperienceAwarded = random.Next(0, 12000),
                    Location = text.Title(1, 3),
                    Status = (SessionStatus)random.Next(4),
                    CreatedAt = played.AddDays(-3),
                    UpdatedAt = played.AddDays(1),
                };
            }

            campaign++;
        }
    }

    /// <summary>Locations; after the first few of a campaign each lies in an earlier one.</summary>
    public IEnumerable<Location> GenerateLocations()
    {
        var random = RandomFor(Source.Locations);
        var ids = RandomFor(Source.Locations, ids: true);
        var text = new TextMaker(random);
        var earlier = new List<Guid>(LocationsPerCampaign);
        var campaign = 0;
        foreach (var campaignId in Ids(Source.Campaigns, Campaigns))
        {
            earlier.Clear();
            for (var i = 0; i < LocationsPerCampaign; i++)
            {
                var id = NextId(ids);
                var created = Epoch.AddHours((campaign * 7.5) + (i * 0.5));
                var type = i < 3 ? (LocationType)i : (LocationType)random.Next(2, 10);
                yield return new Location
                {
                    Id = id,
                    CampaignId = campaignId,
                    Name = text.Title(1, 3),
                    LocationType = type,
                    ParentLocationId = earlier.Count == 0 ? null : earlier[random.Next(earlier.Count)],
                    Description = text.Paragraphs(100, 700),
                    Population = type is LocationType.City or LocationType.Town or LocationType.Village ? random.Next(50, 500_000) : null,
                    Government = random.Next(2) == 0 ? null : text.Title(1, 2),
                    NotableFeatures = new JsonArray(text.Sentence(), text.Sentence()),
                    Climate = Words.Climates[random.Next(Words.Climates.Length)],
                    Economy = random.Next(2) == 0 ? null : text.Sentence(),
                    Defenses = random.Next(3) == 0 ? null : text.Sentence(),
                    MapPath = random.Next(4) == 0 ? $"maps/{id:N}.png" : null,
                    Coordinates = string.Create(CultureInfo.InvariantCulture, $"{random.Next(0, 4096)},{random.Next(0, 4096)}"),
                    Notes = random.Next(2) == 0 ? text.Notes() : null,
                    CreatedAt = created,
                    UpdatedAt = created.AddDays(random.Next(0, 300)),
                };
                earlier.Add(id);
            }

            campaign++;
        }
    }

    /// <summary>Personality profiles of the first NPCs of each campaign.</summary>
    public IEnumerable<PersonalityProfile> GenerateProfiles()
    {
        var random = RandomFor(Source.Profiles);
        var ids = RandomFor(Source.Profiles, ids: true);
        var text = new TextMaker(random);
        using var npcIds = Ids(Source.Npcs, (long)Campaigns * NpcsPerCampaign).GetEnumerator();
        for (var campaign = 0; campaign < Campaigns; campaign++)
        {
            for (var i = 0; i < NpcsPerCampaign; i++)
            {
                npcIds.MoveNext();
                if (i >= ProfilesPerCampaign)
                {
                    continue;
                }

                yield return new PersonalityProfile
                {
                    Id = NextId(ids),
                    Name = $"Voice of {text.PersonName()}",
                    NpcId = npcIds.Current,
                    Traits = new JsonObject { ["openness"] = random.Next(0, 101), ["temper"] = text.Word() },
                    SpeechPatterns = new JsonObject { ["catchphrase"] = text.Sentence() },
                    KnowledgeAreas = new JsonArray(text.Word(), text.Word()),
                    BackgroundStory = text.Paragraphs(200, 1500),
                    Motivations = new JsonArray(text.Sentence()),
                    FearsAndFlaws = new JsonArray(text.Sentence()),
                    ChatHistorySummary = random.Next(2) == 0 ? null : text.Paragraphs(100, 500),
                    CreatedAt = Epoch.AddHours(campaign * 7.5),
                    UpdatedAt = Epoch.AddHours(campaign * 7.5).AddDays(2),
                };
            }
        }
    }

    /// <summary>Rulebooks of the library.</summary>
    public IEnumerable<Rulebook> GenerateRulebooks()
    {
        var random = RandomFor(Source.Rulebooks);
        var ids = RandomFor(Source.Rulebooks, ids: true);
        var text = new TextMaker(random);
        for (var i = 0; i < RulebookCount; i++)
        {
            var size = random.NextInt64(2_000_000, 1_500_000_000);
            yield return new Rulebook
            {
                Id = NextId(ids),
                Title = $"{text.Title(2, 5)} ({i + 1})",
                System = Systems[random.Next(Systems.Length)],
                Publisher = Words.Publishers[random.Next(Words.Publishers.Length)],
                Edition = $"{random.Next(1, 6)}e",
                FilePath = $"rulebooks/{i:D4}.pdf",
                FileSize = size,
                FileHash = Convert.ToHexStringLower(BitConverter.GetBytes(random.NextInt64())) + Convert.ToHexStringLower(BitConverter.GetBytes(size)),
                PageCount = random.Next(32, 640),
                Description = text.Paragraphs(100, 600),
                Tags = new JsonArray(text.Word(), text.Word()),
                IsOfficial = random.Next(4) != 0,
                CopyrightInfo = $"© {random.Next(1990, 2026)} {Words.Publishers[random.Next(Words.Publishers.Length)]}",
                AccessLevel = (AccessLevel)random.Next(3),
                CreatedAt = Epoch.AddDays(i),
                UpdatedAt = Epoch.AddDays(i + 1),
            };
        }
    }

    /// <summary>Items of the compendium (the bulk-insert benchmark uses this stream with its own count).</summary>
    public IEnumerable<Item> GenerateItems(long? count = null)
    {
        var random = RandomFor(Source.Items);
        var ids = RandomFor(Source.Items, ids: true);
        var text = new TextMaker(random);
        var n = count ?? ItemCount;
        for (long i = 0; i < n; i++)
        {
            var type = (ItemType)random.Next(16);
            var rarity = (Rarity)Math.Min(5, (int)Math.Floor(-Math.Log(1 - random.NextDouble()) * 1.2));
            var created = Epoch.AddSeconds(i * 37);
            yield return new Item
            {
                Id = NextId(ids),
                Name = $"{text.Title(1, 3)} {Words.ItemNouns[(int)type]}",
                ItemType = type,
                Description = text.Paragraphs(60, 700),
                Rarity = rarity,
                ValueGp = random.Next(5) == 0 ? null : random.NextInt64(1, 50_000),
                Weight = random.Next(5) == 0 ? null : Math.Round(random.NextDouble() * 60, 2),
                Properties = new JsonObject { ["attunement"] = random.Next(4) == 0, ["charges"] = random.Next(0, 8) },
                Stats = type is ItemType.Weapon ? new JsonObject { ["damage"] = $"{random.Next(1, 3)}d{(random.Next(2, 7) * 2).ToString(CultureInfo.InvariantCulture)}" } : null,
                Requirements = random.Next(3) == 0 ? new JsonObject { ["class"] = Words.Classes[random.Next(Words.Classes.Length)] } : null,
                ImagePath = null,
                System = Systems[random.Next(Systems.Length)],
                SourceBook = random.Next(3) == 0 ? null : text.Title(2, 4),
                IsMagical = rarity != Rarity.Common || random.Next(5) == 0,
                IsHomebrew = random.Next(8) == 0,
                CreatedAt = created,
                UpdatedAt = created,
            };
        }
    }

    /// <summary>Spells of the compendium.</summary>
    public IEnumerable<Spell> GenerateSpells(long? count = null)
    {
        var random = RandomFor(Source.Spells);
        var ids = RandomFor(Source.Spells, ids: true);
        var text = new TextMaker(random);
        var n = count ?? SpellCount;
        for (long i = 0; i < n; i++)
        {
            var level = random.Next(10);
            var created = Epoch.AddSeconds(i * 53);
            yield return new Spell
            {
                Id = NextId(ids),
                Name = $"{text.Title(1, 2)} {Words.SpellNouns[random.Next(Words.SpellNouns.Length)]}",
                Level = level,
                School = (SpellSchool)random.Next(8),
                CastingTime = Words.CastingTimes[random.Next(Words.CastingTimes.Length)],
                Range = Words.Ranges[random.Next(Words.Ranges.Length)],
                Components = Words.Components[random.Next(Words.Components.Length)],
                Duration = Words.Durations[random.Next(Words.Durations.Length)],
                Description = text.Paragraphs(150, 1500),
                AtHigherLevels = level is > 0 and < 9 && random.Next(2) == 0 ? text.Paragraphs(60, 250) : null,
                Classes = new JsonArray(Words.Classes[random.Next(Words.Classes.Length)], Words.Classes[random.Next(Words.Classes.Length)]),
                Ritual = random.Next(8) == 0,
                Concentration = random.Next(3) == 0,
                System = Systems[random.Next(Systems.Length)],
                SourceBook = text.Title(2, 4),
                IsHomebrew = random.Next(10) == 0,
                CreatedAt = created,
                UpdatedAt = created,
            };
        }
    }

    /// <summary>Pseudo-English text from a seeded source: words, names, sentences and notes.</summary>
    public sealed class TextMaker(Random random)
    {
        private readonly StringBuilder _builder = new(4096);

        /// <summary>One word.</summary>
        public string Word() => Words.Common[random.Next(Words.Common.Length)];

        /// <summary>Title-cased words.</summary>
        public string Title(int min, int max)
        {
            _builder.Clear();
            var n = random.Next(min, max + 1);
            for (var i = 0; i < n; i++)
            {
                if (i > 0)
                {
                    _builder.Append(' ');
                }

                var word = random.Next(6) == 0 ? Words.Names[random.Next(Words.Names.Length)] : Words.Common[random.Next(Words.Common.Length)];
                _builder.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
            }

            return _builder.ToString();
        }

        /// <summary>A first and last name, sometimes with an epithet in quotes.</summary>
        public string PersonName()
        {
            var first = Words.Names[random.Next(Words.Names.Length)];
            var last = Words.Names[random.Next(Words.Names.Length)];
            return random.Next(12) == 0 ? $"{first} \"{Words.Common[random.Next(Words.Common.Length)]}\" {last}"
                : random.Next(15) == 0 ? $"{first} O'{last}"
                : $"{first} {last}";
        }

        /// <summary>One sentence.</summary>
        public string Sentence()
        {
            _builder.Clear();
            AppendSentence(_builder);
            return _builder.ToString();
        }

        /// <summary>Notes: mostly a few hundred characters, sometimes a few thousand.</summary>
        public string Notes()
        {
            var bucket = random.Next(100);
            return bucket < 70 ? Paragraphs(200, 600) : bucket < 95 ? Paragraphs(600, 1500) : Paragraphs(1500, 4000);
        }

        /// <summary>Sentences in paragraphs, between <paramref name="min"/> and about <paramref name="max"/> characters.</summary>
        public string Paragraphs(int min, int max)
        {
            var target = random.Next(min, max + 1);
            _builder.Clear();
            var inParagraph = 0;
            while (_builder.Length < target)
            {
                if (_builder.Length > 0)
                {
                    if (inParagraph >= 4 && random.Next(3) == 0)
                    {
                        _builder.Append("\n\n");
                        inParagraph = 0;
                    }
                    else
                    {
                        _builder.Append(' ');
                    }
                }

                AppendSentence(_builder);
                inParagraph++;
            }

            return _builder.ToString();
        }

        private void AppendSentence(StringBuilder builder)
        {
            var words = random.Next(5, 19);
            var quoteAt = random.Next(8) == 0 ? random.Next(1, words) : -1;
            for (var i = 0; i < words; i++)
            {
                if (i > 0)
                {
                    builder.Append(i == words / 2 && random.Next(4) == 0 ? ", " : " ");
                }

                var kind = random.Next(40);
                var word = kind == 0 ? Words.Names[random.Next(Words.Names.Length)]
                    : kind == 1 ? Words.Unicode[random.Next(Words.Unicode.Length)]
                    : Words.Common[random.Next(Words.Common.Length)];
                if (i == quoteAt)
                {
                    builder.Append(random.Next(2) == 0 ? "\"" : "“").Append(word).Append(' ')
                        .Append(Words.Common[random.Next(Words.Common.Length)]).Append(random.Next(2) == 0 ? "\"" : "”");
                }
                else if (i == 0)
                {
                    builder.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
                }
                else if (kind == 2)
                {
                    builder.Append(word).Append("'s");
                }
                else
                {
                    builder.Append(word);
                }
            }

            var end = random.Next(12);
            builder.Append(end == 0 ? '?' : end == 1 ? '!' : '.');
        }
    }

    /// <summary>Word lists.</summary>
    internal static class Words
    {
        public static readonly string[] Common =
        [
            "the", "of", "and", "a", "to", "in", "is", "it", "that", "was", "for", "on", "with", "as", "by", "at", "from",
            "party", "dragon", "sword", "tavern", "king", "queen", "shadow", "ancient", "ruins", "forest", "river", "mountain",
            "gold", "silver", "curse", "ritual", "temple", "priest", "thief", "guard", "merchant", "caravan", "road", "bridge",
            "tower", "wizard", "spell", "scroll", "map", "treasure", "dungeon", "trap", "door", "key", "goblin", "orc", "troll",
            "giant", "undead", "vampire", "ghost", "wolf", "horse", "ship", "harbor", "storm", "night", "dawn", "fire", "ice",
            "stone", "iron", "blood", "oath", "secret", "letter", "rumor", "contract", "reward", "bounty", "prisoner", "escape",
            "ambush", "battle", "siege", "alliance", "betrayal", "heir", "throne", "crown", "council", "guild", "order", "cult",
            "prophecy", "dream", "vision", "portal", "plane", "abyss", "celestial", "fey", "elemental", "construct", "golem",
            "arrived", "fought", "discovered", "negotiated", "stole", "defended", "searched", "found", "lost", "crossed",
            "climbed", "opened", "destroyed", "rescued", "captured", "followed", "warned", "promised", "refused", "hid",
            "quickly", "quietly", "finally", "barely", "suddenly", "carefully", "reluctantly", "bravely", "never", "always",
            "old", "young", "dark", "bright", "broken", "hidden", "forgotten", "sacred", "cursed", "northern", "southern",
            "eastern", "western", "crimson", "golden", "silent", "hungry", "wounded", "loyal", "strange", "wealthy", "poor",
            "they", "he", "she", "we", "their", "his", "her", "our", "this", "these", "those", "which", "where", "when", "but",
            "not", "no", "after", "before", "under", "over", "between", "through", "against", "without", "near", "beyond",
            "session", "initiative", "saving", "throw", "check", "advantage", "critical", "hit", "damage", "healing", "rest",
            "inn", "market", "village", "city", "castle", "keep", "crypt", "cave", "swamp", "desert", "sea", "island", "camp",
        ];

        public static readonly string[] Names =
        [
            "Aldric", "Brenna", "Cassius", "Dagny", "Eldon", "Fiora", "Gareth", "Helka", "Isolde", "Jorund", "Kaelen", "Lyra",
            "Marek", "Nessa", "Orin", "Perrin", "Quilla", "Rurik", "Sable", "Theron", "Ulla", "Varis", "Wren", "Xander", "Yara",
            "Zoltan", "Ashwood", "Blackthorn", "Stormwind", "Ironfoot", "Greymantle", "Oakenshield", "Silverleaf", "Duskbane",
            "Æthelred", "Ingrid", "Björn", "Sigrún", "Zoë", "Chloé", "Renée", "Søren", "Ólafur", "Łukasz", "Dvořák", "Ōtomo",
        ];

        public static readonly string[] Unicode =
        [
            "naïve", "café", "façade", "déjà-vu", "Mjölnir", "Þórr", "Ragnarök", "Zürich", "smörgåsbord", "crème", "résumé",
            "Αθήνα", "дракон", "龍", "魔法", "☠", "⚔", "🐉", "🗡️", "—", "…", "½", "±5", "№7",
        ];

        public static readonly string[] Classes =
            ["barbarian", "bard", "cleric", "druid", "fighter", "monk", "paladin", "ranger", "rogue", "sorcerer", "warlock", "wizard", "artificer"];

        public static readonly string[] Races =
            ["human", "elf", "dwarf", "halfling", "gnome", "half-orc", "half-elf", "tiefling", "dragonborn", "goliath", "tabaxi", "kenku"];

        public static readonly string[] Climates = ["temperate", "arid", "tropical", "arctic", "subarctic", "mediterranean", "alpine", "swampy"];

        public static readonly string[] Publishers = ["Wizards of the Coast", "Paizo", "Chaosium", "Evil Hat", "Kobold Press", "Free League", "Homebrew"];

        public static readonly string[] ItemNouns =
        [
            "Blade", "Plate", "Buckler", "Kit", "Draught", "Trinket", "Ring", "Rod", "Staff", "Wand", "Scroll", "Potion", "Gem",
            "Idol", "Silk", "Oddity",
        ];

        public static readonly string[] SpellNouns = ["Bolt", "Ward", "Sight", "Charm", "Blast", "Veil", "Touch", "Shift", "Storm", "Circle", "Word", "Gate"];

        public static readonly string[] CastingTimes = ["1 action", "1 bonus action", "1 reaction", "1 minute", "10 minutes", "1 hour", "8 hours"];

        public static readonly string[] Ranges = ["Self", "Touch", "30 feet", "60 feet", "90 feet", "120 feet", "150 feet", "300 feet", "1 mile", "Sight", "Unlimited"];

        public static readonly string[] Components = ["V", "S", "V, S", "V, M (a pinch of salt)", "V, S, M (a silver mirror worth 100 gp)", "S, M (a feather)", "V, S, M (bat guano and sulfur)"];

        public static readonly string[] Durations = ["Instantaneous", "1 round", "1 minute", "Concentration, up to 1 minute", "Concentration, up to 10 minutes", "1 hour", "8 hours", "24 hours", "Until dispelled"];
    }
}
