using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.Pipeline.Drift;
using DinoFlow.TestKit;
using OpenCvSharp;

namespace DinoFlow.Edge.Tests;

/// <summary>
/// The device's own drift check, end to end: real product images through the trained model, smoothing and detection
/// events into the check, and its state in the health message (what AWS's drift rule reads: <c>drift.state</c>).
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class DriftHealthTests(TrainedModelFixture model)
{
    // Visually distinct classes, so each change of image is a change of detection.
    private static readonly string[] Mix = ["red_normal", "brown_normal_chinese", "no_box", "brown_abnormal_korean"];

    [Fact]
    public async Task A_stream_whose_class_mix_moves_reports_shifted_in_health_and_a_steady_one_stable()
    {
        // Steady: the four classes in turn throughout. Shifted: the same for the baseline, then only two of them.
        var steady = await HealthAfterAsync("steady", Enumerable.Repeat(Mix, 14).SelectMany(c => c).ToList());
        var shifted = await HealthAfterAsync("shifted", [.. Enumerable.Repeat(Mix, 6).SelectMany(c => c), .. Enumerable.Repeat(Mix[..2], 16).SelectMany(c => c)]);

        var calm = steady.Drift!;
        Assert.Equal((DriftReport.Stable, 24, 24, model.Package.Manifest.Version), (calm.State, calm.BaselineCount, calm.WindowCount, calm.ModelVersion));
        Assert.Empty(calm.Reasons);

        var moved = shifted.Drift!;
        Assert.Equal((DriftReport.Shifted, 24, 24), (moved.State, moved.BaselineCount, moved.WindowCount));
        Assert.Contains(moved.Reasons, r => r.StartsWith("class mix:", StringComparison.Ordinal));
        Assert.True(moved.JensenShannon >= 0.1 && moved.ClassPValue < 0.01, $"JS {moved.JensenShannon}, p {moved.ClassPValue}");

        // On the wire as AWS's rule reads it: WHERE drift.state = 'shifted'.
        var json = JsonNode.Parse(JsonSerializer.Serialize(shifted, EdgeJson.Default.HealthMessage))!;
        Assert.Equal("shifted", json["drift"]!["state"]!.GetValue<string>());
        Assert.Equal("stable", JsonNode.Parse(JsonSerializer.Serialize(steady, EdgeJson.Default.HealthMessage))!["drift"]!["state"]!.GetValue<string>());
    }

    [Fact]
    public void Edge_Drift_is_read_from_configuration_and_a_size_that_cannot_work_is_refused_naming_the_setting()
    {
        using var host = EdgeHost.CreateBuilder(["--Edge:Drift:BaselineSize=30", "--Edge:Drift:WindowSize=3"]).Build();
        var configuration = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>(host.Services);
        var options = EdgeBuilder.Options("state", TrainedModelFixture.Clip, TrainedModelFixture.Clip);
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection(EdgeOptions.Section), options);

        Assert.Equal((30, 3, 0.01), (options.Drift.BaselineSize, options.Drift.WindowSize, options.Drift.Alpha));
        Assert.Equal(200, DriftOptions.Default.BaselineSize); // bound into the device's own options, not the shared default
        // (appsettings.json's empty Edge:Source is bound too and refused on its own.)
        var failures = new EdgeOptionsValidator().Validate(null, options).Failures!;
        Assert.Equal(["Edge:Drift:WindowSize must be at least 10, got 3"], failures.Where(f => f.Contains("Drift", StringComparison.Ordinal)));
    }

    /// <summary>Runs a device over the images of <paramref name="classes"/> (one each, two frames each) and returns its last health.</summary>
    private async Task<HealthMessage> HealthAfterAsync(string name, List<string> classes)
    {
        var dir = model.NewDirectory("drift-" + name);
        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, Path.Combine(dir, "frames"));
        // Every image change is one detection (smoothing has its own tests), so the counts below are exact.
        options.Smoothing = new SmoothingOptions { Window = 1, MinDwellFrames = 1 };
        options.Drift = new DriftOptions { BaselineSize = 24, WindowSize = 24 };
        using var trap = new ErrorTrap();
        await using var runtime = new EdgeRuntime(options, trap.Loggers, _ => new ImageSequenceSource(classes, framesEach: 2));
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await runtime.RunAsync(timeout.Token);
        Assert.False(timeout.IsCancellationRequested, "the image sequence did not end in time");
        return runtime.Health();
    }

    /// <summary>A file-like source of real sample images: the first image of each named class folder, in the given order.</summary>
    private sealed class ImageSequenceSource(List<string> classes, int framesEach) : IFrameSource
    {
        private readonly Dictionary<string, Mat> _images = classes.Distinct(StringComparer.Ordinal).ToDictionary(c => c, c =>
            Cv2.ImRead(Directory.GetFiles(Path.Combine(TrainedModelFixture.RepositoryRoot, "samples", "product-boxes", c)).Order(StringComparer.Ordinal).First()), StringComparer.Ordinal);

        private int _frame;

        public bool Read(Mat frame)
        {
            if (_frame >= classes.Count * framesEach) return false;
            _images[classes[_frame++ / framesEach]].CopyTo(frame);
            return true;
        }

        public void Dispose()
        {
            foreach (var image in _images.Values) image.Dispose();
        }
    }
}
