using System.Threading.RateLimiting;
using DinoFlow.Local.Runner;
using DinoFlow.Fleet;
using DinoFlow.Labeling;
using DinoFlow.Web.Dashboard;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Web;

/// <summary>How the local web host listens and how strict its login limits are.</summary>
public sealed record PortalHostOptions
{
    /// <summary>Loopback unless configured: the portal is for the people at this machine (or behind a proxy).</summary>
    public string Bind { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests); <see cref="PortalHost.BaseUrl"/> says which.</summary>
    public int Port { get; init; } = 5080;

    /// <summary>Login (and invite) attempts allowed per client address per minute; more are answered 429.</summary>
    public int LoginAttemptsPerMinute { get; init; } = 10;

    public LogLevel MinimumLogLevel { get; init; } = LogLevel.Warning;

    public bool JsonLogs { get; init; }

    /// <summary>A log sink besides the console: the tests' error trap, which fails a test on errors nobody asserted.</summary>
    public ILoggerProvider? AlsoLogTo { get; init; }
}

/// <summary>
/// The local host: ASP.NET Core on Kestrel with cookie sessions, antiforgery (header <c>X-CSRF-TOKEN</c>), a fallback
/// policy that requires a session on every endpoint not marked anonymous, and login rate limiting. Endpoint groups
/// are mapped in <see cref="MapEndpoints"/>: the one place to add more (portal, dashboard under <c>/dashboard</c> and <c>/api/dashboard/*</c>).
/// </summary>
public static class PortalHost
{
    public const string LoginRateLimit = "login";

    /// <summary>The authorization policy of the dashboard, run retries and job creation.</summary>
    public const string AdminPolicy = "admin";

    public static WebApplication Build(LocalWorkspace workspace, PortalStore store, PortalHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = workspace.Workdir, Args = [] });
        builder.WebHost.UseKestrel(k => k.AddServerHeader = false);
        builder.WebHost.UseUrls($"http://{options.Bind}:{options.Port}");
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.MinimumLogLevel);
        // Framework request logs stay at warnings: they would print cookies' presence, paths with invite tokens.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (options.JsonLogs) builder.Logging.AddJsonConsole();
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        if (options.AlsoLogTo is { } sink) builder.Logging.AddProvider(sink);

        builder.Services.AddSingleton(workspace);
        builder.Services.AddSingleton(store);
        // The fleet's detections and health (written by the host's MQTT listener or the deploy stage), read by the dashboard.
        builder.Services.AddSingleton(EdgeStore.ForWorkspace(workspace.Root));
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.LoginPath = "/login";
            o.Cookie.Name = "dinoflow.session";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = TimeSpan.FromHours(10);
            o.SlidingExpiration = true;
            // APIs answer 401/403; only pages redirect to the login page.
            o.Events.OnRedirectToLogin = context => Deny(context, StatusCodes.Status401Unauthorized);
            o.Events.OnRedirectToAccessDenied = context => Deny(context, StatusCodes.Status403Forbidden);
            o.Events.OnValidatePrincipal = AuthEndpoints.ValidateSessionAsync;
        });
        builder.Services.AddAuthorization(o =>
        {
            o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            o.AddPolicy(AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole(PortalRoles.Admin));
        });
        builder.Services.AddAntiforgery(o =>
        {
            o.HeaderName = "X-CSRF-TOKEN";
            o.Cookie.Name = "dinoflow.csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(LoginRateLimit, context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.LoginAttemptsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        });

        var app = builder.Build();
        app.UseSecurityHeaders();
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();
        MapEndpoints(app);
        return app;
    }

    /// <summary>Every endpoint group of the local host. Add new groups here.</summary>
    public static void MapEndpoints(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        AuthEndpoints.Map(app);
        PortalEndpoints.Map(app);
        var workspace = app.Services.GetRequiredService<LocalWorkspace>();
        // A run retried from the dashboard labels in this host's portal and deploys through the workspace's fleet.
        var ports = new StagePorts(new LocalLabelingPortal(app.Services.GetRequiredService<PortalStore>(), () => BaseUrl(app)), FleetRollout.ForWorkspace(workspace.Root));
        app.MapDashboard(new DashboardSources(workspace, app.Services.GetRequiredService<EdgeStore>()) { Ports = ports }, AdminPolicy);
    }

    /// <summary>The address the started host listens on, e.g. <c>http://127.0.0.1:5080</c>.</summary>
    public static string BaseUrl(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        return (addresses?.FirstOrDefault() ?? app.Urls.First()).TrimEnd('/');
    }

    private static Task Deny(RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        }

        // A signed-in worker on an admin page: a page that says so, not a redirect.
        if (status == StatusCodes.Status403Forbidden)
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/html; charset=utf-8";
            return context.Response.WriteAsync(Assets.Page("Admins only",
                "<p>This page is for admins. An admin can be made with <code>dinoflow portal worker role NAME admin</code>.</p><p><a href=\"/\">Labeling jobs</a></p>"));
        }

        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
