using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Mdmai.Dashboard;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests.Dashboard;

/// <summary>
/// A real dashboard for the tests: a data folder in a temp directory with a few records and files, opened by the data
/// manager (no background work), served by <see cref="DashboardServer"/> on 127.0.0.1 and a free port.
/// </summary>
internal sealed class DashboardHost : IAsyncDisposable
{
    private readonly TempFolder _temp = new();

    private DashboardHost()
    {
    }

    public MdmaiDataManager Manager { get; private set; } = null!;

    public DashboardServer Server { get; private set; } = null!;

    public string DataFolder => _temp.Combine("data");

    public string Temp => _temp.Path;

    public Uri Url => Server.Url;

    public static async Task<DashboardHost> StartAsync(string? password = null)
    {
        var host = new DashboardHost();
        host.Manager = await MdmaiDataManager.OpenAsync(new DataManagerOptions { DataFolder = host.DataFolder, BackgroundWork = false }, password);
        var campaign = await host.Manager.Storage.Campaigns.CreateAsync(new Campaign { Name = "Curse of Strahd", System = "dnd5e", Notes = "Barovia, the mists, a vampire count" });
        await host.Manager.Storage.Npcs.CreateAsync(new Npc { CampaignId = campaign.Id, Name = "Ireena Kolyana", Notes = "Burgomaster's adopted daughter" });
        host.Server = await DashboardServer.StartAsync(host.Manager, new DashboardOptions { Password = password });
        return host;
    }

    /// <summary>A client that sends the bearer token (a script's way in).</summary>
    public HttpClient Bearer()
    {
        var client = new HttpClient { BaseAddress = Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Server.Token);
        return client;
    }

    /// <summary>A client with nothing: no cookie, no token.</summary>
    public HttpClient Anonymous() => new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = Url };

    /// <summary>A browser-like client signed in through the sign-in URL (the session cookie), with its CSRF token.</summary>
    public async Task<(HttpClient Client, string Csrf)> SignedInAsync()
    {
        var cookies = new CookieContainer();
        var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = Url };
        using var signin = await client.GetAsync(Server.SignInUrl);
        Assert.Equal(HttpStatusCode.SeeOther, signin.StatusCode);
        var session = JsonNode.Parse(await client.GetStringAsync("/api/v1/session"))!;
        return (client, session["csrf_token"]!.GetValue<string>());
    }

    public static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Manager.DisposeAsync();
        _temp.Dispose();
    }
}
