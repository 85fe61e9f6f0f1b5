using DinoFlow.Pipeline.Monitoring;

namespace DinoFlow.Pipeline.Deployment;

/// <summary>
/// One canary device's side-by-side run of the model it serves (current) and the candidate on the same frames.
/// Class mixes map a label (or <see cref="ShadowTally.UnknownLabel"/>) to its share of the frames.
/// </summary>
/// <param name="Agreement">Share of frames where both models gave the same answer (unknown counts as an answer).</param>
/// <param name="CandidateConfidenceHistogram">Frames per tenth of the candidate's top-1 confidence (<see cref="ShadowTally.HistogramBins"/> bins).</param>
public sealed record ShadowSummary(
    string DeviceId,
    string CurrentVersion,
    string CandidateVersion,
    long Frames,
    double Agreement,
    double CurrentMeanConfidence,
    double CandidateMeanConfidence,
    double CurrentUnknownRate,
    double CandidateUnknownRate,
    IReadOnlyDictionary<string, double> CurrentClassMix,
    IReadOnlyDictionary<string, double> CandidateClassMix,
    IReadOnlyList<long> CandidateConfidenceHistogram)
{
    /// <summary>Jensen–Shannon distance (base 2, 0…1) between the two class mixes: how far the candidate moves what the line "sees".</summary>
    public double ClassMixDistance => DriftStatistics.JensenShannonDistance(CurrentClassMix, CandidateClassMix);
}
