using System.Diagnostics;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Pipeline.Drift;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Edge;

/// <summary>
/// The health message (frames, fps since the last message, latency percentiles, source, link, spool, memory, drift) and the
/// timer that sends it every Edge:HealthIntervalSeconds. The counters themselves live where they change.
/// </summary>
internal sealed partial class HealthReporter(EdgeOptions options, FrameLoop frames, ModelHolder models, Learning.ShadowDeployment shadow, EdgeOutbox outbox, ILogger logger)
{
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private long _lastFrames;
    private string? _lastDriftState;
    private double _lastSeconds;

    // Probed once: what the device can run does not change while it runs.
    private readonly Lazy<DevicePlatform> _platform = new(() => PlatformProbe.Read());

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.HealthIntervalSeconds));
        // The first message goes out at start (spooled until the first connect), so the host knows the platform before any deployment.
        Publish();
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) Publish();
    }

    /// <summary>The health message now; its fps counts the frames since the previous one.</summary>
    public HealthMessage Health()
    {
        var now = _uptime.Elapsed.TotalSeconds;
        var frameCount = frames.FramesProcessed;
        var fps = now - _lastSeconds > 0 ? (frameCount - _lastFrames) / (now - _lastSeconds) : 0;
        _lastFrames = frameCount;
        _lastSeconds = now;
        var (p50, p99) = frames.Latencies.Percentiles();
        using var process = Process.GetCurrentProcess();
        return new HealthMessage
        {
            EventId = Guid.CreateVersion7().ToString("N"),
            DeviceId = options.DeviceId,
            ModelVersion = models.ActiveVersion,
            Timestamp = DateTimeOffset.UtcNow,
            UptimeSeconds = Math.Round(now, 1),
            FramesProcessed = frameCount,
            FramesDropped = frames.FramesDropped,
            Fps = Math.Round(fps, 2),
            LatencyP50Ms = Math.Round(p50, 2),
            LatencyP99Ms = Math.Round(p99, 2),
            SourceState = frames.SourceState,
            SourceReopens = frames.SourceReopens,
            ExecutionProvider = models.Current?.Provider ?? "",
            Arrangement = frames.Arrangement?.Name ?? "",
            ArrangementReason = frames.Arrangement?.Reason ?? "",
            MqttConnected = outbox.Link?.IsConnected ?? false,
            SpoolSize = outbox.Spool?.Count ?? 0,
            SpoolDropped = outbox.Spool?.Dropped ?? 0,
            Detections = frames.Detections,
            UnknownFrames = frames.UnknownFrames,
            UncertainFramesSent = frames.UncertainFramesSent,
            UncertainFramesLimited = frames.UncertainFramesLimited,
            ShadowVersion = shadow.CandidateVersion,
            ShadowFrames = shadow.Frames,
            ShadowReportsSent = shadow.ReportsSent,
            ShadowProblem = shadow.Problem,
            WorkingSetMb = Math.Round(process.WorkingSet64 / 1048576.0, 1),
            ManagedHeapMb = Math.Round(GC.GetTotalMemory(false) / 1048576.0, 1),
            Platform = _platform.Value,
            Drift = Summary(frames.Drift.Report(options.DeviceId)),
        };
    }

    /// <summary>The check as the wire carries it (rounded: the numbers are for reading, the state for alarms).</summary>
    private static DriftSummary Summary(DriftReport report) => new()
    {
        State = report.State,
        ModelVersion = report.ModelVersion,
        BaselineCount = report.BaselineCount,
        WindowCount = report.WindowCount,
        ClassPValue = Math.Round(report.ClassPValue, 6),
        JensenShannon = Math.Round(report.JensenShannon, 4),
        BaselineMeanConfidence = Math.Round(report.BaselineMeanConfidence, 4),
        WindowMeanConfidence = Math.Round(report.WindowMeanConfidence, 4),
        ConfidencePValue = Math.Round(report.ConfidencePValue, 6),
        Reasons = report.Reasons,
    };

    public void Publish()
    {
        var health = Health();
        LogHealth(logger, health.FramesProcessed, health.Fps, health.LatencyP50Ms, health.SourceState, health.SpoolSize);
        // Once per change, not every message: a shifted line would otherwise repeat the same warning every interval.
        if (health.Drift is { } drift && drift.State != _lastDriftState)
        {
            _lastDriftState = drift.State;
            if (drift.State == DriftReport.Shifted) LogDriftShifted(logger, drift.ModelVersion, string.Join("; ", drift.Reasons));
            else LogDriftState(logger, drift.State, drift.ModelVersion);
        }

        outbox.Send(health);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Health: {Frames} frames, {Fps:0.0} fps, latency p50 {P50:0.0} ms, source {SourceState}, spool {Spool}")]
    private static partial void LogHealth(ILogger logger, long frames, double fps, double p50, string sourceState, int spool);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift: the detections of model {Version} have shifted from its baseline: {Reasons}")]
    private static partial void LogDriftShifted(ILogger logger, string? version, string reasons);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift: {State} (model {Version})")]
    private static partial void LogDriftState(ILogger logger, string state, string? version);
}
