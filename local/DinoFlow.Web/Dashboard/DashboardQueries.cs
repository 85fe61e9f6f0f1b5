namespace DinoFlow.Web.Dashboard;

/// <summary>Turns the stores' rows into what the page shows. The SQL stays in the stores.</summary>
public sealed class DashboardQueries(DashboardSources sources, RunRetrier retrier, TimeProvider clock)
{
    /// <summary>The chart never has more bars than this, whatever the window.</summary>
    public const int MaxBuckets = 60;

    public async Task<DashboardSnapshot> SnapshotAsync(int windowMinutes, CancellationToken cancellationToken) =>
        new(Detections(windowMinutes), Devices(), await RunsAsync(cancellationToken).ConfigureAwait(false));

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

    public IReadOnlyList<DeviceView> Devices() => sources.Edge.Devices().Select(d => new DeviceView(
        d.DeviceId, d.LastSeen, d.ModelVersion, d.LastHealth?.Fps, d.LastHealth?.LatencyP50Ms, d.LastHealth?.LatencyP99Ms,
        d.LastHealth?.FramesDropped, d.LastHealth?.SourceState, d.LastHealth?.ExecutionProvider, d.LastHealth?.MqttConnected, d.Detections)).ToList();

    public async Task<IReadOnlyList<RunView>> RunsAsync(CancellationToken cancellationToken)
    {
        var runs = await sources.Workspace.Store.ListRunsWithStepsAsync(sources.RunLimit, cancellationToken).ConfigureAwait(false);
        return runs.Select(r =>
        {
            var retrying = retrier.IsRetrying(r.Run.Id);
            return new RunView(r.Run.Id, r.Run.Status.ToString(), r.Run.Input.Source, r.Run.CreatedAt, r.Run.UpdatedAt, r.Run.Error,
                !retrying && RunRetrier.CanRetry(r.Run), retrying,
                r.Steps.Select(s => new StepView(s.Name, s.Status.ToString(), s.Attempts, s.Duration?.TotalMilliseconds, s.Summary, s.Error, s.ErrorKind.ToString())).ToList());
        }).ToList();
    }
}
