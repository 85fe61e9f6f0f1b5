using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Security;
using DinoFlow.Pipeline.Compatibility;
using DinoFlow.Pipeline.Deployment;

namespace DinoFlow.Fleet;

/// <summary>
/// The local fleet behind the deploy stage's port: serves the package (and each device's last good one, for a
/// rollback) over HTTP, publishes the deployment signed with the workspace's key, awaits every device's status and
/// rolls the group back when one fails.
/// </summary>
/// <param name="openEdgeStore">The workspace's edge store (last good deployment per device; statuses).</param>
/// <param name="hostOptions">The host's MQTT login and signing key; asked for only when a rollout starts.</param>
/// <param name="canaryPoll">How often a canary rollout's gate reads the shadow reports.</param>
public sealed class FleetRollout(Func<EdgeStore> openEdgeStore, Func<FleetClientOptions> hostOptions, TimeSpan? canaryPoll = null) : IDeviceRollout
{
    /// <summary>The fleet of a workspace (<c>.dinoflow/</c>): its edge.db and its fleet/ keys.</summary>
    public static FleetRollout ForWorkspace(string dinoflowRoot) =>
        new(() => EdgeStore.ForWorkspace(dinoflowRoot), () => FleetClientOptions.ForWorkspace(dinoflowRoot));

    public IReadOnlyList<CompatibilityVerdict> Screen(IReadOnlyList<string> devices, PackageRequirements package) =>
        DeviceScreen.Check(openEdgeStore(), devices, package);

    public string? CanaryDecision(string deploymentId) => openEdgeStore().CanaryDecisions(1, deploymentId) is [var decision] ? decision.Describe() : null;

    public async Task<string?> RollOutAsync(Rollout rollout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        var store = openEdgeStore();
        await using var server = new PackageServer(rollout.DownloadHost);
        var url = server.Add(Path.GetFileName(rollout.PackageZip), rollout.PackageZip);
        var previous = rollout.Devices.ToDictionary(d => d, store.LastSucceeded, StringComparer.Ordinal);
        // Serve the previous packages too (from earlier deployments' folders), so a rollback can download them again.
        foreach (var device in rollout.Devices)
        {
            if (previous[device] is not { } last) continue;
            var name = Uri.UnescapeDataString(new Uri(last.Url).Segments[^1]);
            var earlier = Directory.Exists(rollout.EarlierPackages) ? Directory.EnumerateFiles(rollout.EarlierPackages, name, SearchOption.AllDirectories).FirstOrDefault() : null;
            previous[device] = earlier is null ? last : last with { Url = server.Add(name, earlier), Files = DeploymentSignature.FilesOfZip(earlier) };
        }

        // Signed with the workspace's key (.dinoflow/fleet/deploy-signing.key); devices pin deploy-signing.pub.
        var fleetOptions = hostOptions();
        using var signer = fleetOptions.Signer;
        await using var fleet = await FleetClient.ConnectAsync(rollout.Broker, store, fleetOptions, cancellationToken).ConfigureAwait(false);
        var request = new DeploymentRequest(rollout.DeploymentId, rollout.Version, url, rollout.Sha256) { Files = DeploymentSignature.FilesOfZip(rollout.PackageZip) };
        if (rollout.Canaries.Count > 0)
        {
            var canary = await new CanaryRollout(fleet, store, canaryPoll ?? TimeSpan.FromSeconds(2))
                .RunAsync(rollout.Devices, rollout.Canaries, request, previous, rollout.CanaryPolicy, rollout.Timeout, cancellationToken).ConfigureAwait(false);
            return canary.Failure;
        }

        var group = await fleet.DeployGroupAsync(rollout.Devices, request, previous, rollout.Timeout, cancellationToken).ConfigureAwait(false);
        return group.Failure;
    }
}
