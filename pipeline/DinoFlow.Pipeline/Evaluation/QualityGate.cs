using System.Globalization;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Evaluation;

/// <summary>The bar a model must clear before it may ship.</summary>
public sealed record GateOptions
{
    /// <summary>The bar of every run that sets none: the CLI and the local gate stage, and the AWS stack's parameter defaults (a test compares them).</summary>
    public const double DefaultMinAccuracy = 0.9;
    public const double DefaultMinClassRecall = 0.7;

    public double MinAccuracy { get; init; } = DefaultMinAccuracy;
    public double MinClassRecall { get; init; } = DefaultMinClassRecall;
}

public sealed record GateVerdict(bool Passed, IReadOnlyList<string> Failures)
{
    public string Summary => Passed ? "passed" : "failed: " + string.Join("; ", Failures);
}

/// <summary>One class's recall on the validation images, as both back ends' reports give it.</summary>
public sealed record ClassRecall(string Label, int Support, double Recall);

/// <summary>
/// The one quality gate of both back ends: minimum accuracy and minimum recall per class. The local gate stage calls it
/// with the trained model's metrics; on AWS the training step (Lambda or the SageMaker job's collect step) calls it with
/// the evaluation report the trainer wrote, and the state machine's Choice reads only its verdict.
/// </summary>
public static class QualityGate
{
    public static GateVerdict Check(EvaluationMetrics metrics, GateOptions options)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return Check(metrics.Accuracy, metrics.PerClass.Select(c => new ClassRecall(c.Label, c.Count, c.Recall)), options);
    }

    public static GateVerdict Check(double accuracy, IEnumerable<ClassRecall> classes, GateOptions options)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (double.IsNaN(accuracy) || accuracy < options.MinAccuracy)
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"accuracy {accuracy:0.000} is below the minimum {options.MinAccuracy:0.000}"));
        // A class absent from the validation images has no recall to judge.
        foreach (var c in classes.Where(c => c.Support > 0 && c.Recall < options.MinClassRecall))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"class '{c.Label}' recall {c.Recall:0.000} ({(int)Math.Round(c.Recall * c.Support)}/{c.Support}) is below the minimum {options.MinClassRecall:0.000}"));
        }

        return new GateVerdict(failures.Count == 0, failures);
    }

    /// <summary>
    /// The unknown rate on validation as both back ends' gates report it, after their verdict: reported, not gated
    /// (calibration keeps it at most 1 − <see cref="UnknownScoreInfo.TargetKeptShare"/> by design).
    /// </summary>
    public static string UnknownRateText(double rate, string score, double threshold, int images) =>
        string.Create(CultureInfo.InvariantCulture, $"unknown rate on validation {rate:0.000} ({score} > {threshold:0.0000}, {images} images)");
}
