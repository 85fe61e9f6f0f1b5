using System.Globalization;

namespace DinoFlow.Models.Unknown;

/// <summary>The harness report as text lines (a table per part), for the benchmark and the test log.</summary>
public static class UnknownReportText
{
    public static IEnumerable<string> Lines(UnknownHarnessReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        yield return "features: " + report.Features;
        yield return "leave one class out (near-OOD): AUROC / known kept / unknown caught at the calibrated threshold (caught at the 95th percentile alone)";
        foreach (var held in report.LeaveOneClassOut) yield return Row(held.Label, held.Scores);
        yield return Row("mean", report.NearOod);
        yield return "generated frames (far-OOD)";
        foreach (var far in report.FarOod) yield return Row(far.Kind, far.Scores);
        yield return Row("all", report.FarOodAll);
    }

    private static string Row(string name, IReadOnlyList<ScoreReport> scores) =>
        $"  {name,-24}" + string.Concat(scores.Select(s => string.Create(CultureInfo.InvariantCulture,
            $" | {s.Score} {s.Auroc:0.000} / {s.KnownKept:0.00} / {s.UnknownCaught:0.00} ({s.CaughtAtPercentile:0.00})")));
}
