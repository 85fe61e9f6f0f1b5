using System.Globalization;
using System.Net;
using System.Text;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Evaluation;

/// <summary>One kind of generated frame (or all of them) scored by the package's own graph.</summary>
/// <param name="Auroc">P(a generated frame scores above an evaluated image), ties counting half; NaN without frames.</param>
/// <param name="Caught">The share of the generated frames above the package's threshold (answered unknown).</param>
public sealed record FarOodResult(string Kind, int Frames, double Auroc, double Caught);

/// <summary>
/// Far-OOD frames (none of the classes by construction) made from the evaluated images, one of each kind per source
/// image; <see cref="SourceImages"/> is at most <see cref="SourceCap"/> to keep the cost to a few hundred forward passes.
/// </summary>
public sealed record FarOodCheck(int SourceImages, int SourceCap, IReadOnlyList<FarOodResult> Kinds, FarOodResult All);

/// <summary>What the evaluation report says about the package's unknown score: its calibration, its verdicts on the evaluated images and the far-OOD check.</summary>
public sealed record UnknownReport(UnknownScoreInfo Info, UnknownEvaluation Evaluation, FarOodCheck FarOod);

/// <summary>The report's "Unknown inputs" section; a package without an unknown score gets a section that says so.</summary>
public static class UnknownReportSection
{
    public const string NoScore = "This model has no unknown score (its model.json has no \"unknown\": it was made before unknown scores), so it never answers unknown.";

    public static string Html(UnknownReport? report)
    {
        var b = new StringBuilder("<section id=\"unknown-inputs\"><h2>Unknown inputs</h2>");
        if (report is null) return b.Append("<p class=\"no-unknown-score\">").Append(WebUtility.HtmlEncode(NoScore)).Append("</p></section>").ToString();
        b.Append("<p>").Append(WebUtility.HtmlEncode(Calibration(report.Info))).Append("</p>");
        b.Append("<p>").Append(WebUtility.HtmlEncode(OnTheData(report.Evaluation))).Append("</p>");
        b.Append("<h3>Far-OOD check</h3><p>").Append(WebUtility.HtmlEncode(FarOodText(report.FarOod))).Append("</p>");
        b.Append("<table><tr><th>generated frames</th><th>frames</th><th>AUROC</th><th>caught at the threshold</th></tr>");
        foreach (var row in report.FarOod.Kinds.Append(report.FarOod.All))
        {
            b.Append(CultureInfo.InvariantCulture,
                $"<tr data-kind=\"{WebUtility.HtmlEncode(row.Kind)}\"><td>{WebUtility.HtmlEncode(row.Kind)}</td><td>{row.Frames}</td><td>{row.Auroc:0.000}</td><td>{row.Caught:0.000}</td></tr>");
        }

        return b.Append("</table></section>").ToString();
    }

    public static string Markdown(UnknownReport? report)
    {
        var b = new StringBuilder("\n## Unknown inputs\n\n");
        if (report is null) return b.Append(NoScore).Append('\n').ToString();
        b.Append(Calibration(report.Info)).Append("\n\n").Append(OnTheData(report.Evaluation)).Append("\n\n");
        b.Append("Far-OOD check: ").Append(FarOodText(report.FarOod)).Append("\n\n| generated frames | frames | AUROC | caught at the threshold |\n|---|---:|---:|---:|\n");
        foreach (var row in report.FarOod.Kinds.Append(report.FarOod.All))
            b.Append(CultureInfo.InvariantCulture, $"| {row.Kind} | {row.Frames} | {row.Auroc:0.000} | {row.Caught:0.000} |\n");
        return b.ToString();
    }

    private static string Calibration(UnknownScoreInfo info) => string.Create(CultureInfo.InvariantCulture,
        $"Score {info.Score} (graph output {info.Output}): a frame is unknown when its score is above the threshold {info.Threshold:0.0000}. Calibrated on {info.CalibrationImages} images ({info.CalibratedOn}), keeping {info.KeptShare:0.000} of them known; the graph holds {info.References}.{(info.AccuracyDrop is { } drop ? $" The threshold costs the calibration images {drop:0.000} of accuracy (right answers called unknown; at most {UnknownScoreInfo.MaxAccuracyDrop:0.00} by calibration)." : "")}");

    private static string OnTheData(UnknownEvaluation e) => string.Create(CultureInfo.InvariantCulture,
        $"On the {e.Count} evaluated images: unknown rate {e.UnknownRate:0.000} ({e.Unknown} of {e.Count}); accuracy among the {e.Kept} kept {e.KeptAccuracy:0.000}.");

    private static string FarOodText(FarOodCheck far) => string.Create(CultureInfo.InvariantCulture,
        $"frames generated from {far.SourceImages} of the evaluated images (at most {far.SourceCap}), one of each kind per image, scored by the package's own graph; AUROC against the evaluated images' scores, and the share caught at the package's threshold.");
}
