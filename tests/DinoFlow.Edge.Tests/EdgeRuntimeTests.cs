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

    public static TheoryData<string> BadPackages => ["bad-hash", "truncated-model", "truncated-model-rehashed", "failing-probe"];

    [Theory]
    [MemberData(nameof(BadPackages))]
    public async Task A_bad_package_is_refused_and_the_old_model_keeps_running(string damage)
    {
        var dir = model.NewDirectory("deploy-" + damage);
        using var packages = new SignedPackages(dir);
        var options = EdgeBuilder.Options(Path.Combine(dir, "state"), model.Package.Directory, "rtsp://camera.invalid/stream");
        options.TrustedKey = packages.TrustedKey;
        // The refusal is logged as an error on purpose; any other error fails the test.
        using var trap = new ErrorTrap().Expect($"Deployment d-{damage} ");
        await using var runtime = new EdgeRuntime(options, trap.Loggers, _ => new LoopingLiveSource());
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run = runtime.RunAsync(stop.Token);
        await Eventually.UntilAsync(() => runtime.FramesProcessed >= 3, Eventually.DefaultTimeout, "3 frames on v1", () => $"{runtime.FramesProcessed} frames", run);

        var package = model.Copy(model.PackageV2);
        var onnx = Path.Combine(package, ModelManifest.ModelFileName);
        var json = Path.Combine(package, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(json), json);
        switch (damage)
        {
            case "truncated-model":
                File.WriteAllBytes(onnx, File.ReadAllBytes(onnx)[..5000]);
                break;
            case "truncated-model-rehashed":
                var truncated = File.ReadAllBytes(onnx)[..5000];
                File.WriteAllBytes(onnx, truncated);
                File.WriteAllText(json, (manifest with { ModelSha256 = ModelPackageFiles.Sha256Hex(truncated) }).ToJson());
                break;
            case "failing-probe":
                File.WriteAllText(json, (manifest with { Probe = manifest.Probe! with { ExpectedProbabilities = manifest.Probe.ExpectedProbabilities.Reverse().ToList() } }).ToJson());
                break;
        }

        var request = packages.Package("d-" + damage, package, "v2");
        if (damage == "bad-hash") request = request with { Sha256 = new string('a', 64) };
        var status = await runtime.DeployAsync(packages.Sign(request), stop.Token);
        var framesAfter = runtime.FramesProcessed;
        await Eventually.UntilAsync(() => runtime.FramesProcessed >= framesAfter + 3, Eventually.DefaultTimeout, "3 more frames after the refused deployment",
            () => $"{runtime.FramesProcessed - framesAfter} more frames", run);
        await stop.CancelAsync();
        await run.WithinAsync(Eventually.DefaultTimeout, "the edge runtime to stop after cancellation");

        Assert.Equal(DeploymentState.Failed, status.Status);
        var expected = damage switch
        {
            "bad-hash" => "SHA-256",
            "truncated-model" => "corrupted",
            "truncated-model-rehashed" => "ONNX Runtime cannot load",
            _ => "probe self-test failed",
        };
        Assert.Contains(expected, status.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", status.ActiveVersion);
        Assert.Equal("v1", runtime.ActiveVersion);
        Assert.Empty(Directory.GetDirectories(Path.Combine(options.StateDirectory, "models")));
        Assert.Empty(Directory.GetFiles(Path.Combine(options.StateDirectory, "downloads")));
    }

    [Fact]
    public async Task A_good_package_is_swapped_in_while_frames_flow_and_is_used_after_a_restart()
    {
        var dir = model.NewDirectory("deploy-good");
        var state = Path.Combine(dir, "state");
        using var packages = new SignedPackages(dir);
        var options = EdgeBuilder.Options(state, model.Package.Directory, "rtsp://camera.invalid/stream");
        options.TrustedKey = packages.TrustedKey;
        using var trap = new ErrorTrap();
        await using (var runtime = new EdgeRuntime(options, trap.Loggers, _ => new LoopingLiveSource()))
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var run = runtime.RunAsync(stop.Token);
            await Eventually.UntilAsync(() => runtime.FramesProcessed >= 3, Eventually.DefaultTimeout, "3 frames on v1", () => $"{runtime.FramesProcessed} frames", run);
            var status = await runtime.DeployAsync(packages.SignedPackage("d1", model.PackageV2.Directory, "v2"), stop.Token);
            Assert.Equal(DeploymentState.Succeeded, status.Status);
            Assert.Equal("v2", runtime.ActiveVersion);
            var after = runtime.FramesProcessed;
            await Eventually.UntilAsync(() => runtime.FramesProcessed >= after + 3, Eventually.DefaultTimeout, "3 frames on v2", () => $"{runtime.FramesProcessed - after} frames", run);
            await stop.CancelAsync();
            await run.WithinAsync(Eventually.DefaultTimeout, "the edge runtime to stop after cancellation");
        }

        // What a kill -9 during a later download leaves behind is cleaned, and the deployed model is the one that starts.
        Directory.CreateDirectory(Path.Combine(state, "models", ".v3.staging-123456"));
        File.WriteAllText(Path.Combine(state, "downloads", "v3-x.zip.part"), "partial");
        await using var restarted = new EdgeRuntime(options, trap.Loggers, _ => new LoopingLiveSource());
        using var stop2 = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run2 = restarted.RunAsync(stop2.Token);
        await Eventually.UntilAsync(() => restarted.FramesProcessed >= 1, Eventually.DefaultTimeout, "a frame after the restart", () => $"{restarted.FramesProcessed} frames", run2);
        Assert.Equal("v2", restarted.ActiveVersion);
        await stop2.CancelAsync();
        await run2.WithinAsync(Eventually.DefaultTimeout, "the edge runtime to stop after cancellation");
        Assert.False(Directory.Exists(Path.Combine(state, "models", ".v3.staging-123456")));
        Assert.False(File.Exists(Path.Combine(state, "downloads", "v3-x.zip.part")));
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
