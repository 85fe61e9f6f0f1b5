using DinoFlow.Inference;
using DinoFlow.Pipeline.Compatibility;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Local.Runner.Stages;

/// <param name="Refused">Devices refused before anything was sent, each as "device: reason" (see <see cref="IDeviceRollout.Screen"/>).</param>
/// <param name="CompatibilityNotes">What the compatibility check could not check, or warns of, per device that got the package.</param>
/// <param name="Canary">The canary gate's decision (outcome, canaries, findings) when the run had canaries.</param>
public sealed record DeployOutput(string Version, string PackageZip, string Sha256, IReadOnlyList<string> Devices, IReadOnlyList<string> RolledBack, string? GreengrassRecipe = null,
    IReadOnlyList<string>? Refused = null, IReadOnlyList<string>? CompatibilityNotes = null, string? Canary = null);

/// <summary>
/// Zips the compiled package and, when the run names devices, rolls it out to them through the fleet port (which
/// serves it, publishes signed deployments, waits for their status and rolls the group back when any device fails).
/// Before anything is sent, a device whose last reported platform cannot run the package (provider, FP16, opset) is
/// refused, named with the reason; the others still get it. Without devices the stage only packages (nothing to deploy to).
/// </summary>
/// <param name="files">Where this step's folder and earlier runs' packages are.</param>
/// <param name="devices">The fleet; null where the host has none (a run that names devices then fails, saying so).</param>
public sealed class DeployStage(WorkspaceFiles files, IDeviceRollout? devices) : Stage<DeployOutput>
{
    public const string StageName = "deploy";

    public override string Name => StageName;
    public override string Description => "serve the package over HTTP, publish it to the group's devices over MQTT, wait for them, roll back on failure";

    protected override async Task<(DeployOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var settings = context.Input.Settings;
        var compiled = context.OutputOf<CompileOutput>(CompileStage.StageName);
        var package = ModelPackageFiles.Load(compiled.PackageDirectory);
        var root = files.StepFolder(context.RunId, context.StageName);
        Directory.CreateDirectory(root);
        var zip = Path.Combine(root, $"model-{package.Manifest.Version}.zip");
        var sha = PackageZip.CreateFromDirectory(package.Directory, zip);
        // For a Greengrass fleet: the model component recipe whose version follows this run, for the zip uploaded as
        // <greengrass-artifacts>/<version>/model.zip. Without that location there is no recipe: a placeholder bucket would not deploy.
        string? recipe = null;
        if (settings.GreengrassArtifacts is { Length: > 0 } artifacts)
        {
            recipe = Path.Combine(root, "greengrass-model-recipe.json");
            var component = new ModelComponent(package.Manifest.Version, GreengrassModelRecipe.RunStart(package.Manifest.Version, package.Manifest.CreatedAt),
                $"DinoFlow model {package.Manifest.Version} (model.onnx, model.json and probe image), verified by the edge before use.",
                [new ModelArtifact($"{artifacts.TrimEnd('/')}/{package.Manifest.Version}/model.zip", sha)]);
            await File.WriteAllTextAsync(recipe, GreengrassModelRecipe.Render(component), cancellationToken).ConfigureAwait(false);
        }

        var group = settings.Devices;
        if (group.Count == 0)
            return (new DeployOutput(package.Manifest.Version, zip, sha, [], [], recipe), $"packaged {Path.GetFileName(zip)}{(recipe is null ? "" : " and " + Path.GetFileName(recipe))}; no devices given (--devices), nothing deployed");
        if (devices is null) throw new StageValidationException($"the run names devices ({string.Join(", ", group)}), and this host has no fleet to deploy to");

        var requirements = PackageRequirements.Of(package.Manifest, OnnxOpsetReader.DefaultDomain(package.Model));
        var verdicts = devices.Screen(group, requirements);
        var refused = verdicts.Where(v => !v.CanRun).Select(v => v.Describe()).ToList();
        var notes = verdicts.Where(v => v.CanRun && v.Notes.Count > 0).Select(v => v.Describe()).ToList();
        if (refused.Count == group.Count)
            throw new StageValidationException($"no device can run model {package.Manifest.Version} ({requirements}): {string.Join(" | ", refused)}");
        IReadOnlyList<string> targets = [.. verdicts.Where(v => v.CanRun).Select(v => v.Device)];
        var refusedText = refused.Count == 0 ? "" : $"; refused before download: {string.Join(" | ", refused)}";
        // Canaries the screen refused are no canaries; asked for canaries and none left, the stage stops rather than skip the gate.
        IReadOnlyList<string> canaries = [.. settings.Canaries.Where(targets.Contains)];
        if (settings.Canaries.Count > 0 && canaries.Count == 0)
            throw new StageValidationException($"none of the canaries ({string.Join(", ", settings.Canaries)}) can run model {package.Manifest.Version}{refusedText}");
        var rollout = new Rollout($"{context.RunId}-{context.Attempt}", package.Manifest.Version, zip, sha, targets, files.RunsFolder,
            settings.Broker, settings.DeployHost, settings.DeployTimeout) { Canaries = canaries, CanaryPolicy = settings.CanaryPolicy };
        context.Report(0, targets.Count, $"deploying {rollout.Version} to {targets.Count} device(s) via {settings.Broker}{(canaries.Count > 0 ? $", shadow on {string.Join(", ", canaries)} first" : "")}{refusedText}");
        var failure = await devices.RollOutAsync(rollout, cancellationToken).ConfigureAwait(false);
        var canary = canaries.Count > 0 ? devices.CanaryDecision(rollout.DeploymentId) : null;
        var canaryText = canary is null ? "" : $"; canary gate: {canary}";
        if (failure is not null) throw new StageValidationException(failure + refusedText);
        return (new DeployOutput(rollout.Version, zip, sha, targets, [], recipe, refused, notes, canary), $"model {rollout.Version} running on {string.Join(", ", targets)}{canaryText}{refusedText}");
    }
}
