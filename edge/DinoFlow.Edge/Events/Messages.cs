using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoFlow.Edge.Events;

/// <summary>A stable detection (after smoothing). <see cref="EventId"/> is unique per device: receivers drop duplicates by it.</summary>
public sealed record DetectionEvent(
    string EventId, string DeviceId, string ModelVersion, string Label, double Confidence, DateTimeOffset Timestamp, long FrameIndex, long StartFrame);

/// <summary>Device health, published every Edge:HealthIntervalSeconds on dinoflow/{device}/health.</summary>
public sealed record HealthMessage
{
    public required string EventId { get; init; }
    public required string DeviceId { get; init; }
    public required string? ModelVersion { get; init; }
    public required DateTimeOffset Timestamp { get; init; }
    public double UptimeSeconds { get; init; }
    public long FramesProcessed { get; init; }
    public long FramesDropped { get; init; }
    public double Fps { get; init; }
    public double LatencyP50Ms { get; init; }
    public double LatencyP99Ms { get; init; }
    public string SourceState { get; init; } = "";
    public long SourceReopens { get; init; }
    public string ExecutionProvider { get; init; } = "";
    public bool MqttConnected { get; init; }
    public int SpoolSize { get; init; }
    public long SpoolDropped { get; init; }
    public long Detections { get; init; }
    public double WorkingSetMb { get; init; }
    public double ManagedHeapMb { get; init; }
}

/// <summary>
/// Retained on dinoflow/{device}/deployment: which model the device should run. The host signs it
/// (<see cref="Security.DeploymentSigner"/>): the signature covers every field here, including the SHA-256 of every
/// file in the package (<see cref="Files"/>), the device it is for and its expiry.
/// </summary>
public sealed record DeploymentRequest(string DeploymentId, string Version, string Url, string Sha256)
{
    /// <summary>The device this deployment is for (a device refuses one for another device).</summary>
    public string? Device { get; init; }
    public DateTimeOffset? IssuedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>SHA-256 of every file in the package by its path in the zip (model.onnx, model.json, the probe).</summary>
    public IReadOnlyDictionary<string, string>? Files { get; init; }
    /// <summary>ECDSA P-256 / SHA-256 over <see cref="Security.DeploymentSignature.SignedBytes"/>, base64.</summary>
    public string? Signature { get; init; }
}

/// <summary>On dinoflow/{device}/deployment/status: downloading, succeeded or failed (with the reason).</summary>
public sealed record DeploymentStatus(string DeploymentId, string DeviceId, string Version, string Status, string? Reason, string? ActiveVersion, DateTimeOffset Timestamp);

public static class Topics
{
    public static string Detections(string device) => $"dinoflow/{device}/detections";
    public static string Health(string device) => $"dinoflow/{device}/health";
    public static string Deployment(string device) => $"dinoflow/{device}/deployment";
    public static string DeploymentStatus(string device) => $"dinoflow/{device}/deployment/status";
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DetectionEvent))]
[JsonSerializable(typeof(HealthMessage))]
[JsonSerializable(typeof(DeploymentRequest))]
[JsonSerializable(typeof(DeploymentStatus))]
public sealed partial class EdgeJson : JsonSerializerContext;
