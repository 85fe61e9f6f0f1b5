using System.Text.Json;
using System.Text.Json.Nodes;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Aws;

/// <summary>The model package zip (model.onnx, model.json, probe) and its evaluation report, however it was trained.</summary>
public static class ModelPackage
{
    /// <summary>
    /// The report the quality gate (a Choice state) reads, from the metrics the trainer measured on the validation images
    /// and the package's unknown score (model.json's <c>unknown</c>; null for none).
    /// </summary>
    public static EvaluationReport ReportFrom(DinoFlow.Pipeline.Models.EvaluationMetrics metrics, DinoFlow.Pipeline.Models.UnknownScoreInfo? unknown = null)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var classes = metrics.PerClass
            .Select((c, i) => new ClassMetrics(c.Label, c.Count, metrics.Confusion[i][i], c.Recall))
            .ToList();
        // Classes absent from the validation set have no recall to judge; the gate looks at the others.
        var measured = classes.Where(c => c.Support > 0).ToList();
        return new EvaluationReport(
            metrics.Accuracy,
            measured.Count == 0 ? 0 : measured.Average(c => c.Recall),
            measured.Count == 0 ? 0 : measured.Min(c => c.Recall),
            metrics.Count,
            classes,
            unknown is null ? null : new UnknownRateReport(unknown.Score, unknown.Threshold, unknown.CalibrationImages, unknown.CalibratedOn, unknown.CalibrationUnknownRate, unknown.AccuracyDrop));
    }

    /// <summary>The one quality gate (the local back end's too) on the trainer's report, with this stack's thresholds.</summary>
    public static GateOutcome Gate(EvaluationReport report, AwsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(settings);
        var options = settings.Gate;
        var verdict = DinoFlow.Pipeline.Evaluation.QualityGate.Check(report.Accuracy, report.Classes.Select(c => new DinoFlow.Pipeline.Evaluation.ClassRecall(c.Label, c.Support, c.Recall)), options);
        // The summary is what a refusal's notification quotes; it names the unknown rate as the local gate's summary does.
        var summary = report.Unknown is { } u
            ? verdict.Summary + "; " + DinoFlow.Pipeline.Evaluation.QualityGate.UnknownRateText(u.Rate, u.Score, u.Threshold, u.CalibrationImages)
            : verdict.Summary;
        return new GateOutcome(verdict.Passed, options.MinAccuracy, options.MinClassRecall, verdict.Failures, summary, report.Unknown?.Rate);
    }

    public static EvaluationReport ParseReport(byte[] json, string name)
    {
        try
        {
            var report = JsonSerializer.Deserialize(json, AwsJsonContext.Default.EvaluationReport) ?? throw new AwsRequestException(name, "the report is empty");
            if (report.Accuracy is < 0 or > 1 || double.IsNaN(report.Accuracy)) throw new AwsRequestException(name + ".accuracy", $"{report.Accuracy} is not between 0 and 1");
            if (report.Unknown is { Rate: < 0 or > 1 or double.NaN } u) throw new AwsRequestException(name + ".unknown.rate", $"{u.Rate} is not between 0 and 1");
            return report;
        }
        catch (JsonException e)
        {
            throw new AwsRequestException(name, $"not a valid evaluation report ({e.Message})");
        }
    }

    public static List<string> ReadLabels(Dictionary<string, byte[]> files, string name)
    {
        if (!files.TryGetValue("model.json", out var metadata)) throw new AwsRequestException(name, "the model package has no model.json");
        var labels = JsonNode.Parse(metadata)?["labels"] as JsonArray ?? throw new AwsRequestException(name + ":model.json.labels", "is missing");
        return labels.Select(l => l?.GetValue<string>() ?? "").ToList();
    }
}
