using System.Text.Json;

namespace Mdmai.DataManager.Tests.Cli;

/// <summary><c>mdmai backup …</c> run in-process against a real data folder and its repository in a temp directory.</summary>
public sealed class BackupCliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mdmai-backupcli-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string> _environment = new() { ["MDMAI_PASSWORD"] = "hunter2" };

    private string Data => Path.Combine(_root, "data");

    private string Repository => Path.Combine(Data, "backups");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        return await CliRunner.RunAsync([.. args, "--data-dir", Data], _environment);
    }

    private async Task<JsonElement> Json(params string[] args)
    {
        var (exit, output, error) = await Run([.. args, "--json"]);
        Assert.True(exit == 0, $"exit {exit}: {error}{output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private async Task InitAsync(bool encrypted = false)
    {
        var (exit, _, error) = await Run(encrypted ? ["init", "--encrypt"] : ["init"]);
        Assert.True(exit == 0, error);
        await Json("campaign", "add", "--name", "Lost Mine", "--system", "dnd5e");
    }

    private static int ExitFor(MdmaiErrorCode code) => DocumentedExitCodes.For(code);

    [Fact]
    public async Task Create_list_verify_and_restore_round_trip()
    {
        await InitAsync();

        var created = await Json("backup", "create", "--tag", "weekly", "--tag", "before-session", "--description", "session 12");
        var listing = await Json("backup", "list");
        var verify = await Json("backup", "verify", "--read-data");
        var id = created.GetProperty("snapshot").GetProperty("id").GetString()!;
        var target = Path.Combine(_root, "restored");
        var restored = await Json("backup", "restore", id[..8], "--target", target);

        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.Equal(0, created.GetProperty("errors").GetArrayLength());
        Assert.Equal(1, listing.GetProperty("total_count").GetInt32());
        var item = Assert.Single(listing.GetProperty("items").EnumerateArray());
        Assert.Equal(id, item.GetProperty("id").GetString());
        Assert.True(item.GetProperty("time").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal(["weekly", "before-session"], item.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("manual", item.GetProperty("kind").GetString());
        Assert.Equal("session 12", item.GetProperty("description").GetString());
        Assert.True(item.GetProperty("stats").GetProperty("files").GetInt64() >= 2);
        Assert.True(verify.GetProperty("ok").GetBoolean());
        Assert.True(verify.GetProperty("blobs_read").GetInt64() > 0);
        Assert.Equal(item.GetProperty("stats").GetProperty("files").GetInt64(), restored.GetProperty("files").GetInt64());
        Assert.Equal(["Lost Mine"], RawSql.Column(Path.Combine(target, "data", "mdmai.db"), "SELECT name FROM campaigns"));
        Assert.False(Directory.Exists(Path.Combine(target, "data", "backups")), "the repository is not backed up into itself");
    }

    [Fact]
    public async Task Verify_exits_0_and_a_second_backup_of_unchanged_data_reads_nothing()
    {
        await InitAsync();
        var first = await Json("backup", "create");
        var second = await Json("backup", "create");

        var (exit, output, _) = await Run("backup", "verify");

        Assert.Equal(0, exit);
        Assert.Contains("No errors found.", output, StringComparison.Ordinal);
        Assert.Equal(first.GetProperty("snapshot").GetProperty("id").GetString(), second.GetProperty("snapshot").GetProperty("parent").GetString());
        var stats = second.GetProperty("snapshot").GetProperty("stats");
        Assert.Equal(0, stats.GetProperty("changed_files").GetInt64()); // not even the database: not one commit since
        Assert.Equal(0, stats.GetProperty("bytes_read").GetInt64());
        Assert.Equal(stats.GetProperty("files").GetInt64(), stats.GetProperty("unchanged_files").GetInt64());
    }

    [Fact]
    public async Task A_wrong_password_exits_with_the_wrong_password_code_and_opens_nothing()
    {
        await InitAsync(encrypted: true);
        await Json("backup", "create");
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(Repository, "keys")));
        _environment["MDMAI_PASSWORD"] = "wrong";

        var (listExit, _, listError) = await Run("backup", "list");
        var (restoreExit, _, _) = await Run("backup", "restore", "latest", "--target", Path.Combine(_root, "restored"));

        Assert.Equal(ExitFor(MdmaiErrorCode.WrongPassword), listExit);
        Assert.Contains("Wrong password", listError, StringComparison.Ordinal);
        Assert.Equal(ExitFor(MdmaiErrorCode.WrongPassword), restoreExit);
        Assert.False(Directory.Exists(Path.Combine(_root, "restored")));
    }

    [Fact]
    public async Task Verify_with_read_data_exits_40_and_names_a_damaged_pack()
    {
        await InitAsync();
        await Json("backup", "create");
        var pack = Directory.GetFiles(Path.Combine(Repository, "data"), "*", SearchOption.AllDirectories).First();
        var bytes = await File.ReadAllBytesAsync(pack);
        var blobsEnd = bytes.Length - 12 - BitConverter.ToInt32(bytes, bytes.Length - 12); // before the sealed header and the trailer
        foreach (var at in new[] { blobsEnd / 4, blobsEnd / 2, blobsEnd * 3 / 4 })
        {
            bytes[at] ^= 0x01;
        }

        await File.WriteAllBytesAsync(pack, bytes);

        var (structuralExit, _, _) = await Run("backup", "verify");
        var (exit, output, _) = await Run("backup", "verify", "--read-data");
        var (jsonExit, json, _) = await Run("backup", "verify", "--read-data", "--json");

        Assert.Equal(0, structuralExit); // a blob's bytes are only checked when they are read
        Assert.Equal(40, exit);
        Assert.Contains(Path.GetFileName(pack), output, StringComparison.Ordinal);
        Assert.Equal(40, jsonExit);
        var report = JsonDocument.Parse(json).RootElement;
        Assert.False(report.GetProperty("ok").GetBoolean());
        Assert.Contains(Path.GetFileName(pack), report.GetProperty("errors")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forget_with_a_policy_then_prune_leaves_the_newest_snapshot()
    {
        await InitAsync();
        for (var i = 0; i < 3; i++)
        {
            await Json("backup", "create");
            Assert.Equal(0, (await Run("campaign", "add", "--name", $"Campaign {i}", "--system", "dnd5e")).Exit); // a new database each time
        }

        var forgot = await Json("backup", "forget", "--keep-last", "1");
        var pruned = await Json("backup", "prune");
        var listing = await Json("backup", "list");

        Assert.Equal(2, forgot.GetProperty("total_count").GetInt32());
        Assert.True(pruned.GetProperty("blobs_removed").GetInt64() > 0);
        Assert.Equal(1, listing.GetProperty("total_count").GetInt32());
        Assert.Equal(0, (await Run("backup", "verify", "--read-data")).Exit);
    }

    [Fact]
    public async Task Forget_without_a_rule_or_an_id_is_refused()
    {
        await InitAsync();
        await Json("backup", "create");

        var (exit, _, error) = await Run("backup", "forget");

        Assert.Equal(ExitFor(MdmaiErrorCode.InvalidArgument), exit);
        Assert.Contains("--keep-", error, StringComparison.Ordinal);
        Assert.Equal(1, (await Json("backup", "list")).GetProperty("total_count").GetInt32());
    }

    [Theory]
    [InlineData("restore", "latest")]
    [InlineData("restore", "latest", "--in-place", "--target", "x")]
    public async Task Restore_needs_exactly_one_of_target_or_in_place(params string[] args)
    {
        await InitAsync();
        await Json("backup", "create");

        var (exit, _, _) = await Run(["backup", .. args]);

        Assert.Equal(ExitFor(MdmaiErrorCode.InvalidArgument), exit);
    }

    [Fact]
    public async Task Listing_a_folder_without_a_repository_says_so()
    {
        await InitAsync();

        var (exit, _, error) = await Run("backup", "list");

        Assert.Equal(ExitFor(MdmaiErrorCode.NotFound), exit);
        Assert.Contains("backup create", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Repository));
    }

    [Fact]
    public async Task Restore_in_place_brings_the_database_back()
    {
        await InitAsync();
        var id = (await Json("backup", "create")).GetProperty("snapshot").GetProperty("id").GetString()!;
        await Json("campaign", "add", "--name", "Added later", "--system", "dnd5e");

        var (exit, _, error) = await Run("backup", "restore", id, "--in-place");

        Assert.True(exit == 0, error);
        Assert.Equal(1, (await Json("campaign", "list")).GetProperty("total_count").GetInt64());
        var kinds = (await Json("backup", "list")).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("kind").GetString());
        Assert.Equal(["manual", "pre_restore"], kinds);
    }
}
