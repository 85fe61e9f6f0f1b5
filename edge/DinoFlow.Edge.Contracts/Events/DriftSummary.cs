namespace DinoFlow.Edge.Contracts.Events;

/// <summary>
/// The device's drift check in its health message (docs/lineage-and-drift.md): its class mix and confidences against
/// its own baseline, the first detections of <see cref="ModelVersion"/>. AWS alarms on <c>drift.state = 'shifted'</c>.
/// </summary>
public sealed record DriftSummary
{
    /// <summary>"collecting" (no full baseline and window yet), "stable" or "shifted".</summary>
    public required string State { get; init; }

    /// <summary>The model version the baseline belongs to; null before the device's first detection.</summary>
    public string? ModelVersion { get; init; }
    public int BaselineCount { get; init; }
    public int WindowCount { get; init; }

    /// <summary>Chi² test of the class mix (p) and the Jensen-Shannon distance between the two mixes.</summary>
    public double ClassPValue { get; init; }
    public double JensenShannon { get; init; }
    public double BaselineMeanConfidence { get; init; }
    public double WindowMeanConfidence { get; init; }

    /// <summary>Kolmogorov-Smirnov test of the confidences (p).</summary>
    public double ConfidencePValue { get; init; }

    /// <summary>What moved, with the numbers; empty unless shifted.</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];
}
