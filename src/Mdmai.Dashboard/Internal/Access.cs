using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Mdmai.Dashboard.Internal;

/// <summary>
/// Who may do what (docs/dashboard.md, "Security"): every request must name the address the server bound in its Host
/// header (a page of another site that rebinds its name to 127.0.0.1 is refused); every API route and every page needs
/// the session cookie that <c>/signin?token=…</c> sets, or <c>Authorization: Bearer TOKEN</c>; every state-changing
/// request made with the cookie needs the session's CSRF token in <c>X-CSRF-Token</c> and no foreign Origin; every
/// answer carries a strict Content-Security-Policy.
/// </summary>
internal sealed class Access(string token)
{
    public const string CookieName = "mdmai_session";
    public const string CsrfHeader = "X-CSRF-Token";

    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
        + "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    private readonly byte[] _token = Encoding.UTF8.GetBytes(token);
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A signed-in browser: its id (the cookie's value) and its CSRF token.</summary>
    public sealed record Session(string Id, string Csrf);

    /// <summary>Accepts <paramref name="host"/> (<c>ADDRESS:PORT</c>) as the Host header: the address the server bound, once it is known.</summary>
    public void Allow(string host)
    {
        lock (_hosts)
        {
            _hosts.Add(host);
        }
    }

    private bool HostAllowed(HttpContext context)
    {
        lock (_hosts)
        {
            return _hosts.Contains(context.Request.Host.Value ?? "");
        }
    }

    public async Task Middleware(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = Policy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";

        if (!HostAllowed(context))
        {
            // DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends Host: evil.example.
            await Refuse(context, StatusCodes.Status421MisdirectedRequest, "host_not_allowed", "This server answers only to the address it was started on.").ConfigureAwait(false);
            return;
        }

        var path = context.Request.Path.Value ?? "/";
        if (path == "/signin")
        {
            await SignInAsync(context).ConfigureAwait(false);
            return;
        }

        if (path is "/favicon.svg" or "/assets/signin.css")
        {
            await next(context).ConfigureAwait(false); // no data in them: the sign-in page needs them
            return;
        }

        var (session, bearer) = Identify(context);
        if (session is null && !bearer)
        {
            if (path.StartsWith("/api/", StringComparison.Ordinal))
            {
                await Refuse(context, StatusCodes.Status401Unauthorized, "unauthorized", "Sign in first: open the URL that 'mdmai serve' printed, or send Authorization: Bearer TOKEN.").ConfigureAwait(false);
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.ContentType = "text/html; charset=utf-8";
                await context.Response.WriteAsync(SignedOutPage).ConfigureAwait(false);
            }

            return;
        }

        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method) && !bearer)
        {
            // A cookie rides along with requests from any page; only this dashboard's own pages know the CSRF token.
            var origin = context.Request.Headers.Origin.ToString();
            var site = context.Request.Headers["Sec-Fetch-Site"].ToString();
            var sent = context.Request.Headers[CsrfHeader].ToString();
            if ((origin.Length > 0 && !string.Equals(origin, $"http://{context.Request.Host.Value}", StringComparison.OrdinalIgnoreCase))
                || (site.Length > 0 && site is not ("same-origin" or "none"))
                || !FixedTimeEquals(sent, session!.Csrf))
            {
                await Refuse(context, StatusCodes.Status403Forbidden, "csrf", "This request did not come from the dashboard's own page (missing or wrong CSRF token, or another origin).").ConfigureAwait(false);
                return;
            }
        }

        context.Items[typeof(Session)] = session;
        if (path.StartsWith("/api/", StringComparison.Ordinal))
        {
            headers.CacheControl = "no-store";
        }

        await next(context).ConfigureAwait(false);
    }

    /// <summary>The session of a request made with the cookie (null with a bearer token).</summary>
    public static Session? SessionOf(HttpContext context) => context.Items.TryGetValue(typeof(Session), out var s) ? s as Session : null;

    private (Session? Session, bool Bearer) Identify(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return (null, TokenMatches(authorization["Bearer ".Length..].Trim()));
        }

        return context.Request.Cookies.TryGetValue(CookieName, out var id) && id is not null && _sessions.TryGetValue(id, out var session)
            ? (session, false)
            : (null, false);
    }

    private bool TokenMatches(string candidate) => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _token);

    private static bool FixedTimeEquals(string a, string b) => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private async Task SignInAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method) || !TokenMatches(context.Request.Query["token"].ToString()))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync(SignedOutPage).ConfigureAwait(false);
            return;
        }

        var session = new Session(Random(), Random());
        _sessions[session.Id] = session;
        context.Response.Cookies.Append(CookieName, session.Id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            IsEssential = true,
        });

        // The token leaves the address bar (and the history entry is replaced by the redirect).
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = "/";
    }

    private static string Random() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private static Task Refuse(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync($"{{\"error\":{{\"code\":\"{code}\",\"message\":\"{message}\"}}}}");
    }

    private const string SignedOutPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>MDMAI — sign in</title><link rel="icon" href="/favicon.svg"><link rel="stylesheet" href="/assets/signin.css"></head>
        <body><main><h1>MDMAI Data Manager</h1>
        <p>This dashboard needs its sign-in link. Open the URL that <code>mdmai serve</code> printed (it holds a one-time
        token for this launch), or open the dashboard from the MDMAI app.</p></main></body></html>
        """;
}
