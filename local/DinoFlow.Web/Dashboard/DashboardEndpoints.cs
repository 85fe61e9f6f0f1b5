using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DinoFlow.Pipeline.Runner;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Web.Dashboard;

/// <summary>
/// The dashboard: <c>GET /dashboard</c> (the page), <c>GET /api/dashboard/…</c> (JSON), <c>GET /api/dashboard/events</c>
/// (server-sent events: a snapshot whenever something changed) and <c>POST /api/runs/{id}/retry</c>. Every endpoint needs
/// an authenticated user; the POST also needs the antiforgery token in the header the host configured (X-CSRF-TOKEN).
/// The host registers authentication, authorization, antiforgery and <c>GET /api/session</c>.
/// </summary>
public static class DashboardEndpoints
{
    private static readonly IProgress<StageProgress> NoProgress = new Progress<StageProgress>();

    /// <param name="policies">Authorization policies every dashboard endpoint requires (none: the default policy).</param>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app, DashboardSources sources, params string[] policies)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(sources);
        var stopping = app.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        var workspace = sources.Workspace;
        var retrier = new RunRetrier(workspace.Store, (id, ct) => workspace.Runner(sources.Ports).RetryAsync(id, NoProgress, ct),
            workspace.LoggerFactory.CreateLogger<RunRetrier>(), stopping);
        var queries = new DashboardQueries(sources, retrier, sources.Clock);
        var dashboard = app.MapGroup("").RequireAuthorization(policies);

        dashboard.MapGet("/dashboard", () => Assets.Result(Assets.Dashboard, "dashboard.html"));
        InsightEndpoints.Map(dashboard, sources);
        // Its script and stylesheet; any other path under /dashboard is a 404 page with the way back.
        dashboard.MapGet("/dashboard/{**path}", (string path) => path is "dashboard.js" or "dashboard.css" ? Assets.Result(Assets.Dashboard, path) : NotFoundPage(path));
        dashboard.MapMethods("/api/dashboard/{**path}", ["GET", "POST"], (string path) =>
            Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such dashboard endpoint."));

        dashboard.MapGet("/api/dashboard/snapshot", async (int? window, CancellationToken ct) =>
            TypedResults.Json(await queries.SnapshotAsync(window ?? 60, ct), DashboardJson.Default.DashboardSnapshot));
        dashboard.MapGet("/api/dashboard/detections", (int? window) =>
            TypedResults.Json(queries.Detections(window ?? 60), DashboardJson.Default.DetectionChart));
        dashboard.MapGet("/api/dashboard/devices", () => TypedResults.Json(queries.Devices(), DashboardJson.Default.IReadOnlyListDeviceView));
        dashboard.MapGet("/api/dashboard/runs", async (CancellationToken ct) =>
            TypedResults.Json(await queries.RunsAsync(ct), DashboardJson.Default.IReadOnlyListRunView));

        dashboard.MapGet("/api/dashboard/events", (HttpContext context, int? window) =>
            TypedResults.ServerSentEvents(Snapshots(queries, window ?? 60, sources.RefreshInterval, stopping, context.RequestAborted)));

        dashboard.MapPost("/api/runs/{id}/retry", async (string id, HttpContext context, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            try
            {
                await antiforgery.ValidateRequestAsync(context).ConfigureAwait(false);
            }
            catch (AntiforgeryValidationException)
            {
                // The reason stays out of the response and the logs: it would describe the tokens.
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Missing or invalid CSRF token: reload the page and try again.");
            }

            return await retrier.StartAsync(id, ct).ConfigureAwait(false) switch
            {
                RetryStart.Started => Results.Json(new RetryAccepted(id, "retrying"), DashboardJson.Default.RetryAccepted, statusCode: StatusCodes.Status202Accepted),
                RetryStart.NotFound => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: $"No run '{id}'."),
                RetryStart.AlreadyRetrying => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: $"Run {id} is already being retried."),
                _ => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: $"Run {id} has succeeded or is running; there is nothing to retry."),
            };
        });

        return app;
    }

    /// <summary>A 404 page in the portal's style with links to the dashboard and the jobs; the path is HTML-encoded.</summary>
    private static IResult NotFoundPage(string path) => Results.Content(
        Assets.Page("No such dashboard page", $"""
            <h1>No such dashboard page</h1><p>There is no dashboard page at <strong>/dashboard/{System.Net.WebUtility.HtmlEncode(path)}</strong>: the link may be mistyped or out of date.</p>
            <p><a id="back-to-dashboard" href="/dashboard">Back to the dashboard</a> · <a href="/">Labeling jobs</a></p>
            """),
        "text/html; charset=utf-8", statusCode: StatusCodes.Status404NotFound);

    /// <summary>Reads the stores every interval and sends a snapshot when it differs from the last one sent.</summary>
    private static async IAsyncEnumerable<SseItem<string>> Snapshots(
        DashboardQueries queries, int window, TimeSpan interval, CancellationToken stopping, [EnumeratorCancellation] CancellationToken requestAborted = default)
    {
        // Stopping the host ends the stream at once instead of waiting for the browser to hang up.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, stopping);
        using var timer = new PeriodicTimer(interval);
        string? last = null;
        do
        {
            var json = JsonSerializer.Serialize(await queries.SnapshotAsync(window, cancel.Token).ConfigureAwait(false), DashboardJson.Default.DashboardSnapshot);
            if (json == last) continue;
            last = json;
            yield return new SseItem<string>(json, "snapshot");
        }
        while (await NextTickAsync(timer, cancel.Token).ConfigureAwait(false));
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
