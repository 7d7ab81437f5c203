using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

public sealed class SqlDumpTests : IAsyncLifetime, IDisposable
{
    /// <summary>Text that an SQL dump can get wrong: quoting, statement and line boundaries, encodings, NUL.</summary>
    internal static readonly string[] TrickyTexts =
    [
        "O'Brien said \"hi\" '' and ''' -- not a comment",
        "end of statement;\nINSERT INTO campaigns VALUES('x');\n",
        "semicolon at the end of a line;\n-- a comment line\n-- end of mdmai sql dump\nmore after it",
        "line1\nline2\n\nline4\n",
        "windows\r\nline\r\nendings\r\n",
        "a lone\rcarriage return",
        "emoji 🐉🧙‍♂️ and ÄÖÜ ß 日本語 العربية é (e + combining acute)",
        "a NUL \0 inside",
        "\0 NUL first",
        "tab\tbackslash \\ percent % underscore _ dollar $p0 question ?",
        "\u2028 line separator \u2029 paragraph separator \u0085 next line \u000b vt \u000c ff",
        "X'41' CAST( AS TEXT) char(13) ) ; ' ",
        "ends with a semicolon;",
        "ends with a quote'",
        "  surrounded by blanks  ",
        "\n",
        ";",
        "",
    ];

    /// <summary>REAL values that must survive text formatting and SQLite's parser bit for bit.</summary>
    internal static readonly double[] TrickyReals =
    [
        0.1, 1e-300, 123456789.123456789, 3.0, double.MaxValue, 0.0, 1.0 / 3, Math.PI, 1e22, 9007199254740993d, 2.5e-8, 4.35, 100, 1e16,
    ];

    private readonly TempFolder _out = new();
    private TestDatabase _t = null!;

    public async Task InitializeAsync()
    {
        _t = await TestDatabase.OpenAsync();
        await FillAsync(_t.Db);
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    public void Dispose() => _out.Dispose();

    /// <summary>Every entity type, tricky values in text, JSON, integer and REAL columns, and more rows than one INSERT holds.</summary>
    internal static async Task FillAsync(MdmaiDatabase db, bool withCarriageReturns = true)
    {
        var rng = new Random(1234);
        var campaign = await db.Campaigns.CreateAsync(Samples.Campaign("Tricky values"));
        for (var i = 0; i < TrickyTexts.Length; i++)
        {
            var text = withCarriageReturns ? TrickyTexts[i] : TrickyTexts[i].Replace("\r", "", StringComparison.Ordinal);
            var c = Samples.Campaign($"Tricky {i}: {text}");
            c.Description = text;
            c.Notes = text.Length == 0 ? null : text + " trickynote";
            c.Settings = new JsonObject { ["text"] = text, ["n"] = i };
            await db.Campaigns.CreateAsync(c);
            var setting = Samples.Setting($"key {i} {text}", "tricky");
            setting.Value = JsonValue.Create(text);
            await db.Settings.CreateAsync(setting);
        }

        foreach (var weight in TrickyReals)
        {
            var item = Samples.Item($"Weighed {weight.ToString("R", CultureInfo.InvariantCulture)}");
            item.Weight = weight;
            item.ValueGp = rng.Next();
            await db.Items.CreateAsync(item);
        }

        var huge = Samples.Item("Huge numbers");
        huge.ValueGp = long.MaxValue;
        huge.Weight = null;
        await db.Items.CreateAsync(huge);

        var character = await db.Characters.CreateAsync(Samples.Character(campaign.Id));
        var npc = await db.Npcs.CreateAsync(Samples.Npc(campaign.Id));
        await db.Sessions.CreateAsync(Samples.Session(campaign.Id));
        await db.Rulebooks.CreateAsync(Samples.Rulebook());
        await db.Profiles.CreateAsync(Samples.Profile(character.Id));
        var npcProfile = Samples.Profile(null, "Npc voice");
        npcProfile.NpcId = npc.Id;
        await db.Profiles.CreateAsync(npcProfile);
        var parent = await db.Locations.CreateAsync(Samples.Location(campaign.Id, "Barovia"));
        var child = Samples.Location(campaign.Id, "Village", parent.Id);
        child.Population = long.MaxValue;
        await db.Locations.CreateAsync(child);
        await db.Assets.CreateAsync(Samples.Asset(campaign.Id));
        await db.Assets.CreateAsync(Samples.Asset(null, "Loose asset"));
        await db.Spells.BulkInsertAsync(Enumerable.Range(0, 250).Select(i => Samples.Spell($"Spell {i} zorbulate", rng.Next(0, 10))));

        // Some history: updates and deletes leave rowid gaps and audit rows of every kind.
        var doomed = await db.Campaigns.CreateAsync(Samples.Campaign("Doomed"));
        await db.Campaigns.DeleteAsync(doomed.Id);
        var edited = await db.Characters.GetAsync(character.Id);
        edited.Level = 11;
        await db.Characters.UpdateAsync(edited);
    }

    [Fact]
    public async Task Export_writes_the_header_and_the_end_marker()
    {
        var dump = _out.Combine("dump.sql");
        var progress = new RecordingProgress<SqlDumpProgress>();
        var rows = await SqlDump.ExportAsync(_t.Db, dump, progress);

        var lines = await File.ReadAllLinesAsync(dump);
        Assert.Equal(SqlDump.Magic, lines[0]);
        Assert.Equal($"-- format: {SqlDump.FormatVersion}", lines[1]);
        Assert.Equal($"-- schema_version: {MdmaiDatabase.LatestSchemaVersion}", lines[2]);
        Assert.Equal("-- end of mdmai sql dump", lines[^1]);
        Assert.Equal(rows, progress.Reports[^1].Rows);
        Assert.Equal(new FileInfo(dump).Length, progress.Reports[^1].Bytes);
        Assert.True(rows > 250 + TrickyTexts.Length);
        Assert.Equal(["dump.sql"], _out.Files()); // no temp file left beside it
    }

    [Fact]
    public async Task Export_then_import_reproduces_every_table_exactly()
    {
        var dump = _out.Combine("dump.sql");
        await SqlDump.ExportAsync(_t.Db, dump);
        var target = _out.Combine("imported.db");
        var progress = new RecordingProgress<SqlDumpProgress>();

        await SqlDump.ImportAsync(dump, target, progress);

        DatabaseSnapshot.AssertEqual(DatabaseSnapshot.Read(_t.Path), DatabaseSnapshot.Read(target));
        Assert.Equal(new FileInfo(dump).Length, progress.Reports[^1].TotalBytes);
        Assert.DoesNotContain(_out.Files(), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_imported_database_opens_and_reads_back_the_same_records()
    {
        var dump = _out.Combine("dump.sql");
        await SqlDump.ExportAsync(_t.Db, dump);
        var target = _out.Combine("imported.db");
        await SqlDump.ImportAsync(dump, target);

        await using var imported = await MdmaiDatabase.OpenAsync(target);
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await imported.GetSchemaVersionAsync());
        await foreach (var campaign in _t.Db.Campaigns.StreamAsync())
        {
            Samples.AssertSameFields(campaign, await imported.Campaigns.GetAsync(campaign.Id));
        }

        await foreach (var item in _t.Db.Items.StreamAsync())
        {
            Samples.AssertSameFields(item, await imported.Items.GetAsync(item.Id));
        }

        Assert.Equal(250, (await imported.SearchAsync("zorbulate", limit: 1000)).Count);
        Assert.True((await imported.CheckAsync()).Ok);
        var created = await imported.Campaigns.CreateAsync(Samples.Campaign("After the import"));
        Assert.Single(await imported.SearchAsync("after import"));
        Assert.Equal(AuditOperation.Create, Assert.Single((await imported.ListAuditAsync("campaigns", created.Id)).Items).Operation);
    }

    [Theory]
    [MemberData(nameof(TrickyTextIndexes))]
    public async Task Each_tricky_text_survives_the_dump(int index)
    {
        var dump = _out.Combine("dump.sql");
        await SqlDump.ExportAsync(_t.Db, dump);
        var target = _out.Combine("imported.db");
        await SqlDump.ImportAsync(dump, target);

        var text = TrickyTexts[index];
        var hex = Convert.ToHexString(Encoding.UTF8.GetBytes(text));
        using var connection = RawSql.Open(target, readOnly: true);
        var found = RawSql.Column(connection, "SELECT hex(description) FROM campaigns WHERE name LIKE $0", $"Tricky {index}:%");
        Assert.True(found.Count == 1 && found[0] == hex,
            $"text {index} ({Escape(text)}) came back as [{string.Join(", ", found.Select(h => Escape(Encoding.UTF8.GetString(Convert.FromHexString(h)))))}]");
    }

    public static TheoryData<int> TrickyTextIndexes() => [.. Enumerable.Range(0, TrickyTexts.Length)];

    private static string Escape(string text) => text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\0", "\\0", StringComparison.Ordinal);

    [Fact]
    public async Task Real_values_survive_the_dump_bit_for_bit()
    {
        var dump = _out.Combine("dump.sql");
        await SqlDump.ExportAsync(_t.Db, dump);
        var target = _out.Combine("imported.db");
        await SqlDump.ImportAsync(dump, target);

        await using var imported = await MdmaiDatabase.OpenAsync(target);
        var weights = new List<double?>();
        await foreach (var item in imported.Items.StreamAsync())
        {
            weights.Add(item.Weight);
        }

        foreach (var weight in TrickyReals)
        {
            Assert.True(weights.Any(w => w is { } v && BitConverter.DoubleToInt64Bits(v) == BitConverter.DoubleToInt64Bits(weight)),
                $"{weight:R} did not come back exactly; got [{string.Join(", ", weights.Select(w => w?.ToString("R", CultureInfo.InvariantCulture)))}]");
        }

        Assert.Equal("real", RawSql.Scalar(target, "SELECT DISTINCT typeof(weight) FROM items WHERE name = 'Weighed 3'"));
    }

    [Fact]
    public void FormatReal_is_shortest_round_trip_text_that_sqlite_reads_as_real()
    {
        Assert.Equal("3.0", SqlDump.FormatReal(3.0));
        Assert.Equal("0.1", SqlDump.FormatReal(0.1));
        Assert.Equal("0.0", SqlDump.FormatReal(0.0));
        Assert.Equal("1E-300", SqlDump.FormatReal(1e-300));
        foreach (var value in TrickyReals.Append(double.MinValue).Append(-0.5))
        {
            Assert.Equal(value, double.Parse(SqlDump.FormatReal(value), CultureInfo.InvariantCulture));
            using var connection = RawSql.Open(_t.Path, readOnly: true);
            var parsed = (double)RawSql.Scalar(connection, $"SELECT {SqlDump.FormatReal(value)}")!;
            Assert.True(BitConverter.DoubleToInt64Bits(value) == BitConverter.DoubleToInt64Bits(parsed), $"SQLite reads {SqlDump.FormatReal(value)} as {parsed:R}");
        }
    }

    [Fact]
    public async Task The_stock_sqlite3_shell_loads_the_dump_into_an_identical_database()
    {
        var sqlite3 = Tool.FindOnPath("sqlite3");
        Assert.True(sqlite3 is not null, "The stock sqlite3 shell is not on PATH. Install it (apt-get install sqlite3); CI installs it, and this interop test needs it.");
        var dump = _out.Combine("dump.sql");
        await SqlDump.ExportAsync(_t.Db, dump);
        var target = _out.Combine("from-sqlite3.db");

        var (exit, stdout, stderr) = await Tool.RunAsync(sqlite3!, ["-bail", target], dump);

        Assert.True(exit == 0 && stderr.Length == 0, $"sqlite3 exited with {exit}: {stderr}{stdout}");
        Assert.Equal("ok", RawSql.Scalar(target, "PRAGMA integrity_check"));
        DatabaseSnapshot.AssertEqual(DatabaseSnapshot.Read(_t.Path), DatabaseSnapshot.Read(target));

        await using var loaded = await MdmaiDatabase.OpenAsync(target);
        Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await loaded.GetSchemaVersionAsync());
        Assert.Equal(250, (await loaded.SearchAsync("zorbulate", limit: 1000)).Count);
        Assert.Equal(
            (await _t.Db.SearchAsync("trickynote", limit: 1000)).Select(h => h.Id).Order(),
            (await loaded.SearchAsync("trickynote", limit: 1000)).Select(h => h.Id).Order());
        var campaign = (await _t.Db.Campaigns.ListAsync(new ListQuery { Limit = 1 })).Items[0];
        Samples.AssertSameFields(campaign, await loaded.Campaigns.GetAsync(campaign.Id));
    }

    /// <summary>
    /// The same two round trips on data without carriage returns, so that everything else they prove (REAL precision,
    /// NUL, quotes, schema, search) is checked even while a CR is not yet carried through a dump.
    /// </summary>
    [Fact]
    public async Task Without_carriage_returns_both_loaders_reproduce_every_table_exactly()
    {
        await using var t = await TestDatabase.OpenAsync();
        await FillAsync(t.Db, withCarriageReturns: false);
        var dump = _out.Combine("no-cr.sql");
        await SqlDump.ExportAsync(t.Db, dump);
        var expected = DatabaseSnapshot.Read(t.Path);

        var imported = _out.Combine("imported.db");
        await SqlDump.ImportAsync(dump, imported);
        DatabaseSnapshot.AssertEqual(expected, DatabaseSnapshot.Read(imported));

        var sqlite3 = Tool.FindOnPath("sqlite3");
        Assert.True(sqlite3 is not null, "The stock sqlite3 shell is not on PATH. Install it (apt-get install sqlite3); CI installs it, and this interop test needs it.");
        var loaded = _out.Combine("from-sqlite3.db");
        var (exit, stdout, stderr) = await Tool.RunAsync(sqlite3!, ["-bail", loaded], dump);
        Assert.True(exit == 0 && stderr.Length == 0, $"sqlite3 exited with {exit}: {stderr}{stdout}");
        DatabaseSnapshot.AssertEqual(expected, DatabaseSnapshot.Read(loaded));

        await using var db = await MdmaiDatabase.OpenAsync(loaded);
        Assert.Equal(250, (await db.SearchAsync("zorbulate", limit: 1000)).Count);
        Assert.True((await db.CheckAsync()).Ok);
    }

    [Fact]
    public async Task Export_to_a_stream_writes_the_same_dump_as_to_a_file()
    {
        var dump = _out.Combine("dump.sql");
        await SqlDump.ExportAsync(_t.Db, dump);
        using var memory = new MemoryStream();
        await SqlDump.ExportToStreamAsync(_t.Db, memory);

        static string WithoutCreatedAt(string text) => string.Join('\n', text.Split('\n').Where(l => !l.StartsWith("-- created_at:", StringComparison.Ordinal)));
        Assert.Equal(WithoutCreatedAt(await File.ReadAllTextAsync(dump)), WithoutCreatedAt(Encoding.UTF8.GetString(memory.ToArray())));
    }
}

/// <summary>Imports that must be refused and leave nothing behind.</summary>
public sealed class SqlDumpImportErrorTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _out = new();
    private TestDatabase _t = null!;
    private string _dump = null!;

    public async Task InitializeAsync()
    {
        _t = await TestDatabase.OpenAsync();
        var campaign = await _t.Db.Campaigns.CreateAsync(Samples.Campaign());
        await _t.Db.Spells.BulkInsertAsync(Enumerable.Range(0, 300).Select(i => Samples.Spell($"Spell {i}", i % 10)));
        await _t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));
        _dump = _out.Combine("dump.sql");
        await SqlDump.ExportAsync(_t.Db, _dump);
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    public void Dispose() => _out.Dispose();

    private async Task AssertRefusedAsync(string dumpPath, MdmaiErrorCode code)
    {
        var target = _out.Combine("target.db");
        var before = _out.Files();
        var error = await Assert.ThrowsAsync<MdmaiException>(() => SqlDump.ImportAsync(dumpPath, target));
        Assert.Equal(code, error.Code);
        Assert.False(File.Exists(target), "the import left a database behind");
        Assert.Equal(before, _out.Files());
    }

    [Fact]
    public async Task A_plain_sqlite3_dump_is_ForeignFormat()
    {
        var foreign = _out.Combine("plain.sql");
        await File.WriteAllTextAsync(foreign, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(x);\nINSERT INTO t VALUES(1);\nCOMMIT;\n");
        await AssertRefusedAsync(foreign, MdmaiErrorCode.ForeignFormat);
    }

    [Fact]
    public async Task Random_bytes_are_ForeignFormat()
    {
        var bytes = new byte[4096];
        new Random(99).NextBytes(bytes);
        var foreign = _out.Combine("random.sql");
        await File.WriteAllBytesAsync(foreign, bytes);
        await AssertRefusedAsync(foreign, MdmaiErrorCode.ForeignFormat);
    }

    [Fact]
    public async Task An_empty_file_is_ForeignFormat()
    {
        var foreign = _out.Combine("empty.sql");
        await File.WriteAllBytesAsync(foreign, []);
        await AssertRefusedAsync(foreign, MdmaiErrorCode.ForeignFormat);
    }

    [Fact]
    public async Task Our_header_on_a_database_without_mdmai_history_is_ForeignFormat()
    {
        var foreign = _out.Combine("header-only.sql");
        await File.WriteAllTextAsync(foreign, $"{SqlDump.Magic}\n-- format: 1\nBEGIN TRANSACTION;\nCREATE TABLE t(x);\nCOMMIT;\n-- end of mdmai sql dump\n");
        await AssertRefusedAsync(foreign, MdmaiErrorCode.ForeignFormat);
    }

    [Fact]
    public async Task A_newer_format_is_ForeignFormat()
    {
        var newer = _out.Combine("newer.sql");
        var text = await File.ReadAllTextAsync(_dump);
        await File.WriteAllTextAsync(newer, text.Replace($"-- format: {SqlDump.FormatVersion}\n", $"-- format: {SqlDump.FormatVersion + 1}\n", StringComparison.Ordinal));
        await AssertRefusedAsync(newer, MdmaiErrorCode.ForeignFormat);
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.77)]
    [InlineData(0.95)]
    public async Task A_truncated_dump_is_ForeignFormat(double keep)
    {
        var bytes = await File.ReadAllBytesAsync(_dump);
        var truncated = _out.Combine("truncated.sql");
        await File.WriteAllBytesAsync(truncated, bytes.AsSpan(0, (int)(bytes.Length * keep)).ToArray());
        await AssertRefusedAsync(truncated, MdmaiErrorCode.ForeignFormat);
    }

    [Fact]
    public async Task A_dump_cut_just_before_its_end_marker_is_ForeignFormat()
    {
        var text = await File.ReadAllTextAsync(_dump);
        var cut = _out.Combine("no-end.sql");
        await File.WriteAllTextAsync(cut, text[..text.LastIndexOf("-- end of mdmai sql dump", StringComparison.Ordinal)]);
        await AssertRefusedAsync(cut, MdmaiErrorCode.ForeignFormat);
    }

    [Fact]
    public async Task The_untouched_dump_imports()
    {
        var target = _out.Combine("target.db");
        await SqlDump.ImportAsync(_dump, target);
        Assert.Equal(300, RawSql.Count(target, "spells"));
    }

    [Fact]
    public async Task Importing_onto_an_existing_database_is_AlreadyExists_and_leaves_it_alone()
    {
        var target = _out.Combine("existing.db");
        await File.WriteAllTextAsync(target, "precious");
        var error = await Assert.ThrowsAsync<MdmaiException>(() => SqlDump.ImportAsync(_dump, target));
        Assert.Equal(MdmaiErrorCode.AlreadyExists, error.Code);
        Assert.Equal("precious", await File.ReadAllTextAsync(target));

        var live = await Assert.ThrowsAsync<MdmaiException>(() => SqlDump.ImportAsync(_dump, _t.Path));
        Assert.Equal(MdmaiErrorCode.AlreadyExists, live.Code);
    }

    [Fact]
    public async Task A_missing_dump_file_is_NotFound()
    {
        await AssertRefusedAsync(_out.Combine("nowhere.sql"), MdmaiErrorCode.NotFound);
    }

    [Fact]
    public async Task A_dump_with_a_damaged_statement_is_ForeignFormat()
    {
        var text = await File.ReadAllTextAsync(_dump);
        var at = text.IndexOf("INSERT INTO \"spells\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        var damaged = _out.Combine("damaged.sql");
        await File.WriteAllTextAsync(damaged, text[..at] + "INSERT INTOO" + text[(at + "INSERT INTO".Length)..]);
        await AssertRefusedAsync(damaged, MdmaiErrorCode.ForeignFormat);
    }

    public static TheoryData<string, string> HostileStatements() => new()
    {
        { "attach", "ATTACH DATABASE '{0}' AS elsewhere;\nCREATE TABLE elsewhere.planted (x);\n" },
        { "writable_schema", "PRAGMA writable_schema=ON;\nUPDATE sqlite_master SET sql = 'CREATE TABLE spells (x)' WHERE name = 'spells';\n" },
        { "shadow_table", "INSERT INTO search_index_data (id, block) VALUES (999999, x'00');\n" },
        { "other_pragma", "PRAGMA journal_mode=DELETE;\n" },
    };

    [Theory]
    [MemberData(nameof(HostileStatements))]
    public async Task A_dump_that_attaches_files_or_could_corrupt_the_database_is_refused_and_writes_nothing(string kind, string statement)
    {
        // Dumps are SQL from a file someone may hand the user: what could write elsewhere or make an unsound file is refused.
        var planted = _out.Combine($"planted-{kind}.db");
        var text = await File.ReadAllTextAsync(_dump);
        var at = text.IndexOf("PRAGMA user_version=", StringComparison.Ordinal);
        var hostile = _out.Combine($"hostile-{kind}.sql");
        await File.WriteAllTextAsync(hostile, text[..at] + string.Format(System.Globalization.CultureInfo.InvariantCulture, statement, planted) + text[at..]);

        await AssertRefusedAsync(hostile, MdmaiErrorCode.ForeignFormat);
        Assert.False(File.Exists(planted), "an ATTACH in the dump created a file");
    }

    [Fact]
    public async Task A_dump_whose_rows_break_the_schema_is_refused_and_leaves_nothing()
    {
        var text = await File.ReadAllTextAsync(_dump);
        var broken = _out.Combine("broken.sql");
        // A spell level the schema's CHECK forbids, as a hand-edited dump might contain.
        var at = text.IndexOf("INSERT INTO \"spells\"", StringComparison.Ordinal);
        var edited = text[..at] + "INSERT INTO \"spells\" (id, name, level, school, created_at, updated_at, casting_time, range, components, duration, description, system) VALUES ('0195a3c4-7b2e-7c3d-8e4f-5a6b7c8d9e0f', 'x', 42, 'evocation', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '', '', '', '', '', 'dnd5e');\n" + text[at..];
        await File.WriteAllTextAsync(broken, edited);
        var target = _out.Combine("target.db");
        var before = _out.Files();
        var error = await Assert.ThrowsAsync<MdmaiException>(() => SqlDump.ImportAsync(broken, target));
        Assert.Contains(error.Code, new[] { MdmaiErrorCode.ConstraintViolation, MdmaiErrorCode.ForeignFormat });
        Assert.False(File.Exists(target));
        Assert.Equal(before, _out.Files());
    }
}
