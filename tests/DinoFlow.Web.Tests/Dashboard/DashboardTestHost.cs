using System.Collections.Concurrent;
using System.Security.Claims;
using DinoFlow.TestKit;
using DinoFlow.Web.Dashboard;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Web.Tests.Dashboard;

/// <summary>
/// A real Kestrel host on a loopback port with the services the local web host registers (cookie authentication,
/// a fallback policy that requires a signed-in user, antiforgery with the X-CSRF-TOKEN header, GET /api/session), a
/// test-only sign-in at /test-login, and the dashboard. Every log line is kept so tests can look for secrets in them.
/// </summary>
public sealed class DashboardTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardTestHost(WebApplication app, LogCapture logs, ErrorTrap trap)
    {
        _app = app;
        Logs = logs;
        Trap = trap;
        Url = app.Urls.First();
    }

    public string Url { get; }
    public LogCapture Logs { get; }

    /// <summary>Fails the test, when the host stops, on an error the host logged that the test did not expect.</summary>
    public ErrorTrap Trap { get; }

    public static async Task<DashboardTestHost> StartAsync(DashboardSources sources)
    {
        var logs = new LogCapture();
        var trap = new ErrorTrap();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Debug).AddProvider(logs).AddProvider(trap);
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.LoginPath = "/login";
            // An API call without a session gets 401, not the login page.
            o.Events.OnRedirectToLogin = context =>
            {
                if (context.Request.Path.StartsWithSegments("/api")) context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                else context.Response.Redirect(context.RedirectUri);
                return Task.CompletedTask;
            };
        });
        builder.Services.AddAuthorization(o => o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        builder.Services.AddAntiforgery(o => o.HeaderName = "X-CSRF-TOKEN");

        var app = builder.Build();
        app.UseSecurityHeaders();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/login", () => Results.Text("login page", "text/plain")).AllowAnonymous();
        app.MapGet("/test-login", async (HttpContext context, string user) =>
        {
            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], CookieAuthenticationDefaults.AuthenticationScheme);
            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
            return Results.Redirect("/dashboard");
        }).AllowAnonymous();
        app.MapGet("/api/session", (HttpContext context, IAntiforgery antiforgery) =>
            Results.Json(new { user = context.User.Identity?.Name, csrfToken = antiforgery.GetAndStoreTokens(context).RequestToken })).RequireAuthorization();
        app.MapDashboard(sources);
        await app.StartAsync();
        return new DashboardTestHost(app, logs, trap);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Trap.Dispose();
    }

    public sealed class LogCapture : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyCollection<string> Lines => _lines;

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
        }
    }
}
