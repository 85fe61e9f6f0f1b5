using System.Text.Json;
using System.Text.Json.Serialization;

namespace DinoFlow.Edge.Contracts.Events;

/// <summary>A stable detection (after smoothing). <see cref="EventId"/> is unique per device: receivers drop duplicates by it.</summary>
public sealed record DetectionEvent(
    string EventId, string DeviceId, string ModelVersion, string Label, double Confidence, DateTimeOffset Timestamp, long FrameIndex, long StartFrame)
{
    /// <summary>A small JPEG of what the model saw (its input after the crop), base64; only within the device's snapshot budget (Edge:Snapshots), else null.</summary>
    public string? Snapshot { get; init; }
}

/// <summary>Device health, published every Edge:HealthIntervalSeconds on dinoflow/{device}/health.</summary>
public sealed record HealthMessage
{
    public required string EventId { get; init; }
    public required string DeviceId { get; init; }
    /// <summary>Null while the device runs no model; not required, since a null is not written and the host must still read the message (its platform says why).</summary>
    public string? ModelVersion { get; init; }
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

    /// <summary>How the device runs its frames: parallel, pipeline or sequential ("" until its first model is in place).</summary>
    public string Arrangement { get; init; } = "";

    /// <summary>Why that arrangement: forced by Edge:Arrangement, or what auto weighed (the provider, the cores, frames at once).</summary>
    public string ArrangementReason { get; init; } = "";
    public bool MqttConnected { get; init; }
    public int SpoolSize { get; init; }
    public long SpoolDropped { get; init; }
    public long Detections { get; init; }

    /// <summary>Frames the model's unknown score called none of its classes (no product detection comes from them).</summary>
    public long UnknownFrames { get; init; }

    /// <summary>Frames sent for labeling because the model was unsure of them (Edge:Learning).</summary>
    public long UncertainFramesSent { get; init; }

    /// <summary>Frames the model was unsure of that the rate limits kept back.</summary>
    public long UncertainFramesLimited { get; init; }
    public double WorkingSetMb { get; init; }
    public double ManagedHeapMb { get; init; }

    /// <summary>The candidate version the device runs in shadow beside its model (a canary); null when none.</summary>
    public string? ShadowVersion { get; init; }

    /// <summary>Frames the shadow candidate has been compared on.</summary>
    public long ShadowFrames { get; init; }

    /// <summary>Shadow reports sent (dinoflow/{device}/shadow) since the device started.</summary>
    public long ShadowReportsSent { get; init; }

    /// <summary>Why a shadow the device was asked for does not run (Greengrass: nothing kept to compare against); null when none.</summary>
    public string? ShadowProblem { get; init; }

    /// <summary>What the device can run (architecture, glibc, ONNX Runtime and its providers, GPU, JetPack); null from devices older than it.</summary>
    public DevicePlatform? Platform { get; init; }

    /// <summary>The device's drift check against its own baseline; null from devices older than it.</summary>
    public DriftSummary? Drift { get; init; }
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
    /// <summary>
    /// <see cref="DeploymentModes.Serve"/> (null means serve: requests from before the field) or
    /// <see cref="DeploymentModes.Shadow"/>: run the package beside the serving model on a canary and report, never serve it.
    /// Signed like every other field.
    /// </summary>
    public string? Mode { get; init; }
    /// <summary>ECDSA P-256 / SHA-256 over <see cref="Security.DeploymentSignature.SignedBytes"/>, base64.</summary>
    public string? Signature { get; init; }

    /// <summary>Whether the device is asked to run the package in shadow beside its model rather than serve it.</summary>
    public bool IsShadow => Mode == DeploymentModes.Shadow;
}

/// <summary>What a deployment asks of the device: serve the package, or run it in shadow (canary rollouts).</summary>
public static class DeploymentModes
{
    public const string Serve = "serve";
    public const string Shadow = "shadow";
}

/// <summary>On dinoflow/{device}/deployment/status: downloading, succeeded or failed (with the reason).</summary>
public sealed record DeploymentStatus(string DeploymentId, string DeviceId, string Version, DeploymentState Status, string? Reason, string? ActiveVersion, DateTimeOffset Timestamp);

/// <summary>
/// Where a deployment stands on one device. A device reports <see cref="Downloading"/>, <see cref="Succeeded"/> or
/// <see cref="Failed"/>; the host also records <see cref="Published"/> (sent, no answer yet) and <see cref="TimedOut"/>
/// (no final answer in time). On the wire and in <c>edge.db</c> as the lower-case names below.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeploymentState>))]
public enum DeploymentState
{
    [JsonStringEnumMemberName("published")] Published,
    [JsonStringEnumMemberName("downloading")] Downloading,
    [JsonStringEnumMemberName("succeeded")] Succeeded,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("timed-out")] TimedOut,
}

public static class DeploymentStates
{
    /// <summary>The wire name ("succeeded", "timed-out"), as stored in <c>edge.db</c>.</summary>
    public static string ToWire(this DeploymentState state) => state switch
    {
        DeploymentState.Published => "published",
        DeploymentState.Downloading => "downloading",
        DeploymentState.Succeeded => "succeeded",
        DeploymentState.Failed => "failed",
        DeploymentState.TimedOut => "timed-out",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>A final state: the device will not report again for this deployment.</summary>
    public static bool IsFinal(this DeploymentState state) => state is DeploymentState.Succeeded or DeploymentState.Failed;
}

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
[JsonSerializable(typeof(DeploymentState))]
public sealed partial class EdgeJson : JsonSerializerContext;
