using System.Globalization;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Fleet.Lineage;

/// <summary>
/// A detection's chain: event → device (its deployments of the model) → model version → run → data set hash → labeling
/// jobs → compile target and precision. A link the workspace cannot show is null, and <see cref="Links"/> says why.
/// </summary>
/// <param name="PackageDirectory">The model's package in the workspace; null when no run here made that version.</param>
/// <param name="ReportFile">The package's own evaluation report (<c>dinoflow evaluate</c>), when there is one.</param>
public sealed record LineageTrace(
    StoredDetection Detection, string? PackageDirectory, ModelManifest? Model, RunRecord? Run, IReadOnlyList<DeploymentRecord> Deployments, string? ReportFile)
{
    /// <summary>The chain as (link, what) pairs in order, the same on the command line and the dashboard.</summary>
    public IReadOnlyList<(string Link, string Text)> Links()
    {
        static string T(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var d = Detection;
        var links = new List<(string, string)>
        {
            ("event", string.Create(CultureInfo.InvariantCulture, $"{d.EventId}: {d.Label} ({d.Confidence:0.000}) at {T(d.Timestamp)}, frame {d.FrameIndex}")),
            ("device", Deployments.Count == 0
                ? $"{d.DeviceId} (no deployment of {d.ModelVersion} recorded by this host)"
                : $"{d.DeviceId}, deployment {Deployments[0].DeploymentId} {Deployments[0].Status} at {T(Deployments[0].UpdatedAt)}"),
        };
        if (Model is not { } m)
        {
            links.Add(("model", $"{d.ModelVersion} (no package of this version in the workspace's runs)"));
        }
        else
        {
            links.Add(("model", $"{m.Version} ({m.Name}), model.onnx sha256 {m.ModelSha256}, created {T(m.CreatedAt)}, package {PackageDirectory}"));
        }

        links.Add(("run", Run is { } r
            ? $"{r.Id} ({r.Status}), source {r.Input.Source}, started {T(r.CreatedAt)}"
            : $"{Model?.Lineage?.RunId ?? d.ModelVersion} (not in this workspace's run store)"));
        if (Model is { } model)
        {
            var training = model.Training is { } t ? string.Create(CultureInfo.InvariantCulture, $" ({t.TrainImages} training images, {t.ValidationImages} validation; recipe {t.Recipe})") : "";
            links.Add(("data set", $"sha256 {model.TrainingDataHash}{training}"));
            links.Add(("labeling", model.Lineage is { } lineage
                ? string.Join(", ", lineage.LabelingJobs)
                : "not recorded (the package was made before lineage was, or outside a run)"));
            links.Add(("compile", model.Compiled is { } c
                ? $"target {c.Target}, precision {c.EffectivePrecision}, execution provider {c.ExecutionProvider}, optimisation {c.OptimizationLevel}"
                : "not compiled (the trained package as it is)"));
            links.Add(("report", ReportFile ?? (model.Metrics is null ? "none (model.json has no metrics)" : $"/dashboard/models/{Uri.EscapeDataString(model.Version)}/report (from model.json's validation metrics)")));
        }

        return links;
    }

    /// <summary>The chain as lines of text, one link a line.</summary>
    public string ToText() => string.Join(Environment.NewLine, Links().Select(l => $"{l.Link,-9} {l.Text}"));
}
