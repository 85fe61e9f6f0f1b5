using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws;

/// <summary>data/labels.manifest: every label the data set has, merged over runs (newest label wins).</summary>
public static class LabelsManifest
{
    /// <summary>Adds labels to the labels manifest; a newer label of the same image replaces the older one.</summary>
    public static async Task MergeAsync(IObjectStore bucket, AwsSettings settings, IEnumerable<LabeledObject> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var merged = await LabelsManifest.ReadAsync(bucket, settings, cancellationToken).ConfigureAwait(false);
        foreach (var label in labels) merged[label.SourceRef] = label;
        var text = GroundTruthManifest.WriteOutputManifest(merged.Values.OrderBy(l => l.SourceRef, StringComparer.Ordinal), settings.LabelAttributeName);
        await bucket.PutTextAsync(BucketLayout.LabelsManifestKey, text, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<Dictionary<string, LabeledObject>> ReadAsync(IObjectStore bucket, AwsSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        var labels = new Dictionary<string, LabeledObject>(StringComparer.Ordinal);
        if (!await bucket.ExistsAsync(BucketLayout.LabelsManifestKey, cancellationToken).ConfigureAwait(false)) return labels;
        var text = await bucket.ReadAllTextAsync(BucketLayout.LabelsManifestKey, cancellationToken).ConfigureAwait(false);
        foreach (var label in GroundTruthManifest.ReadOutputManifest(text, settings.S3Uri(BucketLayout.LabelsManifestKey), settings.LabelAttributeName).Labeled)
            labels[label.SourceRef] = label;
        return labels;
    }
}
