using DinoFlow.Inference;

namespace DinoFlow.Models.Unknown;

/// <summary>
/// One score on one known/unknown set: AUROC (unknown = positive, higher score = more unknown; ties count half), and at
/// the threshold calibrated on the known frames as the trainer does (≥ 95 % kept, accuracy down ≤ 1 point) the share of
/// unknown frames caught and of known frames kept; beside it, the share caught at the 95th percentile alone (the rule
/// before 2026-12-07), to show what the accuracy condition costs.
/// </summary>
public sealed record ScoreReport(string Score, double Auroc, double Threshold, double KnownKept, double UnknownCaught, int Known, int Unknown, double CaughtAtPercentile);

public static class OodMetrics
{
    /// <summary>P(score of a random unknown frame &gt; score of a random known frame), ties counting half (Mann–Whitney).</summary>
    public static double Auroc(IReadOnlyList<double> known, IReadOnlyList<double> unknown)
    {
        ArgumentNullException.ThrowIfNull(known);
        ArgumentNullException.ThrowIfNull(unknown);
        if (known.Count == 0 || unknown.Count == 0) return double.NaN;
        double wins = 0;
        foreach (var u in unknown)
            foreach (var k in known)
                wins += u > k ? 1 : u == k ? 0.5 : 0;
        return wins / ((double)known.Count * unknown.Count);
    }

    /// <summary>
    /// The report for one score: the threshold comes from <paramref name="calibration"/> (known frames) and which of them
    /// the model answers right (<paramref name="calibrationRight"/>), as the trainer sets it.
    /// </summary>
    public static ScoreReport Report(string score, IReadOnlyList<double> calibration, IReadOnlyList<bool>? calibrationRight, IReadOnlyList<double> known, IReadOnlyList<double> unknown)
    {
        ArgumentNullException.ThrowIfNull(known);
        ArgumentNullException.ThrowIfNull(unknown);
        var threshold = UnknownScore.Calibrate(calibration, calibrationRight).Threshold;
        var percentile = UnknownScore.Calibrate(calibration).Threshold;
        double Caught(double t) => unknown.Count == 0 ? double.NaN : (double)unknown.Count(s => s > t) / unknown.Count;
        return new ScoreReport(score, Auroc(known, unknown), threshold,
            known.Count == 0 ? double.NaN : (double)known.Count(s => s <= threshold) / known.Count,
            Caught(threshold), known.Count, unknown.Count, Caught(percentile));
    }
}
