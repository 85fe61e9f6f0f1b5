using DinoFlow.Imaging;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Models.Tests.FineTuning;

public sealed class WeightAverageTests
{
    [Fact]
    public void The_average_follows_the_weights_with_the_capped_decay_and_is_written_back_on_request()
    {
        var weights = new NetworkParameter("w", [2], [0f, 10f], null, IsHead: false);
        var average = new WeightAverage([weights], decay: 0.5f);

        // Step 1: the weights move to (1, 12); the decay is min(0.5, 2/11).
        weights.Value[0] = 1;
        weights.Value[1] = 12;
        average.Update();
        var d1 = WeightAverage.DecayAt(1, 0.5f);
        // Step 2: to (3, 12); the decay is min(0.5, 3/12).
        weights.Value[0] = 3;
        average.Update();
        var d2 = WeightAverage.DecayAt(2, 0.5f);
        var target = new NetworkParameter("w", [2], new float[2], null, IsHead: false);
        average.CopyInto([target]);

        Assert.Equal(2f / 11, d1, 6);
        Assert.Equal(0.25f, d2, 6);
        Assert.Equal(0.5f, WeightAverage.DecayAt(100, 0.5f)); // later updates use the recipe's decay
        // The average starts at the weights it was made with, (0, 10).
        Assert.Equal(d2 * (d1 * 0 + (1 - d1) * 1) + (1 - d2) * 3, target.Value[0], 5);
        Assert.Equal(d2 * (d1 * 10 + (1 - d1) * 12) + (1 - d2) * 12, target.Value[1], 5);
        Assert.Equal([3f, 12f], weights.Value); // the live weights are untouched until copied into
    }

    [Fact]
    public void With_averaging_the_shipped_network_holds_the_averaged_weights_and_the_run_reports_both()
    {
        var decoder = new OpenCvImageDecoder();
        var files = Directory.EnumerateDirectories(TrainedSamplesFixture.Samples).Order(StringComparer.Ordinal).Take(2)
            .SelectMany((dir, label) => Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal).Take(6).Select(f => (File: f, Label: label)))
            .ToList();
        var examples = files.Select(f => new LabeledExample(f.File, f.Label, () => File.ReadAllBytes(f.File))).ToList();
        var train = examples.Where((_, i) => i % 3 != 0).ToList();
        var validation = examples.Where((_, i) => i % 3 == 0).ToList();
        var recipe = new FineTuneRecipe { InputSize = 64, Epochs = 2, AverageDecay = 0.9f, Refit = false, Seed = 5 };
        var backbone = BackboneSpec.ResNet18(AppContext.BaseDirectory);

        var result = new FineTuner(backbone, decoder).Train(2, train, validation, recipe);

        // What the run reports as the model's validation probabilities is what the shipped network computes.
        var tensors = validation.Select(e => new Preprocessor(recipe.Preprocess(backbone)).Run(decoder.Decode(e.Read()))).ToList();
        using var runner = new NetworkRunner(result.Model, recipe.Execution);
        var shipped = runner.Predict(tensors);
        for (var i = 0; i < shipped.Length; i++)
            for (var k = 0; k < 2; k++) Assert.Equal(result.ValidationProbabilities[i][k], shipped[i][k], 4);
        // And the last step's weights, from the same run, answer differently.
        Assert.Contains(Enumerable.Range(0, shipped.Length), i => Math.Abs(result.LastStepValidationProbabilities[i][0] - shipped[i][0]) > 1e-4);
        Assert.Contains("weights averaged (EMA, decay 0.9", recipe.Describe(), StringComparison.Ordinal);
    }
}
