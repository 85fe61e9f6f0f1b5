using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;

namespace DinoFlow.Edge.Tests;

[Collection(EdgeTestGroup.Name)]
public sealed class EdgeRuntimeTests(TrainedModelFixture model)
{
    [Fact]
    public async Task A_file_source_is_classified_to_the_end_writes_the_audit_files_and_returns()
    {
        var dir = model.NewDirectory("file");
        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, TrainedModelFixture.Clip);
        options.EventsFile = Path.Combine(dir, "events.jsonl");
        options.PredictionsFile = Path.Combine(dir, "predictions.csv");
        using var trap = new ErrorTrap();
        await using var runtime = new EdgeRuntime(options, trap.Loggers);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await runtime.RunAsync(timeout.Token);

        Assert.False(timeout.IsCancellationRequested);
        var rows = File.ReadAllLines(options.PredictionsFile);
        Assert.StartsWith("frame,label,confidence,", rows[0], StringComparison.Ordinal);
        Assert.Equal(101, rows.Length);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), rows.Skip(1).Select(r => r.Split(',')[0]));
        var events = File.ReadAllLines(options.EventsFile).Select(l => System.Text.Json.JsonSerializer.Deserialize(l, EdgeJson.Default.DetectionEvent)!).ToList();
        // The clip has 10 true segments (4 of them no_box); smoothing must not produce more events than frames change class.
        Assert.InRange(events.Count, 3, 14);
        Assert.All(events, e => Assert.Contains(e.Label, model.Package.Manifest.Labels));
        Assert.Equal(events.Count, events.Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task A_live_source_that_dies_is_reopened_with_backoff()
    {
        var opens = 0;
        var options = EdgeBuilder.Options(model.NewDirectory("live"), model.Package.Directory, "rtsp://camera.invalid/stream");
        using var trap = new ErrorTrap();
        await using var runtime = new EdgeRuntime(options, trap.Loggers, _ =>
        {
            // The second open fails outright (camera still down), the others stream 8 frames then die.
            if (Interlocked.Increment(ref opens) == 2) throw new SourceUnavailableException("camera still down");
            return new DyingSource(8);
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run = runtime.RunAsync(stop.Token);
        await Eventually.UntilAsync(() => runtime.FramesProcessed >= 30, Eventually.DefaultTimeout, "30 frames through a source that keeps dying",
            () => $"{runtime.FramesProcessed} frames, {opens} opens", run);
        await stop.CancelAsync();
        await run.WithinAsync(Eventually.DefaultTimeout, "the edge runtime to stop after cancellation");

        Assert.True(runtime.FramesProcessed >= 30, $"only {runtime.FramesProcessed} frames");
        Assert.True(opens >= 5, $"opened {opens} times");
        Assert.True(runtime.SourceReopens >= 3);
    }

    [Fact]
    public async Task Frames_the_model_calls_unknown_publish_no_detection_and_are_counted_in_health()
    {
        var dir = model.NewDirectory("unknown");
        // The same model with a threshold below every score: every frame of the clip is unknown.
        var copy = model.Copy(model.Package);
        var json = Path.Combine(copy, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(json), json);
        Assert.NotNull(manifest.Unknown);
        File.WriteAllText(json, (manifest with { Unknown = manifest.Unknown with { Threshold = -1 } }).ToJson());
        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), copy, TrainedModelFixture.Clip);
        options.EventsFile = Path.Combine(dir, "events.jsonl");
        options.PredictionsFile = Path.Combine(dir, "predictions.csv");
        using var trap = new ErrorTrap();
        await using var runtime = new EdgeRuntime(options, trap.Loggers);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await runtime.RunAsync(timeout.Token);

        Assert.Equal(100, runtime.FramesProcessed);
        Assert.Equal(100, runtime.UnknownFrames);
        var health = runtime.Health();
        Assert.Equal(100, health.UnknownFrames);
        Assert.Equal(0, health.Detections);
        Assert.True(!File.Exists(options.EventsFile) || File.ReadAllLines(options.EventsFile).Length == 0);
        // Every frame's label is unknown, and once the unknown state is stable the smoothed label names it too.
        var rows = File.ReadAllLines(options.PredictionsFile).Skip(1).Select(r => r.Split(',')).ToList();
        Assert.All(rows, r => Assert.Equal(EdgeRuntime.UnknownLabel, r[1]));
        Assert.Equal(EdgeRuntime.UnknownLabel, rows[^1][3]);
    }
}
