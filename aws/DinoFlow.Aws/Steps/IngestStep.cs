using System.Text.Json;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Ingest;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Steps;

/// <summary>Task state Ingest: the batch's uploads into data/, the labels that came with them, the labeling input manifest.</summary>
public sealed class IngestStep(IObjectStore bucket, IImageDecoder decoder, AwsSettings settings, ILogger logger) : IAwsStep<IngestStepInput, IngestStepOutput>
{
    /// <summary>
    /// Ingests the batch's uploads into <c>data/</c> with the core <see cref="Ingestor"/> (validate, de-duplicate,
    /// quarantine), adds the labels that came with the data (<c>incoming/labeled/&lt;label&gt;/…</c>) to the labels
    /// manifest, and writes the Ground Truth input manifest of the new images that still need a label.
    /// </summary>
    public async Task<IngestStepOutput> RunAsync(IngestStepInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(input);
        BucketLayout.RequireRunName(input.RunName);
        var manifestUri = S3Uri.ParseIn(input.BatchManifestUri, settings.DataBucket, "batchManifestUri");
        var batch = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(manifestUri.Key, cancellationToken).ConfigureAwait(false), AwsJsonContext.Default.BatchManifest)
            ?? throw new AwsRequestException("batchManifestUri", "the batch manifest is empty");

        var source = new PrefixedObjectStore(bucket, BucketLayout.IncomingPrefix);
        var data = new PrefixedObjectStore(bucket, BucketLayout.DataPrefix);
        // The batch names its uploads (key and size from the S3 event): nothing under incoming/ is listed.
        var uploads = batch.Objects.Select(o => new StoredObject(o.Key[(BucketLayout.IncomingPrefix.Length + 1)..], o.Size))
            .OrderBy(o => o.Key, StringComparer.Ordinal).ToList();
        var report = await new Ingestor(source, data, decoder, new IngestOptions(), logger)
            .IngestObjectsAsync("", uploads, null, cancellationToken).ConfigureAwait(false);

        var index = await DatasetIndex.LoadAsync(data, cancellationToken).ConfigureAwait(false);
        var batchImages = report.Accepted.Concat(report.AlreadyPresent)
            .Select(index.FindByKey).OfType<DatasetImage>().ToList();
        var labeled = batchImages.Where(i => i.Key.StartsWith(BucketLayout.LabeledFolder + "/", StringComparison.Ordinal)).ToList();
        if (labeled.Count > 0)
        {
            var labels = Labeler.FromFolderNames(labeled);
            var unknown = labels.Categories.Where(c => !settings.LabelCategories.Contains(c, StringComparer.Ordinal)).ToList();
            if (unknown.Count > 0)
                throw new LabelingException($"labels {string.Join(", ", unknown.Select(u => $"'{u}'"))} in incoming/{BucketLayout.LabeledFolder}/ are not label categories of this stack ({string.Join(", ", settings.LabelCategories)})");
            var objects = labels.Images.Select(l => new LabeledObject(0, BucketLayout.ImageUri(settings, l.Image.Key), settings.LabelCategories.ToList().IndexOf(l.Label), l.Label, 1.0,
                $"labeling-job/{input.RunName}-folders", true, GroundTruthManifest.FormatCreationDate(l.Image.IngestedAt)));
            await LabelsManifest.MergeAsync(bucket, settings, objects, cancellationToken).ConfigureAwait(false);
        }

        var known = await LabelsManifest.ReadAsync(bucket, settings, cancellationToken).ConfigureAwait(false);
        var toLabel = batchImages.Where(i => i.Key.StartsWith(BucketLayout.UnlabeledFolder + "/", StringComparison.Ordinal) && !known.ContainsKey(BucketLayout.ImageUri(settings, i.Key)))
            .Select(i => i.Key).ToList();
        string? inputManifestUri = null;
        if (toLabel.Count > 0)
        {
            var key = $"{AwsSettings.RunPrefix(input.RunName)}/ingest/input.manifest";
            // The closed loop's frames first, most uncertain first, each with the model's guess (Feedback/PreLabels).
            var manifest = await DinoFlow.Aws.Feedback.PreLabels.InputManifestAsync(bucket, settings, toLabel, logger, cancellationToken).ConfigureAwait(false);
            await bucket.PutTextAsync(key, manifest, cancellationToken).ConfigureAwait(false);
            inputManifestUri = settings.S3Uri(key);
        }

        if (index.Count == 0) throw new DinoFlow.Pipeline.Runner.StageValidationException($"no valid images in batch {batch.BatchId}: {report.Summary}");
        return new IngestStepOutput(report.Seen, report.Accepted.Count, report.AlreadyPresent.Count, report.Duplicates.Count, report.Quarantined.Count,
            report.DatasetSize, toLabel.Count, toLabel.Count == 0, inputManifestUri, report.Summary);
    }
}
