using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Integration.Tests.Support;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;

namespace DinoFlow.Integration.Tests;

/// <summary>
/// A device's own deployments (moved from the edge's EdgeRuntimeTests): packages served by the host's package server
/// and signed with the host's key; a bad one is refused, a good one swapped in and kept across a restart.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class EdgeDeploymentTests(TrainedModelFixture model)
{
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
}
