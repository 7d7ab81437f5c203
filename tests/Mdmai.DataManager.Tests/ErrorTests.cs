using System.Diagnostics;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Tests;

/// <summary>Each failure gets its own code and leaves the data as it was.</summary>
public sealed class ErrorTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(10);

    private static List<string> CampaignNames(string path) => RawSql.Column(path, "SELECT name FROM campaigns ORDER BY name");

    [Fact]
    public async Task A_write_lock_held_by_another_connection_is_DatabaseLocked_and_changes_nothing()
    {
        await using var t = await TestDatabase.OpenAsync(new DatabaseOptions { BusyTimeout = TimeSpan.FromMilliseconds(200) });
        var campaign = await t.Db.Campaigns.CreateAsync(Samples.Campaign("Before"));
        var snapshot = DatabaseSnapshot.Read(t.Path);

        using (var other = RawSql.Open(t.Path))
        {
            RawSql.Execute(other, "BEGIN IMMEDIATE");
            var released = false;
            try
            {
                var attempts = new List<Task>
                {
                    t.Db.Campaigns.CreateAsync(Samples.Campaign("During")),
                    t.Db.Campaigns.DeleteAsync(campaign.Id),
                    t.Db.Spells.BulkInsertAsync(Enumerable.Range(0, 10).Select(i => Samples.Spell($"Spell {i}"))),
                };
                var all = Task.WhenAll(attempts);
                if (await Task.WhenAny(all, Task.Delay(HangGuard)) != all)
                {
                    RawSql.Execute(other, "ROLLBACK");
                    released = true;
                    await Task.WhenAny(all, Task.Delay(HangGuard));
                    Assert.Fail($"Writes waited more than {HangGuard.TotalSeconds} s for a lock held by another connection although busy_timeout is 200 ms; " +
                                "they should have failed with DatabaseLocked. (Microsoft.Data.Sqlite retries SQLITE_BUSY forever when the command timeout is 0.)");
                }

                foreach (var attempt in attempts)
                {
                    var error = await Assert.ThrowsAsync<MdmaiException>(() => attempt);
                    Assert.Equal(MdmaiErrorCode.DatabaseLocked, error.Code);
                    Assert.Contains("another", error.Message, StringComparison.OrdinalIgnoreCase);
                }

                // Readers are not held up by another process's write lock under WAL.
                Assert.Equal("Before", Assert.Single((await t.Db.Campaigns.ListAsync()).Items).Name);
            }
            finally
            {
                if (!released)
                {
                    RawSql.Execute(other, "ROLLBACK");
                }
            }
        }

        DatabaseSnapshot.AssertEqual(snapshot, DatabaseSnapshot.Read(t.Path));

        // Once the lock is gone, the same writer works again.
        await t.Db.Campaigns.CreateAsync(Samples.Campaign("After"));
        Assert.Equal(["After", "Before"], CampaignNames(t.Path));
    }

    [Fact]
    public async Task A_full_database_is_DiskFull_and_commits_nothing()
    {
        await using var t = await TestDatabase.OpenAsync();
        await t.Db.Campaigns.CreateAsync(Samples.Campaign("Before"));

        // SQLITE_FULL without filling a disk: cap the size of the file on the writer's own connection (the limit is per connection).
        var pages = await t.Db.Writer.ExecuteExclusiveAsync(c => (long)RawSql.Scalar(c.Connection, "PRAGMA page_count")!);
        await t.Db.Writer.ExecuteExclusiveAsync(c => RawSql.Scalar(c.Connection, $"PRAGMA max_page_count = {pages + 16}"));

        var big = Enumerable.Range(0, 100).Select(i =>
        {
            var spell = Samples.Spell($"Big {i}");
            spell.Description = new string('x', 16_000) + i;
            return spell;
        }).ToList();
        var error = await Assert.ThrowsAsync<MdmaiException>(() => t.Db.Spells.BulkInsertAsync(big));

        Assert.Equal(MdmaiErrorCode.DiskFull, error.Code);
        Assert.Equal(0, RawSql.Count(t.Path, "spells"));
        Assert.Equal(["Before"], CampaignNames(t.Path));

        // Small writes still fit, and once the cap is lifted the big batch goes in.
        await t.Db.Campaigns.CreateAsync(Samples.Campaign("Small"));
        await t.Db.Writer.ExecuteExclusiveAsync(c => RawSql.Scalar(c.Connection, "PRAGMA max_page_count = 1073741823"));
        Assert.Equal(big.Count, await t.Db.Spells.BulkInsertAsync(big.Select(s => { s.Id = Guid.Empty; return s; })));
    }

    // SQLITE_FULL inside a grouped transaction: the writer must fail only the request that filled the disk and commit
    // the others of its group (SQLite may roll back the whole transaction — then they run again in a new one — or only
    // the statement, as it does here; WriterTests covers the whole rollback by injecting one).
    [Fact]
    public async Task A_request_that_fills_the_database_inside_a_group_commit_fails_alone() =>
        await FillsTheDatabaseAmidSmallWrites(t => t.Db.Spells.BulkInsertAsync(Enumerable.Range(0, 100).Select(i =>
        {
            var spell = Samples.Spell($"Huge {i}");
            spell.Description = new string('y', 16_000) + i;
            return spell;
        })));

    [Fact]
    public async Task A_grouped_create_that_fills_the_database_fails_alone_and_its_group_is_committed() =>
        await FillsTheDatabaseAmidSmallWrites(t =>
        {
            var spell = Samples.Spell("Huge");
            spell.Description = new string('y', 2_000_000);
            return t.Db.Spells.CreateAsync(spell);
        });

    /// <summary>
    /// Caps the database 64 pages above its size, queues ten small creates, the write that cannot fit, and ten more
    /// behind a held writer so they land in one group; then the big write must fail alone with DiskFull.
    /// </summary>
    private static async Task FillsTheDatabaseAmidSmallWrites(Func<TestDatabase, Task> huge)
    {
        await using var t = await TestDatabase.OpenAsync();
        var pages = await t.Db.Writer.ExecuteExclusiveAsync(c => (long)RawSql.Scalar(c.Connection, "PRAGMA page_count")!);
        await t.Db.Writer.ExecuteExclusiveAsync(c => RawSql.Scalar(c.Connection, $"PRAGMA max_page_count = {pages + 64}"));

        using var gate = new ManualResetEventSlim();
        var blocker = t.Db.Writer.ExecuteExclusiveAsync(_ => gate.Wait(HangGuard));
        var small = Enumerable.Range(0, 10).Select(i => t.Db.Campaigns.CreateAsync(Samples.Campaign($"Small {i}"))).ToList();
        var failing = huge(t);
        small.AddRange(Enumerable.Range(10, 10).Select(i => t.Db.Campaigns.CreateAsync(Samples.Campaign($"Small {i}"))));
        gate.Set();
        await blocker;

        Assert.Equal(MdmaiErrorCode.DiskFull, (await Assert.ThrowsAsync<MdmaiException>(() => failing)).Code);
        await Task.WhenAll(small);
        Assert.Equal(20, RawSql.Count(t.Path, "campaigns"));
        Assert.Equal(0, RawSql.Count(t.Path, "spells"));
        Assert.Equal(20, (await t.Db.ListAuditAsync("campaigns")).TotalCount);
    }

    [UnprivilegedFact]
    public async Task A_read_only_data_folder_is_ReadOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // the attribute skips it there
        }

        using var folder = new TempFolder();
        var path = folder.Combine("mdmai.db");
        await (await MdmaiDatabase.OpenAsync(path)).DisposeAsync();
        var before = await File.ReadAllBytesAsync(path);
        foreach (var file in Directory.GetFiles(folder.Path))
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        File.SetUnixFileMode(folder.Path, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDatabase.OpenAsync(path));
        Assert.Equal(MdmaiErrorCode.ReadOnly, error.Code);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    [ImmutableFilesFact]
    public async Task An_immutable_database_is_ReadOnly_even_for_root()
    {
        using var folder = new TempFolder();
        var path = folder.Combine("mdmai.db");
        await (await MdmaiDatabase.OpenAsync(path)).DisposeAsync();
        var before = await File.ReadAllBytesAsync(path);
        Chattr("+i", path);
        Chattr("+i", folder.Path);
        try
        {
            var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDatabase.OpenAsync(path));
            Assert.Equal(MdmaiErrorCode.ReadOnly, error.Code);
        }
        finally
        {
            Chattr("-i", folder.Path);
            Chattr("-i", path);
        }

        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    internal static bool Chattr(string flag, string path, bool throwOnError = true)
    {
        using var process = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && throwOnError)
        {
            throw new InvalidOperationException($"chattr {flag} {path} failed: {stderr}");
        }

        return process.ExitCode == 0;
    }

    [Fact]
    public async Task A_duplicate_session_number_in_a_campaign_is_ConstraintViolation()
    {
        await using var t = await TestDatabase.OpenAsync();
        var campaign = await t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var other = await t.Db.Campaigns.CreateAsync(Samples.Campaign("Other"));
        var first = await t.Db.Sessions.CreateAsync(Samples.Session(campaign.Id, 1));
        var second = await t.Db.Sessions.CreateAsync(Samples.Session(campaign.Id, 2));
        await t.Db.Sessions.CreateAsync(Samples.Session(other.Id, 1)); // same number, other campaign: fine

        var error = await Assert.ThrowsAsync<MdmaiException>(() => t.Db.Sessions.CreateAsync(Samples.Session(campaign.Id, 1)));
        Assert.Equal(MdmaiErrorCode.ConstraintViolation, error.Code);
        Assert.Contains("session_number", error.Message, StringComparison.Ordinal);

        var clash = await t.Db.Sessions.GetAsync(second.Id);
        clash.SessionNumber = 1;
        Assert.Equal(MdmaiErrorCode.ConstraintViolation, (await Assert.ThrowsAsync<MdmaiException>(() => t.Db.Sessions.UpdateAsync(clash))).Code);
        Assert.Equal(2, (await t.Db.Sessions.GetAsync(second.Id)).SessionNumber);
        Assert.Equal(3, RawSql.Count(t.Path, "sessions"));
        Assert.Equal(1, (await t.Db.Sessions.GetAsync(first.Id)).SessionNumber);
    }

    [Fact]
    public async Task A_reference_to_a_missing_record_is_NotFound_naming_its_table()
    {
        await using var t = await TestDatabase.OpenAsync();
        var missing = Guid.NewGuid();
        var error = await Assert.ThrowsAsync<MdmaiException>(() => t.Db.Characters.CreateAsync(Samples.Character(missing)));
        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
        Assert.Contains("campaigns", error.Message, StringComparison.Ordinal);
        Assert.Contains(missing.ToString("D"), error.Message, StringComparison.Ordinal);
        Assert.Equal(0, RawSql.Count(t.Path, "characters"));

        var campaign = await t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var profile = Samples.Profile(missing);
        var profileError = await Assert.ThrowsAsync<MdmaiException>(() => t.Db.Profiles.CreateAsync(profile));
        Assert.Equal(MdmaiErrorCode.NotFound, profileError.Code);
        Assert.Contains("characters", profileError.Message, StringComparison.Ordinal);

        var place = await t.Db.Locations.CreateAsync(Samples.Location(campaign.Id));
        place.ParentLocationId = missing;
        var parentError = await Assert.ThrowsAsync<MdmaiException>(() => t.Db.Locations.UpdateAsync(place));
        Assert.Equal(MdmaiErrorCode.NotFound, parentError.Code);
        Assert.Contains("locations", parentError.Message, StringComparison.Ordinal);
        Assert.Null((await t.Db.Locations.GetAsync(place.Id)).ParentLocationId);
    }

    [Fact]
    public async Task Other_schema_rules_are_ConstraintViolation()
    {
        await using var t = await TestDatabase.OpenAsync();
        var campaign = await t.Db.Campaigns.CreateAsync(Samples.Campaign());
        var character = await t.Db.Characters.CreateAsync(Samples.Character(campaign.Id));
        var npc = await t.Db.Npcs.CreateAsync(Samples.Npc(campaign.Id));
        await t.Db.Settings.CreateAsync(Samples.Setting("theme", "ui"));

        var both = Samples.Profile(character.Id);
        both.NpcId = npc.Id;
        var place = await t.Db.Locations.CreateAsync(Samples.Location(campaign.Id));
        place.ParentLocationId = place.Id;
        var tooHigh = Samples.Character(campaign.Id);
        tooHigh.Level = 101;
        var array = Samples.Campaign();
        array.Settings = System.Text.Json.Nodes.JsonNode.Parse("[1]");

        Task[] attempts =
        [
            t.Db.Profiles.CreateAsync(both),
            t.Db.Locations.UpdateAsync(place),
            t.Db.Characters.CreateAsync(tooHigh),
            t.Db.Settings.CreateAsync(Samples.Setting("theme", "ui")),
            t.Db.Campaigns.CreateAsync(array),
        ];
        foreach (var attempt in attempts)
        {
            var error = await Assert.ThrowsAsync<MdmaiException>(() => attempt);
            Assert.Equal(MdmaiErrorCode.ConstraintViolation, error.Code);
            Assert.Contains("Nothing was written", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, RawSql.Count(t.Path, "personality_profiles"));
        Assert.Equal(1, RawSql.Count(t.Path, "settings"));
        Assert.Equal(1, RawSql.Count(t.Path, "characters"));
    }

    [Fact]
    public async Task A_file_that_is_not_sqlite_is_Corrupt_and_left_untouched()
    {
        using var folder = new TempFolder();
        var path = folder.Combine("mdmai.db");
        var bytes = new byte[8192];
        new Random(5).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDatabase.OpenAsync(path));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
        Assert.Equal(["mdmai.db"], folder.Files());
    }

    [Fact]
    public async Task A_text_file_as_database_is_Corrupt()
    {
        using var folder = new TempFolder();
        var path = folder.Combine("notes.txt");
        await File.WriteAllTextAsync(path, "These are my campaign notes, not a database.\n".PadRight(2000, '.'));
        Assert.Equal(MdmaiErrorCode.Corrupt, (await Assert.ThrowsAsync<MdmaiException>(() => MdmaiDatabase.OpenAsync(path))).Code);
    }

    [Fact]
    public async Task A_database_with_damaged_pages_is_reported()
    {
        using var folder = new TempFolder();
        var path = folder.Combine("mdmai.db");
        await using (var db = await MdmaiDatabase.OpenAsync(path))
        {
            await db.Spells.BulkInsertAsync(Enumerable.Range(0, 200).Select(i => Samples.Spell($"Spell {i}", i % 10)));
            await db.MaintainAsync();
        }

        var bytes = await File.ReadAllBytesAsync(path);
        var pageSize = (bytes[16] << 8) | bytes[17];
        var garbage = new byte[bytes.Length - (pageSize * 4)];
        new Random(11).NextBytes(garbage);
        garbage.CopyTo(bytes, pageSize * 4);
        await File.WriteAllBytesAsync(path, bytes);

        // Either opening fails as Corrupt, or the check finds the damage; the damage never goes unnoticed.
        try
        {
            await using var db = await MdmaiDatabase.OpenAsync(path, new DatabaseOptions { Migrate = false });
            var check = await db.CheckAsync();
            Assert.False(check.Ok);
        }
        catch (MdmaiException ex)
        {
            Assert.Equal(MdmaiErrorCode.Corrupt, ex.Code);
        }
    }
}

/// <summary>A fact for root only, where <c>chattr +i</c> works (file permissions do not stop root, the immutable flag does).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class ImmutableFilesFactAttribute : FactAttribute
{
    public ImmutableFilesFactAttribute()
    {
        if (!Privileges.IsRoot)
        {
            Skip = "Not root: the chmod-based read-only test covers this.";
            return;
        }

        var probe = Path.Combine(Path.GetTempPath(), "mdmai-chattr-probe-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(probe, "probe");
        try
        {
            if (Tool.FindOnPath("chattr") is null || !ErrorTests.Chattr("+i", probe, throwOnError: false))
            {
                Skip = "Running as root on a file system without chattr +i: no way to make a file read-only for root here.";
            }
        }
        finally
        {
            if (Tool.FindOnPath("chattr") is not null)
            {
                ErrorTests.Chattr("-i", probe, throwOnError: false);
            }

            File.Delete(probe);
        }
    }
}
