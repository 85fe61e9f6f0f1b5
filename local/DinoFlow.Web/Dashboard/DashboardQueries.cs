using System.Globalization;
using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Local.Runner.Stages;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Web.Dashboard;

/// <summary>Turns the stores' rows into what the page shows. The SQL stays in the stores.</summary>
public sealed class DashboardQueries(DashboardSources sources, RunRetrier retrier, TimeProvider clock)
{
    /// <summary>The chart never has more bars than this, whatever the window.</summary>
    public const int MaxBuckets = 60;

    public async Task<DashboardSnapshot> SnapshotAsync(int windowMinutes, CancellationToken cancellationToken) =>
        new(Detections(windowMinutes), Devices(), await RunsAsync(cancellationToken).ConfigureAwait(false), Insights());

    /// <summary>Drift per device against its own baseline, model timelines, the latest detections and snapshots, the newest canary decisions.</summary>
    public FleetInsights Insights()
    {
        var devices = sources.Edge.Devices().Select(d => d.DeviceId).ToList();
        return new FleetInsights(devices.Select(d => sources.Edge.Drift(d, sources.Drift)).ToList(),
            devices.Select(d => new DeviceTimeline(d, sources.Edge.ModelTimeline(d))).ToList(),
            sources.Edge.LatestDetections(sources.LatestDetections), sources.Edge.Snapshots.Latest(sources.SnapshotsPerClass),
            [.. sources.Edge.CanaryDecisions(10).Select(CanaryView.Of)]);
    }

    /// <summary>
    /// Detections per class over the last <paramref name="windowMinutes"/> (5 minutes to 7 days). Buckets are aligned to
    /// whole multiples of their size, so the chart only moves when a bucket fills or a new one begins.
    /// </summary>
    public DetectionChart Detections(int windowMinutes)
    {
        var window = Math.Clamp(windowMinutes, 5, 7 * 24 * 60) * 60;
        var bucket = Math.Max(60, window / MaxBuckets);
        var count = (window + bucket - 1) / bucket;
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var to = DateTimeOffset.FromUnixTimeSeconds((now / bucket + 1) * bucket);
        var from = to.AddSeconds(-(long)count * bucket);

        var series = sources.Edge.DetectionsOverTime(from, to, bucket)
            .GroupBy(b => b.Label, StringComparer.Ordinal)
            .Select(g =>
            {
                var counts = new int[count];
                foreach (var b in g) counts[(int)((b.Start - from).TotalSeconds / bucket)] += b.Count;
                return new DetectionSeries(g.Key, counts, counts.Sum());
            })
            .ToList();
        return new DetectionChart(from, to, bucket, series);
    }

    public IReadOnlyList<DeviceView> Devices() => sources.Edge.Devices().Select(d =>
    {
        var (health, problems) = Health(d.LastHealth, sources.Health);
        var last = d.LastHealth;
        // Both counters run since the device started (EdgeRuntime), so their ratio is the share since start.
        double? unknownShare = last is { FramesProcessed: > 0 } ? (double)last.UnknownFrames / last.FramesProcessed : null;
        return new DeviceView(d.DeviceId, d.LastSeen, d.ModelVersion, last?.Fps, last?.LatencyP50Ms, last?.LatencyP99Ms,
            last?.FramesDropped, last?.SourceState, last?.ExecutionProvider, last?.MqttConnected, d.Detections, health, problems,
            last?.FramesProcessed, last?.UnknownFrames, unknownShare, last?.Drift);
    }).ToList();

    /// <summary>The badge of a device from its newest health message: "silent" first (its other numbers are old), then the warnings.</summary>
    private (string Health, IReadOnlyList<string> Problems) Health(HealthMessage? last, DeviceHealthThresholds limits)
    {
        var problems = new List<(string Kind, string Text)>();
        var age = last is null ? (TimeSpan?)null : clock.GetUtcNow() - last.Timestamp;
        if (age is null) problems.Add(("silent", "silent: no health message yet"));
        else if (age > limits.Silent) problems.Add(("silent", string.Create(CultureInfo.InvariantCulture, $"silent: no health for {age.Value.TotalSeconds:0} s (over {limits.Silent.TotalSeconds:0} s)")));
        if (last is not null)
        {
            if (last.LatencyP50Ms > limits.SlowP50Ms)
                problems.Add(("slow", string.Create(CultureInfo.InvariantCulture, $"slow: p50 latency {last.LatencyP50Ms:0.#} ms (over {limits.SlowP50Ms:0.#} ms)")));
            var frames = last.FramesProcessed + last.FramesDropped;
            if (frames > 0 && (double)last.FramesDropped / frames > limits.DroppedShare)
                problems.Add(("dropping", string.Create(CultureInfo.InvariantCulture, $"dropping frames: {100.0 * last.FramesDropped / frames:0.#} % of {frames} (over {100 * limits.DroppedShare:0.#} %)")));
            if (last.SpoolSize > limits.SpoolMessages || last.SpoolDropped > 0)
                problems.Add(("spool", string.Create(CultureInfo.InvariantCulture, $"spool filling: {last.SpoolSize} messages waiting (over {limits.SpoolMessages}), {last.SpoolDropped} dropped")));
        }

        return (problems.Count == 0 ? "ok" : problems[0].Kind, problems.Select(p => p.Text).ToList());
    }

    public async Task<IReadOnlyList<RunView>> RunsAsync(CancellationToken cancellationToken)
    {
        var runs = await sources.Workspace.Store.ListRunsWithStepsAsync(sources.RunLimit, cancellationToken).ConfigureAwait(false);
        return runs.Select(r =>
        {
            var retrying = retrier.IsRetrying(r.Run.Id);
            return new RunView(r.Run.Id, r.Run.Status.ToString(), r.Run.Input.Source, r.Run.CreatedAt, r.Run.UpdatedAt, r.Run.Error,
                !retrying && RunRetrier.CanRetry(r.Run), retrying,
                r.Steps.Select(s => new StepView(s.Name, s.Status.ToString(), s.Attempts, s.Duration?.TotalMilliseconds, s.Summary, s.Error, s.ErrorKind.ToString())).ToList(),
                ModelOf(r.Steps));
        }).ToList();
    }

    /// <summary>The model of a run from its steps' outputs: train (version, validation accuracy), gate (its bar), deploy (devices).</summary>
    private static ModelView? ModelOf(IReadOnlyList<StepRecord> steps)
    {
        T? Output<T>(string name)
            where T : class =>
            steps.FirstOrDefault(s => s.Name == name && s.Status == StepStatus.Succeeded && s.OutputJson is not null) is { } step
                ? JsonSerializer.Deserialize<T>(step.OutputJson!, StageJson.Options)
                : null;
        if (Output<TrainOutput>(TrainStage.StageName) is not { } trained) return null;
        var gate = Output<GateOutput>(GateStage.StageName);
        var deployed = Output<DeployOutput>(DeployStage.StageName);
        var devices = deployed?.Devices ?? [];
        var accuracy = trained.Validation.Accuracy;
        return new ModelView(trained.Version, accuracy, gate?.MinAccuracy, GateOptions.DefaultMinAccuracy, devices,
            deployed is not null && accuracy < GateOptions.DefaultMinAccuracy);
    }
}
