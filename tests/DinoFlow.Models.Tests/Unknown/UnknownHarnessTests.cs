using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Datasets;
using Xunit.Abstractions;

namespace DinoFlow.Models.Tests.Unknown;

public sealed class UnknownHarnessTests(ITestOutputHelper output)
{
    [Fact]
    public void Leave_one_class_out_and_generated_frames_are_scored_on_the_samples()
    {
        var data = TrainingData.Load(TrainedSamplesFixture.Samples);
        // Small and quick: 224x224, no extra views, a short head.
        var recipe = new TrainingRecipe { InputSize = 224, AugmentViews = [] } is var r ? r with { Head = r.Head with { Epochs = 40, Seed = 3 } } : r;

        var report = UnknownHarness.Run(data, new SplitOptions { Seed = 3 }, recipe, ModelWorkflow.Backbone, new OpenCvImageDecoder());

        foreach (var line in UnknownReportText.Lines(report)) output.WriteLine(line);
        var validation = DatasetSplitter.Split(data.Images, new SplitOptions { Seed = 3 }).Validation;
        Assert.Equal(validation.Select(v => v.Label).Distinct().Order(StringComparer.Ordinal), report.LeaveOneClassOut.Select(l => l.Label).Order(StringComparer.Ordinal));
        Assert.All(report.LeaveOneClassOut, l =>
        {
            Assert.Equal(UnknownHarness.Scores, l.Scores.Select(s => s.Score));
            Assert.All(l.Scores, s => Assert.InRange(s.Auroc, 0, 1));
            Assert.All(l.Scores, s => Assert.True(s.KnownKept >= 0.95, $"{l.Label} {s.Score} kept {s.KnownKept}"));
            // The accuracy condition only ever raises the threshold above the percentile: it catches no more.
            Assert.All(l.Scores, s => Assert.True(s.UnknownCaught <= s.CaughtAtPercentile, $"{l.Label} {s.Score} caught {s.UnknownCaught} > {s.CaughtAtPercentile}"));
            Assert.Equal(validation.Count(v => v.Label == l.Label), l.Scores[0].Unknown);
            Assert.Equal(validation.Count(v => v.Label != l.Label), l.Scores[0].Known);
        });
        var knn = report.FarOod.ToDictionary(f => f.Kind, f => f.Scores.Single(s => s.Score == UnknownScore.Name));
        Assert.Equal(FarOodFrames.Kinds, report.FarOod.Select(f => f.Kind));
        // Noise and a flat colour are nothing like a product box: the feature distance must see it.
        Assert.True(knn["noise"].Auroc > 0.9, $"noise AUROC {knn["noise"].Auroc}");
        Assert.True(knn["flat-colour"].Auroc > 0.9, $"flat AUROC {knn["flat-colour"].Auroc}");
        Assert.True(report.NearOod.Single(s => s.Score == UnknownScore.Name).Auroc > 0.5, "held-out classes score above chance");
    }

    [Fact]
    public void The_harness_on_fine_tuned_features_holds_out_each_class_and_scores_the_generated_frames()
    {
        var data = TrainingData.Load(TrainedSamplesFixture.Samples);
        // Small and quick: 64x64, 1 epoch; what is checked is the harness's bookkeeping, not the numbers.
        var recipe = new DinoFlow.Inference.FineTuning.FineTuneRecipe { InputSize = 64, Epochs = 1, Seed = 3 };
        var lines = new List<string>();

        var report = FineTunedUnknownHarness.Run(data, new SplitOptions { Seed = 3 }, recipe, ModelWorkflow.Backbone, new OpenCvImageDecoder(),
            new DinoFlow.Pipeline.Stages.SynchronousProgress<string>(lines.Add));

        foreach (var line in UnknownReportText.Lines(report)) output.WriteLine(line);
        var validation = DatasetSplitter.Split(data.Images, new SplitOptions { Seed = 3 }).Validation;
        Assert.Equal(report.LeaveOneClassOut.Count + 1, lines.Count); // a fine-tune per held-out class, and one on every class
        Assert.Contains("fine-tuned", report.Features, StringComparison.Ordinal);
        Assert.All(report.LeaveOneClassOut, l =>
        {
            Assert.Equal(UnknownHarness.Scores, l.Scores.Select(s => s.Score));
            Assert.All(l.Scores, s => Assert.InRange(s.Auroc, 0, 1));
            Assert.All(l.Scores, s => Assert.True(s.KnownKept >= 0.95, $"{l.Label} {s.Score} kept {s.KnownKept}"));
            // The accuracy condition only ever raises the threshold above the percentile: it catches no more.
            Assert.All(l.Scores, s => Assert.True(s.UnknownCaught <= s.CaughtAtPercentile, $"{l.Label} {s.Score} caught {s.UnknownCaught} > {s.CaughtAtPercentile}"));
            Assert.Equal(validation.Count(v => v.Label == l.Label), l.Scores[0].Unknown);
        });
        Assert.Equal(FarOodFrames.Kinds, report.FarOod.Select(f => f.Kind));
        Assert.All(report.FarOod, f => Assert.Equal(validation.Count, f.Scores[0].Unknown));
        var noise = report.FarOod.Single(f => f.Kind == "noise").Scores.Single(s => s.Score == UnknownScore.Name);
        Assert.True(noise.Auroc > 0.9, $"noise AUROC {noise.Auroc}");
    }

    [Fact]
    public void The_box_blur_averages_each_clipped_window_and_the_generated_frames_differ_from_the_image()
    {
        var pixels = new byte[9 * 7 * 3];
        new Random(4).NextBytes(pixels);
        var image = new DinoFlow.Pipeline.Imaging.BgrImage(9, 7, pixels);

        var blurred = DinoFlow.Pipeline.Imaging.ImageOps.Blur(image, 2);

        // The reference: the same two separable passes, each window summed directly.
        byte[] Pass(byte[] source, bool horizontal)
        {
            var result = new byte[source.Length];
            for (var y = 0; y < 7; y++)
                for (var x = 0; x < 9; x++)
                    for (var c = 0; c < 3; c++)
                    {
                        int sum = 0, count = 0;
                        for (var d = -2; d <= 2; d++)
                        {
                            var (xx, yy) = horizontal ? (x + d, y) : (x, y + d);
                            if (xx < 0 || xx >= 9 || yy < 0 || yy >= 7) continue;
                            sum += source[((yy * 9) + xx) * 3 + c];
                            count++;
                        }

                        result[((y * 9) + x) * 3 + c] = (byte)(sum / count);
                    }

            return result;
        }

        var expected = Pass(Pass(Pass(Pass(pixels, true), false), true), false);
        Assert.Equal(expected, blurred.Pixels);
        Assert.All(FarOodFrames.Kinds.Where(k => k != "background-crop"), k => Assert.NotEqual(pixels, FarOodFrames.Make(k, image, 1).Pixels));
    }
}
