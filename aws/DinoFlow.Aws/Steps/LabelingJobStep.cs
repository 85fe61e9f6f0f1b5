using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state BuildLabelingJob: the run's parts of Ground Truth's CreateLabelingJob.</summary>
public sealed class LabelingJobStep(IObjectStore bucket, AwsSettings settings) : IAwsStep<LabelingJobStepInput, LabelingJobStepOutput>
{
    /// <summary>
    /// Writes the label category configuration and the worker task template for the run, and returns the run-dependent
    /// parts of the image-classification CreateLabelingJob request.
    /// </summary>
    public async Task<LabelingJobStepOutput> RunAsync(LabelingJobStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        var manifest = S3Uri.ParseIn(input.InputManifestUri, settings.DataBucket, "inputManifestUri");
        if (!settings.WorkteamArn.StartsWith("arn:aws:sagemaker:", StringComparison.Ordinal) || !settings.WorkteamArn.Contains(":workteam/", StringComparison.Ordinal))
            throw new AwsConfigurationException("workteamArn", $"'{settings.WorkteamArn}' is not a SageMaker workteam ARN; images without labels need one");

        var prefix = $"{AwsSettings.RunPrefix(input.RunName)}/labeling";
        var categoriesKey = $"{prefix}/label-categories.json";
        var templateKey = $"{prefix}/template.liquid.html";
        await bucket.PutTextAsync(categoriesKey, GroundTruthLabeling.LabelCategoryConfig(settings.LabelCategories, settings.LabelingInstructions), cancellationToken).ConfigureAwait(false);
        await bucket.PutTextAsync(templateKey, GroundTruthLabeling.HumanTaskUiTemplate(settings.LabelCategories, settings.LabelingInstructions), cancellationToken).ConfigureAwait(false);

        // The stack's own pre-annotation function only for a job with the closed loop's guesses (it shows them); every
        // other job keeps the built-in PRE-ImageMultiClass, the combination Ground Truth documents for this task type.
        var preLabel = settings.PreLabelFunctionArn.Length > 0
            && DinoFlow.Aws.Feedback.PreLabels.HasGuesses(await bucket.ReadAllTextAsync(manifest.Key, cancellationToken).ConfigureAwait(false));
        var humanTask = new JsonObject
        {
            ["WorkteamArn"] = settings.WorkteamArn,
            ["UiConfig"] = new JsonObject { ["UiTemplateS3Uri"] = settings.S3Uri(templateKey) },
            ["PreHumanTaskLambdaArn"] = preLabel ? settings.PreLabelFunctionArn : GroundTruthRegions.PreAnnotationLambdaArn(settings.Region),
            ["TaskKeywords"] = new JsonArray("Images", "Classification", "Dinosaurs"),
            ["TaskTitle"] = "Which label fits the picture?",
            ["TaskDescription"] = "Choose the one label that fits each picture best: " + string.Join(", ", settings.LabelCategories),
            ["NumberOfHumanWorkersPerDataObject"] = 1,
            ["TaskTimeLimitInSeconds"] = 300,
            ["TaskAvailabilityLifetimeInSeconds"] = 864000,
            ["MaxConcurrentTaskCount"] = 1000,
            ["AnnotationConsolidationConfig"] = new JsonObject
            {
                ["AnnotationConsolidationLambdaArn"] = GroundTruthRegions.AnnotationConsolidationLambdaArn(settings.Region),
            },
        };
        return new LabelingJobStepOutput(
            JobNames.Base("label", input.RunName),
            new JsonObject
            {
                ["DataSource"] = new JsonObject { ["S3DataSource"] = new JsonObject { ["ManifestS3Uri"] = input.InputManifestUri } },
                ["DataAttributes"] = new JsonObject { ["ContentClassifiers"] = new JsonArray("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent") },
            },
            new JsonObject { ["S3OutputPath"] = settings.S3Uri(prefix + "/output/") },
            settings.S3Uri(categoriesKey),
            humanTask,
            new JsonObject { ["MaxPercentageOfInputDatasetLabeled"] = 100 });
    }
}
