using DinoFlow.Local.Runner;
using DinoFlow.Fleet;
using DinoFlow.Pipeline.Drift;

namespace DinoFlow.Web.Dashboard;

/// <summary>
/// What the dashboard reads and acts on. The host builds it once: the workspace whose runs it shows and retries, and the
/// edge store its <see cref="FleetClient"/> writes detections and health into.
/// </summary>
public sealed record DashboardSources(LocalWorkspace Workspace, EdgeStore Edge)
{
    /// <summary>How often the refresh channel re-reads the stores; a snapshot is sent only when something changed.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>When a device's health badge warns (see <see cref="DeviceHealthThresholds"/>).</summary>
    public DeviceHealthThresholds Health { get; init; } = DeviceHealthThresholds.Default;

    /// <summary>The clock the health badges and the chart's window are read against (tests move their own).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>What a retried run's stages reach (the host's portal and fleet); none where the dashboard only watches.</summary>
    public StagePorts Ports { get; init; } = StagePorts.None;

    /// <summary>How many of the newest runs the page lists.</summary>
    public int RunLimit { get; init; } = 20;

    /// <summary>How each device's detections are compared with its baseline (docs/drift.md).</summary>
    public DriftOptions Drift { get; init; } = DriftOptions.Default;

    /// <summary>How many of the newest detections the page lists, each with its lineage link.</summary>
    public int LatestDetections { get; init; } = 20;

    /// <summary>How many of the newest snapshots per device and class the page shows.</summary>
    public int SnapshotsPerClass { get; init; } = 3;
}
