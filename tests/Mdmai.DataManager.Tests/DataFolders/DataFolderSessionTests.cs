using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Tests.Cli;

namespace Mdmai.DataManager.Tests.DataFolders;

/// <summary>
/// The one way to open a data folder: what it opens, which lock it takes, and that a failure half-way leaves nothing
/// held and nothing created.
/// </summary>
public sealed class DataFolderSessionTests : IDisposable
{
    private readonly TempFolder _temp = new();

    private string Data => Path.Combine(_temp.Path, "data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_missing_folder_is_NotInitialized_and_is_not_created()
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => DataFolderSession.OpenAsync(Data));

        Assert.Equal(MdmaiErrorCode.NotInitialized, error.Code);
        Assert.Contains("mdmai init", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Data));
    }

    [Fact]
    public async Task Shared_holders_open_together_and_an_exclusive_one_is_refused_naming_the_holder()
    {
        await using (await DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { CreateIfMissing = true }))
        {
        }

        await using var first = await DataFolderSession.OpenAsync(Data);
        await using var second = await DataFolderSession.OpenAsync(Data);
        Assert.Equal(FolderAccess.Shared, second.Access);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { Access = FolderAccess.Exclusive }));
        Assert.Equal(MdmaiErrorCode.Locked, error.Code);
        Assert.Contains($"process {Environment.ProcessId}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_exclusive_holder_refuses_shared_ones_until_it_closes()
    {
        await using (var alone = await DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { CreateIfMissing = true, Access = FolderAccess.Exclusive }))
        {
            var error = await Assert.ThrowsAsync<MdmaiException>(() => DataFolderSession.OpenAsync(Data));
            Assert.Equal(MdmaiErrorCode.Locked, error.Code);
            Assert.Contains("held alone", error.Message, StringComparison.Ordinal);
            await alone.Database.Campaigns.CreateAsync(Samples.Campaign()); // the holder goes on
        }

        await using var after = await DataFolderSession.OpenAsync(Data);
        Assert.Equal(1, (await after.Database.Campaigns.ListAsync()).TotalCount);
    }

    [Fact]
    public async Task An_encrypted_folder_without_a_password_is_WrongPassword_and_lets_go_of_the_lock()
    {
        await using (var created = await DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { CreateIfMissing = true }))
        {
            await created.Folder.EnableEncryptionAsync("correct horse", new KdfParameters(8 * 1024, 1));
        }

        var missing = await Assert.ThrowsAsync<MdmaiException>(() => DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { Access = FolderAccess.Exclusive }));
        var wrong = await Assert.ThrowsAsync<MdmaiException>(() => DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { Access = FolderAccess.Exclusive, Password = () => "battery staple" }));

        Assert.Equal(MdmaiErrorCode.WrongPassword, missing.Code);
        Assert.Equal(MdmaiErrorCode.WrongPassword, wrong.Code);
        await using (var unlocked = await DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { Access = FolderAccess.Exclusive, Password = () => "correct horse" }))
        {
            Assert.NotNull(unlocked.Keys);
        }

        // Opened without unlocking, nothing asks for the password.
        var asked = false;
        await using var sealedOnly = await DataFolderSession.OpenAsync(Data, new DataFolderSessionOptions { Unlock = false, Password = () => { asked = true; return ""; } });
        Assert.False(asked);
        Assert.Null(sealedOnly.Keys);
    }

    [Fact]
    public async Task The_cli_is_refused_while_the_app_has_the_folder_and_works_once_it_closed()
    {
        var env = new Dictionary<string, string> { ["MDMAI_HOME"] = Data };
        await using (await MdmaiDataManager.OpenAsync(new DataManagerOptions { DataFolder = Data, BackgroundWork = false }))
        {
            var (exit, json, _) = await CliRunner.RunAsync(["campaign", "list", "--json"], env);
            Assert.Equal(DocumentedExitCodes.For(MdmaiErrorCode.Locked), exit);
            Assert.Contains("\"code\": \"locked\"", json, StringComparison.Ordinal);
            Assert.Contains($"held alone by another process (process {Environment.ProcessId})", json, StringComparison.Ordinal);
        }

        var (after, output, _) = await CliRunner.RunAsync(["campaign", "list", "--json"], env);
        Assert.Equal(0, after);
        Assert.Contains("\"total_count\": 0", output, StringComparison.Ordinal);
    }
}
