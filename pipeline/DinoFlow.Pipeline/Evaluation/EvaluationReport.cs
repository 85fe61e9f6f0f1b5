using System.Globalization;
using System.Net;
using System.Text;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Pipeline.Evaluation;

/// <summary>
/// A human-readable evaluation report: HTML with the confusion matrix drawn as inline SVG, and Markdown; both end with
/// the "Unknown inputs" section (<c>unknown</c> null: the package has no unknown score, and the section says so).
/// </summary>
public static class EvaluationReport
{
    public static string Markdown(string title, EvaluationMetrics metrics, UnknownReport? unknown)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"# {title}\n\n");
        b.Append(CultureInfo.InvariantCulture, $"Accuracy **{metrics.Accuracy:0.000}** on {metrics.Count} images; expected calibration error {metrics.ExpectedCalibrationError:0.000}; mean confidence {metrics.MeanConfidence:0.000}.\n\n");
        b.Append("| class | images | precision | recall | F1 |\n|---|---:|---:|---:|---:|\n");
        foreach (var c in metrics.PerClass)
            b.Append(CultureInfo.InvariantCulture, $"| {c.Label} | {c.Count} | {c.Precision:0.000} | {c.Recall:0.000} | {c.F1:0.000} |\n");
        b.Append("\nConfusion matrix (rows: truth, columns: predicted):\n\n| |");
        foreach (var l in metrics.Labels) b.Append(CultureInfo.InvariantCulture, $" {l} |");
        b.Append("\n|---|").Append(string.Concat(Enumerable.Repeat("---:|", metrics.Labels.Count))).Append('\n');
        for (var t = 0; t < metrics.Labels.Count; t++)
        {
            b.Append(CultureInfo.InvariantCulture, $"| **{metrics.Labels[t]}** |");
            foreach (var v in metrics.Confusion[t]) b.Append(CultureInfo.InvariantCulture, $" {v} |");
            b.Append('\n');
        }

        return b.Append(UnknownReportSection.Markdown(unknown)).ToString();
    }

    public static string Html(string title, EvaluationMetrics metrics, UnknownReport? unknown)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var b = new StringBuilder();
        b.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>").Append(WebUtility.HtmlEncode(title)).Append("</title>");
        b.Append("<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}</style></head><body>");
        b.Append("<h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1>");
        b.Append(CultureInfo.InvariantCulture, $"<p>Accuracy <b>{metrics.Accuracy:0.000}</b> on {metrics.Count} images; expected calibration error {metrics.ExpectedCalibrationError:0.000}.</p>");
        b.Append("<table><tr><th>class</th><th>images</th><th>precision</th><th>recall</th><th>F1</th></tr>");
        foreach (var c in metrics.PerClass)
            b.Append(CultureInfo.InvariantCulture, $"<tr><td>{WebUtility.HtmlEncode(c.Label)}</td><td>{c.Count}</td><td>{c.Precision:0.000}</td><td>{c.Recall:0.000}</td><td>{c.F1:0.000}</td></tr>");
        b.Append("</table><h2>Confusion matrix</h2>").Append(ConfusionSvg(metrics)).Append(UnknownReportSection.Html(unknown)).Append("</body></html>");
        return b.ToString();
    }

    /// <summary>The confusion matrix as an SVG heat map (rows: truth, columns: predicted, cells shaded by row share).</summary>
    public static string ConfusionSvg(EvaluationMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        const int cell = 44, labelWidth = 190, top = 150;
        var k = metrics.Labels.Count;
        var width = labelWidth + k * cell + 20;
        var height = top + k * cell + 40;
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        b.Append(CultureInfo.InvariantCulture, $"<text x=\"{labelWidth}\" y=\"14\" font-weight=\"bold\">predicted →</text><text x=\"4\" y=\"{top - 6}\" font-weight=\"bold\">truth ↓</text>");
        for (var i = 0; i < k; i++)
        {
            var label = WebUtility.HtmlEncode(metrics.Labels[i]);
            b.Append(CultureInfo.InvariantCulture, $"<text x=\"{labelWidth - 6}\" y=\"{top + i * cell + cell / 2 + 4}\" text-anchor=\"end\">{label}</text>");
            b.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate({labelWidth + i * cell + cell / 2 + 4},{top - 6}) rotate(-60)\">{label}</text>");
        }

        for (var t = 0; t < k; t++)
        {
            var total = Math.Max(1, metrics.Confusion[t].Sum());
            for (var p = 0; p < k; p++)
            {
                var v = metrics.Confusion[t][p];
                var share = (double)v / total;
                var (r, g, bl) = t == p ? (255 - (int)(share * 200), 255 - (int)(share * 80), 255 - (int)(share * 200)) : (255 - (int)(share * 40), 255 - (int)(share * 200), 255 - (int)(share * 200));
                b.Append(CultureInfo.InvariantCulture, $"<rect x=\"{labelWidth + p * cell}\" y=\"{top + t * cell}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({r},{g},{bl})\" stroke=\"#999\"/>");
                b.Append(CultureInfo.InvariantCulture, $"<text x=\"{labelWidth + p * cell + cell / 2}\" y=\"{top + t * cell + cell / 2 + 4}\" text-anchor=\"middle\">{v}</text>");
            }
        }

        b.Append("</svg>");
        return b.ToString();
    }
}
