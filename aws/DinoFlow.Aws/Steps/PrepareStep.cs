using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state PrepareTrainingData: merge the labels, split train and validation.</summary>
public sealed class PrepareStep(IObjectStore bucket, AwsSettings settings) : IAwsStep<PrepareStepInput, PrepareStepOutput>
{
    /// <summary>
    /// Adds the Ground Truth job's output manifest (when the run labeled images) to the labels manifest, then splits every
    /// labeled image into train and validation manifests with the same core code as the local back end.
    /// </summary>
    public async Task<PrepareStepOutput> RunAsync(PrepareStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        if (input.LabelingOutputManifestUri is { Length: > 0 } outputUri)
        {
            var uri = S3Uri.ParseIn(outputUri, settings.DataBucket, "labelingOutputManifestUri");
            var text = await bucket.ReadAllTextAsync(uri.Key, cancellationToken).ConfigureAwait(false);
            var output = GroundTruthManifest.ReadOutputManifest(text, uri.ToString(), settings.LabelAttributeName, settings.LabelCategories);
            await LabelsManifest.MergeAsync(bucket, settings, output.Labeled, cancellationToken).ConfigureAwait(false);
        }

        var labelsText = await bucket.ExistsAsync(BucketLayout.LabelsManifestKey, cancellationToken).ConfigureAwait(false)
            ? await bucket.ReadAllTextAsync(BucketLayout.LabelsManifestKey, cancellationToken).ConfigureAwait(false)
            : throw new LabelingException($"no labels yet: s3://{settings.DataBucket}/{BucketLayout.LabelsManifestKey} does not exist");
        var manifest = GroundTruthManifest.ReadOutputManifest(labelsText, settings.S3Uri(BucketLayout.LabelsManifestKey), settings.LabelAttributeName, settings.LabelCategories);
        var index = await DatasetIndex.LoadAsync(new PrefixedObjectStore(bucket, BucketLayout.DataPrefix), cancellationToken).ConfigureAwait(false);
        var labels = Labeler.FromManifest(manifest, index.Images, settings.S3Uri(BucketLayout.LabelsManifestKey));
        if (settings.TrainingMode == TrainingModes.Lambda && labels.Images.Count > settings.MaxLambdaTrainingImages)
            throw new AwsConfigurationException("trainingMode",
                $"{labels.Images.Count} labeled images are more than Lambda training finishes within its 15 minutes ({settings.MaxLambdaTrainingImages}): deploy the stack with TrainingMode=sagemaker, then start the run again");
        var split = DatasetSplitter.Split(labels.Images, new SplitOptions());
        var byKey = labels.Images.ToDictionary(l => l.Image.Key, l => l.Annotation!, StringComparer.Ordinal);

        var prefix = $"{AwsSettings.RunPrefix(input.RunName)}/prepare";
        var trainKey = $"{prefix}/train/train.manifest";
        var validationKey = $"{prefix}/validation/validation.manifest";
        await bucket.PutTextAsync(trainKey, GroundTruthManifest.WriteOutputManifest(split.Train.Select(i => byKey[i.Key]), settings.LabelAttributeName), cancellationToken).ConfigureAwait(false);
        await bucket.PutTextAsync(validationKey, GroundTruthManifest.WriteOutputManifest(split.Validation.Select(i => byKey[i.Key]), settings.LabelAttributeName), cancellationToken).ConfigureAwait(false);
        return new PrepareStepOutput(labels.Categories, split.Train.Count, split.Validation.Count, settings.S3Uri(trainKey), settings.S3Uri(validationKey),
            settings.S3Uri($"{BucketLayout.DataPrefix}/{DatasetIndex.ImagesPrefix}/"), split.Summary);
    }
}
