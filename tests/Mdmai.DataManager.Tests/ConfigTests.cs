using System.Text.Json.Nodes;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Tests;

public sealed class ConfigTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string ConfigPath => _folder.Combine(DataFolder.ConfigFileName);

    [Fact]
    public void Defaults_are_those_of_the_original_app()
    {
        var config = new MdmaiConfig();
        Assert.Equal(60, config.AutoBackupIntervalMinutes);
        Assert.Equal(10, config.MaxBackupCount);
        Assert.Equal(500, config.CacheSizeLimitMb);
        Assert.True(config.IntegrityCheckingEnabled);
        Assert.Equal(24, config.IntegrityCheckIntervalHours);
        Assert.Equal(6, config.BackupCompressionLevel);
        Assert.False(config.EncryptionEnabled);
        config.Validate();
    }

    [Fact]
    public async Task Save_then_load_round_trips_with_snake_case_fields()
    {
        var config = new MdmaiConfig
        {
            EncryptionEnabled = true,
            AutoBackupIntervalMinutes = 0,
            MaxBackupCount = 3,
            CacheSizeLimitMb = 1024,
            IntegrityCheckingEnabled = false,
            IntegrityCheckIntervalHours = 8760,
            BackupCompressionLevel = 19,
            BackupRepository = "/mnt/backup-disk/mdmai",
            BackupOnShutdown = true,
            S3PathStyle = false,
            OffsiteRepository = "s3://offsite/mdmai",
        };
        await config.SaveAsync(ConfigPath);

        Assert.Equal(config, await MdmaiConfig.LoadAsync(ConfigPath));
        var json = JsonNode.Parse(await File.ReadAllTextAsync(ConfigPath))!.AsObject();
        Assert.Equal(
            ["auto_backup_interval_minutes", "backup_compression_level", "backup_on_shutdown", "backup_repository", "cache_size_limit_mb", "encryption_enabled", "integrity_check_interval_hours", "integrity_checking_enabled", "max_backup_count", "offsite_repository", "s3_path_style"],
            json.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal([DataFolder.ConfigFileName], _folder.Files()); // written atomically: no temp file left
    }

    [Fact]
    public async Task A_missing_file_loads_the_defaults_and_missing_fields_keep_theirs()
    {
        Assert.Equal(new MdmaiConfig(), await MdmaiConfig.LoadAsync(ConfigPath));
        await File.WriteAllTextAsync(ConfigPath, """{ "max_backup_count": 4 }""");
        Assert.Equal(new MdmaiConfig { MaxBackupCount = 4 }, await MdmaiConfig.LoadAsync(ConfigPath));
    }

    [Theory]
    [InlineData("""{ "max_backup_count": "ten" }""", "max_backup_count")]
    [InlineData("""{ "encryption_enabled": "yes" }""", "encryption_enabled")]
    [InlineData("""{ "cache_size_limit_mb": 1.5 }""", "cache_size_limit_mb")]
    [InlineData("""{ "max_backup_count": 0 }""", "max_backup_count")]
    [InlineData("""{ "backup_compression_level": 20 }""", "backup_compression_level")]
    [InlineData("""{ "auto_backup_interval_minutes": -1 }""", "auto_backup_interval_minutes")]
    [InlineData("""{ "integrity_check_interval_hours": 0 }""", "integrity_check_interval_hours")]
    [InlineData("""{ "cache_size_limit_mb": 99999999 }""", "cache_size_limit_mb")]
    [InlineData("""{ "max_backups": 3 }""", "max_backups")]
    [InlineData("""{ "MaxBackupCount": 3 }""", "MaxBackupCount")]
    public async Task A_bad_field_is_InvalidConfig_naming_it(string json, string field)
    {
        await File.WriteAllTextAsync(ConfigPath, json);
        var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiConfig.LoadAsync(ConfigPath));
        Assert.Equal(MdmaiErrorCode.InvalidConfig, error.Code);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"max_backup_count\": ")]
    [InlineData("not json at all")]
    [InlineData("[]")]
    public async Task A_malformed_file_is_InvalidConfig(string text)
    {
        await File.WriteAllTextAsync(ConfigPath, text);
        var error = await Assert.ThrowsAsync<MdmaiException>(() => MdmaiConfig.LoadAsync(ConfigPath));
        Assert.Equal(MdmaiErrorCode.InvalidConfig, error.Code);
        Assert.Contains(ConfigPath, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Saving_an_invalid_config_is_refused_and_writes_nothing()
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => new MdmaiConfig { BackupCompressionLevel = 0 }.SaveAsync(ConfigPath));
        Assert.Equal(MdmaiErrorCode.InvalidConfig, error.Code);
        Assert.Contains("backup_compression_level", error.Message, StringComparison.Ordinal);
        Assert.Empty(_folder.Files());
    }

    [Fact]
    public void The_default_path_prefers_MDMAI_HOME_then_XDG_DATA_HOME_then_HOME()
    {
        var home = _folder.Combine("home");
        var xdg = _folder.Combine("xdg");
        var mdmai = _folder.Combine("mdmai-home");
        Func<string, string?> Env(params (string Name, string Value)[] values) => name => values.FirstOrDefault(v => v.Name == name).Value;

        Assert.Equal(mdmai, DataFolder.ResolveDefaultPath(Env(("MDMAI_HOME", mdmai), ("XDG_DATA_HOME", xdg), ("HOME", home))));
        Assert.Equal(Path.Combine(xdg, "mdmai"), DataFolder.ResolveDefaultPath(Env(("XDG_DATA_HOME", xdg), ("HOME", home))));
        Assert.Equal(Path.Combine(home, ".local", "share", "mdmai"), DataFolder.ResolveDefaultPath(Env(("HOME", home))));
        Assert.Equal(Path.Combine(xdg, "mdmai"), DataFolder.ResolveDefaultPath(Env(("MDMAI_HOME", ""), ("XDG_DATA_HOME", xdg), ("HOME", home))));
        Assert.Equal(Path.Combine(home, ".local", "share", "mdmai"), DataFolder.ResolveDefaultPath(Env(("MDMAI_HOME", ""), ("XDG_DATA_HOME", ""), ("HOME", home))));
        Assert.True(Path.IsPathFullyQualified(DataFolder.ResolveDefaultPath(Env(("MDMAI_HOME", "relative/dir")))));
    }

    [Fact]
    public async Task Opening_a_folder_that_was_never_initialised_says_to_run_mdmai_init()
    {
        var missing = _folder.Combine("nothing-here");
        var error = await Assert.ThrowsAsync<MdmaiException>(() => DataFolder.OpenAsync(missing));
        Assert.Equal(MdmaiErrorCode.NotInitialized, error.Code);
        Assert.Contains("mdmai init", error.Message, StringComparison.Ordinal);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(missing));

        // A folder with only a config (or only a database) is not initialised either.
        await new MdmaiConfig().SaveAsync(ConfigPath);
        Assert.Equal(MdmaiErrorCode.NotInitialized, (await Assert.ThrowsAsync<MdmaiException>(() => DataFolder.OpenAsync(_folder.Path))).Code);
    }

    [Fact]
    public async Task Init_creates_the_config_and_a_current_database_and_is_safe_to_run_twice()
    {
        var path = _folder.Combine("data");
        var custom = new MdmaiConfig { MaxBackupCount = 42 };

        var first = await DataFolder.InitAsync(path, custom);
        Assert.True(DataFolder.Exists(path));
        Assert.Equal(custom, first.Config);
        await using (var db = await first.OpenDatabaseAsync())
        {
            Assert.Equal(MdmaiDatabase.LatestSchemaVersion, await db.GetSchemaVersionAsync());
            await db.Campaigns.CreateAsync(Samples.Campaign("Kept across init"));
        }

        var second = await DataFolder.InitAsync(path);
        Assert.Equal(custom, second.Config); // an existing valid config is kept
        var opened = await DataFolder.OpenAsync(path);
        Assert.Equal(custom, opened.Config);
        Assert.Equal(Path.Combine(path, DataFolder.DatabaseFileName), opened.DatabasePath);
        await using (var db = await opened.OpenDatabaseAsync())
        {
            Assert.Equal("Kept across init", Assert.Single((await db.Campaigns.ListAsync()).Items).Name);
        }
    }

    [Fact]
    public async Task Init_over_an_invalid_config_is_InvalidConfig()
    {
        await File.WriteAllTextAsync(ConfigPath, """{ "max_backup_count": -5 }""");
        var error = await Assert.ThrowsAsync<MdmaiException>(() => DataFolder.InitAsync(_folder.Path));
        Assert.Equal(MdmaiErrorCode.InvalidConfig, error.Code);
        Assert.Contains("max_backup_count", error.Message, StringComparison.Ordinal);
    }
}
