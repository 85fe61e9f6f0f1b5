using System.Globalization;

using DinoFlow.Pipeline.Monitoring;

namespace DinoFlow.Pipeline.Drift;

/// <summary>
/// Compares a window of a device's detections with its baseline: the class mix by a chi² test of homogeneity and the
/// Jensen-Shannon distance, the confidence by a two-sample Kolmogorov-Smirnov test and the change of its mean. A shift
/// needs both significance (p &lt; alpha) and size (the distance or the mean change over its floor): consecutive
/// detections on a line are not independent, so on large windows a p-value alone flags differences nobody would act on.
/// </summary>
public static class DriftCheck
{
    public static DriftReport Compare(string deviceId, string? modelVersion, IReadOnlyList<DetectionSample> baseline, IReadOnlyList<DetectionSample> window, DriftOptions options)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(options);
        var labels = baseline.Concat(window).Select(d => d.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var b = Counts(baseline, labels);
        var w = Counts(window, labels);
        var (chi, _, classP) = DriftStatistics.ChiSquareHomogeneity(b, w);
        var js = DriftStatistics.JensenShannonDistance(b, w);
        var psi = DriftStatistics.PopulationStabilityIndex(b, w);
        var (ksD, confidenceP) = DriftStatistics.KolmogorovSmirnov(baseline.Select(d => d.Confidence).ToList(), window.Select(d => d.Confidence).ToList());
        var baselineMean = baseline.Count == 0 ? 0 : baseline.Average(d => d.Confidence);
        var windowMean = window.Count == 0 ? 0 : window.Average(d => d.Confidence);

        var reasons = new List<string>();
        var ready = baseline.Count >= options.BaselineSize && window.Count >= options.WindowSize;
        if (ready && classP < options.Alpha && js >= options.MinJensenShannon)
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"class mix: chi² p {classP:0.####} < {options.Alpha}, Jensen-Shannon {js:0.000} ≥ {options.MinJensenShannon} (PSI {psi:0.00})"));
        if (ready && confidenceP < options.Alpha && Math.Abs(windowMean - baselineMean) >= options.MinConfidenceShift)
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"confidence: mean {baselineMean:0.000} → {windowMean:0.000}, KS p {confidenceP:0.####} < {options.Alpha}"));
        var state = !ready ? DriftReport.Collecting : reasons.Count > 0 ? DriftReport.Shifted : DriftReport.Stable;
        return new DriftReport(deviceId, modelVersion, state, baseline.Count, window.Count,
            labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => b[x.i], StringComparer.Ordinal),
            labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => w[x.i], StringComparer.Ordinal),
            chi, classP, js, psi, baselineMean, windowMean, ksD, confidenceP, reasons);
    }

    private static long[] Counts(IReadOnlyList<DetectionSample> samples, List<string> labels)
    {
        var counts = new long[labels.Count];
        foreach (var s in samples) counts[labels.BinarySearch(s.Label, StringComparer.Ordinal)]++;
        return counts;
    }
}
