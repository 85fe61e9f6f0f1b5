using System.Text.Json;
using System.Text.Json.Serialization;
using DinoFlow.Edge.Contracts.Events;

namespace DinoFlow.Web.Dashboard;

/// <summary>Everything the page shows, as one document: what the refresh channel sends.</summary>
public sealed record DashboardSnapshot(DetectionChart Detections, IReadOnlyList<DeviceView> Devices, IReadOnlyList<RunView> Runs, FleetInsights? Insights = null);

/// <summary>Detections per class in equal buckets from <see cref="From"/> to <see cref="To"/>; each series has one count per bucket.</summary>
public sealed record DetectionChart(DateTimeOffset From, DateTimeOffset To, int BucketSeconds, IReadOnlyList<DetectionSeries> Series);

public sealed record DetectionSeries(string Label, IReadOnlyList<int> Counts, int Total);

/// <summary>A device's last health (null fields when it never sent any), its detections and its health badge.</summary>
/// <param name="Health">"ok", or the worst problem: "silent" (bad), else "slow", "dropping" or "spool" (warnings); see <see cref="DeviceHealthThresholds"/>.</param>
/// <param name="Problems">Every problem found, in words (the badge's title), e.g. "slow: p50 latency 250 ms (over 200 ms)".</param>
/// <param name="UnknownFrames">Frames the model's unknown score called none of its classes since the device started (the edge's counter).</param>
/// <param name="UnknownShare">That count over the frames processed since the device started; null before any frame.</param>
/// <param name="Drift">The device's own drift check from its last health (what AWS alarms on); null from devices older than it.</param>
public sealed record DeviceView(
    string DeviceId, DateTimeOffset? LastSeen, string? ModelVersion, double? Fps, double? LatencyP50Ms, double? LatencyP99Ms,
    long? FramesDropped, string? SourceState, string? ExecutionProvider, bool? MqttConnected, long Detections, string Health, IReadOnlyList<string> Problems,
    long? FramesProcessed = null, long? UnknownFrames = null, double? UnknownShare = null, DriftSummary? Drift = null);

/// <summary>
/// When the dashboard's health badge of a device stops saying "ok" (docs/local.md, "Dashboard"). The defaults follow the edge's
/// own defaults: it sends health every 10 s (<c>Edge:HealthIntervalSeconds</c>) and spools at most 10,000 messages
/// (<c>Edge:Mqtt:SpoolMaxMessages</c>).
/// </summary>
public sealed record DeviceHealthThresholds
{
    public static readonly DeviceHealthThresholds Default = new();

    /// <summary>Silent: no health message for longer than this (three missed health intervals).</summary>
    public TimeSpan Silent { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Slow: the median inference latency (p50) is over this.</summary>
    public double SlowP50Ms { get; init; } = 200;

    /// <summary>Dropping frames: more than this share of the frames since the device started were dropped.</summary>
    public double DroppedShare { get; init; } = 0.05;

    /// <summary>Spool filling: more messages than this wait in the device's offline spool (10 % of its default capacity), or it had to drop some.</summary>
    public int SpoolMessages { get; init; } = 1_000;
}

/// <param name="CanRetry">Failed, waiting for input or interrupted (its process died), and no retry of it is running.</param>
/// <param name="Retrying">This host is retrying it now.</param>
/// <param name="Model">The model the run trained, its evaluation and its deployments; null before its train step succeeded.</param>
public sealed record RunView(
    string Id, string Status, string Source, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Error, bool CanRetry, bool Retrying,
    IReadOnlyList<StepView> Steps, ModelView? Model = null);

/// <summary>A trained model next to its deployments.</summary>
/// <param name="ValidationAccuracy">Its accuracy on the validation set (the train step's evaluation).</param>
/// <param name="GateMinAccuracy">The accuracy this run's gate asked for (null before the gate ran).</param>
/// <param name="DefaultGate">The default gate's accuracy (<c>GateOptions.DefaultMinAccuracy</c>).</param>
/// <param name="DeployedTo">Devices the deploy step sent it to (empty when not deployed).</param>
/// <param name="BelowDefaultGate">Deployed although its validation accuracy is below the default gate (a run's gate was lowered).</param>
public sealed record ModelView(string Version, double ValidationAccuracy, double? GateMinAccuracy, double DefaultGate, IReadOnlyList<string> DeployedTo, bool BelowDefaultGate);

public sealed record StepView(string Name, string Status, int Attempts, double? DurationMs, string? Summary, string? Error, string ErrorKind);

public sealed record RetryAccepted(string RunId, string Status);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DashboardSnapshot))]
[JsonSerializable(typeof(DetectionChart))]
[JsonSerializable(typeof(IReadOnlyList<DeviceView>))]
[JsonSerializable(typeof(IReadOnlyList<RunView>))]
[JsonSerializable(typeof(RetryAccepted))]
public sealed partial class DashboardJson : JsonSerializerContext;
