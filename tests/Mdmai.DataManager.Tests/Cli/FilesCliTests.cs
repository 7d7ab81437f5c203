using System.Text.Json;

namespace Mdmai.DataManager.Tests.Cli;

public sealed class FilesCliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mdmai-filescli-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string> _environment = new() { ["MDMAI_PASSWORD"] = "hunter2" };

    private string Data => Path.Combine(_root, "data");

    public void Dispose() => Directory.Delete(_root, recursive: true);

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

    private string Input(string name, byte[] content)
    {
        var path = Path.Combine(_root, "in", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Import_ls_export_and_verify_round_trip(bool encrypted)
    {
        await Run(encrypted ? ["init", "--encrypt"] : ["init"]);
        var content = new byte[300_000];
        new Random(5).NextBytes(content);
        Input("books/phb.pdf", content);
        Input("books/phb-copy.pdf", content);

        var imported = await Json("files", "import", Path.Combine(_root, "in"), "--category", "rulebook");
        var listing = await Json("files", "ls", "--sort", "name", "--asc");
        var id = listing.GetProperty("items")[0].GetProperty("id").GetString()!;
        var exported = await Json("files", "export", id, Path.Combine(_root, "out.pdf"));
        var verify = await Json("files", "verify");
        var stats = await Json("files", "stats");

        Assert.Equal(2, imported.GetProperty("imported").GetArrayLength());
        Assert.Equal(2, listing.GetProperty("total_count").GetInt64());
        Assert.Equal("rulebook", listing.GetProperty("items")[0].GetProperty("category").GetString());
        Assert.Equal(content, await File.ReadAllBytesAsync(exported.GetProperty("path").GetString()!));
        Assert.True(verify.GetProperty("ok").GetBoolean());
        Assert.Equal(1, stats.GetProperty("objects").GetInt64());
        Assert.Equal(content.Length, stats.GetProperty("dedup_saved_bytes").GetInt64());
    }

    [Fact]
    public async Task Verify_exits_non_zero_and_names_a_damaged_object()
    {
        await Run("init");
        var content = new byte[50_000];
        new Random(9).NextBytes(content);
        Input("map.bin", content);
        await Json("files", "import", Path.Combine(_root, "in", "map.bin"));
        var objectFile = Directory.GetFiles(Path.Combine(Data, "objects"), "*", SearchOption.AllDirectories).Single();
        var bytes = await File.ReadAllBytesAsync(objectFile);
        bytes[10] ^= 1;
        await File.WriteAllBytesAsync(objectFile, bytes);

        var (exit, output, _) = await Run("files", "verify");

        Assert.Equal(40, exit);
        Assert.Contains(Path.GetFileName(objectFile), output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_encrypted_store_with_a_wrong_password_exits_17()
    {
        await Run("init", "--encrypt");
        Input("a.txt", "secret notes"u8.ToArray());
        _environment["MDMAI_PASSWORD"] = "wrong";

        var (exit, _, error) = await Run("files", "import", Path.Combine(_root, "in", "a.txt"));

        Assert.Equal(17, exit);
        Assert.Contains("Wrong password", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_partly_failed_import_lists_the_failures_and_exits_41()
    {
        await Run("init");
        Input("ok.txt", "fine"u8.ToArray());

        var (exit, output, _) = await Run("files", "import", Path.Combine(_root, "in", "ok.txt"), Path.Combine(_root, "nope.txt"));

        Assert.Equal(41, exit);
        Assert.Contains("nope.txt", output, StringComparison.Ordinal);
        Assert.Contains("Imported 1 file", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rm_needs_yes_and_then_removes()
    {
        await Run("init");
        Input("x.txt", "x"u8.ToArray());
        var imported = await Json("files", "import", Path.Combine(_root, "in", "x.txt"));
        var id = imported.GetProperty("imported")[0].GetProperty("file").GetProperty("id").GetString()!;

        Assert.Equal(6, (await Run("files", "rm", id)).Exit);
        Assert.Equal(0, (await Run("files", "rm", id, "--yes")).Exit);
        Assert.Equal(0, (await Json("files", "ls")).GetProperty("total_count").GetInt64());
        Assert.Empty(Directory.GetFiles(Path.Combine(Data, "objects"), "*", SearchOption.AllDirectories));
    }
}
