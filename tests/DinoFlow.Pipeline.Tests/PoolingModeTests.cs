using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Tests;

/// <summary>model.json's backbone.pooling is typed, with the same strings as before (issue 11).</summary>
public class PoolingModeTests
{
    private static string Manifest(string pooling) => $$"""
        {
          "name": "boxes", "version": "v1", "labels": ["red", "green"],
          "preprocess": { "width": 448, "height": 448, "mean": [0, 0, 0], "std": [1, 1, 1] },
          "backbone": { "name": "resnet18", "source": "test", "taps": ["x"], "pooling": "{{pooling}}" },
          "head": "linear", "trainingDataHash": "abc", "modelSha256": "0000000000000000000000000000000000000000000000000000000000000000",
          "createdAt": "2026-11-30T00:00:00Z", "producer": "test",
          "probe": { "image": "probe.png", "expectedLabel": "red", "expectedProbabilities": [0.5, 0.5], "tolerance": 0.01 }
        }
        """;

    [Theory]
    [InlineData("avg", PoolingKind.Avg, 1, 1)]
    [InlineData("max", PoolingKind.Max, 1, 1)]
    [InlineData("avgmax", PoolingKind.AvgMax, 1, 2)]
    [InlineData("grid4", PoolingKind.Grid, 4, 16)]
    public void A_model_json_written_before_still_reads_and_is_written_the_same(string text, PoolingKind kind, int grid, int featuresPerChannel)
    {
        var manifest = ModelManifest.Parse(Manifest(text), "model.json");

        Assert.Equal((kind, grid, featuresPerChannel), (manifest.Backbone.Pooling.Kind, manifest.Backbone.Pooling.Grid, manifest.Backbone.Pooling.FeaturesPerChannel));
        Assert.Contains($"\"pooling\": \"{text}\"", manifest.ToJson().Replace("\":\"", "\": \"", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(manifest.Backbone.Pooling, ModelManifest.Parse(manifest.ToJson(), "again").Backbone.Pooling);
        Assert.Equal(text, PoolingMode.Parse(text).ToString());
    }

    [Theory]
    [InlineData("mean")]
    [InlineData("grid0")]
    [InlineData("grid")]
    [InlineData("Avg")]
    public void An_unknown_pooling_is_refused_with_the_file_and_the_value(string text)
    {
        var error = Assert.Throws<ModelPackageException>(() => ModelManifest.Parse(Manifest(text), "pkg/model.json"));
        Assert.Contains("pkg/model.json", error.Message, StringComparison.Ordinal);
        Assert.Contains($"pooling '{text}'", error.Message, StringComparison.Ordinal);
        Assert.False(PoolingMode.TryParse(text, out _));
    }
}
