using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Fleet.Lineage;

/// <summary>
/// Follows a detection back to where it came from: the event in <c>edge.db</c> → the device and its deployments of the
/// model → the model's package in the workspace (model.json) → the run that trained it → the data set hash, the
/// labeling jobs and the compile target. <c>dinoflow trace</c> and the dashboard's lineage page print it.
/// </summary>
/// <param name="runsFolder">The workspace's runs folder (<c>.dinoflow/runs</c>), where each run keeps its packages.</param>
/// <param name="edgeDatabase">The path of <paramref name="edge"/>'s file, for the message when an event is not there.</param>
public sealed class LineageTracer(string runsFolder, IRunStore runs, EdgeStore edge, string edgeDatabase)
{
    /// <summary>Where a package's own evaluation report is (<c>dinoflow evaluate</c> writes it beside the package).</summary>
    public const string ReportFolder = "evaluation";

    /// <exception cref="KeyNotFoundException">No detection has this event id.</exception>
    public async Task<LineageTrace> TraceAsync(string eventId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventId);
        var detection = edge.Detection(eventId)
            ?? throw new KeyNotFoundException($"no detection with event id '{eventId}' in {edgeDatabase} (the dashboard lists the latest detections with their ids)");
        var package = FindPackage(detection.ModelVersion);
        // A package trained before lineage was recorded: local runs name their model after the run.
        var runId = package?.Manifest.Lineage?.RunId ?? detection.ModelVersion;
        var run = await runs.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        return new LineageTrace(detection, package?.Directory, package?.Manifest, run, edge.Deployments(detection.DeviceId, detection.ModelVersion),
            package is null ? null : ReportFile(package.Value.Directory));
    }

    /// <summary>
    /// The evaluation report of a model version: the one <c>dinoflow evaluate</c> wrote beside its package, else one
    /// rendered from the validation metrics in its model.json (confusion matrix, per-class recall); null when the
    /// workspace has no package of that version, or it carries no metrics.
    /// </summary>
    public string? ReportHtml(string version)
    {
        if (FindPackage(version) is not { } package) return null;
        if (ReportFile(package.Directory) is { } file) return File.ReadAllText(file);
        return package.Manifest.Metrics is { } metrics
            ? EvaluationReport.Html($"{package.Manifest.Name} {package.Manifest.Version} (validation, from model.json)", metrics, null)
            : null;
    }

    /// <summary>
    /// The package of a version in the workspace's runs: the compiled one (what was deployed) before the trained one.
    /// Local runs name the model after the run, so that run's folder is looked at first.
    /// </summary>
    public (string Directory, ModelManifest Manifest)? FindPackage(string version)
    {
        ArgumentNullException.ThrowIfNull(version);
        if (!Directory.Exists(runsFolder)) return null;
        var candidates = Directory.EnumerateDirectories(runsFolder)
            .OrderBy(run => Path.GetFileName(run) == version ? 0 : 1)
            .SelectMany(run => new[] { Path.Combine(run, "compile", "model"), Path.Combine(run, "train", "model") });
        foreach (var directory in candidates)
        {
            var json = Path.Combine(directory, ModelManifest.FileName);
            if (!File.Exists(json)) continue;
            ModelManifest manifest;
            try
            {
                manifest = ModelManifest.Parse(File.ReadAllText(json), json);
            }
            catch (ModelPackageException)
            {
                continue; // a damaged package elsewhere must not hide the one asked for
            }

            if (manifest.Version == version) return (directory, manifest);
        }

        return null;
    }

    private static string? ReportFile(string packageDirectory)
    {
        var path = Path.Combine(packageDirectory, ReportFolder, "report.html");
        return File.Exists(path) ? path : null;
    }
}
