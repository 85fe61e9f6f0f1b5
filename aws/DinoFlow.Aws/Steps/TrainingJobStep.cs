using System.Text.Json.Nodes;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state BuildTrainingJob: the run's parts of SageMaker's CreateTrainingJob.</summary>
public sealed class TrainingJobStep(AwsSettings settings) : IAwsStep<TrainingJobStepInput, TrainingJobStepOutput>
{
    /// <summary>The job's StoppingCondition: SageMaker stops a training job after 4 hours (the training wait outlasts it).</summary>
    public const int MaxRuntimeSeconds = 14400;

    /// <summary>The run-dependent parts of CreateTrainingJob for the DinoFlow trainer container (see trainer/).</summary>
    public Task<TrainingJobStepOutput> RunAsync(TrainingJobStepInput input, CancellationToken cancellationToken = default) => Task.FromResult(Build(input));

    public TrainingJobStepOutput Build(TrainingJobStepInput input)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        if (input.Dataset is null) throw new AwsRequestException("dataset", "is missing");
        var train = S3Uri.ParseIn(input.Dataset.TrainManifestUri, settings.DataBucket, "dataset.trainManifestUri");
        var validation = S3Uri.ParseIn(input.Dataset.ValidationManifestUri, settings.DataBucket, "dataset.validationManifestUri");
        S3Uri.ParseIn(input.Dataset.ImagesUri, settings.DataBucket, "dataset.imagesUri");

        static JsonObject Channel(string name, string s3Uri, string contentType) => new()
        {
            ["ChannelName"] = name,
            ["DataSource"] = new JsonObject
            {
                ["S3DataSource"] = new JsonObject { ["S3DataType"] = "S3Prefix", ["S3Uri"] = s3Uri, ["S3DataDistributionType"] = "FullyReplicated" },
            },
            ["ContentType"] = contentType,
            ["InputMode"] = "File",
        };

        return new TrainingJobStepOutput(
            JobNames.Base("train", input.RunName),
            new JsonObject
            {
                // SageMaker passes hyperparameters as strings in /opt/ml/input/config/hyperparameters.json.
                ["categories"] = string.Join(",", input.Dataset.Categories),
                ["label-attribute-name"] = settings.LabelAttributeName,
                ["seed"] = "42",
                // The package's version is the run, so a device's model version names the execution that trained it.
                ["model-version"] = input.RunName,
            },
            new JsonArray(
                Channel(BucketLayout.TrainChannel, $"s3://{train.Bucket}/{ParentPrefix(train.Key)}", "application/jsonlines"),
                Channel(BucketLayout.ValidationChannel, $"s3://{validation.Bucket}/{ParentPrefix(validation.Key)}", "application/jsonlines"),
                Channel(BucketLayout.ImagesChannel, input.Dataset.ImagesUri, "application/x-image")),
            new JsonObject { ["S3OutputPath"] = settings.S3Uri($"{AwsSettings.RunPrefix(input.RunName)}/training/") },
            new JsonObject { ["MaxRuntimeInSeconds"] = MaxRuntimeSeconds });
    }

    private static string ParentPrefix(string key) => key[..(key.LastIndexOf('/') + 1)];
}
