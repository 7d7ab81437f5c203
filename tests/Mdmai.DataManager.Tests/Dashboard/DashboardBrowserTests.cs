using System.Formats.Tar;
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
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { AcceptDownloads = true, ViewportSize = new ViewportSize { Width = 1200, Height = 860 } });
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
        await ShotAsync("overview");

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
        await ShotAsync("campaign-data");

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
        await ShotAsync("files");
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
        await ShotAsync("backups");

        await _page.ClickAsync("main table tbody tr.clickable");
        await _page.WaitForSelectorAsync("#snapshot-browser");
        await _page.ClickAsync("#snapshot-browser a:text-is('data/')");
        await _page.WaitForSelectorAsync("#snapshot-browser input[data-path='data/mdmai.json']");
        await ShotAsync("snapshot-browser");
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
    public async Task A_check_run_on_the_page_reports_a_clean_folder()
    {
        _ = Host;
        await SignInAsync();
        await GoAsync("#/integrity", "integrity");

        await _page.ClickAsync("#check-now");
        await _page.Locator(".job[data-state='succeeded']").WaitForAsync();
        await Assertions.Expect(_page.Locator("#integrity-report")).ToContainTextAsync("clean");
        await ShotAsync("integrity");

        await GoAsync("#/settings", "settings");
        await Assertions.Expect(_page.Locator("#settings-form")).ToBeVisibleAsync();
        await ShotAsync("settings");
    }
}
