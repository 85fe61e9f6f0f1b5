using DinoFlow.Pipeline.Compatibility;

namespace DinoFlow.Fleet;

/// <summary>
/// The fleet's compatibility check before a rollout: each device against the platform it last reported in its health (stored
/// in <c>edge.db</c>), through the core's <see cref="CompatibilityCheck"/>.
/// </summary>
public static class DeviceScreen
{
    public static IReadOnlyList<CompatibilityVerdict> Check(EdgeStore store, IEnumerable<string> devices, PackageRequirements package)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(devices);
        return [.. devices.Select(d => store.LastPlatform(d) is { } platform ? CompatibilityCheck.Check(package, platform.ToProfile(d)) : CompatibilityCheck.Unreported(d))];
    }
}
