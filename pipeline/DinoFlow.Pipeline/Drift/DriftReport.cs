namespace DinoFlow.Pipeline.Drift;

/// <summary>
/// One device's drift check. <see cref="State"/>: "collecting" (not yet a baseline and a full window after it),
/// "stable", or "shifted" (<see cref="Reasons"/> say what moved, with the numbers).
/// </summary>
/// <param name="BaselineMix">Detections per class in the baseline; <see cref="WindowMix"/> the same for the window.</param>
public sealed record DriftReport(
    string DeviceId,
    string? ModelVersion,
    string State,
    int BaselineCount,
    int WindowCount,
    IReadOnlyDictionary<string, long> BaselineMix,
    IReadOnlyDictionary<string, long> WindowMix,
    double ChiSquare,
    double ClassPValue,
    double JensenShannon,
    double PopulationStability,
    double BaselineMeanConfidence,
    double WindowMeanConfidence,
    double KolmogorovSmirnovD,
    double ConfidencePValue,
    IReadOnlyList<string> Reasons)
{
    public const string Collecting = "collecting";
    public const string Stable = "stable";
    public const string Shifted = "shifted";

    public bool IsShifted => State == Shifted;
}
