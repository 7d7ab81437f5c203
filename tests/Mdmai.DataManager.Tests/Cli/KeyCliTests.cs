using System.Text.Json;

namespace Mdmai.DataManager.Tests.Cli;

public sealed class KeyCliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mdmai-keycli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task<(int Exit, string Out, string Err)> Run(Dictionary<string, string> environment, params string[] args)
    {
        return await CliRunner.RunAsync([.. args, "--data-dir", _root], environment);
    }

    [Fact]
    public async Task Init_encrypt_takes_the_password_from_the_environment_and_turns_encryption_on()
    {
        var (exit, output, error) = await Run(new() { ["MDMAI_PASSWORD"] = "s3cret" }, "init", "--encrypt", "--json");

        Assert.True(exit == 0, error);
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("config").GetProperty("encryption_enabled").GetBoolean());
        Assert.True(File.Exists(Path.Combine(_root, "mdmai.keys")));
    }

    [Fact]
    public async Task Init_encrypt_without_a_password_source_fails_clearly_and_creates_no_key_file()
    {
        var (exit, _, error) = await Run([], "init", "--encrypt");

        Assert.Equal(6, exit);
        Assert.Contains("MDMAI_PASSWORD", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_root, "mdmai.keys")));
    }

    [Fact]
    public async Task Change_password_with_a_wrong_password_exits_17_and_changes_nothing()
    {
        await Run(new() { ["MDMAI_PASSWORD"] = "right" }, "init", "--encrypt");
        var keyFile = Path.Combine(_root, "mdmai.keys");
        var before = await File.ReadAllBytesAsync(keyFile);

        var (exit, _, error) = await Run(new() { ["MDMAI_PASSWORD"] = "wrong", ["MDMAI_NEW_PASSWORD"] = "new" }, "key", "change-password");

        Assert.Equal(17, exit);
        Assert.Contains("Wrong password", error, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(keyFile));
    }

    [Fact]
    public async Task Change_password_then_add_recovery_with_the_new_password()
    {
        await Run(new() { ["MDMAI_PASSWORD"] = "one" }, "init", "--encrypt");
        var passwordFile = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(passwordFile, "two\n");
        try
        {
            var changed = await Run(new() { ["MDMAI_PASSWORD"] = "one" }, "key", "change-password", "--new-password-file", passwordFile);
            var recovery = await Run([], "key", "add-recovery", "--password-file", passwordFile, "--json");
            var status = await Run([], "key", "status", "--json");

            Assert.Equal(0, changed.Exit);
            Assert.Equal(0, recovery.Exit);
            Assert.Equal(64, JsonDocument.Parse(recovery.Out).RootElement.GetProperty("recovery_key").GetString()!.Length);
            Assert.True(JsonDocument.Parse(status.Out).RootElement.GetProperty("has_recovery_key").GetBoolean());
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    [Fact]
    public async Task Key_commands_on_an_unencrypted_folder_say_how_to_encrypt()
    {
        await Run([], "init");

        var (exit, _, error) = await Run([], "key", "status");

        Assert.Equal(5, exit);
        Assert.Contains("init --encrypt", error, StringComparison.Ordinal);
    }
}
