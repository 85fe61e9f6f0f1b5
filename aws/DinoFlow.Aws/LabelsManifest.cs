using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Aws;

/// <summary>data/labels.manifest: every label the data set has, merged over runs (newest label wins).</summary>
public static class LabelsManifest
{
    /// <summary>
    /// Adds labels to the labels manifest; a newer label of the same image replaces the older one. A conditional write,
    /// retried on conflict: two runs labeling at once (an execution started by hand, a redrive) keep each other's labels.
    /// </summary>
    public static async Task MergeAsync(IObjectStore bucket, AwsSettings settings, IEnumerable<LabeledObject> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        var added = labels?.ToList() ?? throw new ArgumentNullException(nameof(labels));
        await ConditionalWrites.For(bucket).UpdateAsync(BucketLayout.LabelsManifestKey, current =>
        {
            var merged = Parse(current, settings);
            foreach (var label in added) merged[label.SourceRef] = label;
            return GroundTruthManifest.WriteOutputManifest(merged.Values.OrderBy(l => l.SourceRef, StringComparer.Ordinal), settings.LabelAttributeName);
        }, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<Dictionary<string, LabeledObject>> ReadAsync(IObjectStore bucket, AwsSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        if (!await bucket.ExistsAsync(BucketLayout.LabelsManifestKey, cancellationToken).ConfigureAwait(false)) return Parse(null, settings);
        return Parse(await bucket.ReadAllTextAsync(BucketLayout.LabelsManifestKey, cancellationToken).ConfigureAwait(false), settings);
    }

    private static Dictionary<string, LabeledObject> Parse(string? text, AwsSettings settings)
    {
        var labels = new Dictionary<string, LabeledObject>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(text)) return labels;
        foreach (var label in GroundTruthManifest.ReadOutputManifest(text, settings.S3Uri(BucketLayout.LabelsManifestKey), settings.LabelAttributeName).Labeled)
            labels[label.SourceRef] = label;
        return labels;
    }
}
