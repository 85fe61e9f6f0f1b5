using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoFlow.Web.Dashboard;

/// <summary>Everything the page shows, as one document: what the refresh channel sends.</summary>
public sealed record DashboardSnapshot(DetectionChart Detections, IReadOnlyList<DeviceView> Devices, IReadOnlyList<RunView> Runs);

/// <summary>Detections per class in equal buckets from <see cref="From"/> to <see cref="To"/>; each series has one count per bucket.</summary>
public sealed record DetectionChart(DateTimeOffset From, DateTimeOffset To, int BucketSeconds, IReadOnlyList<DetectionSeries> Series);

public sealed record DetectionSeries(string Label, IReadOnlyList<int> Counts, int Total);

/// <summary>A device's last health (null fields when it never sent any) and its detections.</summary>
public sealed record DeviceView(
    string DeviceId, DateTimeOffset? LastSeen, string? ModelVersion, double? Fps, double? LatencyP50Ms, double? LatencyP99Ms,
    long? FramesDropped, string? SourceState, string? ExecutionProvider, bool? MqttConnected, long Detections);

/// <param name="CanRetry">Failed, waiting for input or interrupted (its process died), and no retry of it is running.</param>
/// <param name="Retrying">This host is retrying it now.</param>
public sealed record RunView(
    string Id, string Status, string Source, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Error, bool CanRetry, bool Retrying,
    IReadOnlyList<StepView> Steps);

public sealed record StepView(string Name, string Status, int Attempts, double? DurationMs, string? Summary, string? Error, string ErrorKind);

public sealed record RetryAccepted(string RunId, string Status);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DashboardSnapshot))]
[JsonSerializable(typeof(DetectionChart))]
[JsonSerializable(typeof(IReadOnlyList<DeviceView>))]
[JsonSerializable(typeof(IReadOnlyList<RunView>))]
[JsonSerializable(typeof(RetryAccepted))]
public sealed partial class DashboardJson : JsonSerializerContext;
