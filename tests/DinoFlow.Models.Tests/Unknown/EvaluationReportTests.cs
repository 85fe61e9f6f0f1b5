using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using DinoFlow.Imaging;
using DinoFlow.Models;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;
using Xunit.Abstractions;

namespace DinoFlow.Models.Tests.Unknown;

/// <summary>report.html's "Unknown inputs" section, on the frozen-head package trained on the samples (the quick fixture).</summary>
public sealed class EvaluationReportTests(FrozenHeadSamplesFixture frozen, ITestOutputHelper output) : IClassFixture<FrozenHeadSamplesFixture>
{
    private const int Sources = 10; // a small cap keeps the test to 50 generated frames

    [Fact]
    public void The_report_gives_the_calibration_the_verdicts_on_the_data_and_the_far_ood_check_with_the_figures_evaluate_returns()
    {
        var package = frozen.Result.Package;
        var info = package.Manifest.Unknown!;
        var reports = Path.Combine(frozen.Root, "report-" + Guid.NewGuid().ToString("N")[..6]);

        var (metrics, unknown) = ModelWorkflow.EvaluateWithUnknown(package, frozen.Data, reports, farOodSources: Sources);

        Assert.NotNull(unknown);
        Assert.Equal(info, unknown.Info);
        // The verdicts, recounted here with the classifier image by image.
        using (var classifier = new Classifier(package))
        {
            var decoder = new OpenCvImageDecoder();
            var answers = frozen.Data.Images.Select(i => (Example: frozen.Data.Example(i, package.Manifest.Labels), Answer: classifier.Answer(decoder.Decode(frozen.Data.Example(i, package.Manifest.Labels).Read())))).ToList();
            var kept = answers.Where(a => !a.Answer.IsUnknown).ToList();
            Assert.Equal(frozen.Data.Images.Count, unknown.Evaluation.Count);
            Assert.Equal(answers.Count(a => a.Answer.IsUnknown), unknown.Evaluation.Unknown);
            Assert.Equal(kept.Count, unknown.Evaluation.Kept);
            Assert.Equal((double)kept.Count(a => HeadTrainer.ArgMax(a.Answer.Probabilities) == a.Example.Label) / kept.Count, unknown.Evaluation.KeptAccuracy, 10);
        }

        // The far-OOD check: one frame of each kind per source image, at most the cap; the feature distance catches them.
        var far = unknown.FarOod;
        Assert.Equal((Sources, Sources), (far.SourceImages, far.SourceCap));
        Assert.Equal(FarOodFrames.Kinds, far.Kinds.Select(k => k.Kind));
        Assert.All(far.Kinds, k => Assert.Equal(Sources, k.Frames));
        Assert.Equal(("all", Sources * FarOodFrames.Kinds.Count), (far.All.Kind, far.All.Frames));
        Assert.Equal(far.Kinds.Average(k => k.Caught), far.All.Caught, 10); // equal sizes: the overall share is the mean
        Assert.All(far.Kinds.Append(far.All), k => Assert.InRange(k.Auroc, 0, 1));
        Assert.True(far.All.Auroc > 0.9, $"far-OOD AUROC {far.All.Auroc}");
        Assert.True(far.Kinds.Single(k => k.Kind == "noise").Caught >= 0.9, "noise frames are caught at the package's threshold");

        // report.html and report.md say what evaluate returned.
        var html = File.ReadAllText(Path.Combine(reports, "report.html"));
        var section = html[html.IndexOf("<section id=\"unknown-inputs\">", StringComparison.Ordinal)..];
        string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        Assert.Contains(F($"Accuracy <b>{metrics.Accuracy:0.000}</b> on {metrics.Count} images"), html, StringComparison.Ordinal);
        Assert.Contains(F($"Score {info.Score} (graph output {info.Output}): a frame is unknown when its score is above the threshold {info.Threshold:0.0000}."), section, StringComparison.Ordinal);
        Assert.Contains(F($"Calibrated on {info.CalibrationImages} images ({info.CalibratedOn}), keeping {info.KeptShare:0.000} of them known"), section, StringComparison.Ordinal);
        Assert.Contains(F($"The threshold costs the calibration images {info.AccuracyDrop!.Value:0.000} of accuracy"), section, StringComparison.Ordinal);
        var e = unknown.Evaluation;
        Assert.Contains(F($"unknown rate {e.UnknownRate:0.000} ({e.Unknown} of {e.Count}); accuracy among the {e.Kept} kept {e.KeptAccuracy:0.000}"), section, StringComparison.Ordinal);
        Assert.Contains(F($"frames generated from {Sources} of the evaluated images (at most {Sources})"), section, StringComparison.Ordinal);
        var markdown = File.ReadAllText(Path.Combine(reports, "report.md"));
        Assert.Contains("## Unknown inputs", markdown, StringComparison.Ordinal);
        output.WriteLine(markdown[markdown.IndexOf("## Unknown inputs", StringComparison.Ordinal)..]);
        foreach (var row in far.Kinds.Append(far.All))
        {
            Assert.Contains(F($"<tr data-kind=\"{row.Kind}\"><td>{row.Kind}</td><td>{row.Frames}</td><td>{row.Auroc:0.000}</td><td>{row.Caught:0.000}</td></tr>"), section, StringComparison.Ordinal);
            Assert.Contains(F($"| {row.Kind} | {row.Frames} | {row.Auroc:0.000} | {row.Caught:0.000} |"), markdown, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_package_without_an_unknown_score_gets_a_report_that_says_so()
    {
        var copy = Path.Combine(frozen.Root, "old-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(frozen.Result.Package.Directory)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var path = Path.Combine(copy, ModelManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.True(json.Remove("unknown"));
        File.WriteAllText(path, json.ToJsonString());

        var (metrics, unknown) = ModelWorkflow.EvaluateWithUnknown(ModelPackageFiles.Load(copy), frozen.Data, Path.Combine(copy, "evaluation"));

        Assert.Null(unknown);
        Assert.Equal(frozen.Data.Images.Count, metrics.Count);
        var html = File.ReadAllText(Path.Combine(copy, "evaluation", "report.html"));
        Assert.Contains("<h2>Unknown inputs</h2><p class=\"no-unknown-score\">" + WebUtility.HtmlEncode(UnknownReportSection.NoScore) + "</p>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Far-OOD", html, StringComparison.Ordinal);
        Assert.Contains(UnknownReportSection.NoScore, File.ReadAllText(Path.Combine(copy, "evaluation", "report.md")), StringComparison.Ordinal);
    }
}
