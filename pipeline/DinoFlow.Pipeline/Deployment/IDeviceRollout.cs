using DinoFlow.Pipeline.Compatibility;

namespace DinoFlow.Pipeline.Deployment;

/// <summary>A model package to put on a group of devices.</summary>
/// <param name="DeploymentId">Unique per attempt (a retried step deploys anew).</param>
/// <param name="PackageZip">The zip the devices download (served by the implementation).</param>
/// <param name="EarlierPackages">A folder whose tree holds earlier deployments' zips, found by file name, so a rollback can serve them again.</param>
/// <param name="Broker">Where the devices listen (mqtt:// or mqtts://).</param>
/// <param name="DownloadHost">The address the package downloads are served on (one the devices can reach).</param>
/// <param name="Timeout">How long to wait for every device's final status.</param>
public sealed record Rollout(string DeploymentId, string Version, string PackageZip, string Sha256, IReadOnlyList<string> Devices,
    string EarlierPackages, string Broker, string DownloadHost, TimeSpan Timeout)
{
    /// <summary>Devices (some of <see cref="Devices"/>) that shadow the package first; empty = straight to the whole group.</summary>
    public IReadOnlyList<string> Canaries { get; init; } = [];

    /// <summary>What the canaries' shadow runs must show before the group gets the package (<see cref="CanaryGate"/>).</summary>
    public CanaryPolicy CanaryPolicy { get; init; } = new();
}

/// <summary>
/// Port: puts a package on every device of a group, or on none: when one device fails or times out, the others go
/// back to their last good model. The local back end's fleet (signed deployments over MQTT, downloads over HTTP)
/// implements it; on AWS, Greengrass does the same job.
/// </summary>
public interface IDeviceRollout
{
    /// <summary>Each device against what it last reported of its platform: can it run a package with these needs? Nothing is sent.</summary>
    IReadOnlyList<CompatibilityVerdict> Screen(IReadOnlyList<string> devices, PackageRequirements package);

    /// <returns>Null when every device runs the package, else why the group was rolled back (or the canary gate stopped it).</returns>
    Task<string?> RollOutAsync(Rollout rollout, CancellationToken cancellationToken);

    /// <summary>The canary gate's recorded decision on a rollout with canaries, in words; null when it had none.</summary>
    string? CanaryDecision(string deploymentId);
}
