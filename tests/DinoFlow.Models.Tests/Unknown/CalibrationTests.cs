using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Models.Tests.Unknown;

public sealed class CalibrationTests(FrozenHeadSamplesFixture frozen) : IClassFixture<FrozenHeadSamplesFixture>
{
    [Fact]
    public void The_threshold_is_the_95th_percentile_of_the_known_scores()
    {
        var scores = Enumerable.Range(1, 20).Select(i => i / 100.0).Reverse().ToList();

        var (threshold, kept) = UnknownScore.Calibrate(scores);

        Assert.Equal(0.19, threshold, 10);
        Assert.Equal(0.95, kept, 10);
        Assert.Equal((0.5, 1.0), UnknownScore.Calibrate([0.5]));
        // 7 frames: keeping 6 would be 86 %, so all are kept.
        Assert.Equal(0.7, UnknownScore.Calibrate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]).Threshold, 10);
    }

    [Fact]
    public void The_threshold_is_the_lowest_that_keeps_95_percent_of_known_frames()
    {
        var random = new Random(7);
        for (var trial = 0; trial < 50; trial++)
        {
            var scores = Enumerable.Range(0, random.Next(1, 300)).Select(_ => Math.Round(random.NextDouble(), 2)).ToList();
            var (threshold, kept) = UnknownScore.Calibrate(scores);
            Assert.True(kept >= 0.95, $"kept {kept}");
            Assert.Equal((double)scores.Count(s => s <= threshold) / scores.Count, kept, 10);
            var lower = scores.Where(s => s < threshold).DefaultIfEmpty(double.NegativeInfinity).Max();
            Assert.True((double)scores.Count(s => s <= lower) / scores.Count < 0.95, "a lower threshold would also keep 95 %");
        }
    }

    [Fact]
    public void The_package_threshold_keeps_95_percent_of_its_validation_frames_as_the_shipped_graph_scores_them()
    {
        var package = frozen.Result.Package;
        var info = package.Manifest.Unknown!;
        var split = DatasetSplitter.Split(frozen.Data.Images, new SplitOptions { Seed = 3 });
        var byKey = frozen.Data.Images.ToDictionary(i => i.Image.Key, StringComparer.Ordinal);
        using var classifier = new Classifier(package);
        var decoder = new OpenCvImageDecoder();

        var answers = split.Validation.Select(v => classifier.Answer(decoder.Decode(frozen.Data.Example(byKey[v.Key], frozen.Data.Labels).Read()))).ToList();

        Assert.Equal("validation", info.CalibratedOn);
        Assert.Equal(split.Validation.Count, info.CalibrationImages);
        var kept = (double)answers.Count(a => !a.IsUnknown) / answers.Count;
        Assert.Equal(info.KeptShare, kept, 6);
        Assert.True(kept >= UnknownScoreInfo.TargetKeptShare, $"kept {kept}");
        // The threshold is one of the validation scores (the percentile), not a constant.
        Assert.Contains(answers, a => Math.Abs(a.UnknownScore!.Value - info.Threshold) < 1e-5);
    }

    [Fact]
    public void Auroc_counts_pairs_ordered_and_ties_as_half()
    {
        Assert.Equal(1, OodMetrics.Auroc([0.1, 0.2], [0.3, 0.4]));
        Assert.Equal(0, OodMetrics.Auroc([0.3, 0.4], [0.1, 0.2]));
        Assert.Equal(0.5, OodMetrics.Auroc([0.2, 0.2], [0.2]));
        Assert.Equal(0.75, OodMetrics.Auroc([0.1, 0.3], [0.2, 0.4]));
    }
}
