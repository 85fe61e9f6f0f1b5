using DinoFlow.Local.Runner;
using DinoFlow.Fleet;

namespace DinoFlow.Web.Dashboard;

/// <summary>
/// What the dashboard reads and acts on. The host builds it once: the workspace whose runs it shows and retries, and the
/// edge store its <see cref="FleetClient"/> writes detections and health into.
/// </summary>
public sealed record DashboardSources(LocalWorkspace Workspace, EdgeStore Edge)
{
    /// <summary>How often the refresh channel re-reads the stores; a snapshot is sent only when something changed.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many of the newest runs the page lists.</summary>
    public int RunLimit { get; init; } = 20;
}
