using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Datasets;
using Xunit.Abstractions;

namespace DinoFlow.Inference.Tests.Unknown;

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
        Assert.Equal(data.Labels.Order(StringComparer.Ordinal), report.LeaveOneClassOut.Select(l => l.Label).Order(StringComparer.Ordinal));
        Assert.All(report.LeaveOneClassOut, l =>
        {
            Assert.Equal(UnknownHarness.Scores, l.Scores.Select(s => s.Score));
            Assert.All(l.Scores, s => Assert.InRange(s.Auroc, 0, 1));
            Assert.All(l.Scores, s => Assert.True(s.KnownKept >= 0.95, $"{l.Label} {s.Score} kept {s.KnownKept}"));
            Assert.Equal(data.Images.Count(i => i.Label == l.Label), l.Scores[0].Unknown);
        });
        var knn = report.FarOod.ToDictionary(f => f.Kind, f => f.Scores.Single(s => s.Score == UnknownScore.Name));
        Assert.Equal(FarOodFrames.Kinds, report.FarOod.Select(f => f.Kind));
        // Noise and a flat colour are nothing like a product box: the feature distance must see it.
        Assert.True(knn["noise"].Auroc > 0.9, $"noise AUROC {knn["noise"].Auroc}");
        Assert.True(knn["flat-colour"].Auroc > 0.9, $"flat AUROC {knn["flat-colour"].Auroc}");
        Assert.True(report.NearOod.Single(s => s.Score == UnknownScore.Name).Auroc > 0.5, "held-out classes score above chance");
    }
}
