using DinoFlow.Edge.Contracts.Mqtt;
using DinoFlow.Pipeline.Drift;
using Microsoft.Extensions.Options;

namespace DinoFlow.Edge;

/// <summary>
/// Everything the edge component reads from configuration (section "Edge"): appsettings.json, DINOFLOW_ environment
/// variables (DINOFLOW_Edge__Source), the command line (--source, --Edge:Source=...) and, under Greengrass, the
/// component configuration that the recipe passes in. Checked once at start-up by <see cref="EdgeOptionsValidator"/>.
/// </summary>
public sealed class EdgeOptions
{
    public const string Section = "Edge";

    /// <summary>Device id: MQTT topics and event ids carry it (Greengrass: the thing name).</summary>
    public string DeviceId { get; set; } = Environment.GetEnvironmentVariable("AWS_IOT_THING_NAME") ?? Environment.MachineName;

    /// <summary>Model package folder or .zip. Optional in mqtt deployment mode (the device then waits for a deployment).</summary>
    public string? ModelPath { get; set; }

    /// <summary>Video file, camera index (V4L2), rtsp:// or http(s):// URL, or a GStreamer pipeline (contains '!').</summary>
    public string Source { get; set; } = "";

    /// <summary>Play a file source again from the start when it ends.</summary>
    public bool Loop { get; set; }

    /// <summary>Where deployed models, the spool and the current-model pointer live.</summary>
    public string StateDirectory { get; set; } = "edge-state";

    /// <summary>"mqtt": the device subscribes to its deployment topic; "greengrass": the model is a component artifact (ModelPath).</summary>
    public DeploymentMode DeploymentMode { get; set; } = DeploymentMode.Mqtt;

    /// <summary>
    /// Greengrass: the model component's configuration /mode (the recipe passes it in). "serve" runs Edge:ModelPath and
    /// keeps a copy of it; "shadow" (a canary) serves that kept copy and runs Edge:ModelPath beside it as the shadow.
    /// </summary>
    public string ModelMode { get; set; } = Contracts.Events.DeploymentModes.Serve;

    /// <summary>
    /// The host's deployment public key (PEM file, ECDSA P-256) pinned at provisioning: MQTT deployments must be signed
    /// with its private half. Without it every MQTT deployment is refused.
    /// </summary>
    public string? TrustedKey { get; set; }

    /// <summary>Largest package download accepted (megabytes).</summary>
    public int MaxPackageMegabytes { get; set; } = 1024;

    /// <summary>Largest unpacked package accepted (megabytes, all files together; at most 64 files).</summary>
    public int MaxUnpackedMegabytes { get; set; } = 2048;

    public string? EventsFile { get; set; }
    public string? PredictionsFile { get; set; }

    /// <summary>
    /// auto, parallel, pipeline or sequential: whether a reader thread decodes ahead of inference (and one or several
    /// frames are inferred at once) or one thread does a frame at a time. auto decides from the execution provider,
    /// the session's threads and the core count (<see cref="ArrangementChoice.Choose"/>).
    /// </summary>
    public FrameArrangement Arrangement { get; set; } = FrameArrangement.Auto;

    /// <summary>Pipeline arrangement: frames decoded and preprocessed ahead of inference. Live sources drop the oldest when full; files wait.</summary>
    public int QueueCapacity { get; set; } = 4;

    public double HealthIntervalSeconds { get; set; } = 10;

    /// <summary>A canary in shadow mode reports its side-by-side counts every this many frames (and when the shadow ends).</summary>
    public int ShadowReportFrames { get; set; } = 100;

    /// <summary>Live sources: reopen delay grows from min to max seconds.</summary>
    public double SourceReconnectMinSeconds { get; set; } = 0.5;
    public double SourceReconnectMaxSeconds { get; set; } = 30;

    public InferenceOptions Inference { get; set; } = new();
    public SmoothingOptions Smoothing { get; set; } = new();
    public MqttOptions Mqtt { get; set; } = new();

    /// <summary>Edge:Snapshots: small JPEGs with detections, within a size and rate budget (off by default).</summary>
    public SnapshotOptions Snapshots { get; set; } = new();

    /// <summary>Edge:Learning: frames the model was unsure of, sent for labeling (the closed loop).</summary>
    public LearningOptions Learning { get; set; } = new();

    /// <summary>
    /// Edge:Drift: the device's class mix and confidences against its own baseline, reported in health (the first
    /// BaselineSize detections of the model it runs, the latest WindowSize after them; docs/lineage-and-drift.md).
    /// </summary>
    public DriftOptions Drift { get; set; } = new();
}

public sealed class InferenceOptions
{
    /// <summary>cpu, cuda or tensorrt; an unavailable provider falls back to CPU with a warning.</summary>
    public string Provider { get; set; } = "cpu";
    public bool Fp16 { get; set; }
    /// <summary>TensorRT engine cache, built on the device itself.</summary>
    public string? EngineCacheDirectory { get; set; }
    /// <summary>Intra-op threads per model session; 0: one when frames run in parallel on the CPU, else every core (<see cref="ArrangementChoice.SessionThreads"/>).</summary>
    public int IntraOpThreads { get; set; }
    public int WarmupRuns { get; set; } = 2;
}

/// <summary>Turns per-frame probabilities into stable detections (no flicker).</summary>
public sealed class SmoothingOptions
{
    /// <summary>
    /// "votes" (share of frames whose top class it is) or "average" (moving average of probabilities). Votes by default:
    /// on a recording the model never saw, its probabilities are lower and a box that passes in 1-2 s never reached the
    /// average's threshold (5-8 events for 9 boxes over four trainings, against 9 with votes; docs/edge.md).
    /// </summary>
    public string Method { get; set; } = "votes";
    /// <summary>Frames in the window.</summary>
    public int Window { get; set; } = 5;
    /// <summary>A new class must reach this smoothed score…</summary>
    public double EnterThreshold { get; set; } = 0.6;
    /// <summary>…and the current class must have fallen below this one (hysteresis: Exit ≤ Enter)…</summary>
    public double ExitThreshold { get; set; } = 0.5;
    /// <summary>…for this many consecutive frames before a detection event is emitted.</summary>
    public int MinDwellFrames { get; set; } = 3;
}

/// <summary>Edge:Mqtt: how the device reaches the broker (shared with the host's fleet client), plus its spool and reconnects.</summary>
public sealed class MqttOptions : BrokerConnectionOptions
{
    public string? ClientId { get; set; }
    /// <summary>Messages kept on disk while disconnected; the oldest are dropped first (counted in health).</summary>
    public int SpoolMaxMessages { get; set; } = 10_000;
    public double ReconnectMinSeconds { get; set; } = 1;
    public double ReconnectMaxSeconds { get; set; } = 30;
}

/// <summary>Start-up checks; every message names the setting.</summary>
public sealed class EdgeOptionsValidator : IValidateOptions<EdgeOptions>
{
    public ValidateOptionsResult Validate(string? name, EdgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DeviceId)) errors.Add("Edge:DeviceId is required (--device)");
        else if (options.DeviceId.IndexOfAny(['/', '+', '#', ' ']) >= 0) errors.Add($"Edge:DeviceId '{options.DeviceId}' must not contain '/', '+', '#' or spaces (it is part of MQTT topics)");
        if (string.IsNullOrWhiteSpace(options.Source)) errors.Add("Edge:Source is required (--source FILE|INDEX|URL|PIPELINE)");
        else if (SourceSpec.Parse(options.Source) is { Kind: SourceKind.File } file && !File.Exists(file.Location))
            errors.Add($"Edge:Source: video file '{Path.GetFullPath(file.Location)}' does not exist");
        if (!Enum.IsDefined(options.DeploymentMode)) errors.Add($"Edge:DeploymentMode must be 'mqtt' or 'greengrass', got '{options.DeploymentMode}'");
        if (options.ModelMode is not (Contracts.Events.DeploymentModes.Serve or Contracts.Events.DeploymentModes.Shadow))
            errors.Add($"Edge:ModelMode must be '{Contracts.Events.DeploymentModes.Serve}' or '{Contracts.Events.DeploymentModes.Shadow}' (the model component's configuration /mode), got '{options.ModelMode}'");
        else if (options.ModelMode == Contracts.Events.DeploymentModes.Shadow && options.DeploymentMode != DeploymentMode.Greengrass)
            errors.Add("Edge:ModelMode 'shadow' needs Edge:DeploymentMode greengrass (over MQTT a signed deployment carries its own mode)");
        if (options.ModelPath is { Length: > 0 } model && !Directory.Exists(model) && !File.Exists(model))
            errors.Add($"Edge:ModelPath: model package '{Path.GetFullPath(model)}' does not exist");
        if (string.IsNullOrWhiteSpace(options.ModelPath) && (options.DeploymentMode == DeploymentMode.Greengrass || string.IsNullOrWhiteSpace(options.Mqtt.Broker)))
            errors.Add("Edge:ModelPath is required (--model) unless the device receives models over MQTT (Edge:Mqtt:Broker with DeploymentMode mqtt)");
        if (options.TrustedKey is { Length: > 0 } trustedKey)
        {
            if (!File.Exists(trustedKey)) errors.Add($"Edge:TrustedKey: '{Path.GetFullPath(trustedKey)}' does not exist");
            else
            {
                try
                {
                    Contracts.Security.DeploymentVerifier.FromPemFile(trustedKey).Dispose();
                }
                catch (InvalidDataException e)
                {
                    errors.Add(e.Message);
                }
            }
        }

        if (options.MaxPackageMegabytes < 1) errors.Add("Edge:MaxPackageMegabytes must be at least 1");
        if (options.MaxUnpackedMegabytes < 1) errors.Add("Edge:MaxUnpackedMegabytes must be at least 1");
        if (!Enum.IsDefined(options.Arrangement)) errors.Add($"Edge:Arrangement must be auto, parallel, pipeline or sequential, got '{options.Arrangement}'");
        if (options.QueueCapacity is < 1 or > 256) errors.Add($"Edge:QueueCapacity must be 1..256, got {options.QueueCapacity}");
        if (options.HealthIntervalSeconds <= 0) errors.Add("Edge:HealthIntervalSeconds must be positive");
        if (options.ShadowReportFrames < 1) errors.Add($"Edge:ShadowReportFrames must be at least 1, got {options.ShadowReportFrames}");
        if (options.SourceReconnectMinSeconds <= 0 || options.SourceReconnectMaxSeconds < options.SourceReconnectMinSeconds)
            errors.Add("Edge:SourceReconnectMinSeconds must be positive and ≤ Edge:SourceReconnectMaxSeconds");
        if (options.Inference.Provider is not ("cpu" or "cuda" or "tensorrt")) errors.Add($"Edge:Inference:Provider must be cpu, cuda or tensorrt, got '{options.Inference.Provider}'");
        var s = options.Smoothing;
        if (s.Method is not ("average" or "votes")) errors.Add($"Edge:Smoothing:Method must be 'average' or 'votes', got '{s.Method}'");
        if (s.Window < 1) errors.Add("Edge:Smoothing:Window must be at least 1");
        if (s.MinDwellFrames < 1) errors.Add("Edge:Smoothing:MinDwellFrames must be at least 1");
        if (s.EnterThreshold is <= 0 or > 1) errors.Add($"Edge:Smoothing:EnterThreshold must be in (0, 1], got {s.EnterThreshold}");
        if (s.ExitThreshold < 0 || s.ExitThreshold > s.EnterThreshold) errors.Add($"Edge:Smoothing:ExitThreshold must be in [0, EnterThreshold], got {s.ExitThreshold}");
        var m = options.Mqtt;
        if (m.Broker == Greengrass.GreengrassIpcLink.BrokerSetting)
        {
            // Under Greengrass the nucleus publishes for the app (its connection, its key): no broker, certificate or key here.
            if (options.DeploymentMode != DeploymentMode.Greengrass)
                errors.Add($"Edge:Mqtt:Broker '{Greengrass.GreengrassIpcLink.BrokerSetting}' needs Edge:DeploymentMode greengrass");
            foreach (var variable in new[] { Greengrass.GreengrassIpcLink.SocketVariable, Greengrass.GreengrassIpcLink.TokenVariable })
                if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
                    errors.Add($"Edge:Mqtt:Broker '{Greengrass.GreengrassIpcLink.BrokerSetting}': {variable} is not set (the Greengrass nucleus sets it for the components it runs)");
        }
        else if (m.Broker is { Length: > 0 } broker)
        {
            if (!Uri.TryCreate(broker, UriKind.Absolute, out var uri) || uri.Scheme is not ("mqtt" or "mqtts") || uri.Port <= 0)
                errors.Add($"Edge:Mqtt:Broker must look like mqtt://host:port or mqtts://host:port, got '{broker}'");
            foreach (var (key, path) in new[] { ("CaFile", m.CaFile), ("CertFile", m.CertFile), ("KeyFile", m.KeyFile), ("PasswordFile", m.PasswordFile) })
                if (path is { Length: > 0 } && !File.Exists(path)) errors.Add($"Edge:Mqtt:{key}: '{Path.GetFullPath(path)}' does not exist");
            if (string.IsNullOrEmpty(m.CertFile) != string.IsNullOrEmpty(m.KeyFile)) errors.Add("Edge:Mqtt:CertFile and Edge:Mqtt:KeyFile go together");
        }

        errors.AddRange(options.Snapshots.Problems());
        errors.AddRange(options.Learning.Problems());
        try
        {
            options.Drift.Validated();
        }
        catch (ArgumentException e)
        {
            errors.Add("Edge:" + e.Message);
        }

        if (m.SpoolMaxMessages < 1) errors.Add("Edge:Mqtt:SpoolMaxMessages must be at least 1");
        if (m.ReconnectMinSeconds <= 0 || m.ReconnectMaxSeconds < m.ReconnectMinSeconds) errors.Add("Edge:Mqtt:ReconnectMinSeconds must be positive and ≤ ReconnectMaxSeconds");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
