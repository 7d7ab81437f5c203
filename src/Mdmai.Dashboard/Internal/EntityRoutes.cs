using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Mdmai.DataManager;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Mdmai.Dashboard.Internal;

/// <summary>One kind of record as the API serves it: list, get, create, change, delete, its audit history — built once per entity type.</summary>
internal interface IEntityRoute
{
    string Name { get; }

    string Table { get; }

    IReadOnlyList<EntityField> Fields { get; }

    Task ListAsync(HttpContext context);

    Task GetAsync(HttpContext context);

    Task CreateAsync(HttpContext context);

    Task PatchAsync(HttpContext context);

    Task DeleteAsync(HttpContext context);
}

/// <summary><c>/api/v1/entities/{type}…</c> for every entity of the library.</summary>
internal static class EntityRoutes
{
    public static IReadOnlyDictionary<string, IEntityRoute> All(DashboardContext context)
    {
        // The stores are looked up per request: an in-place restore gives the manager a new database.
        MdmaiDatabase Db() => context.Manager.Storage;
        IEntityRoute[] routes =
        [
            new EntityRoute<Campaign>("campaign", () => Db().Campaigns),
            new EntityRoute<Character>("character", () => Db().Characters),
            new EntityRoute<Npc>("npc", () => Db().Npcs),
            new EntityRoute<Session>("session", () => Db().Sessions),
            new EntityRoute<Location>("location", () => Db().Locations),
            new EntityRoute<Item>("item", () => Db().Items),
            new EntityRoute<Spell>("spell", () => Db().Spells),
            new EntityRoute<Rulebook>("rulebook", () => Db().Rulebooks),
            new EntityRoute<PersonalityProfile>("profile", () => Db().Profiles),
            new EntityRoute<Asset>("asset", () => Db().Assets),
            new EntityRoute<Setting>("setting", () => Db().Settings),
        ];
        return routes.ToDictionary(r => r.Name, StringComparer.Ordinal);
    }

    public static void Map(WebApplication app, DashboardContext context)
    {
        var routes = All(context);
        IEntityRoute Of(HttpContext http) => routes.TryGetValue(Http.Route(http, "type"), out var r)
            ? r
            : throw new MdmaiException(MdmaiErrorCode.NotFound, $"There is no kind of record '{Http.Route(http, "type")}'; the kinds are: {string.Join(", ", routes.Keys)}.");

        app.MapGet("/api/v1/entities", Http.Handle(http => Http.WriteAsync(http, new JsonObject
        {
            ["items"] = new JsonArray([.. routes.Values.Select(r => (JsonNode)new JsonObject
            {
                ["name"] = r.Name,
                ["table"] = r.Table,
                ["fields"] = new JsonArray([.. r.Fields.Select(f => (JsonNode)new JsonObject
                {
                    ["name"] = f.Name, ["kind"] = EnumText.ToText(f.Kind), ["required"] = f.Required, ["managed"] = f.IsManaged,
                    ["filterable"] = f.Filterable, ["sortable"] = f.Sortable, ["values"] = new JsonArray([.. f.AllowedValues.Select(v => (JsonNode)v!)]),
                })]),
            })]),
        })));
        app.MapGet("/api/v1/entities/{type}", Http.Handle(http => Of(http).ListAsync(http)));
        app.MapPost("/api/v1/entities/{type}", Http.Handle(http => Of(http).CreateAsync(http)));
        app.MapGet("/api/v1/entities/{type}/{id}", Http.Handle(http => Of(http).GetAsync(http)));
        app.MapMethods("/api/v1/entities/{type}/{id}", ["PATCH"], Http.Handle(http => Of(http).PatchAsync(http)));
        app.MapDelete("/api/v1/entities/{type}/{id}", Http.Handle(http => Of(http).DeleteAsync(http)));
        app.MapGet("/api/v1/entities/{type}/{id}/history", Http.Handle(async http =>
        {
            var route = Of(http);
            var page = await context.Manager.Storage.ListAuditAsync(route.Table, Http.IdOf(http), Http.QueryInt(http, "limit", 50, 1, 1000), Http.QueryInt(http, "offset", 0, 0, int.MaxValue), http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, page).ConfigureAwait(false);
        }));
        app.MapGet("/api/v1/search", Http.Handle(async http =>
        {
            var text = Http.Query(http, "q") ?? throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Give the words to find: ?q=…");
            var type = Http.Query(http, "type");
            var hits = await context.Manager.Storage.SearchAsync(text, Http.QueryInt(http, "limit", 20, 1, 1000), type, http.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(http, new JsonObject { ["items"] = JsonSerializer.SerializeToNode(hits, Info<IReadOnlyList<SearchHit>>()), ["total_count"] = hits.Count }).ConfigureAwait(false);
        }));
    }

    public static JsonTypeInfo<T> Info<T>() => (JsonTypeInfo<T>)DataManagerJson.Options.GetTypeInfo(typeof(T));

    private sealed class EntityRoute<T>(string name, Func<EntityStore<T>> current) : IEntityRoute where T : Entity, new()
    {
        private EntityStore<T> store => current();

        public string Name => name;

        public string Table => store.TableName;

        public IReadOnlyList<EntityField> Fields => store.Fields;

        public async Task ListAsync(HttpContext context)
        {
            var filters = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (key, value) in context.Request.Query)
            {
                if (key is "limit" or "offset" or "sort" or "desc")
                {
                    continue;
                }

                if (!store.FilterColumns.Contains(key))
                {
                    throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{key}' cannot filter {name} records; these can: {string.Join(", ", store.FilterColumns)}.");
                }

                filters[key] = value.ToString();
            }

            var page = await store.ListAsync(new ListQuery
            {
                Filters = filters,
                SortBy = Http.Query(context, "sort"),
                Descending = Http.Query(context, "desc") is "true" or "1",
                Limit = Http.QueryInt(context, "limit", 50, 1, 1000),
                Offset = Http.QueryInt(context, "offset", 0, 0, int.MaxValue),
            }, context.RequestAborted).ConfigureAwait(false);
            context.Response.ContentType = "application/json; charset=utf-8";
            await JsonSerializer.SerializeAsync(context.Response.Body, page, Info<Page<T>>(), context.RequestAborted).ConfigureAwait(false);
        }

        public async Task GetAsync(HttpContext context) =>
            await WriteAsync(context, await store.GetAsync(Http.IdOf(context), context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);

        public async Task CreateAsync(HttpContext context)
        {
            var body = await Http.ReadObjectAsync(context).ConfigureAwait(false);
            var missing = store.Fields.Where(f => f.Required && !f.IsManaged && body[f.Name] is null).Select(f => f.Name).ToList();
            if (missing.Count > 0)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"A {name} needs {string.Join(", ", missing)}.");
            }

            var created = await store.CreateAsync(store.FromJson(body), context.RequestAborted).ConfigureAwait(false);
            await WriteAsync(context, created, StatusCodes.Status201Created).ConfigureAwait(false);
        }

        public async Task PatchAsync(HttpContext context)
        {
            var body = await Http.ReadObjectAsync(context).ConfigureAwait(false);
            if (body.Count == 0)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "Nothing to change: send the fields to change.");
            }

            await WriteAsync(context, await store.PatchAsync(Http.IdOf(context), body, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
        }

        public async Task DeleteAsync(HttpContext context)
        {
            var id = Http.IdOf(context);
            Http.RequireConfirmation(await Http.ReadObjectAsync(context).ConfigureAwait(false), $"Deleting a {name} (and what belongs to it)");
            await store.DeleteAsync(id, context.RequestAborted).ConfigureAwait(false);
            await Http.WriteAsync(context, new JsonObject { ["deleted"] = id.ToString() }).ConfigureAwait(false);
        }

        private static async Task WriteAsync(HttpContext context, T record, int status = StatusCodes.Status200OK)
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json; charset=utf-8";
            await JsonSerializer.SerializeAsync(context.Response.Body, record, Info<T>(), context.RequestAborted).ConfigureAwait(false);
        }
    }
}
