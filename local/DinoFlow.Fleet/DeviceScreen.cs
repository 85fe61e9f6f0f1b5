using DinoFlow.Edge.Contracts.Events;
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
        return [.. devices.Select(d => store.LastPlatform(d) is { } platform ? CompatibilityCheck.Check(package, Profile(d, platform)) : CompatibilityCheck.Unreported(d))];
    }

    /// <summary>The facts of the wire's platform message that the core's check reads.</summary>
    public static DeviceProfile Profile(string device, DevicePlatform platform)
    {
        ArgumentNullException.ThrowIfNull(platform);
        return new DeviceProfile(device, platform.Architecture, platform.Glibc, platform.OnnxRuntimeVersion, platform.ExecutionProviders, platform.CpuFeatures, platform.Gpu?.Name, platform.Gpu?.FastFp16);
    }
}
