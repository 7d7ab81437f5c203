using System.Text.Json.Nodes;
using Mdmai.DataManager;
using Mdmai.DataManager.Files;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Mdmai.Dashboard.Internal;

/// <summary><c>/api/v1/files…</c>: the file store — list, upload (streamed), download (streamed), delete, totals.</summary>
internal static class FileRoutes
{
    public static void Map(WebApplication app, DashboardContext context)
    {
        // Per request: an in-place restore gives the manager a new file store.
        FileStore files() => context.Manager.Files;
        app.MapGet("/api/v1/files", Http.Handle(async http =>
        {
            var category = Http.Query(http, "category") is { } c ? EnumText.Parse<FileCategory>(c, "category") : (FileCategory?)null;
            var campaign = Http.Query(http, "campaign_id") is { } id ? Guid.Parse(id) : (Guid?)null;
            var page = await files().ListAsync(category, campaign, Http.Query(http, "name"), Http.Query(http, "sort") ?? "created_at",
                Http.Query(http, "desc") is not ("false" or "0"), Http.QueryInt(http, "limit", 50, 1, 1000), Http.QueryInt(http, "offset", 0, 0, int.MaxValue), http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, page).ConfigureAwait(false);
        }));

        app.MapGet("/api/v1/files/stats", Http.Handle(async http => await Http.WriteAsync(http, await files().GetStatsAsync(http.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)));

        // Upload: the request body is the file, streamed through the store's one pass (hash, compress, encrypt, write);
        // nothing is buffered whole. The name and catalog fields come in the query.
        app.MapPost("/api/v1/files", Http.Handle(async http =>
        {
            var name = Http.Query(http, "name") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give the file's name: ?name=…");
            var options = new FileImportOptions
            {
                Category = Http.Query(http, "category") is { } c ? EnumText.Parse<FileCategory>(c, "category") : null,
                CampaignId = Http.Query(http, "campaign_id") is { } id ? Guid.Parse(id) : null,
                Tags = http.Request.Query["tag"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToList(),
            };
            var result = await files().ImportAsync(http.Request.Body, Path.GetFileName(name), options, http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, result, result.Deduplicated ? StatusCodes.Status200OK : StatusCodes.Status201Created).ConfigureAwait(false);
        }));

        app.MapGet("/api/v1/files/{id}", Http.Handle(async http => await Http.WriteAsync(http, await files().GetAsync(Http.IdOf(http), http.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)));

        // Download: the content streamed as it is decoded; "inline" for images the page shows as thumbnails.
        app.MapGet("/api/v1/files/{id}/content", Http.Handle(async http =>
        {
            var file = await files().GetAsync(Http.IdOf(http), http.RequestAborted).ConfigureAwait(false);
            await using var content = await files().OpenReadAsync(file.Id, http.RequestAborted).ConfigureAwait(false);
            http.Response.ContentType = file.MimeType;
            http.Response.ContentLength = file.Size;
            var disposition = new ContentDispositionHeaderValue(Http.Query(http, "inline") is "1" or "true" ? "inline" : "attachment");
            disposition.SetHttpFileName(file.Name);
            http.Response.Headers.ContentDisposition = disposition.ToString();
            http.Response.Headers.CacheControl = "private, max-age=3600"; // a stored file's content never changes
            await content.CopyToAsync(http.Response.Body, 1 << 16, http.RequestAborted).ConfigureAwait(false);
        }));

        app.MapDelete("/api/v1/files/{id}", Http.Handle(async http =>
        {
            var id = Http.IdOf(http);
            Http.RequireConfirmation(await Http.ReadObjectAsync(http).ConfigureAwait(false), "Deleting a file");
            await files().DeleteAsync(id, http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, new JsonObject { ["deleted"] = id.ToString() }).ConfigureAwait(false);
        }));
    }
}
