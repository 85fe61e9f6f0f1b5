using System.Security.Cryptography;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Deployment;

namespace DinoFlow.Pipeline.Tests;

public sealed class GreengrassRecipeTests
{
    private static readonly DateTimeOffset Created = new(2026, 11, 27, 8, 5, 9, TimeSpan.Zero);

    [Theory]
    [InlineData("20261126-212150-5f7c", "1.20261126.212150000")]
    [InlineData("20261127-093000-ab12", "1.20261127.93000000")]
    [InlineData("20261127-000000-ab12", "1.20261127.0")]
    [InlineData("my-model-v3", "1.20261127.80509000")]
    public void A_local_run_and_an_aws_execution_give_the_same_version_format(string modelVersion, string expected) =>
        Assert.Equal(expected, GreengrassModelRecipe.ComponentVersion(GreengrassModelRecipe.RunStart(modelVersion, Created)));

    [Fact]
    public void The_version_keeps_milliseconds_so_two_executions_in_one_second_differ() =>
        Assert.Equal("1.20261127.80509123", GreengrassModelRecipe.ComponentVersion(Created.AddMilliseconds(123)));

    [Fact]
    public void The_recipe_carries_the_run_version_and_the_zip_digest_in_base64()
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData("zip"u8));
        var recipe = JsonNode.Parse(GreengrassModelRecipe.Render(new ModelComponent("20261126-212150-5f7c", GreengrassModelRecipe.RunStart("20261126-212150-5f7c", Created),
            "model", [new ModelArtifact("s3://bucket/models/20261126-212150-5f7c/model.zip", sha)], new JsonObject { ["run"] = "r1" })))!;

        Assert.Equal("com.dinoflow.Model", recipe["ComponentName"]!.GetValue<string>());
        Assert.Equal("1.20261126.212150000", recipe["ComponentVersion"]!.GetValue<string>());
        var artifact = recipe["Manifests"]![0]!["Artifacts"]![0]!;
        Assert.Equal("s3://bucket/models/20261126-212150-5f7c/model.zip", artifact["URI"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String(SHA256.HashData("zip"u8)), artifact["Digest"]!.GetValue<string>());
        Assert.Equal("SHA-256", artifact["Algorithm"]!.GetValue<string>());
        Assert.Equal("ZIP", artifact["Unarchive"]!.GetValue<string>());
        var configuration = recipe["ComponentConfiguration"]!["DefaultConfiguration"]!;
        Assert.Equal("20261126-212150-5f7c", configuration["modelVersion"]!.GetValue<string>());
        Assert.Equal("r1", configuration["run"]!.GetValue<string>());
    }

    [Fact]
    public void An_extra_artifact_is_kept_as_is_without_a_digest_when_none_is_known()
    {
        var recipe = JsonNode.Parse(GreengrassModelRecipe.Render(new ModelComponent("v", Created, "model",
            [new ModelArtifact("s3://bucket/runs/r/model/model.zip", new string('0', 64)), new ModelArtifact("s3://bucket/runs/r/neo/output/model.tar.gz", Unarchive: false)])))!;
        var neo = recipe["Manifests"]![0]!["Artifacts"]![1]!;
        Assert.Equal("NONE", neo["Unarchive"]!.GetValue<string>());
        Assert.Null(neo["Digest"]);
    }

    [Theory]
    // The edge recipe reads {com.dinoflow.Model:artifacts:decompressedPath}/model, so any other file name is refused.
    [InlineData("s3://bucket/model-v.zip")]
    // A placeholder bucket would make a recipe that cannot deploy.
    [InlineData("s3://YOUR-BUCKET/dinoflow/models/v/model.zip")]
    [InlineData("https://bucket/models/v/model.zip")]
    public void A_recipe_that_could_not_deploy_is_refused(string uri) =>
        Assert.Throws<ArgumentException>(() => GreengrassModelRecipe.Render(new ModelComponent("v", Created, "model", [new ModelArtifact(uri, new string('0', 64))])));
}
