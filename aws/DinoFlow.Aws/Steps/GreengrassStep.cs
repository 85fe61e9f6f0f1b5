using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Storage;
using DinoFlow.Pipeline.Deployment;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state BuildGreengrassDocuments: the model component recipe and the deployment to the thing group.</summary>
public sealed class GreengrassStep(IObjectStore bucket, AwsSettings settings) : IAwsStep<GreengrassStepInput, GreengrassStepOutput>
{
    /// <summary>How long a device may take to apply a deployment before IoT times it out (the rollout wait outlasts it).</summary>
    public const int InProgressTimeoutMinutes = 60;

    /// <summary>The model component's configuration key a canary deployment sets (the signed DeploymentRequest's mode, on Greengrass).</summary>
    public const string ModeKey = GreengrassModelRecipe.ModeKey;

    public const string ShadowMode = Edge.Contracts.Events.DeploymentModes.Shadow;

    /// <summary>
    /// The Greengrass model component recipe and the deployment to the thing group: rollback on failure, an
    /// exponential rollout that aborts when too many devices fail or time out. The component version comes from the
    /// execution's start time, so a redriven step recreates the same version (and the ASL treats "exists" as done).
    /// </summary>
    public async Task<GreengrassStepOutput> RunAsync(GreengrassStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Training is null) throw new AwsRequestException("training", "is missing");
        var package = S3Uri.ParseIn(input.Training.ModelPackageUri, settings.DataBucket, "training.modelPackageUri");
        // Greengrass checks the download against the zip's digest, as it does for the local back end's recipe.
        string sha;
        var stream = await bucket.OpenReadAsync(package.Key, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
            sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        return Build(input, sha);
    }

    /// <param name="packageSha256Hex">The SHA-256 of the model package zip.</param>
    public GreengrassStepOutput Build(GreengrassStepInput input, string packageSha256Hex)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        if (input.Training is null) throw new AwsRequestException("training", "is missing");
        S3Uri.ParseIn(input.Training.ModelPackageUri, settings.DataBucket, "training.modelPackageUri");
        var artifacts = new List<ModelArtifact> { new(input.Training.ModelPackageUri, packageSha256Hex) };
        var component = new ModelComponent(
            input.RunName,
            input.StartedAt,
            string.Create(CultureInfo.InvariantCulture, $"DinoFlow classifier from run {input.RunName}: validation accuracy {input.Training.Report.Accuracy:0.###}"),
            artifacts,
            new JsonObject
            {
                ["run"] = input.RunName,
                ["labels"] = new JsonArray(input.Training.Categories.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
                ["accuracy"] = input.Training.Report.Accuracy,
            });
        var version = GreengrassModelRecipe.ComponentVersion(input.StartedAt);
        // Compact: the recipe travels inside the state's JSON.
        var recipe = JsonNode.Parse(GreengrassModelRecipe.Render(component))!.ToJsonString();

        var components = new JsonObject { [AwsSettings.ModelComponentName] = new JsonObject { ["ComponentVersion"] = version } };
        // A deployment replaces the group's component list: the edge app always goes with the model (settings require it).
        settings.Validate();
        components[AwsSettings.EdgeComponentName] = new JsonObject { ["ComponentVersion"] = settings.EdgeComponentVersion };

        var shadow = components.DeepClone().AsObject();
        shadow[AwsSettings.ModelComponentName]!["ConfigurationUpdate"] = new JsonObject { ["Merge"] = $"{{\"{ModeKey}\":\"{ShadowMode}\"}}" };
        var serve = components.DeepClone().AsObject();
        serve[AwsSettings.ModelComponentName]!["ConfigurationUpdate"] = new JsonObject { ["Reset"] = new JsonArray($"/{ModeKey}") };
        var canary = new GreengrassCanaryDocuments($"dinoflow-{input.RunName}-canary", shadow, serve,
            ClientToken(input.RunName + "-canary"), ClientToken(input.RunName + "-promote"), ClientToken(input.RunName + "-rollback"));

        return new GreengrassStepOutput(
            AwsSettings.ModelComponentName,
            version,
            recipe,
            ClientToken(input.RunName),
            $"dinoflow-{input.RunName}",
            components,
            new JsonObject
            {
                ["FailureHandlingPolicy"] = "ROLLBACK",
                ["ComponentUpdatePolicy"] = new JsonObject { ["TimeoutInSeconds"] = 120, ["Action"] = "NOTIFY_COMPONENTS" },
                ["ConfigurationValidationPolicy"] = new JsonObject { ["TimeoutInSeconds"] = 60 },
            },
            new JsonObject
            {
                ["JobExecutionsRolloutConfig"] = new JsonObject
                {
                    ["ExponentialRate"] = new JsonObject
                    {
                        ["BaseRatePerMinute"] = 2,
                        ["IncrementFactor"] = 2.0,
                        ["RateIncreaseCriteria"] = new JsonObject { ["NumberOfSucceededThings"] = 2 },
                    },
                    ["MaximumPerMinute"] = 50,
                },
                ["AbortConfig"] = new JsonObject
                {
                    ["CriteriaList"] = new JsonArray(
                        new JsonObject { ["FailureType"] = "FAILED", ["Action"] = "CANCEL", ["ThresholdPercentage"] = 10.0, ["MinNumberOfExecutedThings"] = 2 },
                        new JsonObject { ["FailureType"] = "TIMED_OUT", ["Action"] = "CANCEL", ["ThresholdPercentage"] = 20.0, ["MinNumberOfExecutedThings"] = 2 }),
                },
                ["TimeoutConfig"] = new JsonObject { ["InProgressTimeoutInMinutes"] = InProgressTimeoutMinutes },
            },
            canary);
    }

    /// <summary>
    /// An idempotency token for a run (Greengrass: 1-64 characters of [a-zA-Z0-9-]). At most 60, so that the
    /// deployment's token with its redrive suffix (<c>-r1</c>, a new deployment after a failed rollout) still fits.
    /// </summary>
    public static string ClientToken(string runName)
    {
        var token = new string(runName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
        return token.Length <= 60 ? token : token[..47] + "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(runName)))[..12];
    }
}
