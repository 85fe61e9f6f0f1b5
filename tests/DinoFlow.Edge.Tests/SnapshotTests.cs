using System.Text.Json;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;

namespace DinoFlow.Edge.Tests;

/// <summary>Detection snapshots: what the model saw, as a JPEG, only within the size and rate budget (Edge:Snapshots).</summary>
[Collection(EdgeTestGroup.Name)]
public sealed class SnapshotTests(TrainedModelFixture model)
{
    [Fact]
    public void A_snapshot_is_the_models_input_as_a_jpeg_within_the_size_and_at_most_one_per_interval()
    {
        var spec = model.Package.Manifest.Preprocess;
        var tensor = new Preprocessor(spec).Run(new OpenCvImageDecoder().Decode(File.ReadAllBytes(Path.Combine(model.Package.Directory, model.Package.Manifest.Probe!.Image))));
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var budget = new SnapshotBudget(new SnapshotOptions { Enabled = true, MaxBytes = 12_000, MinIntervalSeconds = 10 }, clock);

        var first = Convert.FromBase64String(budget.Take(tensor, spec)!);
        Assert.InRange(first.Length, 1, 12_000);
        // Decoded and preprocessed again, it is the same input (colour order and normalisation undone), up to JPEG's loss.
        var again = new Preprocessor(spec).Run(new OpenCvImageDecoder().Decode(first));
        var scale = spec.Std.Average();
        Assert.InRange(tensor.Zip(again, (a, b) => Math.Abs(a - b) * scale).Average(), 0, 6);

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Null(budget.Take(tensor, spec));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(budget.Take(tensor, spec));
        Assert.Equal((2, 1, 0), (budget.Taken, budget.SkippedForRate, budget.SkippedForSize));

        // Noise does not compress: under a 1 KiB budget the detection goes without a snapshot.
        var noise = new Preprocessor(spec).Run(new OpenCvImageDecoder().Decode(TestImages.Noise(4, spec.Width, spec.Height, ".png")));
        var tight = new SnapshotBudget(new SnapshotOptions { Enabled = true, MaxBytes = 1024, MinIntervalSeconds = 0 }, clock);
        Assert.Null(tight.Take(noise, spec));
        Assert.Equal(1, tight.SkippedForSize);
        Assert.Null(new SnapshotBudget(new SnapshotOptions(), clock).Take(tensor, spec));
    }

    [Fact]
    public async Task On_the_clip_only_the_first_detection_of_an_interval_carries_a_snapshot_and_each_fits_the_budget()
    {
        var dir = model.NewDirectory("snapshots");
        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, TrainedModelFixture.Clip);
        options.EventsFile = Path.Combine(dir, "events.jsonl");
        options.Snapshots = new SnapshotOptions { Enabled = true, MaxBytes = 8192, MinIntervalSeconds = 3600 };
        using var trap = new ErrorTrap();
        await using (var runtime = new EdgeRuntime(options, trap.Loggers))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await runtime.RunAsync(timeout.Token);
        }

        var events = File.ReadAllLines(options.EventsFile).Select(l => JsonSerializer.Deserialize(l, EdgeJson.Default.DetectionEvent)!).ToList();
        Assert.True(events.Count >= 3, $"{events.Count} events");
        Assert.NotNull(events[0].Snapshot);
        Assert.All(events.Skip(1), e => Assert.Null(e.Snapshot));
        var jpeg = Convert.FromBase64String(events[0].Snapshot!);
        Assert.InRange(jpeg.Length, 1, 8192);
        var image = new OpenCvImageDecoder().Decode(jpeg);
        Assert.Equal((model.Package.Manifest.Preprocess.Width, model.Package.Manifest.Preprocess.Height), (image.Width, image.Height));
    }
}
