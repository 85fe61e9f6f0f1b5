using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Datasets;

namespace DinoFlow.Aws;

/// <summary>
/// Where things live in the data bucket: <c>incoming/labeled/&lt;label&gt;/…</c> and <c>incoming/unlabeled/…</c> (uploads,
/// never modified), <c>data/</c> (the ingested data set, as the local back end's data folder), <c>batches/</c> (batch
/// manifests), <c>runs/&lt;execution&gt;/</c> (each run's files); and the checks every step shares.
/// </summary>
public static class BucketLayout
{
    public const string IncomingPrefix = "incoming";
    public const string LabeledFolder = "labeled";
    public const string UnlabeledFolder = "unlabeled";
    public const string DataPrefix = "data";
    public const string BatchesPrefix = "batches";

    /// <summary>Every label the data set has, merged over runs (Ground Truth output format, newest label wins).</summary>
    public const string LabelsManifestKey = "data/labels.manifest";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string ImageUri(AwsSettings settings, string datasetKey)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.S3Uri($"{DataPrefix}/{DatasetIndex.ImageKey(datasetKey)}");
    }

    public const string TrainChannel = "train";
    public const string ValidationChannel = "validation";
    public const string ImagesChannel = "images";

    /// <summary>Where a run's model package and report go, whichever way it was trained.</summary>
    public static string ModelPackageKey(string runName) => $"{AwsSettings.RunPrefix(runName)}/model/model.zip";

    public static string ReportKey(string runName) => $"{AwsSettings.RunPrefix(runName)}/model/evaluation.json";

    public const string EvaluationFileName = "evaluation.json";

    public static void RequireRunName(string? runName)
    {
        if (string.IsNullOrEmpty(runName)) throw new AwsRequestException("runName", "is missing");
        if (runName.Length > 80 || runName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            throw new AwsRequestException("runName", $"'{runName}' is not an execution name (1-80 characters of letters, digits, '-' and '_')");
    }

    internal static string Pretty(JsonNode node) => node.ToJsonString(Indented);
}
