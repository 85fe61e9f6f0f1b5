using DinoFlow.Fleet;
using DinoFlow.Pipeline.Drift;

namespace DinoFlow.Web.Dashboard;

/// <summary>
/// What the dashboard shows beside health: each device's drift check, its model timeline, the latest detections (each
/// with its lineage link), the latest snapshots per device and class, and the newest canary gate decisions.
/// </summary>
public sealed record FleetInsights(
    IReadOnlyList<DriftReport> Drift,
    IReadOnlyList<DeviceTimeline> Timelines,
    IReadOnlyList<StoredDetection> Latest,
    IReadOnlyList<SnapshotInfo> Snapshots,
    IReadOnlyList<CanaryView>? Canaries = null);

/// <summary>Which model version a device ran when (oldest first).</summary>
public sealed record DeviceTimeline(string DeviceId, IReadOnlyList<ModelPeriod> Periods);
