using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Edge.Contracts.Events;
using DinoFlow.Edge.Contracts.Learning;
using DinoFlow.Edge.Greengrass;
using DinoFlow.Edge.Tests.Support;
using DinoFlow.Pipeline.Deployment;
using DinoFlow.Pipeline.Models;
using DinoFlow.TestKit;
using Microsoft.Extensions.DependencyInjection;
using YamlDotNet.RepresentationModel;

namespace DinoFlow.Edge.Tests;

/// <summary>
/// A canary under Greengrass: the model component's configuration /mode reaches the app as Edge:ModelMode. In mode
/// serve the app keeps a copy of its model; in mode shadow it serves that copy and runs the component's new model
/// beside it, reporting through the nucleus on the shadow topic as a signed shadow deployment would.
/// </summary>
[Collection(EdgeTestGroup.Name)]
public sealed class GreengrassCanaryTests(TrainedModelFixture model)
{
    private static EdgeRuntime FromConfiguration(string state, string artifact, string mode, bool throughNucleus) =>
        EdgeHost.CreateBuilder([
            "--Edge:DeploymentMode=greengrass", $"--Edge:ModelPath={artifact}", $"--Edge:ModelMode={mode}", $"--Edge:Source={TrainedModelFixture.Clip}",
            $"--Edge:StateDirectory={state}", "--Edge:DeviceId=gg-thing", "--Edge:Inference:WarmupRuns=1", "--Edge:ShadowReportFrames=20",
            .. throughNucleus ? new[] { $"--Edge:Mqtt:Broker={GreengrassIpcLink.BrokerSetting}", "--Edge:Mqtt:ReconnectMinSeconds=0.1", "--Edge:Mqtt:ReconnectMaxSeconds=0.5" } : [],
        ]).Build().Services.GetRequiredService<EdgeRuntime>();

    private static string KeptVersion(string state)
    {
        var json = Path.Combine(state, "serving-model", ModelManifest.FileName);
        return ModelManifest.Parse(File.ReadAllText(json), json).Version;
    }

    [Fact]
    public async Task Serving_keeps_the_model_and_a_canary_serves_the_kept_one_while_the_new_one_runs_as_the_shadow()
    {
        var dir = model.NewDirectory("gg-canary");
        var state = Path.Combine(dir, "state");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using (var serving = FromConfiguration(state, model.Package.Directory, DeploymentModes.Serve, throughNucleus: false))
        {
            await serving.RunAsync(timeout.Token);
            Assert.Equal("v1", serving.ActiveVersion);
        }

        Assert.Equal("v1", KeptVersion(state));
        Assert.Equal(["serving-model"], Directory.GetDirectories(state).Select(Path.GetFileName).Where(n => n!.StartsWith("serving-model", StringComparison.Ordinal)));

        // The canary deployment: the component's new version (v2) with mode shadow; Greengrass restarts the app onto it.
        await using var nucleus = new FakeNucleus(Path.Combine(dir, "ipc.socket"), "svcuid-of-com.dinoflow.Edge");
        using var environment = new ComponentEnvironment(nucleus.SocketPath, nucleus.AuthToken);
        await using var canary = FromConfiguration(state, model.PackageV2.Directory, DeploymentModes.Shadow, throughNucleus: true);
        await canary.RunAsync(timeout.Token);

        Assert.Equal(("v1", "v2"), (canary.ActiveVersion, canary.ShadowVersion));
        Assert.Equal(100, canary.FramesProcessed);
        Assert.True(canary.ShadowFrames >= 20, $"{canary.ShadowFrames} shadow frames");
        var reports = nucleus.Published.Where(p => p.Topic == LearningTopics.Shadow("gg-thing"))
            .Select(p => JsonSerializer.Deserialize(p.Payload, LearningJson.Default.ShadowReportMessage)!).ToList();
        Assert.NotEmpty(reports);
        Assert.All(reports, r => Assert.Equal(("gg-thing", "v1", "v2"), (r.DeviceId, r.CurrentVersion, r.CandidateVersion)));
        Assert.Contains(reports, r => r.Frames >= 20);
        // Same weights under two versions: the candidate agrees with the served model on every frame.
        Assert.All(reports, r => Assert.Equal(1.0, r.Agreement));
        var health = canary.Health();
        Assert.Equal(("v1", "v2", null), (health.ModelVersion, health.ShadowVersion, health.ShadowProblem));
        Assert.Equal("v1", KeptVersion(state)); // a canary does not replace the kept model
    }

    [Fact]
    public async Task A_canary_with_no_kept_model_serves_the_new_one_and_says_in_health_that_nothing_is_compared()
    {
        var dir = model.NewDirectory("gg-canary-first");
        await using var runtime = FromConfiguration(Path.Combine(dir, "state"), model.PackageV2.Directory, DeploymentModes.Shadow, throughNucleus: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await runtime.RunAsync(timeout.Token);

        Assert.Equal("v2", runtime.ActiveVersion);
        Assert.Null(runtime.ShadowVersion);
        Assert.Equal(100, runtime.FramesProcessed);
        var health = runtime.Health();
        Assert.Contains("nothing to compare against", health.ShadowProblem, StringComparison.Ordinal);
        Assert.Contains("Edge:ModelMode", health.ShadowProblem, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "state", "serving-model")), "a shadow start kept its candidate as the served model");
    }

    [Theory]
    [InlineData("canary", DeploymentMode.Greengrass, "must be 'serve' or 'shadow'")]
    [InlineData("{com.dinoflow.Model:configuration:/mode}", DeploymentMode.Greengrass, "must be 'serve' or 'shadow'")] // a nucleus that does not interpolate
    [InlineData("shadow", DeploymentMode.Mqtt, "needs Edge:DeploymentMode greengrass")]
    public void A_bad_model_mode_is_refused_at_start_naming_the_setting(string mode, DeploymentMode deployment, string reason)
    {
        var options = new EdgeOptions { DeviceId = "gg-thing", Source = "0", ModelPath = model.PackageV2.Directory, DeploymentMode = deployment, ModelMode = mode };
        var result = new EdgeOptionsValidator().Validate(null, options);

        var failure = Assert.Single(result.Failures ?? []);
        Assert.StartsWith("Edge:ModelMode", failure, StringComparison.Ordinal);
        Assert.Contains(reason, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void The_recipes_pass_the_model_components_mode_to_the_app_and_default_it_to_serve()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Repository.Root, "edge", "recipe.yaml"))));
        YamlMappingNode Document(string name) => (YamlMappingNode)stream.Documents.Single(d => ((YamlMappingNode)d.RootNode)["ComponentName"].ToString() == name).RootNode;
        var edge = Document(GreengrassModelRecipe.EdgeComponentName);
        var setenv = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)edge["Manifests"])[0])["Lifecycle"])["Setenv"];
        Assert.Equal($"{{{GreengrassModelRecipe.ComponentName}:configuration:/{GreengrassModelRecipe.ModeKey}}}", setenv["DINOFLOW_Edge__ModelMode"].ToString());

        var sample = (YamlMappingNode)((YamlMappingNode)Document(GreengrassModelRecipe.ComponentName)["ComponentConfiguration"])["DefaultConfiguration"];
        Assert.Equal(DeploymentModes.Serve, sample[GreengrassModelRecipe.ModeKey].ToString());
        var rendered = JsonNode.Parse(GreengrassModelRecipe.Render(new ModelComponent("r1", DateTimeOffset.UnixEpoch, "model", [new ModelArtifact("s3://bucket/models/r1/model.zip")])))!;
        Assert.Equal(DeploymentModes.Serve, rendered["ComponentConfiguration"]!["DefaultConfiguration"]![GreengrassModelRecipe.ModeKey]!.GetValue<string>());
    }
}
