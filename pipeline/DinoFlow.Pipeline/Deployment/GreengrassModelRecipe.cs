using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DinoFlow.Pipeline.Deployment;

/// <summary>One artifact of the model component: an S3 object Greengrass downloads (and unzips when <see cref="Unarchive"/>).</summary>
/// <param name="Uri">s3://BUCKET/KEY of a real bucket (a placeholder such as YOUR-BUCKET is refused).</param>
/// <param name="Sha256Hex">The object's SHA-256 (hex); when given, Greengrass checks the download against it.</param>
public sealed record ModelArtifact(string Uri, string? Sha256Hex = null, bool Unarchive = true);

/// <summary>What the recipe says about one trained model.</summary>
/// <param name="ModelVersion">The package's version (the training run that made it).</param>
/// <param name="RunStartedAt">When that run started: the component version follows it (<see cref="GreengrassModelRecipe.ComponentVersion"/>).</param>
/// <param name="Artifacts">The package zip first (named model.zip), then any extra artifact (none today).</param>
/// <param name="Configuration">Extra DefaultConfiguration entries beside modelVersion.</param>
public sealed record ModelComponent(string ModelVersion, DateTimeOffset RunStartedAt, string Description, IReadOnlyList<ModelArtifact> Artifacts, JsonObject? Configuration = null);

/// <summary>
/// The Greengrass model component (com.dinoflow.Model), for every back end: the local deploy stage and the AWS
/// BuildGreengrassDocuments step both write their recipe here. Its version follows the training run, so each
/// retrained model is a new component version and the edge component (HARD dependency) restarts onto it.
/// </summary>
public static partial class GreengrassModelRecipe
{
    public const string ComponentName = "com.dinoflow.Model";

    /// <summary>The edge application component (edge/recipe.yaml), which depends on the model component.</summary>
    public const string EdgeComponentName = "com.dinoflow.Edge";

    /// <summary>
    /// The configuration key a canary deployment merges as "shadow" and a promotion or rollback resets to its default,
    /// "serve"; the edge recipe passes it to the app as Edge:ModelMode.
    /// </summary>
    public const string ModeKey = "mode";

    public const string ServeMode = "serve";

    /// <summary>
    /// The one version format: <c>1.&lt;yyyyMMdd&gt;.&lt;HHmmssfff&gt;</c> of the run's start in UTC, leading zeros dropped
    /// (semantic versions forbid them). The same run always gives the same version, so a retried deployment step
    /// recreates the same component version.
    /// </summary>
    public static string ComponentVersion(DateTimeOffset runStartedAt)
    {
        var utc = runStartedAt.UtcDateTime;
        var time = int.Parse(utc.ToString("HHmmssfff", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"1.{utc:yyyyMMdd}.{time}");
    }

    /// <summary>
    /// The start of a local run from its id (<c>20261126-212150-5f7c</c> → 2026-11-26 21:21:50 UTC); a model version that
    /// is not a run id falls back to <paramref name="fallback"/> (the package's creation time).
    /// </summary>
    public static DateTimeOffset RunStart(string modelVersion, DateTimeOffset fallback)
    {
        ArgumentNullException.ThrowIfNull(modelVersion);
        var run = RunId().Match(modelVersion);
        return run.Success && DateTimeOffset.TryParseExact(run.Groups[1].Value + run.Groups[2].Value, "yyyyMMddHHmmss", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var started)
            ? started
            : fallback;
    }

    /// <summary>The recipe (JSON, which CreateComponentVersion accepts like YAML).</summary>
    public static string Render(ModelComponent component)
    {
        ArgumentNullException.ThrowIfNull(component);
        if (component.Artifacts.Count == 0) throw new ArgumentException("the model component needs its package zip as an artifact", nameof(component));
        var package = component.Artifacts[0];
        if (!package.Uri.EndsWith("/model.zip", StringComparison.Ordinal) || !package.Unarchive)
            throw new ArgumentException("the first artifact must be the package zip named model.zip: the edge recipe reads it from {com.dinoflow.Model:artifacts:decompressedPath}/model", nameof(component));
        var artifacts = new JsonArray();
        foreach (var artifact in component.Artifacts)
        {
            CheckUri(artifact.Uri);
            var node = new JsonObject
            {
                ["URI"] = artifact.Uri,
                ["Unarchive"] = artifact.Unarchive ? "ZIP" : "NONE",
                ["Permission"] = new JsonObject { ["Read"] = "ALL" },
            };
            if (artifact.Sha256Hex is { } sha)
            {
                // Greengrass checks the artifact's digest on download; the edge then checks model.onnx against model.json.
                node["Digest"] = Convert.ToBase64String(Convert.FromHexString(sha));
                node["Algorithm"] = "SHA-256";
            }

            artifacts.Add(node);
        }

        // The default matters: a promotion resets /mode, which must land on "serve" for the edge recipe to read.
        var configuration = new JsonObject { ["modelVersion"] = component.ModelVersion, [ModeKey] = ServeMode };
        if (component.Configuration is not null)
            foreach (var (key, value) in component.Configuration) configuration[key] = value?.DeepClone();
        var recipe = new JsonObject
        {
            ["RecipeFormatVersion"] = "2020-01-25",
            ["ComponentName"] = ComponentName,
            ["ComponentVersion"] = ComponentVersion(component.RunStartedAt),
            ["ComponentDescription"] = component.Description,
            ["ComponentPublisher"] = "DinoFlow",
            ["ComponentConfiguration"] = new JsonObject { ["DefaultConfiguration"] = configuration },
            ["Manifests"] = new JsonArray(new JsonObject
            {
                ["Platform"] = new JsonObject { ["os"] = "linux" },
                ["Lifecycle"] = new JsonObject(),
                ["Artifacts"] = artifacts,
            }),
        };
        return recipe.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static void CheckUri(string uri)
    {
        if (!uri.StartsWith("s3://", StringComparison.Ordinal) || uri.Length <= 5 || uri.IndexOf('/', 5) <= 5)
            throw new ArgumentException($"'{uri}' is not an s3://BUCKET/KEY URI", nameof(uri));
        var bucket = uri[5..uri.IndexOf('/', 5)];
        if (Placeholder().IsMatch(bucket))
            throw new ArgumentException($"'{uri}' names a placeholder bucket; give the bucket the artifacts are uploaded to", nameof(uri));
    }

    [GeneratedRegex(@"^(\d{8})-(\d{6})-[0-9a-z]+$")]
    private static partial Regex RunId();

    [GeneratedRegex(@"YOUR|EXAMPLE|PLACEHOLDER|CHANGE-?ME", RegexOptions.IgnoreCase)]
    private static partial Regex Placeholder();
}
