using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DinoFlow.Local.Edge;

/// <summary>
/// The Greengrass model component (com.dinoflow.Model) for a model package: its version follows the training run,
/// so each retrained model is a new component version and the edge component (HARD dependency) restarts onto it.
/// </summary>
public static partial class GreengrassModelRecipe
{
    public const string ComponentName = "com.dinoflow.Model";

    /// <summary>
    /// Run 20261126-212150-5f7c → 1.20261126.212150 (leading zeros dropped: semantic versions forbid them). A model
    /// version that is not a run id falls back to the package's creation time in the same form.
    /// </summary>
    public static string ComponentVersion(string modelVersion, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(modelVersion);
        var run = RunId().Match(modelVersion);
        var (date, time) = run.Success
            ? (run.Groups[1].Value, run.Groups[2].Value)
            : (createdAt.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture), createdAt.UtcDateTime.ToString("HHmmss", CultureInfo.InvariantCulture));
        return string.Create(CultureInfo.InvariantCulture, $"1.{date}.{int.Parse(time, CultureInfo.InvariantCulture)}");
    }

    /// <summary>The recipe (JSON, which create-component-version accepts like YAML) for the package zip uploaded as <paramref name="artifactUri"/>.</summary>
    public static string Render(string modelVersion, DateTimeOffset createdAt, string artifactUri, string zipSha256Hex)
    {
        ArgumentNullException.ThrowIfNull(artifactUri);
        if (!artifactUri.EndsWith("/model.zip", StringComparison.Ordinal))
            throw new ArgumentException("the artifact must be named model.zip: the edge recipe reads it from {com.dinoflow.Model:artifacts:decompressedPath}/model", nameof(artifactUri));
        var recipe = new JsonObject
        {
            ["RecipeFormatVersion"] = "2020-01-25",
            ["ComponentName"] = ComponentName,
            ["ComponentVersion"] = ComponentVersion(modelVersion, createdAt),
            ["ComponentDescription"] = $"DinoFlow model {modelVersion} (model.onnx, model.json and probe image), verified by the edge before use.",
            ["ComponentPublisher"] = "DinoFlow",
            ["ComponentConfiguration"] = new JsonObject { ["DefaultConfiguration"] = new JsonObject { ["modelVersion"] = modelVersion } },
            ["Manifests"] = new JsonArray(new JsonObject
            {
                ["Platform"] = new JsonObject { ["os"] = "linux" },
                ["Lifecycle"] = new JsonObject(),
                ["Artifacts"] = new JsonArray(new JsonObject
                {
                    ["URI"] = artifactUri,
                    ["Unarchive"] = "ZIP",
                    // Greengrass checks the zip's digest on download; the edge then checks model.onnx against model.json.
                    ["Digest"] = Convert.ToBase64String(Convert.FromHexString(zipSha256Hex)),
                    ["Algorithm"] = "SHA-256",
                }),
            }),
        };
        return recipe.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    [GeneratedRegex(@"^(\d{8})-(\d{6})-[0-9a-z]+$")]
    private static partial Regex RunId();
}
