using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.TestKit;

namespace DinoFlow.Edge.Tests;

/// <summary>Edge:Arrangement: what auto picks, that a forced setting is honoured and reported, and that both arrangements give the same answers.</summary>
[Collection(EdgeTestGroup.Name)]
public sealed class ArrangementTests(TrainedModelFixture model)
{
    [Theory]
    [InlineData(FrameArrangement.Auto, "cpu", 1, 0, FrameArrangement.Sequential, 1)]
    [InlineData(FrameArrangement.Auto, "cpu", 2, 1, FrameArrangement.Parallel, 2)]
    [InlineData(FrameArrangement.Auto, "cpu", 8, 1, FrameArrangement.Parallel, 8)]
    [InlineData(FrameArrangement.Auto, "cpu", 2, 0, FrameArrangement.Sequential, 1)]
    [InlineData(FrameArrangement.Auto, "cpu", 8, 4, FrameArrangement.Pipeline, 1)]
    [InlineData(FrameArrangement.Auto, "cuda", 2, 0, FrameArrangement.Pipeline, 1)]
    [InlineData(FrameArrangement.Auto, "tensorrt", 1, 0, FrameArrangement.Pipeline, 1)]
    [InlineData(FrameArrangement.Pipeline, "cpu", 2, 1, FrameArrangement.Pipeline, 1)]
    [InlineData(FrameArrangement.Parallel, "cpu", 8, 2, FrameArrangement.Parallel, 4)]
    [InlineData(FrameArrangement.Sequential, "cuda", 16, 0, FrameArrangement.Sequential, 1)]
    public void Auto_runs_frames_in_parallel_on_CPU_cores_with_one_thread_each_and_a_forced_setting_always_wins(
        FrameArrangement configured, string provider, int cores, int sessionThreads, FrameArrangement expected, int workers)
    {
        var choice = ArrangementChoice.Choose(configured, provider, cores, sessionThreads);

        Assert.Equal((expected, workers), (choice.Arrangement, choice.Workers));
        Assert.Equal(expected.ToString().ToLowerInvariant(), choice.Name);
        // The reason says where the choice came from: the setting, or what auto weighed.
        if (configured == FrameArrangement.Auto)
            Assert.StartsWith("auto: ", choice.Reason, StringComparison.Ordinal);
        else
            Assert.StartsWith($"Edge:Arrangement is {choice.Name}", choice.Reason, StringComparison.Ordinal);
        if (configured == FrameArrangement.Auto && provider == "cpu") Assert.Contains($"{cores} core", choice.Reason, StringComparison.Ordinal);
        if (expected == FrameArrangement.Parallel) Assert.Contains($"{workers} frames at once", choice.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FrameArrangement.Auto, "cpu", 0, 2, 1)]
    [InlineData(FrameArrangement.Parallel, "cpu", 0, 8, 1)]
    [InlineData(FrameArrangement.Auto, "cpu", 0, 1, 0)]
    [InlineData(FrameArrangement.Auto, "cuda", 0, 8, 0)]
    [InlineData(FrameArrangement.Sequential, "cpu", 0, 2, 0)]
    [InlineData(FrameArrangement.Pipeline, "cpu", 0, 2, 0)]
    [InlineData(FrameArrangement.Auto, "cpu", 3, 8, 3)]
    public void Sessions_get_one_thread_when_frames_will_run_in_parallel_on_the_CPU_unless_the_threads_are_set(
        FrameArrangement configured, string provider, int intraOpThreads, int cores, int expected)
    {
        var inference = new InferenceOptions { Provider = provider, IntraOpThreads = intraOpThreads };

        Assert.Equal(expected, ArrangementChoice.SessionThreads(configured, inference, cores));
    }

    [Fact]
    public async Task Every_arrangement_gives_the_same_labels_and_events_in_frame_order_on_the_sample_clip_and_health_says_which_ran()
    {
        var sequential = await RunClipAsync(FrameArrangement.Sequential);
        var pipeline = await RunClipAsync(FrameArrangement.Pipeline);
        var parallel = await RunClipAsync(FrameArrangement.Parallel);
        var auto = await RunClipAsync(FrameArrangement.Auto);

        Assert.Equal(("sequential", "Edge:Arrangement is sequential"), (sequential.Health.Arrangement, sequential.Health.ArrangementReason));
        Assert.Equal(("pipeline", "Edge:Arrangement is pipeline"), (pipeline.Health.Arrangement, pipeline.Health.ArrangementReason));
        var cores = Environment.ProcessorCount;
        var forced = ArrangementChoice.Choose(FrameArrangement.Parallel, "cpu", cores, ArrangementChoice.SessionThreads(FrameArrangement.Parallel, new InferenceOptions(), cores));
        Assert.Equal(("parallel", forced.Reason), (parallel.Health.Arrangement, parallel.Health.ArrangementReason));
        var expected = ArrangementChoice.Choose(FrameArrangement.Auto, "cpu", cores, ArrangementChoice.SessionThreads(FrameArrangement.Auto, new InferenceOptions(), cores));
        Assert.Equal((expected.Name, expected.Reason), (auto.Health.Arrangement, auto.Health.ArrangementReason));

        // Every frame, in order, with the same label, confidence, smoothed label and probabilities (latency aside):
        // the parallel workers finish frames out of order, and the frames are still concluded in the camera's order.
        Assert.Equal(100, sequential.Predictions.Count);
        Assert.Equal(sequential.Predictions, pipeline.Predictions);
        Assert.Equal(sequential.Predictions, parallel.Predictions);
        Assert.Equal(sequential.Predictions, auto.Predictions);
        Assert.NotEmpty(sequential.Events);
        Assert.Equal(sequential.Events, pipeline.Events);
        Assert.Equal(sequential.Events, parallel.Events);
        Assert.Equal(sequential.Events, auto.Events);
        Assert.All([sequential.Health, pipeline.Health, parallel.Health, auto.Health], h => Assert.Equal((100L, 0L), (h.FramesProcessed, h.FramesDropped)));
    }

    private async Task<(HealthMessage Health, List<string> Predictions, List<string> Events)> RunClipAsync(FrameArrangement arrangement)
    {
        var dir = model.NewDirectory("arrangement-" + arrangement);
        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, TrainedModelFixture.Clip);
        options.Arrangement = arrangement;
        options.EventsFile = Path.Combine(dir, "events.jsonl");
        options.PredictionsFile = Path.Combine(dir, "predictions.csv");
        using var trap = new ErrorTrap();
        await using var runtime = new EdgeRuntime(options, trap.Loggers);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await runtime.RunAsync(timeout.Token);
        Assert.False(timeout.IsCancellationRequested, $"{arrangement}: the clip did not end in 2 minutes");

        // Latency (column 5) differs run to run; everything else must not.
        var predictions = File.ReadLines(options.PredictionsFile).Skip(1).Select(line => line.Split(',')).Select(c => string.Join(',', c.Where((_, i) => i != 4))).ToList();
        var events = File.ReadLines(options.EventsFile).Select(l => System.Text.Json.JsonSerializer.Deserialize(l, EdgeJson.Default.DetectionEvent)!)
            .Select(e => $"{e.Label} {e.Confidence} frames {e.StartFrame}-{e.FrameIndex}").ToList();
        return (runtime.Health(), predictions, events);
    }
}
