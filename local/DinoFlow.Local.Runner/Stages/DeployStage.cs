using DinoFlow.Inference;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Local.Runner.Stages;

public sealed record DeployOutput(string Version, string PackageZip, string Sha256, IReadOnlyList<string> Devices, IReadOnlyList<string> RolledBack, string? GreengrassRecipe = null);

/// <summary>
/// Zips the compiled package and, when the run names devices, rolls it out to them through the fleet port (which
/// serves it, publishes signed deployments, waits for their status and rolls the group back when any device fails).
/// Without devices the stage only packages (nothing to deploy to).
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
        var sha = ModelPackageFiles.Zip(package.Directory, zip);
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

        var rollout = new Rollout($"{context.RunId}-{context.Attempt}", package.Manifest.Version, zip, sha, group, files.RunsFolder,
            settings.Broker, settings.DeployHost, settings.DeployTimeout);
        context.Report(0, group.Count, $"deploying {rollout.Version} to {group.Count} device(s) via {settings.Broker}");
        if (await devices.RollOutAsync(rollout, cancellationToken).ConfigureAwait(false) is { } failure) throw new StageValidationException(failure);
        return (new DeployOutput(rollout.Version, zip, sha, group, [], recipe), $"model {rollout.Version} running on {string.Join(", ", group)}");
    }
}
