using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Mdmai.DataManager;
using Mdmai.DataManager.Backup;
using Mdmai.DataManager.Configuration;
using Microsoft.AspNetCore.Http;

namespace Mdmai.Dashboard.Internal;

/// <summary>What every handler shares: the open data manager, the options, the jobs.</summary>
internal sealed class DashboardContext(MdmaiDataManager manager, DashboardOptions options, JobManager jobs)
{
    /// <summary>The folder's password, in this process only; it follows a change made from the settings.</summary>
    public string? Password { get; set; } = options.Password;

    /// <summary>The last check run from the dashboard: the report the integrity screen shows and a repair works from.</summary>
    public Mdmai.DataManager.Integrity.IntegrityReport? LastCheck { get; set; }

    public MdmaiDataManager Manager { get; } = manager;

    public DashboardOptions Options { get; } = options;

    public JobManager Jobs { get; } = jobs;

    /// <summary>Closed while the data folder is swapped by an in-place restore.</summary>
    public FolderGate Gate { get; } = new();

    public Func<string, string?> Environment => Options.Environment ?? System.Environment.GetEnvironmentVariable;

    /// <summary>The folder's backups, opened (and the repository made) on first use with the password the server was given.</summary>
    public async Task<DataFolderBackups> BackupsAsync(bool create, CancellationToken cancellationToken)
    {
        if (Manager.Backups is { } open)
        {
            return open;
        }

        if (!create && !await DataFolderBackups.RepositoryExistsAsync(Manager.Folder, Environment, cancellationToken).ConfigureAwait(false))
        {
            throw new MdmaiException(MdmaiErrorCode.NotFound, $"There is no backup repository at '{Manager.Folder.BackupRepositoryLocation}' yet: take a first backup.");
        }

        return await Manager.OpenBackupsAsync(Password, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>JSON in and out, errors as the API writes them (<c>{"error": {"code", "message"}}</c> with a fitting status).</summary>
internal static class Http
{
    public static JsonSerializerOptions Options => DataManagerJson.Options;

    public static async Task WriteAsync<T>(HttpContext context, T value, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        var info = (JsonTypeInfo<T>)DashboardJson.Options.GetTypeInfo(typeof(T));
        await JsonSerializer.SerializeAsync(context.Response.Body, value, info, context.RequestAborted).ConfigureAwait(false);
    }

    public static JsonNode? Node<T>(T value) => JsonSerializer.SerializeToNode(value, (JsonTypeInfo<T>)DashboardJson.Options.GetTypeInfo(typeof(T)));

    public static async Task<JsonObject> ReadObjectAsync(HttpContext context)
    {
        try
        {
            var node = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            return node as JsonObject ?? throw new MdmaiException(MdmaiErrorCode.MalformedJson, "The request body must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.MalformedJson, $"The request body is not valid JSON: {ex.Message.Split(" Path: ")[0]}", ex);
        }
    }

    /// <summary>A destructive request must say <c>"confirm": true</c> (the page asks the user first).</summary>
    public static void RequireConfirmation(JsonObject body, string what)
    {
        if (body["confirm"] is not JsonValue v || !v.TryGetValue<bool>(out var yes) || !yes)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"{what} cannot be undone here: send \"confirm\": true once the user has confirmed it.");
        }
    }

    public static string? Query(HttpContext context, string name) => context.Request.Query.TryGetValue(name, out var v) && v.Count > 0 && v[0] is { Length: > 0 } s ? s : null;

    public static int QueryInt(HttpContext context, string name, int fallback, int min, int max)
    {
        var text = Query(context, name);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{name}' must be a whole number from {min} to {max}, not '{text}'.");
    }

    public static Guid IdOf(HttpContext context, string name = "id")
    {
        var text = context.Request.RouteValues[name]?.ToString() ?? "";
        return Guid.TryParse(text, out var id) ? id : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{text}' is not a valid id (a UUID).");
    }

    public static string Route(HttpContext context, string name) => context.Request.RouteValues[name]?.ToString() ?? "";

    public static string? Text(JsonObject body, string name) => body[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public static bool Flag(JsonObject body, string name) => body[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    /// <summary>Wraps a handler: a known failure becomes its status and error body; nothing else leaks a stack trace.</summary>
    public static RequestDelegate Handle(Func<HttpContext, Task> handler) => async context =>
    {
        try
        {
            await handler(context).ConfigureAwait(false);
        }
        catch (MdmaiException ex) when (!context.Response.HasStarted)
        {
            await ErrorAsync(context, StatusFor(ex.Code), EnumText.ToText(ex.Code), ex.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // the browser went away
        }
        catch (FileNotFoundException ex) when (!context.Response.HasStarted)
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, "not_found", ex.Message).ConfigureAwait(false);
        }
        catch (IOException ex) when (!context.Response.HasStarted)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "io", ex.Message).ConfigureAwait(false);
        }
    };

    public static Task ErrorAsync(HttpContext context, int status, string code, string message) =>
        WriteAsync(context, new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }, status);

    private static int StatusFor(MdmaiErrorCode code) => code switch
    {
        MdmaiErrorCode.NotFound => StatusCodes.Status404NotFound,
        MdmaiErrorCode.InvalidArgument or MdmaiErrorCode.InvalidEnumValue or MdmaiErrorCode.MalformedJson or MdmaiErrorCode.ConstraintViolation
            or MdmaiErrorCode.InvalidConfig or MdmaiErrorCode.UnsafePath => StatusCodes.Status400BadRequest,
        MdmaiErrorCode.AlreadyExists => StatusCodes.Status409Conflict,
        MdmaiErrorCode.Locked or MdmaiErrorCode.DatabaseLocked => StatusCodes.Status423Locked,
        MdmaiErrorCode.WrongPassword or MdmaiErrorCode.WrongKey => StatusCodes.Status403Forbidden,
        MdmaiErrorCode.RemoteAccess => StatusCodes.Status502BadGateway,
        MdmaiErrorCode.RemoteUnavailable => StatusCodes.Status503ServiceUnavailable,
        MdmaiErrorCode.DiskFull => StatusCodes.Status507InsufficientStorage,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Maps a backup progress to a job's (bytes, and files when the work counts them).</summary>
    /// <remarks>Synchronous (not a <see cref="Progress{T}"/>, which posts each report to the thread pool: a late one could overwrite the end).</remarks>
    public static IProgress<BackupProgress> Backup(IProgress<JobProgress> progress, long? totalBytes = null, long? totalFiles = null) =>
        new Relay<BackupProgress>(p => progress.Report(new JobProgress(p.Bytes, p.TotalBytes ?? totalBytes, p.Files, p.TotalFiles ?? totalFiles, p.Current)));

    /// <summary>Passes each report on at once, on the reporting thread.</summary>
    public sealed class Relay<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    public static DataFolder Folder(DashboardContext context) => context.Manager.Folder;
}
