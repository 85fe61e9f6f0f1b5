using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Aws.Steps;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace DinoFlow.Aws.Feedback;

/// <summary>
/// The model's guesses in the labeling input manifest: a line of a frame the closed loop sent
/// (<c>data/unlabeled/feedback/BATCH/…</c>) carries the guess from its batch file as extra attributes, which
/// Ground Truth hands to the pre-annotation function (PreLabelTaskStep) as the line itself.
/// </summary>
public static partial class PreLabels
{
    public const string Guess = "dinoflow-guess";
    public const string Confidence = "dinoflow-confidence";
    public const string Unknown = "dinoflow-unknown";
    public const string Reasons = "dinoflow-reasons";
    public const string Device = "dinoflow-device";
    public const string Model = "dinoflow-model";
    public const string Priority = "dinoflow-priority";

    private const string FeedbackFolder = BucketLayout.UnlabeledFolder + "/feedback/";

    /// <summary>
    /// The input manifest of <paramref name="datasetKeys"/> (keys in data/): the closed loop's frames first, by batch and
    /// rank (most uncertain first), each with its guess; then the other images in key order.
    /// </summary>
    public static async Task<string> InputManifestAsync(IObjectStore bucket, AwsSettings settings, IReadOnlyList<string> datasetKeys, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(datasetKeys);
        var ordered = datasetKeys.OrderBy(k => k.StartsWith(FeedbackFolder, StringComparison.Ordinal) ? 0 : 1).ThenBy(k => k, StringComparer.Ordinal);
        var batches = new Dictionary<string, Dictionary<string, FeedbackBatchEntry>>(StringComparer.Ordinal);
        var lines = new List<JsonObject>();
        foreach (var key in ordered)
        {
            var line = new JsonObject { ["source-ref"] = BucketLayout.ImageUri(settings, key) };
            if (key.StartsWith(FeedbackFolder, StringComparison.Ordinal) && key.Split('/') is { Length: 4 } parts)
            {
                if (!batches.TryGetValue(parts[2], out var entries))
                    batches[parts[2]] = entries = await ReadBatchAsync(bucket, parts[2], logger, cancellationToken).ConfigureAwait(false);
                if (entries.TryGetValue($"{BucketLayout.IncomingPrefix}/{key}", out var entry))
                {
                    line[Guess] = entry.Guess;
                    line[Confidence] = Math.Round(entry.Confidence, 4);
                    line[Unknown] = entry.Unknown;
                    line[Reasons] = entry.Reasons;
                    line[Device] = entry.DeviceId;
                    line[Model] = entry.ModelVersion;
                    line[Priority] = Math.Round(entry.Priority, 4);
                }
            }

            lines.Add(line);
        }

        return GroundTruthManifest.WriteInputManifest(lines);
    }

    /// <summary>Whether any line of an input manifest carries a model's guess (a closed-loop frame).</summary>
    public static bool HasGuesses(string inputManifest)
    {
        ArgumentNullException.ThrowIfNull(inputManifest);
        return inputManifest.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Any(line => JsonNode.Parse(line) is JsonObject o && o.ContainsKey(Guess));
    }

    private static async Task<Dictionary<string, FeedbackBatchEntry>> ReadBatchAsync(IObjectStore bucket, string batch, ILogger logger, CancellationToken cancellationToken)
    {
        var key = FeedbackBatchStep.BatchKey(batch);
        try
        {
            var file = JsonSerializer.Deserialize(await bucket.ReadAllTextAsync(key, cancellationToken).ConfigureAwait(false), FeedbackJsonContext.Default.FeedbackBatchFile);
            return (file?.Frames ?? []).ToDictionary(f => f.Incoming, StringComparer.Ordinal);
        }
        catch (Exception e) when (e is FileNotFoundException or JsonException)
        {
            // Labeled without the guess rather than not at all: the image is what the labelers need.
            LogNoGuesses(logger, key, e.Message);
            return [];
        }
    }

    /// <summary>The worker's line for a guess: the label (or "none of the labels" when the unknown score said so) and its confidence in percent.</summary>
    public static string Percent(double confidence) => Math.Round(confidence * 100).ToString("0", CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feedback batch file {Key} cannot be read ({Problem}); its frames are labeled without the model's guess")]
    private static partial void LogNoGuesses(ILogger logger, string key, string problem);
}
