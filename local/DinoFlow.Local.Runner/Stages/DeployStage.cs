using System.Globalization;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Inference;
using DinoFlow.Fleet;
using DinoFlow.Pipeline.Compatibility;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Local.Runner.Stages;

/// <param name="Refused">Devices refused before anything was sent, each as "device: reason" (see <see cref="DeviceScreen"/>).</param>
/// <param name="CompatibilityNotes">What the compatibility check could not check, or warns of, per device that got the package.</param>
public sealed record DeployOutput(string Version, string PackageZip, string Sha256, IReadOnlyList<string> Devices, IReadOnlyList<string> RolledBack, string? GreengrassRecipe = null,
    IReadOnlyList<string>? Refused = null, IReadOnlyList<string>? CompatibilityNotes = null);

/// <summary>
/// Zips the compiled package, serves it over HTTP, publishes the deployment (retained) to each device of the group,
/// waits for their status, and when any device fails or times out, rolls the others back to their last good model.
/// Before anything is sent, a device whose last reported platform cannot run the package (provider, FP16, opset) is
/// refused, named with the reason; the others still get it. Without --devices the stage only packages (nothing to deploy to).
/// </summary>
/// <param name="files">Where this step's folder and earlier runs' packages are.</param>
/// <param name="openEdgeStore">The workspace's edge store (last good deployment per device; statuses).</param>
/// <param name="hostOptions">The host's MQTT login and signing key; asked for only when there are devices to deploy to.</param>
public sealed class DeployStage(WorkspaceFiles files, Func<EdgeStore> openEdgeStore, Func<FleetClientOptions> hostOptions) : Stage<DeployOutput>
{
    public const string StageName = "deploy";
    public const string DevicesOption = "deploy-devices";
    public const string BrokerOption = "deploy-broker";
    public const string TimeoutOption = "deploy-timeout";
    public const string HostOption = "deploy-host";

    /// <summary>s3://BUCKET/PREFIX/ the package zips are uploaded to for a Greengrass fleet; without it no recipe is written.</summary>
    public const string GreengrassArtifactsOption = "deploy-greengrass-artifacts";

    public override string Name => StageName;
    public override string Description => "serve the package over HTTP, publish it to the group's devices over MQTT, wait for them, roll back on failure";

    protected override async Task<(DeployOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var compiled = context.OutputOf<CompileOutput>(CompileStage.StageName);
        var package = ModelPackageFiles.Load(compiled.PackageDirectory);
        var root = files.StepFolder(context.RunId, context.StageName);
        Directory.CreateDirectory(root);
        var zip = Path.Combine(root, $"model-{package.Manifest.Version}.zip");
        var sha = PackageZip.CreateFromDirectory(package.Directory, zip);
        // For a Greengrass fleet: the model component recipe whose version follows this run, for the zip uploaded as
        // <deploy-greengrass-artifacts>/<version>/model.zip. Without that location there is no recipe: a placeholder bucket would not deploy.
        string? recipe = null;
        if (context.Input.Option(GreengrassArtifactsOption, "") is { Length: > 0 } artifacts)
        {
            recipe = Path.Combine(root, "greengrass-model-recipe.json");
            var component = new ModelComponent(package.Manifest.Version, GreengrassModelRecipe.RunStart(package.Manifest.Version, package.Manifest.CreatedAt),
                $"DinoFlow model {package.Manifest.Version} (model.onnx, model.json and probe image), verified by the edge before use.",
                [new ModelArtifact($"{artifacts.TrimEnd('/')}/{package.Manifest.Version}/model.zip", sha)]);
            await File.WriteAllTextAsync(recipe, GreengrassModelRecipe.Render(component), cancellationToken).ConfigureAwait(false);
        }

        var devices = context.Input.Option(DevicesOption, "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (devices.Length == 0)
            return (new DeployOutput(package.Manifest.Version, zip, sha, [], [], recipe), $"packaged {Path.GetFileName(zip)}{(recipe is null ? "" : " and " + Path.GetFileName(recipe))}; no devices given (--devices), nothing deployed");

        var broker = context.Input.Option(BrokerOption, "mqtt://127.0.0.1:1883");
        var timeout = TimeSpan.FromSeconds(double.Parse(context.Input.Option(TimeoutOption, "120"), CultureInfo.InvariantCulture));
        var store = openEdgeStore();
        var requirements = PackageRequirements.Of(package.Manifest, OnnxOpsetReader.DefaultDomain(package.Model));
        var verdicts = DeviceScreen.Check(store, devices, requirements);
        var refused = verdicts.Where(v => !v.CanRun).Select(v => v.Describe()).ToList();
        var notes = verdicts.Where(v => v.CanRun && v.Notes.Count > 0).Select(v => v.Describe()).ToList();
        if (refused.Count == devices.Length)
            throw new StageValidationException($"no device can run model {package.Manifest.Version} ({requirements}): {string.Join(" | ", refused)}");
        devices = [.. verdicts.Where(v => v.CanRun).Select(v => v.Device)];
        var refusedText = refused.Count == 0 ? "" : $"; refused before download: {string.Join(" | ", refused)}";
        await using var server = new PackageServer(context.Input.Option(HostOption, "127.0.0.1"));
        var url = server.Add(Path.GetFileName(zip), zip);
        var previous = devices.ToDictionary(d => d, store.LastSucceeded, StringComparer.Ordinal);
        // Serve the previous packages too (from earlier runs' deploy folders), so a rollback can download them again.
        var runs = files.RunsFolder;
        foreach (var device in devices)
        {
            if (previous[device] is not { } last) continue;
            var name = Uri.UnescapeDataString(new Uri(last.Url).Segments[^1]);
            var earlier = Directory.EnumerateFiles(runs, name, SearchOption.AllDirectories).FirstOrDefault();
            previous[device] = earlier is null ? last : last with { Url = server.Add(name, earlier), Files = DeploymentSignature.FilesOfZip(earlier) };
        }

        // Signed with the workspace's key (.dinoflow/fleet/deploy-signing.key); devices pin deploy-signing.pub.
        var fleetOptions = hostOptions();
        using var signer = fleetOptions.Signer;
        await using var fleet = await FleetClient.ConnectAsync(broker, store, fleetOptions, cancellationToken).ConfigureAwait(false);
        var request = new DeploymentRequest($"{context.RunId}-{context.Attempt}", package.Manifest.Version, url, sha) { Files = DeploymentSignature.FilesOfZip(zip) };
        context.Report(0, devices.Length, $"deploying {request.Version} to {devices.Length} device(s) via {broker}{refusedText}");
        var group = await fleet.DeployGroupAsync(devices, request, previous, timeout, cancellationToken).ConfigureAwait(false);
        if (group.Failure is { } failure) throw new StageValidationException(failure + refusedText);
        return (new DeployOutput(request.Version, zip, sha, devices, [], recipe, refused, notes), $"model {request.Version} running on {string.Join(", ", devices)}{refusedText}");
    }
}
