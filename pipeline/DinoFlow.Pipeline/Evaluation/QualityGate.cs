using System.Globalization;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Evaluation;

/// <summary>The bar a model must clear before it may ship.</summary>
public sealed record GateOptions
{
    /// <summary>The bar of every run that sets none (the CLI, the local gate stage and the AWS Choice state start here).</summary>
    public const double DefaultMinAccuracy = 0.9;
    public const double DefaultMinClassRecall = 0.7;

    public double MinAccuracy { get; init; } = DefaultMinAccuracy;
    public double MinClassRecall { get; init; } = DefaultMinClassRecall;
}

public sealed record GateVerdict(bool Passed, IReadOnlyList<string> Failures)
{
    public string Summary => Passed ? "passed" : "failed: " + string.Join("; ", Failures);
}

/// <summary>The same rule as the AWS state machine's Choice state: minimum accuracy and minimum recall per class.</summary>
public static class QualityGate
{
    public static GateVerdict Check(EvaluationMetrics metrics, GateOptions options)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (metrics.Accuracy < options.MinAccuracy)
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"accuracy {metrics.Accuracy:0.000} is below the minimum {options.MinAccuracy:0.000}"));
        foreach (var c in metrics.PerClass.Where(c => c.Count > 0 && c.Recall < options.MinClassRecall))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"class '{c.Label}' recall {c.Recall:0.000} ({(int)Math.Round(c.Recall * c.Count)}/{c.Count}) is below the minimum {options.MinClassRecall:0.000}"));
        }

        return new GateVerdict(failures.Count == 0, failures);
    }
}
