using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Mdmai.Dashboard;

namespace Mdmai.DataManager.Tests.Dashboard;

/// <summary>The dashboard's API and its security rules, against the real server on loopback over a real data folder.</summary>
public sealed class DashboardApiTests : IAsyncLifetime
{
    private DashboardHost _host = null!;

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static async Task<JsonNode> JsonOf(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>Every GET route of the OpenAPI document, with its path parameters filled in.</summary>
    private async Task<List<string>> DocumentedGetRoutesAsync()
    {
        using var client = _host.Bearer();
        var document = JsonNode.Parse(await client.GetStringAsync("/api/v1/openapi.json"))!;
        return [.. document["paths"]!.AsObject().Where(p => p.Value!["get"] is not null)
            .Select(p => p.Key.Replace("{type}", "campaign", StringComparison.Ordinal).Replace("{id}", Guid.Empty.ToString(), StringComparison.Ordinal))];
    }

    [Fact]
    public async Task Without_the_token_every_API_route_is_401_and_no_page_shows_data()
    {
        using var anonymous = _host.Anonymous();
        var routes = await DocumentedGetRoutesAsync();
        Assert.True(routes.Count > 20);

        foreach (var route in routes)
        {
            using var response = await anonymous.GetAsync(route);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route}: {(int)response.StatusCode}");
        }

        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch })
        {
            using var response = await anonymous.SendAsync(new HttpRequestMessage(method, "/api/v1/entities/campaign") { Content = DashboardHost.Json(new JsonObject { ["name"] = "x" }) });
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        foreach (var page in new[] { "/", "/index.html", "/assets/app.js" })
        {
            using var response = await anonymous.GetAsync(page);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.DoesNotContain("Curse of Strahd", body, StringComparison.Ordinal);
            Assert.DoesNotContain(_host.DataFolder, body, StringComparison.Ordinal);
        }

        using var wrong = await anonymous.GetAsync("/signin?token=not-the-token");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.DoesNotContain(wrong.Headers, h => h.Key == "Set-Cookie");
    }

    [Fact]
    public async Task Signing_in_sets_an_HttpOnly_SameSite_Strict_cookie_and_takes_the_token_out_of_the_address_bar()
    {
        using var anonymous = _host.Anonymous();

        using var response = await anonymous.GetAsync(_host.Server.SignInUrl);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/", response.Headers.Location!.ToString());
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(_host.Server.Token, cookie, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rebinding_Host_header_is_refused_even_with_the_token()
    {
        using var client = _host.Bearer();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/status");
        request.Headers.Host = $"evil.example:{_host.Url.Port}";

        using var response = await client.SendAsync(request);
        using var localhost = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v1/status") { Headers = { Host = $"localhost:{_host.Url.Port + 1}" } });

        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
        Assert.DoesNotContain("Curse", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, localhost.StatusCode);
    }

    [Fact]
    public async Task A_state_changing_request_with_the_cookie_needs_the_CSRF_token_and_the_dashboards_own_origin()
    {
        var (client, csrf) = await _host.SignedInAsync();
        using (client)
        {
            var body = new JsonObject { ["name"] = "Tomb of Annihilation", ["system"] = "dnd5e" };

            using var none = await client.PostAsync("/api/v1/entities/campaign", DashboardHost.Json(body));
            using var crossOrigin = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/v1/entities/campaign")
            {
                Content = DashboardHost.Json(body), Headers = { { "X-CSRF-Token", csrf }, { "Origin", "http://evil.example" } },
            });
            using var crossSite = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/v1/entities/campaign")
            {
                Content = DashboardHost.Json(body), Headers = { { "X-CSRF-Token", csrf }, { "Sec-Fetch-Site", "cross-site" } },
            });
            using var own = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/v1/entities/campaign")
            {
                Content = DashboardHost.Json(body), Headers = { { "X-CSRF-Token", csrf }, { "Origin", _host.Url.GetLeftPart(UriPartial.Authority) } },
            });

            Assert.Equal(HttpStatusCode.Forbidden, none.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, crossOrigin.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, crossSite.StatusCode);
            Assert.Equal(HttpStatusCode.Created, own.StatusCode);
            Assert.Equal(2, (await _host.Manager.Storage.Campaigns.ListAsync()).TotalCount); // only the last one went in
        }
    }

    [Fact]
    public async Task Every_answer_carries_a_strict_content_security_policy_and_no_secret_reaches_the_browser()
    {
        var (client, _) = await _host.SignedInAsync();
        using (client)
        {
            foreach (var path in new[] { "/", "/api/v1/status", "/api/v1/settings", "/api/v1/session" })
            {
                using var response = await client.GetAsync(path);
                var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
                Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
                Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
                Assert.DoesNotContain("unsafe", policy, StringComparison.Ordinal);
                var body = await response.Content.ReadAsStringAsync();
                Assert.DoesNotContain(_host.Server.Token, body, StringComparison.Ordinal);
                Assert.DoesNotContain("password\":\"", body, StringComparison.OrdinalIgnoreCase);
            }
        }
    }

    [Fact]
    public async Task Destructive_requests_need_a_confirmation()
    {
        using var client = _host.Bearer();
        var id = (await _host.Manager.Storage.Campaigns.ListAsync()).Items[0].Id;

        using var unconfirmed = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/entities/campaign/{id}") { Content = DashboardHost.Json(new JsonObject()) });
        using var prune = await client.PostAsync("/api/v1/backups/prune", DashboardHost.Json(new JsonObject()));
        using var repair = await client.PostAsync("/api/v1/integrity/repair", DashboardHost.Json(new JsonObject()));
        using var confirmed = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/entities/campaign/{id}") { Content = DashboardHost.Json(new JsonObject { ["confirm"] = true }) });

        Assert.Equal(HttpStatusCode.BadRequest, unconfirmed.StatusCode);
        Assert.Contains("confirm", (await JsonNode.ParseAsync(await unconfirmed.Content.ReadAsStreamAsync()))!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, prune.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, repair.StatusCode);
        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        Assert.Equal(0, (await _host.Manager.Storage.Campaigns.ListAsync()).TotalCount);
    }

    [Fact]
    public async Task Listening_on_a_non_loopback_address_needs_an_explicit_flag()
    {
        var error = await Assert.ThrowsAsync<MdmaiException>(() => DashboardServer.StartAsync(_host.Manager, new DashboardOptions { Address = IPAddress.Any }));

        Assert.Equal(MdmaiErrorCode.InvalidArgument, error.Code);
        Assert.Contains("other computers can reach", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_OpenAPI_document_describes_every_route_the_server_answers()
    {
        using var client = _host.Bearer();
        var documented = JsonNode.Parse(await client.GetStringAsync("/api/v1/openapi.json"))!["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Where(m => m.Key is "get" or "post" or "put" or "patch" or "delete").Select(m => $"{m.Key.ToUpperInvariant()} {p.Key}")).ToHashSet();

        var served = _host.Server.Routes.Where(r => r.Path.StartsWith("/api/", StringComparison.Ordinal)).Select(r => $"{r.Method} {r.Path}").ToHashSet();

        Assert.Empty(served.Except(documented));
        Assert.Empty(documented.Except(served));
    }

    [Fact]
    public async Task Status_has_the_same_fields_as_the_CLIs_status_json()
    {
        using var client = _host.Bearer();
        var api = await JsonOf(await client.GetAsync("/api/v1/status"));
        var status = await DataManagerStatus.ReadAsync(_host.Manager.Folder, _host.Manager.Storage);

        Assert.Equal(["backup_repository", "cache", "config", "data_dir", "database", "last_integrity_check"], api.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(status.Database.RowCounts["campaigns"], api["database"]!["row_counts"]!["campaigns"]!.GetValue<long>());
    }

    [Fact]
    public async Task Records_are_listed_filtered_searched_with_marked_snippets_changed_and_their_history_kept()
    {
        using var client = _host.Bearer();
        var campaign = (await _host.Manager.Storage.Campaigns.ListAsync()).Items[0];

        var npcs = await JsonOf(await client.GetAsync($"/api/v1/entities/npc?campaign_id={campaign.Id}&sort=name"));
        var search = await JsonOf(await client.GetAsync("/api/v1/search?q=ireena"));
        var npc = npcs["items"]![0]!;
        var patched = await JsonOf(await client.PatchAsync($"/api/v1/entities/npc/{npc["id"]}", DashboardHost.Json(new JsonObject { ["role"] = "ally" })));
        var history = await JsonOf(await client.GetAsync($"/api/v1/entities/npc/{npc["id"]}/history"));
        using var badFilter = await client.GetAsync("/api/v1/entities/npc?password=1");

        Assert.Equal(1, npcs["total_count"]!.GetValue<long>());
        Assert.Equal("[Ireena] Kolyana", search["items"]![0]!["snippet"]!.GetValue<string>());
        Assert.Equal("ally", patched["role"]!.GetValue<string>());
        Assert.Equal(2, history["total_count"]!.GetValue<long>()); // created, then updated
        Assert.Equal("ally", history["items"]![0]!["new_values"]!["role"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, badFilter.StatusCode);
    }

    [Fact]
    public async Task A_file_uploaded_streams_in_and_downloads_back_byte_exact_and_a_second_upload_is_found_a_duplicate()
    {
        using var client = _host.Bearer();
        var content = new byte[5_000_000];
        new Random(7).NextBytes(content);

        var first = await JsonOf(await client.PostAsync("/api/v1/files?name=map%20of%20barovia.png&category=map", new ByteArrayContent(content)));
        var again = await JsonOf(await client.PostAsync("/api/v1/files?name=copy.png", new ByteArrayContent(content)));
        var id = first["file"]!["id"]!.GetValue<string>();
        using var download = await client.GetAsync($"/api/v1/files/{id}/content", HttpCompletionOption.ResponseHeadersRead);
        var back = await download.Content.ReadAsByteArrayAsync();

        Assert.False(first["deduplicated"]!.GetValue<bool>());
        Assert.True(again["deduplicated"]!.GetValue<bool>());
        Assert.Equal("map", first["file"]!["category"]!.GetValue<string>());
        Assert.Equal(content, back);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal("map of barovia.png", download.Content.Headers.ContentDisposition.FileNameStar ?? download.Content.Headers.ContentDisposition.FileName!.Trim('"'));
    }

    [Fact]
    public async Task A_backup_runs_as_a_job_whose_progress_is_pushed_by_server_sent_events_to_the_end()
    {
        using var client = _host.Bearer();
        var handout = new byte[3_000_000];
        new Random(8).NextBytes(handout); // stored as it is: random bytes do not compress
        await client.PostAsync("/api/v1/files?name=handout.bin", new ByteArrayContent(handout));

        var job = await JsonOf(await client.PostAsync("/api/v1/backups/snapshots", DashboardHost.Json(new JsonObject { ["description"] = "test" })));
        using var events = await client.GetAsync($"/api/v1/jobs/{job["id"]}/events", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
        var seen = new List<(string Event, JsonNode Data)>();
        string? name = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                seen.Add((name!, JsonNode.Parse(line[6..])!));
            }
        }

        Assert.Equal("text/event-stream", events.Content.Headers.ContentType!.MediaType);
        var done = seen[^1];
        Assert.Equal("done", done.Event);
        Assert.Equal("succeeded", done.Data["state"]!.GetValue<string>());
        Assert.True(done.Data["progress"]!["bytes"]!.GetValue<long>() > 3_000_000);
        var snapshots = await JsonOf(await client.GetAsync("/api/v1/backups/snapshots"));
        Assert.Equal(1, snapshots["total_count"]!.GetValue<long>());
        var id = snapshots["items"]![0]!["id"]!.GetValue<string>();
        var top = await JsonOf(await client.GetAsync($"/api/v1/backups/snapshots/{id}/entries"));
        Assert.Equal("data", top["items"]![0]!["path"]!.GetValue<string>());

        // The database file's versions, and the selection downloaded as one tar.
        var versions = await JsonOf(await client.GetAsync("/api/v1/backups/versions?path=data/mdmai.json"));
        Assert.Single(versions["items"]!.AsArray());
        using var tar = await client.PostAsync("/api/v1/backups/download", DashboardHost.Json(new JsonObject { ["snapshot"] = id, ["paths"] = new JsonArray("data/mdmai.json") }));
        var entries = new List<string>();
        using (var archive = new System.Formats.Tar.TarReader(await tar.Content.ReadAsStreamAsync()))
        {
            while (await archive.GetNextEntryAsync() is { } entry)
            {
                entries.Add(entry.Name);
            }
        }

        Assert.Equal(["data/mdmai.json"], entries);
    }

    [Fact]
    public async Task An_in_place_restore_waits_for_requests_in_flight_holds_new_ones_and_reopens_the_folder_restored()
    {
        using var client = _host.Bearer();
        var backup = await JsonOf(await client.PostAsync("/api/v1/backups/snapshots", DashboardHost.Json(new JsonObject { ["description"] = "before" })));
        await WaitForJobAsync(client, backup["id"]!.GetValue<string>());
        var snapshot = (await JsonOf(await client.GetAsync("/api/v1/backups/snapshots")))["items"]![0]!["id"]!.GetValue<string>();
        await JsonOf(await client.PostAsync("/api/v1/entities/campaign", DashboardHost.Json(new JsonObject { ["name"] = "Made after the backup", ["system"] = "dnd5e" })));

        using var unconfirmed = await client.PostAsync("/api/v1/backups/restore", DashboardHost.Json(new JsonObject { ["snapshot"] = snapshot, ["in_place"] = true }));
        Assert.Equal(HttpStatusCode.BadRequest, unconfirmed.StatusCode);

        // An upload is in flight when the restore starts (half of its 40 MB sent: more than the socket's and Kestrel's
        // buffers hold, so the server is reading it): the restore waits for it.
        var upload = new GatedContent(new byte[40_000_000]);
        using var uploader = _host.Bearer();
        var uploading = uploader.PostAsync("/api/v1/files?name=late.bin", upload);
        await upload.HalfSent.WaitAsync(TimeSpan.FromSeconds(30));
        var job = await JsonOf(await client.PostAsync("/api/v1/backups/restore", DashboardHost.Json(new JsonObject { ["snapshot"] = snapshot, ["in_place"] = true, ["confirm"] = true })));
        var id = job["id"]!.GetValue<string>();

        // Meanwhile other requests are held off (503 restoring), no other job starts, and the job itself can be followed.
        using (var held = await WaitForStatusAsync(client, "/api/v1/status", HttpStatusCode.ServiceUnavailable))
        {
            Assert.Equal("restoring", JsonNode.Parse(await held.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        }

        Assert.Equal("running", (await JsonOf(await client.GetAsync($"/api/v1/jobs/{id}")))["state"]!.GetValue<string>());
        upload.Release.SetResult();
        using (var uploaded = await uploading)
        {
            Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
        }

        var done = await WaitForJobAsync(client, id);
        Assert.Equal("succeeded", done["state"]!.GetValue<string>());
        var campaigns = await JsonOf(await client.GetAsync("/api/v1/entities/campaign"));
        Assert.Equal(["Curse of Strahd"], campaigns["items"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        var files = await JsonOf(await client.GetAsync("/api/v1/files"));
        Assert.Equal(0, files["total_count"]!.GetValue<long>()); // the late upload went into the pre-restore snapshot
        var kinds = (await JsonOf(await client.GetAsync("/api/v1/backups/snapshots")))["items"]!.AsArray().Select(x => x!["kind"]!.GetValue<string>());
        Assert.Equal(["pre_restore", "manual"], kinds);
    }

    private static async Task<JsonNode> WaitForJobAsync(HttpClient client, string id)
    {
        for (var i = 0; i < 600; i++)
        {
            var job = await JsonOf(await client.GetAsync($"/api/v1/jobs/{id}"));
            if (job["state"]!.GetValue<string>() != "running")
            {
                return job;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"job {id} still running after a minute");
    }

    private static async Task<HttpResponseMessage> WaitForStatusAsync(HttpClient client, string path, HttpStatusCode status)
    {
        for (var i = 0; i < 600; i++)
        {
            var response = await client.GetAsync(path);
            if (response.StatusCode == status)
            {
                return response;
            }

            response.Dispose();
            await Task.Delay(50);
        }

        throw new TimeoutException($"{path} never answered {status}");
    }

    /// <summary>A request body that sends its first half, then waits to be released before it sends the rest.</summary>
    private sealed class GatedContent(byte[] body) : HttpContent
    {
        private readonly TaskCompletionSource _halfSent = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task HalfSent => _halfSent.Task;

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await stream.FlushAsync();
            _halfSent.SetResult();
            await Release.Task;
            await stream.WriteAsync(body.AsMemory(body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
