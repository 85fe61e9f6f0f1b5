using System.Net;
using DinoFlow.Local.Runner;
using DinoFlow.Labeling;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Web;

/// <summary>The labeling portal: pages and a thin JSON API over <see cref="PortalStore"/>.</summary>
public static partial class PortalEndpoints
{
    public sealed record LabelRequest(string Label);

    /// <summary>A new job over the ingested data set; labels default to its folder names.</summary>
    public sealed record CreateJobRequest(string Name, IReadOnlyList<string>? Labels, string? Instructions, int? Annotators);

    public static void Map(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/", () => Assets.Result("jobs.html"));
        app.MapGet("/label/{job}", (string job, PortalStore store) => store.FindJob(job) is null
            ? NotFoundPage("No such labeling job", $"<p>There is no labeling job named <strong>{WebUtility.HtmlEncode(job)}</strong>: the link may be mistyped or out of date.</p>")
            : Assets.Result("label.html"));

        var api = app.MapGroup("/api/portal").AddEndpointFilter(Csrf.Filter);
        api.MapGet("/jobs", (HttpContext context, PortalStore store) => Results.Json(store.ListJobs().Select(j => JobJson(j, Visible(context, store.Progress(j.Name))))));
        api.MapPost("/jobs", CreateJobAsync).RequireAuthorization(PortalHost.AdminPolicy);
        api.MapGet("/jobs/{job}", (string job, HttpContext context, PortalStore store) =>
            store.FindJob(job) is { } found ? Results.Json(JobJson(found, Visible(context, store.Progress(job)))) : Results.NotFound());
        api.MapPost("/jobs/{job}/next", (string job, int? count, HttpContext context, PortalStore store) =>
        {
            if (store.FindJob(job) is null) return Results.NotFound();
            var assignments = store.NextAssignments(job, User(context), Math.Clamp(count ?? 5, 1, 50));
            return Results.Json(assignments.Select(a => AssignmentJson(job, a)));
        });
        api.MapGet("/jobs/{job}/history", (string job, int? limit, HttpContext context, PortalStore store) =>
            store.FindJob(job) is null ? Results.NotFound()
                : Results.Json(store.History(job, User(context), Math.Clamp(limit ?? 50, 1, 500)).Select(a => AssignmentJson(job, a))));
        // The worker's own progress and the job's, the time left at the worker's pace, and whether guesses are preselected.
        api.MapGet("/jobs/{job}/mine", (string job, HttpContext context, PortalStore store) =>
            store.FindJob(job) is null ? Results.NotFound() : Results.Json(store.Outlook(job, User(context))));
        api.MapPost("/jobs/{job}/items/{itemId:long}/label", (string job, long itemId, LabelRequest request, HttpContext context, PortalStore store, ILoggerFactory loggers) =>
        {
            if (store.FindJob(job) is null) return Results.NotFound();
            var user = User(context);
            var result = store.Submit(job, user, itemId, request.Label);
            var log = loggers.CreateLogger("DinoFlow.Portal");
            LogSubmitted(log, job, itemId, user, result);
            return result switch
            {
                SubmitResult.Accepted or SubmitResult.Changed => Results.Json(new { result = result.ToString(), mine = store.Outlook(job, user) }),
                SubmitResult.UnknownLabel => Results.Problem($"'{request.Label}' is not a label of job '{job}'", statusCode: StatusCodes.Status400BadRequest),
                _ => Results.Problem($"item {itemId} is not assigned to you (its lease may have expired)", statusCode: StatusCodes.Status409Conflict),
            };
        });
        // Every worker's labels: admins only.
        api.MapGet("/jobs/{job}/output.manifest", (string job, PortalStore store) =>
            store.FindJob(job) is null ? Results.NotFound() : Results.Text(store.ExportManifest(job), "application/x-ndjson")).RequireAuthorization(PortalHost.AdminPolicy);
        api.MapGet("/jobs/{job}/images/{**key}", ServeImage);
    }

    private static async Task<IResult> CreateJobAsync(CreateJobRequest request, HttpContext context, PortalStore store, LocalWorkspace workspace, ILoggerFactory loggers)
    {
        try
        {
            var images = await PortalJobs.ImagesAsync(workspace.Data, workspace.Root, null, context.RequestAborted).ConfigureAwait(false);
            var labels = request.Labels is { Count: > 0 } l ? l.Select(x => x.Trim()).Where(x => x.Length > 0).ToList() : PortalJobs.FolderLabels(images);
            var job = store.CreateJob(new JobSpec(request.Name?.Trim() ?? "", labels, request.Instructions ?? "", request.Annotators ?? 1), images);
            var (log, name, items, user) = (loggers.CreateLogger("DinoFlow.Portal"), job.Name, job.Items, User(context));
            LogJobCreated(log, name, items, user);
            return Results.Json(JobJson(job, store.Progress(job.Name)), statusCode: StatusCodes.Status201Created);
        }
        catch (PortalException e)
        {
            return Results.Problem(e.Message, statusCode: StatusCodes.Status400BadRequest);
        }
    }

    /// <summary>
    /// Serves an image of a job. The key is decoded once more (so <c>%2F</c> and <c>%5C</c> count as separators),
    /// normalised by <see cref="ObjectKey"/> (no <c>..</c>, no absolute paths, no control characters), must be an
    /// image of the job, and the final path must still lie inside the data set's images folder.
    /// </summary>
    private static IResult ServeImage(string job, string key, PortalStore store, LocalWorkspace workspace)
    {
        string normalized;
        try
        {
            normalized = ObjectKey.Normalize(Uri.UnescapeDataString(key));
        }
        catch (InvalidObjectKeyException e)
        {
            return Results.Problem(e.Message, statusCode: StatusCodes.Status400BadRequest);
        }

        if (!store.IsImageOfJob(job, normalized)) return Results.NotFound();
        var root = Path.GetFullPath(workspace.Data.Describe(DatasetIndex.ImagesPrefix)) + Path.DirectorySeparatorChar;
        var path = Path.GetFullPath(Path.Combine(root, normalized));
        if (!path.StartsWith(root, StringComparison.Ordinal) || !File.Exists(path)) return Results.NotFound();
        var type = Path.GetExtension(path).ToUpperInvariant() switch
        {
            ".PNG" => "image/png",
            ".BMP" => "image/bmp",
            ".WEBP" => "image/webp",
            _ => "image/jpeg",
        };
        return Results.File(path, type, enableRangeProcessing: false);
    }

    private static string User(HttpContext context) => context.User.Identity!.Name!;

    /// <summary>A 404 page in the portal's style, with a way back to the jobs; <paramref name="body"/> must already be HTML-encoded.</summary>
    public static IResult NotFoundPage(string title, string body) => Results.Content(
        Assets.Page(title, $"""<h1>{WebUtility.HtmlEncode(title)}</h1>{body}<p><a id="back-to-jobs" href="/">Back to the labeling jobs</a></p>"""),
        "text/html; charset=utf-8", statusCode: StatusCodes.Status404NotFound);

    /// <summary>A worker sees the job's totals and their own row; admins see every worker's (agreement rates included).</summary>
    private static JobProgress Visible(HttpContext context, JobProgress progress) =>
        context.User.IsInRole(PortalRoles.Admin) ? progress : progress with { Workers = [.. progress.Workers.Where(w => w.Worker == User(context))] };

    private static object AssignmentJson(string job, Assignment a) => new
    {
        itemId = a.ItemId,
        imageUrl = $"/api/portal/jobs/{Uri.EscapeDataString(job)}/images/{string.Join('/', a.ImageKey.Split('/').Select(Uri.EscapeDataString))}",
        label = a.Label,
        guess = a.Guess,
        origin = a.Origin,
    };

    private static object JobJson(PortalJob job, JobProgress progress) => new
    {
        name = job.Name,
        categories = job.Spec.Categories,
        instructions = job.Spec.Instructions,
        annotatorsPerImage = job.Spec.AnnotatorsPerImage,
        labelAttribute = job.Spec.LabelAttribute,
        autoLabelThreshold = job.Spec.AutoLabelThreshold,
        preselectGuesses = job.Spec.PreselectGuesses,
        runId = job.Spec.RunId,
        createdAt = job.CreatedAt,
        progress,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {Job} created with {Items} images by {User}")]
    private static partial void LogJobCreated(ILogger logger, string job, int items, string user);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {Job} item {ItemId}: label from {User} {Result}")]
    private static partial void LogSubmitted(ILogger logger, string job, long itemId, string user, SubmitResult result);
}
