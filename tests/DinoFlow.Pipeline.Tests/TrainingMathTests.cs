using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Training;

namespace DinoFlow.Pipeline.Tests;

public class TrainingMathTests
{
    /// <summary>Three Gaussian blobs in 20 dimensions, offset and scaled so standardisation matters.</summary>
    private static (List<float[]> X, List<int> Y) Blobs(int perClass, int seed)
    {
        var random = new Random(seed);
        var x = new List<float[]>();
        var y = new List<int>();
        for (var c = 0; c < 3; c++)
            for (var i = 0; i < perClass; i++)
            {
                var v = new float[20];
                for (var d = 0; d < 20; d++) v[d] = 1000 + 50 * (float)(random.NextDouble() - 0.5) + (d == c ? 60 : 0);
                x.Add(v);
                y.Add(c);
            }

        return (x, y);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    public void The_head_learns_separable_classes_and_generalises(int hidden)
    {
        var (x, y) = Blobs(60, 1);
        var (vx, vy) = Blobs(30, 2);

        var head = HeadTrainer.Train(x, y, 3, new HeadTrainingOptions { HiddenUnits = hidden, Epochs = 60, InputDropout = 0, LearningRate = 0.01f });

        var accuracy = vx.Select((v, i) => HeadTrainer.ArgMax(head.Predict(v)) == vy[i]).Count(ok => ok) / (double)vx.Count;
        Assert.True(accuracy > 0.9, $"accuracy {accuracy}");
        Assert.Equal(1f, head.Predict(vx[0]).Sum(), 4);
    }

    [Fact]
    public void Training_is_deterministic_for_a_seed_and_differs_for_another()
    {
        var (x, y) = Blobs(20, 3);
        var a = HeadTrainer.Train(x, y, 3, new HeadTrainingOptions { HiddenUnits = 8, Epochs = 5, Seed = 1 });
        var b = HeadTrainer.Train(x, y, 3, new HeadTrainingOptions { HiddenUnits = 8, Epochs = 5, Seed = 1 });
        var c = HeadTrainer.Train(x, y, 3, new HeadTrainingOptions { HiddenUnits = 8, Epochs = 5, Seed = 2 });
        Assert.Equal(a.Layers[0].Weights, b.Layers[0].Weights);
        Assert.NotEqual(a.Layers[0].Weights, c.Layers[0].Weights);
    }

    [Fact]
    public void Metrics_count_per_class_precision_recall_confusion_and_calibration()
    {
        var predictions = new[]
        {
            new Prediction("a", 0, [0.9f, 0.1f]),
            new Prediction("b", 0, [0.4f, 0.6f]),
            new Prediction("c", 1, [0.2f, 0.8f]),
            new Prediction("d", 1, [0.3f, 0.7f]),
        };

        var m = Evaluator.Evaluate(["cat", "dog"], predictions);

        Assert.Equal(0.75, m.Accuracy);
        Assert.Equal([1, 1], m.Confusion[0]);
        Assert.Equal([0, 2], m.Confusion[1]);
        Assert.Equal(0.5, m.PerClass[0].Recall);
        Assert.Equal(1.0, m.PerClass[0].Precision);
        Assert.Equal(2.0 / 3, m.PerClass[1].Precision, 6);
        // Bins: 0.9 (correct), 0.6 (wrong), 0.8 (correct), 0.7 (correct): |1-0.9|+|0-0.6|+|1-0.8|+|1-0.7| over 4.
        Assert.Equal((0.1 + 0.6 + 0.2 + 0.3) / 4, m.ExpectedCalibrationError, 5);
    }

    [Fact]
    public void The_gate_names_every_failing_class_with_its_numbers()
    {
        var m = Evaluator.Evaluate(["cat", "dog"], [new Prediction("a", 0, [0.9f, 0.1f]), new Prediction("b", 0, [0.4f, 0.6f]), new Prediction("c", 1, [0.2f, 0.8f])]);

        var verdict = QualityGate.Check(m, new GateOptions { MinAccuracy = 0.9, MinClassRecall = 0.8 });

        Assert.False(verdict.Passed);
        Assert.Contains("accuracy 0.667 is below the minimum 0.900", verdict.Summary, StringComparison.Ordinal);
        Assert.Contains("class 'cat' recall 0.500 (1/2) is below the minimum 0.800", verdict.Summary, StringComparison.Ordinal);
        Assert.DoesNotContain("'dog'", verdict.Summary, StringComparison.Ordinal);
        Assert.True(QualityGate.Check(m, new GateOptions { MinAccuracy = 0.5, MinClassRecall = 0.5 }).Passed);
    }
}
