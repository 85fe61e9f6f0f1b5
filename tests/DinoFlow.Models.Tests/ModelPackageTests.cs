using System.Text.Json.Nodes;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;

namespace DinoFlow.Models.Tests;

public sealed class ModelPackageTests(TrainedSamplesFixture trained) : IClassFixture<TrainedSamplesFixture>
{
    [Fact]
    public void A_trained_package_round_trips_with_its_hash_labels_preprocessing_and_probe()
    {
        var loaded = ModelPackageFiles.Load(trained.Package.Directory);

        Assert.Equal(trained.Data.Labels, loaded.Manifest.Labels);
        Assert.Equal(ModelPackageFiles.Sha256Hex(File.ReadAllBytes(loaded.ModelPath)), loaded.Manifest.ModelSha256);
        Assert.Equal(320, loaded.Manifest.Preprocess.Width);
        Assert.Equal("BGR", loaded.Manifest.Preprocess.ColorOrder);
        Assert.Equal(64, loaded.Manifest.TrainingDataHash.Length);
        Assert.NotNull(loaded.Manifest.Metrics);
        Assert.Contains("fine-tune: 320x320", loaded.Manifest.Head, StringComparison.Ordinal); // the recipe travels in model.json
        Assert.Equal("finetune", loaded.Manifest.Training!.Recipe);
        Assert.True(File.Exists(Path.Combine(loaded.Directory, loaded.Manifest.Probe!.Image)));
        using var classifier = new Classifier(loaded);
        Assert.Null(classifier.CheckProbe(new OpenCvImageDecoder()));
    }

    [Fact]
    public void Through_the_cores_port_the_classifier_guesses_the_top_class_of_its_answer()
    {
        using var classifier = new Classifier(trained.Package);
        var probe = trained.Package.Manifest.Probe!;
        var image = new OpenCvImageDecoder().Decode(File.ReadAllBytes(Path.Combine(trained.Package.Directory, probe.Image)));
        var answer = classifier.Answer(image);
        var best = Array.IndexOf(answer.Probabilities, answer.Probabilities.Max());

        var guess = ((IImageClassifier)classifier).Guess(image);

        Assert.Equal(probe.ExpectedLabel, guess.Label);
        Assert.Equal(classifier.Labels[best], guess.Label);
        Assert.Equal(answer.Probabilities[best], guess.Confidence);
        Assert.Equal(answer.IsUnknown, guess.IsUnknown);
        Assert.Equal(answer.Probabilities, guess.Probabilities);
    }

    [Fact]
    public void A_corrupted_model_onnx_is_refused_by_name()
    {
        var copy = trained.CopyPackage();
        var model = Path.Combine(copy, "model.onnx");
        var bytes = File.ReadAllBytes(model);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(model, bytes);

        var error = Assert.Throws<ModelPackageException>(() => ModelPackageFiles.Load(copy));

        Assert.Contains(model, error.Message, StringComparison.Ordinal);
        Assert.Contains("SHA-256", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_model_onnx_or_a_missing_model_json_field_is_refused_by_name()
    {
        var truncated = trained.CopyPackage();
        var model = Path.Combine(truncated, "model.onnx");
        File.WriteAllBytes(model, File.ReadAllBytes(model)[..1000]);
        Assert.Contains("model.onnx", Assert.Throws<ModelPackageException>(() => ModelPackageFiles.Load(truncated)).Message, StringComparison.Ordinal);

        var badJson = trained.CopyPackage();
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(badJson, "model.json")))!;
        json["preprocess"]!["colorOrder"] = "YUV";
        File.WriteAllText(Path.Combine(badJson, "model.json"), json.ToJsonString());
        var error = Assert.Throws<ModelPackageException>(() => ModelPackageFiles.Load(badJson));
        Assert.Contains("colorOrder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zipping_and_unzipping_keeps_a_valid_package_and_a_zip_slip_entry_is_refused()
    {
        var zip = Path.Combine(trained.Root, "p.zip");
        PackageZip.CreateFromDirectory(trained.Package.Directory, zip);
        var unzipped = Path.Combine(trained.Root, "unzipped");
        PackageZip.Extract(zip, unzipped);
        Assert.Equal(trained.Package.Manifest.ModelSha256, ModelPackageFiles.Load(unzipped).Manifest.ModelSha256);

        var evil = Path.Combine(trained.Root, "evil.zip");
        using (var archive = System.IO.Compression.ZipFile.Open(evil, System.IO.Compression.ZipArchiveMode.Create))
            archive.CreateEntry("../outside.txt");
        Assert.Throws<ModelPackageException>(() => PackageZip.Extract(evil, Path.Combine(trained.Root, "evil")));
        Assert.False(File.Exists(Path.Combine(trained.Root, "outside.txt")));
    }

    [Fact]
    public void Compile_keeps_every_answer_and_records_the_target_settings()
    {
        var images = trained.Data.Paths.Values.Take(8).ToList();
        var output = Path.Combine(trained.Root, "compiled-" + Guid.NewGuid().ToString("N")[..6]);

        var result = Models.ModelWorkflow.Compile(trained.Package, "cpu", images, output);

        Assert.Equal(9, result.Info.ParityImages); // 8 images + the probe
        Assert.InRange(result.Info.MaxProbabilityDifference, 0, ModelCompiler.ParityTolerance);
        Assert.True(result.Info.LatencyBeforeMs > 0 && result.Info.LatencyAfterMs > 0);
        var compiled = ModelPackageFiles.Load(output);
        Assert.Equal(trained.Package.Manifest.ModelSha256, compiled.Manifest.Compiled!.OriginalSha256);
        Assert.NotEqual(trained.Package.Manifest.ModelSha256, compiled.Manifest.ModelSha256);
        using var classifier = new Classifier(compiled);
        Assert.Null(classifier.CheckProbe(new OpenCvImageDecoder()));

        var nano = Models.ModelWorkflow.Compile(trained.Package, "jetson-nano", images, output + "-nano");
        Assert.True(nano.Info.Fp16);
        Assert.Equal("tensorrt", nano.Info.ExecutionProvider);
        Assert.Equal("1", nano.Info.ProviderOptions["trt_fp16_enable"]);
    }

    [Fact]
    public void Same_seed_gives_the_same_model()
    {
        var again = Models.ModelWorkflow.Train(trained.Data, new DinoFlow.Pipeline.Datasets.SplitOptions { Seed = 3 },
            Models.ModelWorkflow.Recipe(3, epochs: TrainedSamplesFixture.Epochs), "samples", "test-2", Path.Combine(trained.Root, "again"), null, CancellationToken.None);

        Assert.Equal(trained.Package.Manifest.ModelSha256, again.Package.Manifest.ModelSha256);
        Assert.Equal(trained.Result.Validation.Accuracy, again.Validation.Accuracy);
        Assert.Equal(trained.Result.Validation.Confusion.SelectMany(r => r), again.Validation.Confusion.SelectMany(r => r));
        Assert.Equal(trained.Package.Manifest.Probe!.ExpectedProbabilities, again.Package.Manifest.Probe!.ExpectedProbabilities);
    }
}

public sealed class FrozenHeadPackageTests(FrozenHeadSamplesFixture frozen) : IClassFixture<FrozenHeadSamplesFixture>
{
    [Fact]
    public void The_packaged_onnx_graph_computes_what_the_csharp_head_computes()
    {
        // Rebuild features with the feature graph and compare the package's probabilities with the C# head on them.
        var m = frozen.Result.Package.Manifest;
        var recipe = new TrainingRecipe { Taps = m.Backbone.Taps, Pooling = m.Backbone.Pooling, InputSize = m.Preprocess.Width };
        using var features = FeatureExtractor.Create(BackboneSpec.ResNet18(AppContext.BaseDirectory), recipe, m.Preprocess.Width, m.Preprocess.Height);
        using var classifier = new Classifier(frozen.Result.Package);
        var image = new OpenCvImageDecoder().Decode(File.ReadAllBytes(Path.Combine(frozen.Result.Package.Directory, m.Probe!.Image)));
        var tensor = classifier.Preprocessor.Run(image);
        var f = features.Run([tensor])[0];

        var fromGraph = classifier.ClassifyTensors([tensor])[0];

        var fromCSharp = frozen.Result.Head!.Predict(f);

        Assert.Equal(m.Labels.Count, fromGraph.Length);
        Assert.Equal(1f, fromGraph.Sum(), 3);
        for (var i = 0; i < fromGraph.Length; i++) Assert.Equal(fromCSharp[i], fromGraph[i], 4);
        Assert.Equal(HeadTrainer.ArgMax(fromGraph), HeadTrainer.ArgMax(m.Probe.ExpectedProbabilities.ToArray()));
    }
}
