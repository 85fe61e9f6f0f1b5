using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.TestKit;

namespace DinoFlow.Edge.Tests;

/// <summary>Edge:Arrangement: what auto picks, that a forced setting is honoured and reported, and that both arrangements give the same answers.</summary>
[Collection(EdgeTestGroup.Name)]
public sealed class ArrangementTests(TrainedModelFixture model)
{
    [Theory]
    [InlineData(FrameArrangement.Auto, "cpu", 1, FrameArrangement.Sequential)]
    [InlineData(FrameArrangement.Auto, "cpu", 2, FrameArrangement.Sequential)]
    [InlineData(FrameArrangement.Auto, "cpu", 8, FrameArrangement.Pipeline)]
    [InlineData(FrameArrangement.Auto, "cuda", 2, FrameArrangement.Pipeline)]
    [InlineData(FrameArrangement.Auto, "tensorrt", 1, FrameArrangement.Pipeline)]
    [InlineData(FrameArrangement.Pipeline, "cpu", 2, FrameArrangement.Pipeline)]
    [InlineData(FrameArrangement.Sequential, "cuda", 16, FrameArrangement.Sequential)]
    public void Auto_runs_one_thread_on_two_CPU_cores_and_a_forced_setting_always_wins(FrameArrangement configured, string provider, int cores, FrameArrangement expected)
    {
        var choice = ArrangementChoice.Choose(configured, provider, cores);

        Assert.Equal(expected, choice.Arrangement);
        Assert.Equal(expected.ToString().ToLowerInvariant(), choice.Name);
        // The reason says where the choice came from: the setting, or what auto weighed.
        if (configured == FrameArrangement.Auto)
            Assert.StartsWith("auto: ", choice.Reason, StringComparison.Ordinal);
        else
            Assert.Equal($"Edge:Arrangement is {choice.Name}", choice.Reason);
        if (configured == FrameArrangement.Auto && provider == "cpu") Assert.Contains($"{cores} core", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sequential_and_pipeline_give_the_same_labels_and_events_on_the_sample_clip_and_health_says_which_ran()
    {
        var sequential = await RunClipAsync(FrameArrangement.Sequential);
        var pipeline = await RunClipAsync(FrameArrangement.Pipeline);
        var auto = await RunClipAsync(FrameArrangement.Auto);

        Assert.Equal(("sequential", "Edge:Arrangement is sequential"), (sequential.Health.Arrangement, sequential.Health.ArrangementReason));
        Assert.Equal(("pipeline", "Edge:Arrangement is pipeline"), (pipeline.Health.Arrangement, pipeline.Health.ArrangementReason));
        var expected = ArrangementChoice.Choose(FrameArrangement.Auto, "cpu", Environment.ProcessorCount);
        Assert.Equal((expected.Name, expected.Reason), (auto.Health.Arrangement, auto.Health.ArrangementReason));

        // Every frame, in order, with the same label, confidence, smoothed label and probabilities (latency aside).
        Assert.Equal(100, sequential.Predictions.Count);
        Assert.Equal(sequential.Predictions, pipeline.Predictions);
        Assert.Equal(sequential.Predictions, auto.Predictions);
        Assert.NotEmpty(sequential.Events);
        Assert.Equal(sequential.Events, pipeline.Events);
        Assert.Equal(sequential.Events, auto.Events);
        Assert.All([sequential.Health, pipeline.Health, auto.Health], h => Assert.Equal((100L, 0L), (h.FramesProcessed, h.FramesDropped)));
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
