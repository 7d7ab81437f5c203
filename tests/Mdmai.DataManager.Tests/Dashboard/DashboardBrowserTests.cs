using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.IO.Hashing;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Storage.Entities;
using Microsoft.Playwright;

namespace Mdmai.DataManager.Tests.Dashboard;

/// <summary>
/// The dashboard as a user meets it, in real headless Chromium (Debian's, driven by Playwright): signing in through the
/// printed URL, then clicking through campaign data, files, backups and integrity. Where Chromium is not installed the
/// tests are skipped with the reason — except with <c>MDMAI_BROWSER_REQUIRED=1</c> (CI), where they fail.
/// With <c>MDMAI_SCREENSHOTS=DIR</c> each screen is saved there as a PNG (docs/screenshots holds the committed ones).
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly float Wait = 30_000;

    private DashboardHost? _host;
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private IPage _page = null!;
    private readonly List<string> _errors = [];

    private static string? Unavailable =>
        File.Exists(Chromium) || Environment.GetEnvironmentVariable("MDMAI_BROWSER_REQUIRED") == "1"
            ? null
            : $"No browser: Debian's Chromium is not at {Chromium} (apt-get install chromium; .ci/run installs it).";

    public async Task InitializeAsync()
    {
        if (Unavailable is not null)
        {
            return;
        }

        _host = await DashboardHost.StartAsync();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { AcceptDownloads = true, ReducedMotion = ReducedMotion.Reduce, ViewportSize = new ViewportSize { Width = 1200, Height = 860 } });
        _page = await context.NewPageAsync();
        _page.SetDefaultTimeout(Wait);
        _page.PageError += (_, error) => _errors.Add($"page error: {error}");
        _page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                _errors.Add($"console: {message.Text}");
            }
        };
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private DashboardHost Host => _host ?? throw new SkipException(Unavailable!);

    private async Task SignInAsync()
    {
        await _page.GotoAsync(Host.Server.SignInUrl.ToString());
        try
        {
            await _page.WaitForSelectorAsync("main[data-screen='overview']");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"The overview did not show: {string.Join("; ", _errors)}; page: {await _page.ContentAsync()}", ex);
        }
    }

    private async Task ShotAsync(string name)
    {
        if (Environment.GetEnvironmentVariable("MDMAI_SCREENSHOTS") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            await _page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
        }
    }

    private async Task GoAsync(string hash, string screen)
    {
        await _page.GotoAsync(new Uri(Host.Url, hash).ToString());
        await _page.WaitForSelectorAsync($"main[data-screen='{screen}']");
    }

    [SkippableFact]
    public async Task Signing_in_through_the_printed_URL_shows_the_overview_and_takes_the_token_out_of_the_address_bar()
    {
        _ = Host;
        await SignInAsync();

        Assert.DoesNotContain(Host.Server.Token, _page.Url, StringComparison.Ordinal);
        Assert.Equal(Host.Url.ToString(), _page.Url);
        await Assertions.Expect(_page.Locator("main")).ToContainTextAsync("Overview");
        await Assertions.Expect(_page.Locator("main")).ToContainTextAsync("Store growth");
        await ShotAsync("signed-in");

        // A second browser without the cookie sees no data.
        var stranger = await _browser!.NewPageAsync();
        var response = await stranger.GotoAsync(Host.Url.ToString());
        Assert.Equal(401, response!.Status);
        Assert.DoesNotContain("Curse of Strahd", await stranger.ContentAsync(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_campaign_created_on_the_page_is_found_by_search_with_the_match_marked()
    {
        _ = Host;
        await SignInAsync();
        await GoAsync("#/data?type=campaign", "data");

        await _page.ClickAsync("text=New campaign");
        await _page.FillAsync("#f-name", "Tomb of Annihilation");
        await _page.FillAsync("#f-system", "dnd5e");
        await _page.ClickAsync("dialog button.primary");
        await Assertions.Expect(_page.Locator("main table")).ToContainTextAsync("Tomb of Annihilation");
        await ShotAsync("campaign-created");

        await _page.FillAsync("input[type=search]", "annihilation");
        await _page.PressAsync("input[type=search]", "Enter");
        var results = _page.Locator("#search-results");
        await Assertions.Expect(results).ToContainTextAsync("Tomb of Annihilation");
        Assert.Equal("Annihilation", await results.Locator("mark").First.TextContentAsync());
        Assert.Equal(2, (await Host.Manager.Storage.Campaigns.ListAsync()).TotalCount);
    }

    [SkippableFact]
    public async Task A_file_uploaded_on_the_page_downloads_back_byte_exact()
    {
        _ = Host;
        var content = new byte[2_500_000];
        new Random(21).NextBytes(content);
        var source = Path.Combine(Host.Temp, "handout-dragon.bin");
        await File.WriteAllBytesAsync(source, content);
        await SignInAsync();
        await GoAsync("#/files", "files");

        await _page.SetInputFilesAsync("#dropzone input[type=file]", source);
        await _page.WaitForSelectorAsync("[data-upload='handout-dragon.bin'][data-state='done']");
        await _page.WaitForSelectorAsync("#file-list tr:has-text('handout-dragon.bin')");
        await ShotAsync("file-uploaded");
        var download = await _page.RunAndWaitForDownloadAsync(() => _page.ClickAsync("#file-list tr:has-text('handout-dragon.bin') a[data-download]"));
        var saved = Path.Combine(Host.Temp, "downloaded.bin");
        await download.SaveAsAsync(saved);

        Assert.Equal("handout-dragon.bin", download.SuggestedFilename);
        Assert.Equal(content, await File.ReadAllBytesAsync(saved));
    }

    [SkippableFact]
    public async Task A_backup_started_on_the_page_shows_its_progress_to_the_end_and_its_snapshot_is_browsed_and_a_file_downloaded()
    {
        _ = Host;
        await SignInAsync();
        await GoAsync("#/backups", "backups");

        await _page.ClickAsync("#backup-now");
        var job = _page.Locator(".job[data-state='succeeded']");
        await job.WaitForAsync();
        Assert.Equal("100%", await job.Locator(".progress > div").EvaluateAsync<string>("e => e.style.width"));
        await _page.WaitForSelectorAsync("main[data-screen='backups'] table tbody tr.clickable");
        await ShotAsync("backup-made");

        await _page.ClickAsync("main table tbody tr.clickable");
        await _page.WaitForSelectorAsync("#snapshot-browser");
        await _page.ClickAsync("#snapshot-browser a:text-is('data/')");
        await _page.WaitForSelectorAsync("#snapshot-browser input[data-path='data/mdmai.json']");
        await ShotAsync("snapshot-opened");
        await _page.CheckAsync("#snapshot-browser input[data-path='data/mdmai.json']");
        var download = await _page.RunAndWaitForDownloadAsync(() => _page.ClickAsync("#download-selected"));
        var saved = Path.Combine(Host.Temp, "selection.tar");
        await download.SaveAsAsync(saved);

        await using var archive = new TarReader(File.OpenRead(saved));
        var entry = await archive.GetNextEntryAsync();
        Assert.Equal("data/mdmai.json", entry!.Name);
        using var copy = new MemoryStream();
        await entry.DataStream!.CopyToAsync(copy);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(Host.DataFolder, "mdmai.json")), copy.ToArray());
        Assert.Null(await archive.GetNextEntryAsync());
    }

    [SkippableFact]
    public async Task A_screen_whose_data_comes_late_does_not_replace_the_one_the_user_went_on_to()
    {
        _ = Host;
        await SignInAsync();

        // The overview's answer held back (as on a big library), and the user goes on to the files before it comes.
        var held = new TaskCompletionSource();
        var overviewAsked = new TaskCompletionSource();
        await _page.RouteAsync("**/api/v1/overview", async r =>
        {
            overviewAsked.TrySetResult();
            await held.Task;
            await r.ContinueAsync();
        });
        await _page.GotoAsync(new Uri(Host.Url, "#/backups").ToString());
        await _page.WaitForSelectorAsync("main[data-screen='backups']");
        await _page.GotoAsync(new Uri(Host.Url, "#/overview").ToString());
        await overviewAsked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await GoAsync("#/files", "files");
        var late = _page.WaitForResponseAsync("**/api/v1/overview");
        held.SetResult();

        // The late overview lands and is dropped: the files screen, with its drop zone, stays.
        await late;
        await _page.WaitForTimeoutAsync(500);
        Assert.Equal("files", await _page.GetAttributeAsync("main", "data-screen"));
        await Assertions.Expect(_page.Locator("#dropzone")).ToBeVisibleAsync();
    }

    [SkippableFact]
    public async Task A_check_run_on_the_page_reports_a_clean_folder()
    {
        _ = Host;
        await SignInAsync();
        await GoAsync("#/integrity", "integrity");

        await _page.ClickAsync("#check-now");
        await _page.Locator(".job[data-state='succeeded']").WaitForAsync();
        await Assertions.Expect(_page.Locator("#integrity-report")).ToContainTextAsync("clean");
        await ShotAsync("check-run");

        await GoAsync("#/settings", "settings");
        await Assertions.Expect(_page.Locator("#settings-form")).ToBeVisibleAsync();
    }

    /// <summary>
    /// Every screen over a campaign that has been played for a while (records, a rulebook PDF, a map, three snapshots
    /// with changes between them): what each screen shows is checked, and with MDMAI_SCREENSHOTS each is saved — the
    /// pictures in docs/screenshots come from this run.
    /// </summary>
    [SkippableFact]
    public async Task A_tour_of_every_screen_over_a_played_campaign()
    {
        _ = Host;
        var manager = Host.Manager;
        var campaign = await manager.Storage.Campaigns.CreateAsync(new Campaign { Name = "Tomb of Annihilation", System = "dnd5e", Notes = "Chult: the death curse, Port Nyanzaru, the Soulmonger" });
        await manager.Storage.Campaigns.CreateAsync(new Campaign { Name = "Blades in the Dark: Doskvol", System = "bitd", Notes = "Crew of the Lampblacks" });
        foreach (var (name, cls, race) in new[] { ("Azaka Stormfang", "Ranger", "Human"), ("Syndra Silvane", "Wizard", "Human"), ("Wakanga O'tamu", "Wizard", "Human") })
        {
            await manager.Storage.Npcs.CreateAsync(new Npc { CampaignId = campaign.Id, Name = name, Class = cls, Race = race });
        }

        foreach (var (name, cls, level) in new[] { ("Tiva Brightwater", "Cleric", 5), ("Orrin Ashvale", "Rogue", 5), ("Kesh", "Barbarian", 4) })
        {
            await manager.Storage.Characters.CreateAsync(new Character { CampaignId = campaign.Id, Name = name, Class = cls, Race = "Half-elf", Level = level });
        }

        var pdf = new UglyToad.PdfPig.Writer.PdfDocumentBuilder();
        pdf.DocumentInformation.Title = "Chult Player's Handbook";
        for (var i = 0; i < 12; i++)
        {
            pdf.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
        }

        await manager.Files.ImportAsync(new MemoryStream(pdf.Build()), "chult-handbook.pdf", new FileImportOptions { Category = FileCategory.Rulebook });
        await manager.Files.ImportAsync(new MemoryStream(MapPng(240, 160)), "port-nyanzaru.png", new FileImportOptions { Category = FileCategory.Map });
        var backups = await manager.OpenBackupsAsync(null);
        await backups.BackupAsync(SnapshotKind.Manual, description: "before session 1");
        await manager.Storage.Npcs.CreateAsync(new Npc { CampaignId = campaign.Id, Name = "Artus Cimber", Class = "Fighter", Race = "Human" });
        await manager.Files.ImportAsync(new MemoryStream(MapPng(320, 200)), "mbala.png", new FileImportOptions { Category = FileCategory.Map });
        await backups.BackupAsync(SnapshotKind.Auto);
        campaign.Notes += "; the party reached Omu";
        await manager.Storage.Campaigns.UpdateAsync(campaign);
        await backups.BackupAsync(SnapshotKind.Manual, description: "after session 2");

        await SignInAsync();
        var history = _page.Locator("svg[aria-label='bytes added per snapshot'] rect");
        await Assertions.Expect(history).ToHaveCountAsync(3);
        await ShotAsync("overview");

        await GoAsync("#/data?type=campaign", "data");
        await _page.ClickAsync("main table tr:has-text('Tomb of Annihilation')");
        var dialog = _page.Locator("dialog[open]");
        await Assertions.Expect(dialog).ToContainTextAsync("the party reached Omu");
        await Assertions.Expect(dialog.Locator("pre").First).ToContainTextAsync("→");
        await ShotAsync("record-history");
        await dialog.Locator("button[value=close]").ClickAsync();
        await _page.FillAsync("input[type=search]", "wizard");
        await _page.PressAsync("input[type=search]", "Enter");
        await Assertions.Expect(_page.Locator("#search-results mark").First).ToHaveTextAsync("Wizard", new() { IgnoreCase = true });
        await ShotAsync("campaign-data");

        await GoAsync("#/files", "files");
        await Assertions.Expect(_page.Locator("#file-list tr:has-text('chult-handbook.pdf')")).ToContainTextAsync("12 pages · Chult Player's Handbook");
        var thumb = _page.Locator("#file-list tr:has-text('port-nyanzaru.png') img.thumb");
        await thumb.ScrollIntoViewIfNeededAsync();
        await _page.WaitForFunctionAsync("() => [...document.querySelectorAll('#file-list img.thumb')].every(i => i.complete && i.naturalWidth > 0)");
        Assert.Equal(240, await thumb.EvaluateAsync<int>("i => i.naturalWidth"));
        await ShotAsync("files");

        await GoAsync("#/backups", "backups");
        var rows = _page.Locator("main[data-screen='backups'] table tbody tr.clickable");
        await Assertions.Expect(rows).ToHaveCountAsync(3);
        await ShotAsync("backups");
        await rows.Nth(0).Locator("input[type=checkbox]").CheckAsync();
        await rows.Nth(2).Locator("input[type=checkbox]").CheckAsync();
        await _page.ClickAsync("text=Diff the two selected");
        await Assertions.Expect(dialog).ToContainTextAsync("data/mdmai.db");
        await Assertions.Expect(dialog).ToContainTextAsync("data/objects/");
        await ShotAsync("backup-diff");
        await dialog.Locator("button[value=close]").ClickAsync();

        await rows.Nth(0).ClickAsync();
        await _page.ClickAsync("#snapshot-browser a:text-is('data/')");
        await _page.WaitForSelectorAsync("#snapshot-browser input[data-path='data/mdmai.db']");
        await ShotAsync("snapshot-browser");
        await _page.ClickAsync("#snapshot-browser tr:has(input[data-path='data/mdmai.db']) a:text-is('versions')");
        var versions = _page.Locator("#file-versions");
        await Assertions.Expect(versions.Locator("tbody tr")).ToHaveCountAsync(3);
        Assert.True(await versions.Locator("text=new version").CountAsync() >= 2);
        await ShotAsync("file-versions");

        await GoAsync("#/backups", "backups");
        await _page.ClickAsync("text=Retention…");
        await _page.FillAsync("dialog[open] input[name=keep_last]", "1");
        await _page.ClickAsync("dialog[open] button.primary");
        await Assertions.Expect(dialog).ToContainTextAsync("forgets 2");
        await ShotAsync("retention-preview");
        await dialog.Locator("button[value=cancel], button:text-is('Cancel')").First.ClickAsync();
        Assert.Equal(3, (await backups.Repository.ListSnapshotsAsync()).Count);

        // The whole folder back to the first snapshot, from the page, while the server runs.
        await rows.Nth(2).ClickAsync();
        await _page.ClickAsync("#restore-in-place");
        await Assertions.Expect(dialog).ToContainTextAsync("pre-restore snapshot");
        await ShotAsync("restore-in-place");
        await dialog.Locator("button[data-confirm]").ClickAsync();
        await _page.Locator(".job[data-state='succeeded']:has-text('Restore of the data folder')").WaitForAsync();
        await _page.WaitForSelectorAsync("main[data-screen='overview']");
        var restored = await manager.Storage.Campaigns.GetAsync(campaign.Id);
        Assert.DoesNotContain("Omu", restored.Notes, StringComparison.Ordinal);
        Assert.Equal(4, (await manager.Storage.Npcs.ListAsync()).TotalCount);

        await GoAsync("#/integrity", "integrity");
        await _page.ClickAsync("#check-now");
        // The restore's job is still listed, succeeded: wait for the check's own (the two matched once the check was quick).
        await _page.Locator(".job[data-state='succeeded']:has-text('Integrity check')").WaitForAsync();
        await Assertions.Expect(_page.Locator("#integrity-report")).ToContainTextAsync("clean");
        await ShotAsync("integrity");

        await GoAsync("#/settings", "settings");
        await Assertions.Expect(_page.Locator("#settings-form")).ToBeVisibleAsync();
        await ShotAsync("settings");

        // In a narrow web view (the desktop app's side panel) nothing runs off to the side.
        await _page.SetViewportSizeAsync(400, 800);
        foreach (var (hash, screen) in new[] { ("#/overview", "overview"), ("#/data?type=npc", "data"), ("#/files", "files"), ("#/backups", "backups") })
        {
            await GoAsync(hash, screen);
            Assert.True(await _page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), $"{screen} is wider than a 400 px view");
        }

        await ShotAsync("narrow-backups");
        Assert.Empty(_errors);
    }

    /// <summary>A real PNG (a shaded map-like gradient), made by hand: filter byte, RGB rows, zlib, CRCs.</summary>
    private static byte[] MapPng(int width, int height)
    {
        using var raw = new MemoryStream();
        for (var y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (var x = 0; x < width; x++)
            {
                var shore = (x * 3 + y * 5) % 97 < 48;
                raw.Write(shore ? [(byte)(180 + x % 40), (byte)(160 + y % 50), 110] : [40, (byte)(90 + y % 60), (byte)(150 + x % 80)]);
            }
        }

        using var packed = new MemoryStream();
        using (var z = new ZLibStream(packed, CompressionLevel.Optimal, leaveOpen: true))
        {
            raw.Position = 0;
            raw.CopyTo(z);
        }

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = 2;
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", packed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();

        static void Chunk(Stream output, string type, byte[] data)
        {
            Span<byte> number = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
            output.Write(number);
            var body = new byte[4 + data.Length];
            System.Text.Encoding.ASCII.GetBytes(type, body);
            data.CopyTo(body, 4);
            output.Write(body);
            BinaryPrimitives.WriteUInt32BigEndian(number, Crc32.HashToUInt32(body));
            output.Write(number);
        }
    }
}
