using System.Net;
using DinoFlow.Fleet.Lineage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace DinoFlow.Web.Dashboard;

/// <summary>
/// The dashboard's lineage, report and snapshot endpoints: <c>GET /dashboard/trace/{eventId}</c> (a detection's chain
/// as a page), <c>GET /dashboard/models/{version}/report</c> (the model's evaluation report) and
/// <c>GET /api/dashboard/snapshots/{eventId}</c> (the JPEG a detection carried). Mapped inside the dashboard's group, so
/// they need what every dashboard endpoint needs.
/// </summary>
internal static class InsightEndpoints
{
    public static void Map(RouteGroupBuilder dashboard, DashboardSources sources)
    {
        var tracer = new LineageTracer(sources.Workspace.Files.RunsFolder, sources.Workspace.Store, sources.Edge, Path.Combine(sources.Workspace.Root, "edge.db"));
        dashboard.MapGet("/dashboard/trace/{eventId}", async (string eventId, CancellationToken ct) =>
        {
            LineageTrace trace;
            try
            {
                trace = await tracer.TraceAsync(eventId, ct).ConfigureAwait(false);
            }
            catch (KeyNotFoundException e)
            {
                return Results.Content(Assets.Page("No such detection", $"<h1>No such detection</h1><p>{WebUtility.HtmlEncode(e.Message)}</p><p><a href=\"/dashboard\">Back to the dashboard</a></p>"),
                    "text/html; charset=utf-8", statusCode: StatusCodes.Status404NotFound);
            }

            return Results.Content(Assets.Page("Lineage of " + eventId, TracePage(trace)), "text/html; charset=utf-8");
        });
        dashboard.MapGet("/dashboard/models/{version}/report", (string version) => tracer.ReportHtml(version) is { } html
            ? Results.Content(html, "text/html; charset=utf-8")
            : Results.Content(Assets.Page("No report", $"<h1>No report for model {WebUtility.HtmlEncode(version)}</h1><p>No package of this version in the workspace's runs carries validation metrics.</p><p><a href=\"/dashboard\">Back to the dashboard</a></p>"),
                "text/html; charset=utf-8", statusCode: StatusCodes.Status404NotFound));
        dashboard.MapGet("/api/dashboard/snapshots/{eventId}", (string eventId) => sources.Edge.Snapshots.Jpeg(eventId) is { } jpeg
            ? Results.File(jpeg, "image/jpeg")
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: $"No snapshot for detection '{eventId}'."));
    }

    /// <summary>The chain as a definition list, with the report one click away; every value is HTML-encoded.</summary>
    private static string TracePage(LineageTrace trace)
    {
        var rows = string.Concat(trace.Links().Select(l => $"<dt>{WebUtility.HtmlEncode(l.Link)}</dt><dd data-link=\"{WebUtility.HtmlEncode(l.Link)}\">{WebUtility.HtmlEncode(l.Text)}</dd>"));
        var report = trace.Model is { } model
            ? $"<p><a id=\"report-link\" href=\"/dashboard/models/{Uri.EscapeDataString(model.Version)}/report\">Evaluation report of model {WebUtility.HtmlEncode(model.Version)}</a> (confusion matrix, recall per class)</p>"
            : "";
        return $"<h1>Lineage of detection {WebUtility.HtmlEncode(trace.Detection.EventId)}</h1><dl id=\"lineage\">{rows}</dl>{report}<p><a href=\"/dashboard\">Back to the dashboard</a></p>";
    }
}
