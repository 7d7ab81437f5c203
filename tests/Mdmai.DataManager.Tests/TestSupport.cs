using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;
using Microsoft.Data.Sqlite;
using Mdmai.DataManager.Storage.Internal;

namespace Mdmai.DataManager.Tests;

/// <summary>A fresh folder under the temp path, deleted (with anything a test left read-only or immutable) on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mdmai-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public string[] Files() => Directory.GetFiles(Path).Select(f => System.IO.Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (!Directory.Exists(Path))
        {
            return;
        }

        if (!OperatingSystem.IsWindows())
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(Path, "*", SearchOption.AllDirectories).Prepend(Path))
            {
                if (new FileInfo(entry).LinkTarget is not null)
                {
                    continue; // a mode change would follow the link (perhaps out of the folder, perhaps to nothing)
                }

                var isFolder = Directory.Exists(entry);
                File.SetUnixFileMode(entry, isFolder ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute : UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        Directory.Delete(Path, recursive: true);
    }
}

/// <summary>A clock the test moves by hand; starts with sub-millisecond ticks so truncation is visible.</summary>
internal sealed class ManualClock : TimeProvider
{
    public static readonly DateTimeOffset Start = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero).AddTicks(1_234_567);

    public DateTimeOffset Now { get; set; } = Start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>An <see cref="IProgress{T}"/> that records reports synchronously (Progress&lt;T&gt; would post them later).</summary>
internal sealed class RecordingProgress<T> : IProgress<T>
{
    private readonly List<T> _reports = [];

    public IReadOnlyList<T> Reports
    {
        get
        {
            lock (_reports)
            {
                return [.. _reports];
            }
        }
    }

    public void Report(T value)
    {
        lock (_reports)
        {
            _reports.Add(value);
        }
    }
}

/// <summary>A database in its own temp folder, with a hand-driven clock.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private TestDatabase(TempFolder folder, ManualClock clock, MdmaiDatabase db)
    {
        Folder = folder;
        Clock = clock;
        Db = db;
    }

    public TempFolder Folder { get; }

    public ManualClock Clock { get; }

    public MdmaiDatabase Db { get; private set; }

    public string Path => Db.Path;

    public static async Task<TestDatabase> OpenAsync(DatabaseOptions? options = null)
    {
        var folder = new TempFolder();
        try
        {
            var clock = new ManualClock();
            var db = await MdmaiDatabase.OpenAsync(folder.Combine("mdmai.db"), Pinned(options) with { Clock = clock });
            return new TestDatabase(folder, clock, db);
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    /// <summary>Closes and opens the database again (e.g. to see what a new process would see).</summary>
    public async Task ReopenAsync(DatabaseOptions? options = null)
    {
        var path = Db.Path;
        await Db.DisposeAsync();
        Db = await MdmaiDatabase.OpenAsync(path, Pinned(options) with { Clock = Clock });
    }

    /// <summary>
    /// The options with the background search indexer held back (an hour) unless the test set its interval:
    /// a test comparing two reads of the database must not see the index catch up with earlier writes between
    /// them. Searches, bulk inserts and closing still index what is pending.
    /// </summary>
    private static DatabaseOptions Pinned(DatabaseOptions? options)
    {
        options ??= new DatabaseOptions();
        return options.SearchIndexInterval == new DatabaseOptions().SearchIndexInterval ? options with { SearchIndexInterval = TimeSpan.FromHours(1) } : options;
    }

    public async ValueTask DisposeAsync()
    {
        await Db.DisposeAsync();
        Folder.Dispose();
    }
}

/// <summary>Plain SQLite access that bypasses the library, to look at or tamper with what it stored.</summary>
/// <summary>Occupies the writer thread until disposed, so that requests queue up behind it.</summary>
internal sealed class WriterBlock : IAsyncDisposable
{
    private readonly ManualResetEventSlim _gate = new();
    private readonly Task<int> _blocker;

    public WriterBlock(MdmaiDatabase db)
    {
        using var started = new ManualResetEventSlim();
        _blocker = db.Writer.ExecuteExclusiveAsync(_ =>
        {
            started.Set();
            _gate.Wait(TimeSpan.FromSeconds(30));
            return 0;
        });
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the writer never picked up the blocking request");
    }

    public async ValueTask DisposeAsync()
    {
        _gate.Set();
        await _blocker;
        _gate.Dispose();
    }
}

/// <summary>Writes that fail a transaction the ways SQLite can, for the writer's rollback paths (run them on its thread).</summary>
internal static class WriterFaults
{
    /// <summary>Rolls back the whole transaction and fails, as SQLite may on an I/O error (deterministically here).</summary>
    public static int RollBackWholeTransaction(CommandCache commands)
    {
        commands.Execute("ROLLBACK");
        throw new MdmaiException(MdmaiErrorCode.DiskFull, "the transaction was rolled back");
    }

    /// <summary>Succeeds, but makes its transaction's COMMIT fail: a session of a campaign that does not exist, its foreign key deferred to the commit.</summary>
    public static int FailAtCommit(CommandCache commands)
    {
        commands.Execute("PRAGMA defer_foreign_keys = ON");
        return commands.Execute("INSERT INTO sessions (id, campaign_id, session_number, title, date_played, created_at, updated_at) VALUES ('00000000-0000-7000-8000-0000000000aa', '00000000-0000-7000-8000-0000000000bb', 1, 'Nowhere', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')");
    }
}

internal static class RawSql
{
    public static SqliteConnection Open(string path, bool readOnly = false)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    public static object? Scalar(SqliteConnection connection, string sql, params object?[] args)
    {
        using var command = Command(connection, sql, args);
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    public static object? Scalar(string path, string sql, params object?[] args)
    {
        using var connection = Open(path, readOnly: true);
        return Scalar(connection, sql, args);
    }

    public static long Count(string path, string table) => (long)Scalar(path, $"SELECT count(*) FROM \"{table}\"")!;

    public static int Execute(SqliteConnection connection, string sql, params object?[] args)
    {
        using var command = Command(connection, sql, args);
        return command.ExecuteNonQuery();
    }

    public static int Execute(string path, string sql, params object?[] args)
    {
        using var connection = Open(path);
        return Execute(connection, sql, args);
    }

    public static List<string> Column(SqliteConnection connection, string sql, params object?[] args)
    {
        using var command = Command(connection, sql, args);
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.IsDBNull(0) ? "<null>" : Convert.ToString(reader.GetValue(0), CultureInfo.InvariantCulture)!);
        }

        return values;
    }

    public static List<string> Column(string path, string sql, params object?[] args)
    {
        using var connection = Open(path, readOnly: true);
        return Column(connection, sql, args);
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, object?[] args)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        for (var i = 0; i < args.Length; i++)
        {
            command.Parameters.AddWithValue("$" + i.ToString(CultureInfo.InvariantCulture), args[i] ?? DBNull.Value);
        }

        return command;
    }
}

/// <summary>Every row of every table (values with their SQLite storage class) and the schema, for exact comparison.</summary>
internal sealed record DatabaseSnapshot(
    SortedDictionary<string, List<string>> Tables,
    SortedSet<string> Indexes,
    SortedSet<string> Triggers,
    long UserVersion)
{
    public static DatabaseSnapshot Read(string path)
    {
        using var connection = RawSql.Open(path, readOnly: true);
        var schema = new List<(string Type, string Name, string Table, string? Sql)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                schema.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }

        var virtualTables = schema.Where(o => o.Type == "table" && o.Sql is not null && o.Sql.StartsWith("CREATE VIRTUAL TABLE", StringComparison.OrdinalIgnoreCase)).Select(o => o.Name).ToList();
        var tables = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var table in schema.Where(o => o.Type == "table" && !o.Name.StartsWith("sqlite_", StringComparison.Ordinal)))
        {
            if (virtualTables.Any(v => table.Name.StartsWith(v + "_", StringComparison.Ordinal)))
            {
                continue; // FTS shadow tables: their layout is the FTS engine's business; the virtual table's rows are compared instead.
            }

            var isVirtual = virtualTables.Contains(table.Name);
            var columns = RawSql.Column(connection, $"SELECT name FROM pragma_table_info('{table.Name}')");
            if (isVirtual)
            {
                columns.Insert(0, "rowid");
            }

            var select = string.Join(", ", columns.Select(c => $"typeof(\"{c}\"), CASE typeof(\"{c}\") WHEN 'text' THEN hex(\"{c}\") ELSE \"{c}\" END"));
            var rows = new List<string>();
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {select} FROM \"{table.Name}\" ORDER BY rowid";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var row = new StringBuilder();
                for (var i = 0; i < columns.Count; i++)
                {
                    row.Append(columns[i]).Append('=').Append(reader.GetString(2 * i)).Append(':').Append(Describe(reader, (2 * i) + 1)).Append(" | ");
                }

                rows.Add(row.ToString());
            }

            tables[table.Name] = rows;
        }

        string Entry((string Type, string Name, string Table, string? Sql) o) => $"{o.Name} ON {o.Table}: {o.Sql}";
        return new DatabaseSnapshot(
            tables,
            new SortedSet<string>(schema.Where(o => o.Type == "index").Select(Entry), StringComparer.Ordinal),
            new SortedSet<string>(schema.Where(o => o.Type == "trigger").Select(Entry), StringComparer.Ordinal),
            (long)RawSql.Scalar(connection, "PRAGMA user_version")!);
    }

    private static string Describe(SqliteDataReader reader, int i)
    {
        if (reader.IsDBNull(i))
        {
            return "NULL";
        }

        return reader.GetValue(i) switch
        {
            double d => $"{d.ToString("R", CultureInfo.InvariantCulture)}#{BitConverter.DoubleToInt64Bits(d):X16}",
            long l => l.ToString(CultureInfo.InvariantCulture),
            byte[] b => Convert.ToHexString(b),
            var v => Convert.ToString(v, CultureInfo.InvariantCulture)!,
        };
    }

    /// <summary>Asserts table by table and row by row so a failure names the first difference.</summary>
    public static void AssertEqual(DatabaseSnapshot expected, DatabaseSnapshot actual)
    {
        Assert.Equal(expected.Tables.Keys, actual.Tables.Keys);
        foreach (var (table, rows) in expected.Tables)
        {
            var other = actual.Tables[table];
            for (var i = 0; i < Math.Min(rows.Count, other.Count); i++)
            {
                Assert.True(rows[i] == other[i], $"{table} row {i + 1} differs:\nexpected: {rows[i]}\nactual:   {other[i]}");
            }

            Assert.True(rows.Count == other.Count, $"{table}: expected {rows.Count} rows, found {other.Count}.");
        }

        Assert.Equal(expected.Indexes, actual.Indexes);
        Assert.Equal(expected.Triggers, actual.Triggers);
        Assert.Equal(expected.UserVersion, actual.UserVersion);
    }
}

/// <summary>Sample records with every field set (so a lost field shows), and assertions on them.</summary>
internal static class Samples
{
    public static Campaign Campaign(string name = "Curse of Strahd") => new()
    {
        Name = name,
        Description = "Gothic horror in the mists of Barovia",
        System = "dnd5e",
        IsActive = true,
        Settings = JsonNode.Parse("""{"difficulty":"hard","house_rules":["flanking","crit fumbles"]}"""),
        DmId = "dm-42",
        ImagePath = "/images/strahd.png",
        Notes = "Session zero done",
        Status = CampaignStatus.Active,
    };

    public static Character Character(Guid campaignId, string name = "Ireena Kolyana") => new()
    {
        CampaignId = campaignId,
        Name = name,
        Class = "Fighter",
        Race = "Human",
        Level = 5,
        IsPlayerCharacter = true,
        OwnerId = "player-7",
        Stats = JsonNode.Parse("""{"str":16,"dex":12}"""),
        Inventory = JsonNode.Parse("""{"gold":120}"""),
        Spells = JsonNode.Parse("""{}"""),
        Features = JsonNode.Parse("""{"second_wind":true}"""),
        Background = "Noble of Vallaki",
        Personality = JsonNode.Parse("""{"trait":"brave"}"""),
        ImagePath = "/images/ireena.png",
        Notes = "Has a secret",
        Status = CharacterStatus.Active,
    };

    public static Npc Npc(Guid campaignId, string name = "Rictavio") => new()
    {
        CampaignId = campaignId,
        Name = name,
        Race = "Human",
        Class = "Wizard",
        Role = NpcRole.QuestGiver,
        Stats = JsonNode.Parse("""{"cr":6}"""),
        Personality = JsonNode.Parse("""{"mood":"eccentric"}"""),
        Relationships = JsonNode.Parse("""{"ezmerelda":"mentor"}"""),
        Location = "Blue Water Inn",
        ImagePath = "/images/rictavio.png",
        Notes = "Actually Van Richten",
        IsAlive = true,
        Importance = NpcImportance.Major,
    };

    public static Session Session(Guid campaignId, int number = 1) => new()
    {
        CampaignId = campaignId,
        SessionNumber = number,
        Title = $"Session {number}: Into the mists",
        DatePlayed = new DateTimeOffset(2026, 2, 1, 19, 30, 0, TimeSpan.FromHours(1)).AddMilliseconds(250),
        DurationMinutes = 240,
        Summary = "The party entered Barovia",
        Notes = "Bring snacks",
        DmNotes = "Strahd watches",
        Participants = JsonNode.Parse("""["ana","ben"]"""),
        Events = JsonNode.Parse("""[{"what":"wolves"}]"""),
        Loot = JsonNode.Parse("""["silver dagger"]"""),
        ExperienceAwarded = 900,
        Location = "Village of Barovia",
        Status = SessionStatus.Completed,
    };

    public static Rulebook Rulebook(string title = "Player's Handbook") => new()
    {
        Title = title,
        System = "dnd5e",
        Publisher = "Wizards of the Coast",
        Edition = "5th",
        FilePath = "/books/phb.pdf",
        FileSize = 123_456_789,
        FileHash = "ab12",
        PageCount = 320,
        Description = "Core rules",
        Tags = JsonNode.Parse("""["core","rules"]"""),
        IsOfficial = true,
        CopyrightInfo = "(c) WotC",
        AccessLevel = AccessLevel.Private,
    };

    public static PersonalityProfile Profile(Guid? characterId, string name = "Ireena's voice") => new()
    {
        Name = name,
        CharacterId = characterId,
        NpcId = null,
        Traits = JsonNode.Parse("""{"kind":true}"""),
        SpeechPatterns = JsonNode.Parse("""{"formal":true}"""),
        KnowledgeAreas = JsonNode.Parse("""["barovia"]"""),
        Relationships = JsonNode.Parse("""{"ismark":"brother"}"""),
        BackgroundStory = "Adopted by the burgomaster",
        Motivations = JsonNode.Parse("""["escape"]"""),
        FearsAndFlaws = JsonNode.Parse("""["strahd"]"""),
        VoiceSettings = JsonNode.Parse("""{"pitch":1.1}"""),
        ChatHistorySummary = "Talked about the church",
        IsActive = true,
    };

    public static Location Location(Guid campaignId, string name = "Castle Ravenloft", Guid? parent = null) => new()
    {
        CampaignId = campaignId,
        Name = name,
        LocationType = LocationType.Building,
        ParentLocationId = parent,
        Description = "A dark castle on a cliff",
        Population = 100,
        Government = "Tyranny",
        NotableFeatures = JsonNode.Parse("""["crypts","tower"]"""),
        Climate = "Misty",
        Economy = "None",
        Defenses = "Vampire spawn",
        ImagePath = "/images/castle.png",
        MapPath = "/maps/castle.png",
        Coordinates = "12,34",
        Notes = "Do not enter at night",
    };

    public static Item Item(string name = "Sunsword") => new()
    {
        Name = name,
        ItemType = ItemType.Weapon,
        Description = "A sentient blade of sunlight",
        Rarity = Rarity.Legendary,
        ValueGp = 50_000,
        Weight = 3.0,
        Properties = JsonNode.Parse("""{"finesse":true}"""),
        Stats = JsonNode.Parse("""{"damage":"1d8"}"""),
        Requirements = JsonNode.Parse("""{"attunement":true}"""),
        ImagePath = "/images/sunsword.png",
        System = "dnd5e",
        SourceBook = "CoS",
        IsMagical = true,
        IsHomebrew = false,
    };

    public static Spell Spell(string name = "Fireball", int level = 3) => new()
    {
        Name = name,
        Level = level,
        School = SpellSchool.Evocation,
        CastingTime = "1 action",
        Range = "150 feet",
        Components = "V, S, M",
        Duration = "Instantaneous",
        Description = "A bright streak flashes to a point you choose",
        AtHigherLevels = "+1d6 per slot level",
        Classes = JsonNode.Parse("""["sorcerer","wizard"]"""),
        Ritual = false,
        Concentration = false,
        System = "dnd5e",
        SourceBook = "PHB",
        IsHomebrew = false,
    };

    public static Asset Asset(Guid? campaignId, string name = "Map of Barovia") => new()
    {
        CampaignId = campaignId,
        Name = name,
        AssetType = AssetType.Map,
        FilePath = "/assets/barovia.png",
        FileSize = 2048,
        FileHash = "deadbeef",
        MimeType = "image/png",
        Description = "Hand drawn",
        Tags = JsonNode.Parse("""["map"]"""),
        Metadata = JsonNode.Parse("""{"width":800}"""),
        IsPublic = true,
        CopyrightInfo = "CC-BY",
    };

    public static Setting Setting(string key = "theme", string category = "ui") => new()
    {
        Category = category,
        Key = key,
        Value = JsonNode.Parse("""{"name":"dark","contrast":2}"""),
        IsEncrypted = false,
        Description = "Colour theme",
    };

    /// <summary>Every public property is equal (JSON compared structurally); names the first field that differs.</summary>
    public static void AssertSameFields<T>(T expected, T actual)
    {
        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var a = property.GetValue(expected);
            var b = property.GetValue(actual);
            var same = (a, b) switch
            {
                (JsonNode x, JsonNode y) => JsonNode.DeepEquals(x, y),
                (DateTimeOffset x, DateTimeOffset y) => x == y,
                _ => Equals(a, b),
            };
            Assert.True(same, $"{typeof(T).Name}.{property.Name}: expected {Show(a)}, got {Show(b)}");
        }

        static string Show(object? value) => value switch
        {
            null => "null",
            JsonNode n => n.ToJsonString(),
            DateTimeOffset t => t.ToString("O", CultureInfo.InvariantCulture),
            _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        };
    }
}

internal static partial class Patterns
{
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")]
    public static partial Regex Timestamp();

    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    public static partial Regex LowercaseUuid();

    [GeneratedRegex("^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    public static partial Regex SnakeCase();
}

/// <summary>Runs a stock command-line tool (sqlite3) with a file on its standard input.</summary>
internal static class Tool
{
    public static string? FindOnPath(string name)
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = System.IO.Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Runs it; with <paramref name="environment"/>, that is its whole environment (nothing inherited).</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(
        string executable, IEnumerable<string> arguments, string? stdinFile, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            start.Environment.Clear();
            foreach (var (name, value) in environment)
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdinFile is not null)
        {
            await using var input = File.OpenRead(stdinFile);
            await input.CopyToAsync(process.StandardInput.BaseStream);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>Whether this process runs as root (which file permissions do not stop).</summary>
internal static class Privileges
{
    public static bool IsRoot => !OperatingSystem.IsWindows() && Environment.IsPrivilegedProcess;
}

/// <summary>A fact that only means something when file permissions apply, i.e. not as root.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class UnprivilegedFactAttribute : FactAttribute
{
    public UnprivilegedFactAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "Unix permissions only.";
        }
        else if (Privileges.IsRoot)
        {
            Skip = "Running as root: file permissions do not stop root, so a chmod-based read-only folder cannot be produced. See the chattr-based test.";
        }
    }
}

/// <summary>The table, columns and whitelists of every entity store of a database.</summary>
internal sealed record StoreShape(string Table, IReadOnlyList<(string Name, Storage.Internal.ColumnKind Kind, Type Type)> Columns, IReadOnlyCollection<string> Filters, IReadOnlyCollection<string> Sorts);

internal static class Stores
{
    public static IReadOnlyList<StoreShape> All(MdmaiDatabase db) =>
    [
        Shape(db.Campaigns), Shape(db.Characters), Shape(db.Npcs), Shape(db.Sessions), Shape(db.Rulebooks), Shape(db.Profiles),
        Shape(db.Locations), Shape(db.Items), Shape(db.Spells), Shape(db.Assets), Shape(db.Settings),
    ];

    private static StoreShape Shape<T>(EntityStore<T> store) where T : Entity, new() =>
        new(store.TableName, [.. store.Descriptor.Columns.Select(c => (c.Name, c.Kind, c.Property.PropertyType))], store.FilterColumns, store.SortColumns);
}
