using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Mdmai.Dashboard.Internal;
using Mdmai.DataManager;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mdmai.Dashboard;

/// <summary>How the dashboard is served.</summary>
public sealed record DashboardOptions
{
    /// <summary>The address to listen on; default 127.0.0.1. Anything but a loopback address needs <see cref="AllowRemote"/>.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The port; 0 (the default) takes a free one.</summary>
    public int Port { get; init; }

    /// <summary>
    /// Lets the server listen on an address other computers can reach. Dangerous: the dashboard is then one token away
    /// from anyone on that network (and the traffic is not encrypted). Off by default.
    /// </summary>
    public bool AllowRemote { get; init; }

    /// <summary>The folder's password, kept in this process only (never sent to a browser), for the backup repository of an encrypted folder.</summary>
    public string? Password { get; init; }

    /// <summary>How the AWS variables are read for an S3 repository (default: this process's environment).</summary>
    public Func<string, string?>? Environment { get; init; }

    /// <summary>A token to use instead of a random one (tests); null draws 32 random bytes.</summary>
    public string? Token { get; init; }
}

/// <summary>
/// The local web dashboard (docs/dashboard.md): ASP.NET Core on 127.0.0.1 over an open <see cref="MdmaiDataManager"/>,
/// with a JSON API under <c>/api/v1/</c> that its own pages use. The desktop app runs it in-process over its open data
/// manager; <c>mdmai serve</c> runs it on its own. A browser signs in once through <see cref="SignInUrl"/> (a random
/// per-launch token) and gets an HttpOnly, SameSite=Strict session cookie; scripts send <c>Authorization: Bearer TOKEN</c>.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly JobManager _jobs;

    private DashboardServer(WebApplication app, JobManager jobs, Uri url, string token)
    {
        _app = app;
        _jobs = jobs;
        Url = url;
        Token = token;
    }

    /// <summary>The dashboard's address, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Url { get; }

    /// <summary>The per-launch token: the key to everything the dashboard shows. Print it only to its user.</summary>
    public string Token { get; }

    /// <summary>The URL that signs a browser in (the token then leaves the address bar for a session cookie).</summary>
    public Uri SignInUrl => new(Url, $"signin?token={Uri.EscapeDataString(Token)}");

    /// <summary>Starts serving <paramref name="manager"/>; the manager stays the caller's (it is not disposed with the server).</summary>
    /// <exception cref="MdmaiException">InvalidArgument: a non-loopback address without <see cref="DashboardOptions.AllowRemote"/>.</exception>
    public static async Task<DashboardServer> StartAsync(MdmaiDataManager manager, DashboardOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manager);
        options ??= new DashboardOptions();
        if (!IPAddress.IsLoopback(options.Address) && !options.AllowRemote)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument,
                $"The dashboard would listen on {options.Address}, which other computers can reach: anyone there who learns the token sees and changes all your data, over plain HTTP. Use the default 127.0.0.1, or allow it explicitly (--allow-remote).");
        }

        if (options.Port is < 0 or > 65535)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"The port must be 0 to 65535, not {options.Port}.");
        }

        var token = options.Token ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(options.Address, options.Port);
            kestrel.Limits.MaxRequestBodySize = null; // uploads stream; the store bounds what it keeps, not the request
            kestrel.AddServerHeader = false;
        });
        var jobs = new JobManager();
        var app = builder.Build();
        var context = new DashboardContext(manager, options, jobs);
        var access = new Access(token);
        app.Use(ServerTiming);
        app.Use(access.Middleware);
        app.Use(context.Gate.Middleware);
        Internal.Routes.Map(app, context, access);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var bound = new Uri(addresses.First());
        var host = options.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{options.Address}]" : options.Address.ToString();
        var url = new Uri($"http://{host}:{bound.Port}/");
        access.Allow($"{host}:{bound.Port}");
        return new DashboardServer(app, jobs, url, token);
    }

    /// <summary>
    /// <c>Server-Timing: app;dur=MS</c> on every answer: the time from the request's arrival to its first byte (the
    /// browser's developer tools show it; the benchmark reads it).
    /// </summary>
    private static async Task ServerTiming(HttpContext context, Func<Task> next)
    {
        var started = Stopwatch.GetTimestamp();
        context.Response.OnStarting(() =>
        {
            context.Response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture, $"app;dur={Stopwatch.GetElapsedTime(started).TotalMilliseconds:F2}");
            return Task.CompletedTask;
        });
        await next().ConfigureAwait(false);
    }

    /// <summary>Every route the server answers, as method and pattern (tests hold the OpenAPI document to it).</summary>
    internal IReadOnlyList<(string Method, string Path)> Routes => [.. _app.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
        .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
        .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))];

    /// <summary>Stops serving: cancels running jobs, waits for them, closes the connections.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _jobs.CancelAllAsync().ConfigureAwait(false);
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops and releases the server.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
