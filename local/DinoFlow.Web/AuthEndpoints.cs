using System.Net;
using System.Security.Claims;
using DinoFlow.Labeling;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Web;

/// <summary>Login, logout, invite links and <c>GET /api/session</c> (the user and a CSRF token for scripts).</summary>
public static partial class AuthEndpoints
{
    public static void Map(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/login", (HttpContext context, IAntiforgery antiforgery) =>
            LoginPage(context, antiforgery, context.Request.Query["ReturnUrl"].ToString(), null, "")).AllowAnonymous();
        app.MapPost("/login", LoginAsync).AllowAnonymous().RequireRateLimiting(PortalHost.LoginRateLimit).DisableAntiforgery();
        app.MapPost("/logout", async (HttpContext context, PortalStore store) =>
        {
            // A new stamp: this session, and any copy of its cookie, ends here (and the worker's other sessions too).
            if (context.User.Identity?.Name is { } name) store.RenewSecurityStamp(name);
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme).ConfigureAwait(false);
            return Results.Redirect("/login");
        }).AddEndpointFilter(Csrf.Filter);
        app.MapGet("/invite/{token}", InvitePage).AllowAnonymous().RequireRateLimiting(PortalHost.LoginRateLimit);
        app.MapPost("/invite/{token}", RedeemInviteAsync).AllowAnonymous().RequireRateLimiting(PortalHost.LoginRateLimit).DisableAntiforgery();
        app.MapGet("/api/session", (HttpContext context, IAntiforgery antiforgery) => Results.Json(new
        {
            user = context.User.Identity!.Name,
            admin = context.User.IsInRole(PortalRoles.Admin),
            csrfToken = antiforgery.GetAndStoreTokens(context).RequestToken,
        }));
        // Scripts and the stylesheet are public (the login page needs them); pages with data are not.
        app.MapGet("/assets/{name}", (string name) =>
            name.EndsWith(".css", StringComparison.Ordinal) || name.EndsWith(".js", StringComparison.Ordinal) ? Assets.Result(name) : Results.NotFound()).AllowAnonymous();
    }

    private static async Task<IResult> LoginAsync(HttpContext context, IAntiforgery antiforgery, PortalStore store, ILoggerFactory loggers)
    {
        var log = loggers.CreateLogger("DinoFlow.Portal.Auth");
        if (!await Csrf.IsValidAsync(context, antiforgery).ConfigureAwait(false)) return Results.BadRequest("missing or invalid CSRF token");
        var form = await context.Request.ReadFormAsync().ConfigureAwait(false);
        var user = form["username"].ToString().Trim();
        var password = form["password"].ToString();
        if (user.Length == 0 || user.Length > 64 || password.Length == 0 || password.Length > 1024 || !store.VerifyPassword(user, password))
        {
            LogLoginFailed(log, user.Length > 64 ? user[..64] + "…" : user, context.Connection.RemoteIpAddress);
            // The name stays filled in (a typo in the password should not cost the name too); the password never comes back.
            return LoginPage(context, antiforgery, form["returnUrl"].ToString(), "Wrong name or password.", user.Length > 64 ? "" : user, StatusCodes.Status401Unauthorized);
        }

        await SignInAsync(context, user, store).ConfigureAwait(false);
        LogLoggedIn(log, user);
        return Results.Redirect(SafeReturnUrl(form["returnUrl"].ToString()));
    }

    private static IResult InvitePage(string token, HttpContext context, IAntiforgery antiforgery, PortalStore store)
    {
        if (!store.IsInviteValid(token)) return Results.Content(Assets.Page("Invite", "<p>This invite link is not valid or was already used.</p>"), "text/html", statusCode: 404);
        var csrf = antiforgery.GetAndStoreTokens(context);
        var body = $"""
            <h1>Welcome to DinoFlow labeling</h1>
            <form method="post" class="card">
              <input type="hidden" name="{csrf.FormFieldName}" value="{WebUtility.HtmlEncode(csrf.RequestToken)}">
              <label>Choose a password (at least 10 characters)<input type="password" name="password" minlength="10" autocomplete="new-password" required autofocus></label>
              <button type="submit">Set password and start</button>
            </form>
            """;
        return Results.Content(Assets.Page("Invite", body), "text/html");
    }

    private static async Task<IResult> RedeemInviteAsync(string token, HttpContext context, IAntiforgery antiforgery, PortalStore store, ILoggerFactory loggers)
    {
        if (!await Csrf.IsValidAsync(context, antiforgery).ConfigureAwait(false)) return Results.BadRequest("missing or invalid CSRF token");
        var password = (await context.Request.ReadFormAsync().ConfigureAwait(false))["password"].ToString();
        if (password.Length < 10) return Results.BadRequest("the password needs at least 10 characters");
        var user = store.RedeemInvite(token, password);
        if (user is null) return Results.NotFound("this invite link is not valid or was already used");
        await SignInAsync(context, user, store).ConfigureAwait(false);
        var log = loggers.CreateLogger("DinoFlow.Portal.Auth");
        LogInviteRedeemed(log, user);
        return Results.Redirect("/");
    }

    private static Task SignInAsync(HttpContext context, string user, PortalStore store)
    {
        var role = store.RoleOf(user) ?? PortalRoles.Worker;
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user), new Claim(ClaimTypes.Role, role), new Claim(StampClaim, store.SecurityStamp(user) ?? "")],
            CookieAuthenticationDefaults.AuthenticationScheme);
        return context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
    }

    /// <param name="user">The name to fill in (after a failed attempt); the password field is always empty.</param>
    private static IResult LoginPage(HttpContext context, IAntiforgery antiforgery, string returnUrl, string? error, string user, int status = StatusCodes.Status200OK)
    {
        // With a name given, the cursor goes to the password.
        var (nameFocus, passwordFocus) = user.Length > 0 ? ("", " autofocus") : (" autofocus", "");
        var csrf = antiforgery.GetAndStoreTokens(context);
        returnUrl = SafeReturnUrl(returnUrl);
        var body = $"""
            <h1>DinoFlow labeling</h1>
            <form method="post" action="/login" class="card">
              {(error is null ? "" : $"<p class=\"error\" role=\"alert\">{WebUtility.HtmlEncode(error)}</p>")}
              <input type="hidden" name="{csrf.FormFieldName}" value="{WebUtility.HtmlEncode(csrf.RequestToken)}">
              <input type="hidden" name="returnUrl" value="{WebUtility.HtmlEncode(returnUrl)}">
              <label>Name<input name="username" autocomplete="username" value="{WebUtility.HtmlEncode(user)}" required{nameFocus}></label>
              <label>Password<input type="password" name="password" autocomplete="current-password" required{passwordFocus}></label>
              <button type="submit">Log in</button>
            </form>
            """;
        return Results.Content(Assets.Page("Log in", body), "text/html", statusCode: status);
    }

    /// <summary>The claim that carries the worker's security stamp; checked on every request.</summary>
    public const string StampClaim = "dinoflow:stamp";

    /// <summary>
    /// Every request: the session's stamp must still be the worker's (a logout, a password change or a role change
    /// gives a new one), else the session ends there and then.
    /// </summary>
    public static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var store = context.HttpContext.RequestServices.GetRequiredService<PortalStore>();
        var name = context.Principal?.Identity?.Name;
        var stamp = context.Principal?.FindFirst(StampClaim)?.Value;
        if (name is not null && stamp is not null && store.SecurityStamp(name) == stamp) return;
        context.RejectPrincipal();
        await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme).ConfigureAwait(false);
    }

    /// <summary>
    /// Only local paths: a login link must not bounce the user to another site. No control characters or whitespace
    /// (browsers drop a tab or newline, so <c>/\t/evil.example</c> becomes <c>//evil.example</c>), no backslashes, no
    /// <c>//</c> start, and a relative URI.
    /// </summary>
    public static string SafeReturnUrl(string url) =>
        url is { Length: > 0 and <= 2048 } && url[0] == '/' && !url.StartsWith("//", StringComparison.Ordinal)
        && !url.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c == '\\' || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format)
        && Uri.TryCreate(url, UriKind.Relative, out _)
            ? url
            : "/";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login failed for {User} from {Address}")]
    private static partial void LogLoginFailed(ILogger logger, string user, IPAddress? address);

    [LoggerMessage(Level = LogLevel.Information, Message = "{User} logged in")]
    private static partial void LogLoggedIn(ILogger logger, string user);

    [LoggerMessage(Level = LogLevel.Information, Message = "{User} redeemed an invite and set a password")]
    private static partial void LogInviteRedeemed(ILogger logger, string user);
}

/// <summary>CSRF checks: every state-changing API call must carry the antiforgery token in <c>X-CSRF-TOKEN</c>.</summary>
public static class Csrf
{
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method)
            && !await IsValidAsync(http, http.RequestServices.GetRequiredService<IAntiforgery>()).ConfigureAwait(false))
            return Results.Problem("missing or invalid CSRF token (send the token from GET /api/session in the X-CSRF-TOKEN header)", statusCode: StatusCodes.Status400BadRequest);
        return await next(context).ConfigureAwait(false);
    }

    public static async Task<bool> IsValidAsync(HttpContext context, IAntiforgery antiforgery)
    {
        ArgumentNullException.ThrowIfNull(antiforgery);
        try
        {
            await antiforgery.ValidateRequestAsync(context).ConfigureAwait(false);
            return true;
        }
        catch (AntiforgeryValidationException)
        {
            return false;
        }
    }
}
