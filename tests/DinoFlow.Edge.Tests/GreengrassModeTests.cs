using DinoFlow.Edge.Tests.Support;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DinoFlow.Edge.Tests;

/// <summary>
/// Greengrass mode: the model is the model component's unarchived artifact, named in the configuration
/// (Edge:ModelPath, set by the recipe's Setenv); it goes through the same EdgeModel.Load checks as an MQTT deployment.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class GreengrassModeTests(TrainedModelFixture model)
{
    /// <summary>The runtime exactly as the app builds it from its configuration (command line here, environment under Greengrass).</summary>
    private static EdgeRuntime FromConfiguration(string state, string artifact, string stalePointer)
    {
        Directory.CreateDirectory(state);
        // A pointer left by an earlier MQTT-mode deployment: Greengrass mode must use the artifact, not this.
        File.WriteAllText(Path.Combine(state, "current-model.txt"), stalePointer);
        var host = EdgeHost.CreateBuilder([
            "--Edge:DeploymentMode=greengrass", $"--Edge:ModelPath={artifact}", $"--Edge:Source={TrainedModelFixture.Clip}",
            $"--Edge:StateDirectory={state}", "--Edge:DeviceId=gg-thing", "--Edge:Inference:WarmupRuns=1",
        ]).Build();
        return host.Services.GetRequiredService<EdgeRuntime>();
    }

    [Fact]
    public async Task The_artifact_named_in_the_configuration_is_verified_loaded_and_classifies_the_frames()
    {
        var dir = model.NewDirectory("gg-good");
        var artifact = Path.Combine(dir, "artifacts", "model");
        PackageZip.Extract(Zip(model.PackageV2.Directory, dir), artifact);
        await using var runtime = FromConfiguration(Path.Combine(dir, "state"), artifact, model.Package.Directory);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await runtime.RunAsync(timeout.Token);

        Assert.Equal("v2", runtime.ActiveVersion);
        Assert.Equal(100, runtime.FramesProcessed);
    }

    [Theory]
    [InlineData("tampered-model", "SHA-256")]
    [InlineData("failing-probe", "probe self-test failed")]
    public async Task A_bad_artifact_is_refused_naming_the_setting_and_the_reason(string damage, string reason)
    {
        var dir = model.NewDirectory("gg-" + damage);
        var artifact = model.Copy(model.PackageV2);
        var json = Path.Combine(artifact, ModelManifest.FileName);
        var manifest = ModelManifest.Parse(File.ReadAllText(json), json);
        if (damage == "tampered-model")
        {
            var onnx = Path.Combine(artifact, ModelManifest.ModelFileName);
            var bytes = File.ReadAllBytes(onnx);
            bytes[^10] ^= 0xFF;
            File.WriteAllBytes(onnx, bytes);
        }
        else
        {
            File.WriteAllText(json, (manifest with { Probe = manifest.Probe! with { ExpectedProbabilities = manifest.Probe.ExpectedProbabilities.Reverse().ToList() } }).ToJson());
        }

        await using var runtime = FromConfiguration(Path.Combine(dir, "state"), artifact, model.Package.Directory);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var error = await Assert.ThrowsAsync<ModelPackageException>(() => runtime.RunAsync(timeout.Token));

        Assert.StartsWith("Edge:ModelPath: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Null(runtime.ActiveVersion);
        Assert.Equal(0, runtime.FramesProcessed);
    }

    private static string Zip(string package, string dir)
    {
        var zip = Path.Combine(dir, "model.zip");
        PackageZip.CreateFromDirectory(package, zip);
        return zip;
    }
}
