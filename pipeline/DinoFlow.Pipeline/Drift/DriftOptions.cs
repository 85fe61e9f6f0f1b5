namespace DinoFlow.Pipeline.Drift;

/// <summary>
/// How a device's detections are compared with its own baseline (docs/lineage-and-drift.md says why these tests and numbers).
/// The baseline is the first <see cref="BaselineSize"/> detections of the model version the device runs now (a new
/// model starts a new baseline); the window is its latest <see cref="WindowSize"/> detections after them.
/// </summary>
public sealed record DriftOptions
{
    public static readonly DriftOptions Default = new();

    public int BaselineSize { get; init; } = 200;

    public int WindowSize { get; init; } = 100;

    /// <summary>Significance level of both tests (chi² on the class mix, KS on the confidences).</summary>
    public double Alpha { get; init; } = 0.01;

    /// <summary>The class mix has shifted only when the Jensen-Shannon distance is at least this too (Evidently's default).</summary>
    public double MinJensenShannon { get; init; } = 0.1;

    /// <summary>The confidence has shifted only when the mean moved by at least this much too.</summary>
    public double MinConfidenceShift { get; init; } = 0.05;

    /// <summary>Throws naming the setting when a value cannot work.</summary>
    public DriftOptions Validated()
    {
        if (BaselineSize < 10) throw new ArgumentException($"Drift:BaselineSize must be at least 10, got {BaselineSize}");
        if (WindowSize < 10) throw new ArgumentException($"Drift:WindowSize must be at least 10, got {WindowSize}");
        if (Alpha is <= 0 or >= 1) throw new ArgumentException($"Drift:Alpha must be between 0 and 1, got {Alpha}");
        if (MinJensenShannon is < 0 or > 1) throw new ArgumentException($"Drift:MinJensenShannon must be between 0 and 1, got {MinJensenShannon}");
        if (MinConfidenceShift is < 0 or > 1) throw new ArgumentException($"Drift:MinConfidenceShift must be between 0 and 1, got {MinConfidenceShift}");
        return this;
    }
}
