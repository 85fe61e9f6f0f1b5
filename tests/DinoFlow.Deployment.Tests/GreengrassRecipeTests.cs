using System.Text.Json.Nodes;
using DinoFlow.Local.Edge;

namespace DinoFlow.Edge.Tests;

public sealed class GreengrassRecipeTests
{
    private static readonly DateTimeOffset Created = new(2026, 11, 27, 8, 5, 9, TimeSpan.Zero);

    [Theory]
    [InlineData("20261126-212150-5f7c", "1.20261126.212150")]
    [InlineData("20261127-093000-ab12", "1.20261127.93000")]
    [InlineData("20261127-000000-ab12", "1.20261127.0")]
    [InlineData("my-model-v3", "1.20261127.80509")]
    public void The_model_component_version_follows_the_training_run(string modelVersion, string expected) =>
        Assert.Equal(expected, GreengrassModelRecipe.ComponentVersion(modelVersion, Created));

    [Fact]
    public void The_recipe_carries_the_run_version_and_the_zip_digest_in_base64()
    {
        var sha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("zip"u8)).ToLowerInvariant();
        var recipe = JsonNode.Parse(GreengrassModelRecipe.Render("20261126-212150-5f7c", Created, "s3://bucket/models/20261126-212150-5f7c/model.zip", sha))!;

        Assert.Equal("com.dinoflow.Model", recipe["ComponentName"]!.GetValue<string>());
        Assert.Equal("1.20261126.212150", recipe["ComponentVersion"]!.GetValue<string>());
        var artifact = recipe["Manifests"]![0]!["Artifacts"]![0]!;
        Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData("zip"u8)), artifact["Digest"]!.GetValue<string>());
        Assert.Equal("ZIP", artifact["Unarchive"]!.GetValue<string>());
        // The edge recipe reads {com.dinoflow.Model:artifacts:decompressedPath}/model, so any other file name is refused.
        Assert.Throws<ArgumentException>(() => GreengrassModelRecipe.Render("v", Created, "s3://bucket/model-v.zip", sha));
    }
}
