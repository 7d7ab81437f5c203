using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Tests.Backup;

namespace Mdmai.DataManager.Tests.Cli;

/// <summary>
/// <c>mdmai backup …</c> against a repository in a bucket of the real S3 server (Ceph's gateway on loopback), as a
/// user would run it: credentials and endpoint from the AWS tools' variables, the repository as <c>s3://BUCKET/PREFIX</c>.
/// </summary>
public sealed class S3CliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mdmai-s3cli-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string> _environment;
    private readonly string _bucket;

    public S3CliTests()
    {
        var server = S3TestServer.Require();
        _bucket = S3TestServer.NewBucketName();
        _environment = new Dictionary<string, string>(S3TestServer.CliEnvironment(server))
        {
            ["MDMAI_PASSWORD"] = "hunter2",
            ["XDG_CACHE_HOME"] = Path.Combine(_root, "cache"),
        };
    }

    private string Data => Path.Combine(_root, "data");

    private string Repo => $"s3://{_bucket}/campaigns/gm";

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static Task<(int Exit, string Out, string Err)> Run(string dataDir, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        CliRunner.RunAsync([.. args, "--data-dir", dataDir], environment);

    private async Task<JsonElement> Json(params string[] args) => await JsonIn(Data, _environment, args);

    private static async Task<JsonElement> JsonIn(string dataDir, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var (exit, output, error) = await CliRunner.RunAsync([.. args, "--json", "--data-dir", dataDir], environment);
        Assert.True(exit == 0, $"mdmai {string.Join(' ', args)}: exit {exit}: {error}{output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private async Task InitFolderAsync()
    {
        var (exit, _, error) = await Run(Data, _environment, "init", "--encrypt");
        Assert.True(exit == 0, error);
        await Json("campaign", "add", "--name", "Curse of Strahd", "--system", "dnd5e");
        var files = Path.Combine(_root, "import");
        BackupTesting.Write(Path.Combine(files, "map.bin"), BackupTesting.RandomBytes(3_000_000, 31));
        BackupTesting.Write(Path.Combine(files, "notes.txt"), BackupTesting.Text(400_000, 32));
        await Json("files", "import", files);
    }

    private static long Requests(JsonElement result) => result.GetProperty("requests").GetProperty("total").GetInt64();

    [SkippableFact]
    public async Task Every_backup_command_works_on_an_S3_repository()
    {
        await InitFolderAsync();

        var init = await Json("backup", "init", "--repo", Repo);
        var first = await Json("backup", "create", "--repo", Repo);
        await Json("campaign", "add", "--name", "Tomb of Annihilation", "--system", "dnd5e");
        var second = await Json("backup", "create", "--repo", Repo, "--tag", "session-2");
        var id1 = first.GetProperty("snapshot").GetProperty("id").GetString()!;
        var id2 = second.GetProperty("snapshot").GetProperty("id").GetString()!;
        var list = await Json("backup", "list", "--repo", Repo);
        var show = await Json("backup", "show", id2[..8], "--repo", Repo);
        var diff = await Json("backup", "diff", id1, id2, "--repo", Repo);
        var verify = await Json("backup", "verify", "--read-data", "--subset", "50%", "--repo", Repo);
        var whole = Path.Combine(_root, "whole");
        await Json("backup", "restore", id2, "--target", whole, "--repo", Repo);
        var one = Path.Combine(_root, "one");
        await Json("backup", "restore", id2, "--target", one, "--path", "data/mdmai.json", "--repo", Repo);
        var export = Path.Combine(_root, "campaign.tar.zst");
        await Json("backup", "export", id2, export, "--allow-plaintext", "--repo", Repo);

        Assert.Equal($"s3://{_bucket}/campaigns/gm", init.GetProperty("location").GetString());
        Assert.True(init.GetProperty("encrypted").GetBoolean());
        Assert.True(init.GetProperty("requests").GetProperty("put").GetInt64() >= 2); // the bucket, the key, the config
        Assert.Equal(2, list.GetProperty("total_count").GetInt32());
        Assert.Equal(["session-2"], show.GetProperty("snapshot").GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Contains(diff.GetProperty("items").EnumerateArray(), d => d.GetProperty("path").GetString() == "data/mdmai.db");
        Assert.True(verify.GetProperty("ok").GetBoolean());
        Assert.True(Requests(verify) > 0);
        foreach (var objectFile in Directory.EnumerateFiles(Path.Combine(Data, "objects"), "*", SearchOption.AllDirectories))
        {
            var restored = Path.Combine(whole, "data", Path.GetRelativePath(Data, objectFile));
            Assert.Equal(File.ReadAllBytes(objectFile), File.ReadAllBytes(restored));
        }

        Assert.Equal(["mdmai.json"], Directory.EnumerateFiles(Path.Combine(one, "data")).Select(Path.GetFileName));
        Assert.True(new FileInfo(export).Length > 1_000_000);

        // forget and prune free the first snapshot's data; the bucket holds what the second needs.
        var forget = await Json("backup", "forget", id1, "--repo", Repo);
        var prune = await Json("backup", "prune", "--repo", Repo);
        Assert.Equal(1, forget.GetProperty("total_count").GetInt32());
        Assert.True(Requests(prune) > 0);

        // check and repair read the backups of the folder's repository, here the bucket.
        var configPath = Path.Combine(Data, "mdmai.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["backup_repository"] = Repo;
        File.WriteAllText(configPath, config.ToJsonString());
        var check = await Json("check", "--read-data");
        Assert.True(check.GetProperty("ok").GetBoolean(), check.ToString());
        Assert.Equal(1, (await Json("backup", "list")).GetProperty("total_count").GetInt32());
    }

    [SkippableFact]
    public async Task A_new_machine_restores_the_whole_data_folder_from_the_bucket_alone()
    {
        await InitFolderAsync();
        await Json("backup", "init", "--repo", Repo);
        var snapshot = (await Json("backup", "create", "--repo", Repo)).GetProperty("snapshot").GetProperty("id").GetString()!;
        var reference = Path.Combine(_root, "reference");
        await Json("backup", "restore", snapshot, "--target", reference, "--repo", Repo);

        // The new machine: no data folder, no cache, only the variables and the password.
        var machine = Path.Combine(_root, "new-machine");
        var environment = new Dictionary<string, string>(_environment) { ["XDG_CACHE_HOME"] = Path.Combine(machine, "cache") };
        var newData = Path.Combine(machine, "mdmai");
        var restored = await JsonIn(newData, environment, "backup", "restore", "latest", "--repo", Repo, "--in-place");
        var check = await JsonIn(newData, environment, "check", "--read-data");

        Assert.True(restored.GetProperty("files").GetInt32() >= 4);
        BackupTesting.AssertSameFiles(Path.Combine(reference, "data"), newData, ignore: name => name == ".mdmai.lock" || name.StartsWith("mdmai.db-", StringComparison.Ordinal));
        Assert.True(check.GetProperty("ok").GetBoolean(), check.ToString());
        Assert.Equal(0, check.GetProperty("errors").GetInt32());
        var campaigns = await JsonIn(newData, environment, "campaign", "list");
        Assert.Equal("Curse of Strahd", campaigns.GetProperty("items")[0].GetProperty("name").GetString());
    }

    [SkippableFact]
    public async Task A_backup_that_changed_nothing_costs_at_most_20_requests()
    {
        await InitFolderAsync();
        await Json("backup", "init", "--repo", Repo);
        await Json("backup", "create", "--repo", Repo);
        await Json("backup", "create", "--repo", Repo);

        var third = await Json("backup", "create", "--repo", Repo);

        Assert.Equal(0, third.GetProperty("snapshot").GetProperty("stats").GetProperty("bytes_read").GetInt64());
        Assert.InRange(Requests(third), 1, 20);
    }

    [SkippableFact]
    public async Task Refused_credentials_and_a_missing_bucket_fail_at_once_with_their_own_exit_code()
    {
        await InitFolderAsync();
        await Json("backup", "init", "--repo", Repo);
        var wrongSecret = new Dictionary<string, string>(_environment) { ["AWS_SECRET_ACCESS_KEY"] = "not-the-secret" };
        var unknownKey = new Dictionary<string, string>(_environment) { ["AWS_ACCESS_KEY_ID"] = "NOSUCHKEY0000000" };

        var secret = await Run(Data, wrongSecret, "backup", "list", "--repo", Repo, "--json");
        var key = await Run(Data, unknownKey, "backup", "list", "--repo", Repo);
        var bucket = await Run(Data, _environment, "backup", "list", "--repo", $"s3://{S3TestServer.NewBucketName()}/x");

        var exit = DocumentedExitCodes.For(MdmaiErrorCode.RemoteAccess);
        Assert.Equal(exit, secret.Exit);
        var error = JsonDocument.Parse(secret.Out).RootElement;
        Assert.Contains("secret key", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, Requests(error)); // refused for good: no retry
        Assert.DoesNotContain("not-the-secret", secret.Out + secret.Err, StringComparison.Ordinal);
        Assert.Equal(exit, key.Exit);
        Assert.Contains("access key", key.Err, StringComparison.Ordinal);
        Assert.Equal(exit, bucket.Exit);
        Assert.Contains("There is no bucket", bucket.Err, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Copy_sends_the_local_repository_to_a_bucket_and_back_only_what_is_missing()
    {
        await InitFolderAsync();
        await Json("backup", "create");
        var first = await Json("backup", "copy", "--to", Repo);
        var again = await Json("backup", "copy", "--to", Repo);
        await Json("campaign", "add", "--name", "Out of the Abyss", "--system", "dnd5e");
        await Json("backup", "create");
        var next = await Json("backup", "copy", "--to", Repo);
        var back = Path.Combine(_root, "back");
        var home = await Json("backup", "copy", "--from", Repo, "--to", back);

        Assert.Single(first.GetProperty("copied").EnumerateArray());
        Assert.True(first.GetProperty("same_keys").GetBoolean());
        Assert.True(first.GetProperty("blobs_sent").GetInt64() > 0);
        Assert.Empty(again.GetProperty("copied").EnumerateArray());
        Assert.Equal(0, again.GetProperty("blobs_sent").GetInt64());
        Assert.Single(next.GetProperty("copied").EnumerateArray());
        Assert.InRange(next.GetProperty("blobs_sent").GetInt64(), 1, 10); // the database and the file list, not the files again
        Assert.Equal(2, home.GetProperty("copied").GetArrayLength());
        var restored = Path.Combine(_root, "restored");
        await Json("backup", "restore", "latest", "--target", restored, "--repo", back);
        Assert.True(File.Exists(Path.Combine(restored, "data", "mdmai.db")));
    }

    [SkippableFact]
    public async Task Repair_restores_a_damaged_file_from_the_repository_in_the_bucket()
    {
        await InitFolderAsync();
        var configPath = Path.Combine(Data, "mdmai.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["backup_repository"] = Repo;
        File.WriteAllText(configPath, config.ToJsonString());
        await Json("backup", "init");
        await Json("backup", "create");
        var damaged = Directory.EnumerateFiles(Path.Combine(Data, "objects"), "*", SearchOption.AllDirectories).OrderByDescending(f => new FileInfo(f).Length).First();
        var original = File.ReadAllBytes(damaged);
        var bytes = original.ToArray();
        bytes[bytes.Length / 2] ^= 0x20;
        File.WriteAllBytes(damaged, bytes);

        var before = await Run(Data, _environment, "check", "--read-data", "--json");
        var repair = await Run(Data, _environment, "repair", "--yes", "--json");
        var after = await Json("check", "--read-data");

        Assert.Equal(40, before.Exit); // check failed: the damaged object is named
        Assert.True(repair.Exit == 0, repair.Err + repair.Out);
        Assert.True(after.GetProperty("ok").GetBoolean(), after.ToString());
        Assert.Equal(original, File.ReadAllBytes(damaged));
    }
}
