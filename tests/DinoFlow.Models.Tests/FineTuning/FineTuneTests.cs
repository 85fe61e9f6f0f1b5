using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Models.Tests.FineTuning;

public sealed class FineTuneTests(TrainedSamplesFixture trained) : IClassFixture<TrainedSamplesFixture>
{
    [Fact]
    public void The_written_package_gives_the_trainers_own_forward_probabilities()
    {
        var network = trained.Result.FineTuned!;
        using var runner = new NetworkRunner(network, ExecutionOptions.Cpu);
        using var classifier = new Classifier(trained.Package);
        var decoder = new OpenCvImageDecoder();
        var tensors = trained.Data.Paths.Values.Order(StringComparer.Ordinal).Take(6)
            .Select(p => classifier.Preprocessor.Run(decoder.Decode(File.ReadAllBytes(p)))).ToList();

        var fromTrainer = runner.Predict(tensors);
        var fromPackage = classifier.ClassifyTensors(tensors);

        for (var i = 0; i < tensors.Count; i++)
        {
            Assert.Equal(trained.Package.Manifest.Labels.Count, fromPackage[i].Length);
            for (var k = 0; k < fromPackage[i].Length; k++) Assert.Equal(fromTrainer[i][k], fromPackage[i][k], 4);
        }
    }

    [Fact]
    public void The_shipped_model_is_refit_on_every_label_and_model_json_keeps_the_validation_metrics()
    {
        var manifest = trained.Package.Manifest;
        var training = manifest.Training!;

        Assert.True(training.Refit);
        Assert.Equal(trained.Data.Images.Count, training.TrainImages + training.ValidationImages);
        Assert.Equal(training.ValidationImages, manifest.Metrics!.Count); // the metrics are the validated model's, on the validation images
        Assert.Equal(TrainedSamplesFixture.Epochs, training.Epochs);
        // The refit saw the validation images: the training-data hash covers all of them.
        Assert.Equal(trained.Result.Validation.Accuracy, manifest.Metrics.Accuracy);
    }

    [Fact]
    public void Progress_is_reported_per_epoch_with_loss_validation_accuracy_and_seconds_for_the_fit_and_the_refit()
    {
        var fit = trained.Progress.Where(p => p.Phase == "fine-tune").ToList();
        var refit = trained.Progress.Where(p => p.Phase == "refit").ToList();
        var every = new FineTuneRecipe().ValidateEvery;

        Assert.Equal(Enumerable.Range(1, TrainedSamplesFixture.Epochs).Select(e => (double)e), fit.Select(p => p.Done));
        Assert.Equal(TrainedSamplesFixture.Epochs, refit.Count);
        Assert.True(every > 1 && TrainedSamplesFixture.Epochs < every, "the fixture's epochs must show both a skipped and a validated epoch");
        // Validation runs every ValidateEvery epochs and after the last one; the epochs between report loss only.
        Assert.All(fit, p => Assert.Matches(
            p.Done == TrainedSamplesFixture.Epochs || p.Done % every == 0
                ? @"^epoch \d+/\d+ loss \d+\.\d{3} train acc \d\.\d{3} val acc \d\.\d{3} \(\d+\.\d s\)$"
                : @"^epoch \d+/\d+ loss \d+\.\d{3} train acc \d\.\d{3} val acc - \(\d+\.\d s\)$",
            p.Text));
        Assert.All(refit, p => Assert.Contains("val acc -", p.Text, StringComparison.Ordinal)); // the refit has no validation set
    }

    [Fact]
    public void An_image_that_cannot_be_decoded_fails_training_naming_it()
    {
        var good = trained.Data.Paths.Values.First();
        LabeledExample[] train =
        [
            new("a/good.jpg", 0, () => File.ReadAllBytes(good)),
            new("b/broken.jpg", 1, () => [0xFF, 0xD8, 0xFF, 0x00, 0x01]),
        ];
        var tuner = new FineTuner(BackboneSpec.ResNet18(AppContext.BaseDirectory), new OpenCvImageDecoder());

        var error = Assert.Throws<ModelPackageException>(() => tuner.Train(2, train, [], new FineTuneRecipe { Epochs = 1, InputSize = 64 }));

        Assert.Contains("'b/broken.jpg'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Outlier_exposure_trains_its_synthetic_negatives_towards_the_uniform_answer()
    {
        var (examples, tuner, recipe, tensors) = TwoClassSample(new FineTuneRecipe { Epochs = 6, InputSize = 64, Refit = false, Seed = 5 });

        double MeanTopProbability(FineTuneRecipe r)
        {
            using var runner = new NetworkRunner(tuner.Train(2, examples, [], r).Model, ExecutionOptions.Cpu);
            return runner.Predict(tensors).Average(p => p.Max());
        }

        var plain = MeanTopProbability(recipe);
        // Every slot a negative (two halves of the two classes, or a hue turned): the answer stays near 1/2 for all.
        var exposed = MeanTopProbability(recipe with { OutlierExposure = 1 });

        Assert.InRange(exposed, 0.5, 0.65);
        Assert.True(plain > exposed + 0.1, $"without outlier exposure {plain:0.000}, with {exposed:0.000}");
        Assert.Contains("outlier exposure", Assert.Throws<ArgumentException>(() => tuner.Train(2, examples, [], recipe with { OutlierExposure = 1.5f })).Message, StringComparison.Ordinal);
        Assert.Contains("mosaic", Assert.Throws<ArgumentException>(() => tuner.Train(2, examples, [], recipe with { OutlierExposure = 0.25f, NegativeKinds = ["mosaic"] })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_contrastive_term_draws_a_class_together_or_spreads_its_images_apart()
    {
        // Batches of 8 slots, so each has positives of its class (or 4 images with two views each).
        var (examples, tuner, recipe, tensors) = TwoClassSample(new FineTuneRecipe { Epochs = 6, InputSize = 64, Refit = false, Seed = 5, MinStepsPerEpoch = 2 });

        // Mean cosine similarity of the penultimate features of two different images of the same class.
        double WithinClassSimilarity(FineTuneRecipe r)
        {
            var model = tuner.Train(2, examples, [], r).Model;
            var (graph, output) = UnknownScore.WithFeaturesOutput(OnnxGraphs.Serialize(model.Network.InferenceGraph(model.FrozenPrefix)));
            using var runner = new BatchRunner(OnnxSessions.Create(graph, ExecutionOptions.Cpu), OnnxGraphs.InputName, output, 3, 64, 64);
            var z = UnknownScore.Normalise(runner.Run(tensors));
            var pairs = from i in Enumerable.Range(0, z.Length) from j in Enumerable.Range(0, z.Length)
                        where i < j && examples[i].Label == examples[j].Label select z[i].Zip(z[j], (a, b) => a * b).Sum();
            return pairs.Average();
        }

        var plain = WithinClassSimilarity(recipe);
        var sameClass = WithinClassSimilarity(recipe with { Contrastive = new ContrastiveTerm(1f) });
        var sameImage = WithinClassSimilarity(recipe with { Contrastive = new ContrastiveTerm(1f, Positives: ContrastiveTerm.SameImage) });

        Assert.True(sameClass > plain && plain > sameImage, $"within-class similarity: class contrast {sameClass:0.000}, plain {plain:0.000}, instance contrast {sameImage:0.000}");
        Assert.Contains("positives", Assert.Throws<ArgumentException>(() => tuner.Train(2, examples, [], recipe with { Contrastive = new ContrastiveTerm(1f, Positives: "box") })).Message, StringComparison.Ordinal);
    }

    /// <summary>8 sample images of each of the first two classes, a fine-tuner, and the images' tensors for <paramref name="recipe"/>.</summary>
    private (List<LabeledExample> Examples, FineTuner Tuner, FineTuneRecipe Recipe, List<float[]> Tensors) TwoClassSample(FineTuneRecipe recipe)
    {
        var examples = trained.Data.Images.Select(i => trained.Data.Example(i, trained.Data.Labels)).Where(e => e.Label < 2)
            .GroupBy(e => e.Label).SelectMany(g => g.Take(8)).ToList();
        var backbone = BackboneSpec.ResNet18(AppContext.BaseDirectory);
        var decoder = new OpenCvImageDecoder();
        var preprocessor = new Preprocessor(recipe.Preprocess(backbone));
        return (examples, new FineTuner(backbone, decoder), recipe, [.. examples.Select(e => preprocessor.Run(decoder.Decode(e.Read())))]);
    }

    [Fact]
    public void A_recipe_the_network_cannot_run_is_refused_before_training()
    {
        var tuner = new FineTuner(BackboneSpec.ResNet18(AppContext.BaseDirectory), new OpenCvImageDecoder());
        LabeledExample[] train = [new("a/x.jpg", 0, () => File.ReadAllBytes(trained.Data.Paths.Values.First()))];

        Assert.Contains("input size", Assert.Throws<ArgumentException>(() => tuner.Train(2, train, [], new FineTuneRecipe { InputSize = 16 })).Message, StringComparison.Ordinal);
        Assert.Contains("epochs", Assert.Throws<ArgumentException>(() => tuner.Train(2, train, [], new FineTuneRecipe { Epochs = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("no training images", Assert.Throws<ModelPackageException>(() => tuner.Train(2, [], [], new FineTuneRecipe())).Message, StringComparison.Ordinal);
    }
}
