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

        var (threshold, kept, drop) = UnknownScore.Calibrate(scores);

        Assert.Equal(0.19, threshold, 10);
        Assert.Equal(0.95, kept, 10);
        Assert.Null(drop);
        Assert.Equal(new UnknownThreshold(0.5, 1.0, null), UnknownScore.Calibrate([0.5]));
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
            var (threshold, kept, _) = UnknownScore.Calibrate(scores);
            Assert.True(kept >= 0.95, $"kept {kept}");
            Assert.Equal((double)scores.Count(s => s <= threshold) / scores.Count, kept, 10);
            var lower = scores.Where(s => s < threshold).DefaultIfEmpty(double.NegativeInfinity).Max();
            Assert.True((double)scores.Count(s => s <= lower) / scores.Count < 0.95, "a lower threshold would also keep 95 %");
        }
    }

    [Fact]
    public void The_threshold_rises_until_right_answers_called_unknown_cost_at_most_one_point_of_accuracy()
    {
        // 100 known frames scored 0.01 … 1.00; the 95th percentile is 0.95.
        var scores = Enumerable.Range(1, 100).Select(i => i / 100.0).ToList();

        // Every answer right: 5 of them above 0.95 would cost 5 points; at most 1 may be above, so the threshold is 0.99.
        var allRight = UnknownScore.Calibrate(scores, [.. scores.Select(_ => true)]);
        Assert.Equal(0.99, allRight.Threshold, 10);
        Assert.Equal(0.99, allRight.KeptShare, 10);
        Assert.Equal(0.01, allRight.AccuracyDrop!.Value, 10);

        // The five highest-scoring frames are wrong answers: calling them unknown costs nothing, the percentile stands.
        var topWrong = UnknownScore.Calibrate(scores, [.. scores.Select(s => s <= 0.95)]);
        Assert.Equal(0.95, topWrong.Threshold, 10);
        Assert.Equal(0.0, topWrong.AccuracyDrop!.Value, 10);

        // 50 frames: one point of 50 is no frame, so every right answer stays known.
        var fifty = scores.Take(50).ToList();
        Assert.Equal(0.50, UnknownScore.Calibrate(fifty, [.. fifty.Select(_ => true)]).Threshold, 10);
        Assert.Throws<ArgumentException>(() => UnknownScore.Calibrate(scores, [true]));
    }

    [Fact]
    public void The_threshold_is_the_lowest_that_keeps_95_percent_and_costs_at_most_one_point()
    {
        var random = new Random(11);
        for (var trial = 0; trial < 50; trial++)
        {
            var count = random.Next(1, 400);
            var scores = Enumerable.Range(0, count).Select(_ => Math.Round(random.NextDouble(), 2)).ToList();
            var right = scores.Select(s => random.NextDouble() < 0.9 - (s / 4)).ToList();
            var (threshold, kept, drop) = UnknownScore.Calibrate(scores, right);
            double Drop(double t) => (double)scores.Where((s, i) => right[i] && s > t).Count() / count;
            double Kept(double t) => (double)scores.Count(s => s <= t) / count;

            Assert.True(kept >= 0.95, $"kept {kept}");
            Assert.True(drop <= 0.01 + 1e-12, $"drop {drop} of {count}");
            Assert.Equal(Drop(threshold), drop!.Value, 10);
            Assert.Equal(Kept(threshold), kept, 10);
            var lower = scores.Where(s => s < threshold).DefaultIfEmpty(double.NegativeInfinity).Max();
            Assert.True(Kept(lower) < 0.95 || Drop(lower) > 0.01 + 1e-12, $"a lower threshold {lower} would also do (trial {trial})");
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
        // Right answers the threshold calls unknown: the accuracy it costs, recorded and within a point.
        List<string> classes = [.. classifier.Labels];
        var labels = split.Validation.Select(v => classes.IndexOf(v.Label)).ToList();
        var lost = (double)answers.Where((a, i) => a.IsUnknown && Array.IndexOf(a.Probabilities, a.Probabilities.Max()) == labels[i]).Count() / answers.Count;
        Assert.Equal(lost, info.AccuracyDrop!.Value, 6);
        Assert.InRange(lost, 0, UnknownScoreInfo.MaxAccuracyDrop);
        // The threshold is one of the validation scores (the percentile, or a right answer's), not a constant.
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
