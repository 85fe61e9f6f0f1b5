using System.Text.Json.Nodes;
using DinoFlow.Aws.Functions;
using DinoFlow.Pipeline.Storage;
using static DinoFlow.Aws.TestKit.Handler;

namespace DinoFlow.Aws.Functions.Tests;

/// <summary>The handler that builds the Greengrass component and deployment documents.</summary>
public sealed class GreengrassHandlerTests
{
    [Fact]
    public async Task Build_Greengrass_documents_roll_back_on_failure_and_ship_the_ONNX_package_only()
    {
        var bucket = Build.Bucket();
        var zip = "model package"u8.ToArray();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/model/model.zip", zip);
        var output = await Call(new BuildGreengrassDocumentsFunction(Build.Services(bucket)).HandleAsync, Repo.Event("build-greengrass-documents.json"));

        Assert.Equal("ROLLBACK", output["deploymentPolicies"]!["FailureHandlingPolicy"]!.GetValue<string>());
        Assert.Equal(2, output["iotJobConfiguration"]!["AbortConfig"]!["CriteriaList"]!.AsArray().Count);
        var recipe = JsonNode.Parse(output["inlineRecipe"]!.GetValue<string>())!;
        Assert.Equal("com.dinoflow.Model", recipe["ComponentName"]!.GetValue<string>());
        Assert.Equal("1.20250602.93111457", recipe["ComponentVersion"]!.GetValue<string>());
        var artifacts = recipe["Manifests"]![0]!["Artifacts"]!.AsArray();
        // No Neo: the devices run model.onnx with ONNX Runtime; the package zip is the only artifact.
        Assert.Single(artifacts);
        // The same builder as the local deploy stage (DinoFlow.Pipeline.Deployment): the package zip's digest, checked by Greengrass on download.
        Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(zip)), artifacts[0]!["Digest"]!.GetValue<string>());
        Assert.Equal(output["componentVersion"]!.GetValue<string>(), output["components"]!["com.dinoflow.Model"]!["ComponentVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_deployment_keeps_the_edge_app_because_a_deployment_replaces_the_groups_components()
    {
        var bucket = Build.Bucket();
        await bucket.PutBytesAsync($"runs/{Build.RunName}/model/model.zip", "model package"u8.ToArray());
        var output = await Call(new BuildGreengrassDocumentsFunction(Build.Services(bucket)).HandleAsync, Repo.Event("build-greengrass-documents.json"));
        Assert.Equal("1.0.0", output["components"]!["com.dinoflow.Edge"]!["ComponentVersion"]!.GetValue<string>());

        var withoutEdge = Build.Services(bucket, Build.Settings(s => s with { EdgeComponentVersion = "" }));
        var error = await Assert.ThrowsAsync<AwsConfigurationException>(() => Call(new BuildGreengrassDocumentsFunction(withoutEdge).HandleAsync, Repo.Event("build-greengrass-documents.json")));
        Assert.Equal("edgeComponentVersion", error.Setting);
    }
}
