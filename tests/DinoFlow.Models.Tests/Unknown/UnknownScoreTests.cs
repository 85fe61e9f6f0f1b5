using System.Text.Json.Nodes;
using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Models.Unknown;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Models;

namespace DinoFlow.Models.Tests.Unknown;

/// <summary>The unknown score of the fine-tuned package (refit on every sample image): in the graph, and as the C# reference.</summary>
public sealed class UnknownScoreTests(TrainedSamplesFixture trained) : IClassFixture<TrainedSamplesFixture>
{
    [Fact]
    public void The_graph_computes_unknown_score_equal_to_the_class_mean_reference_on_its_own_features()
    {
        var package = trained.Package;
        var info = package.Manifest.Unknown!;
        Assert.Equal(UnknownScore.ClassMeanName, info.Score);
        Assert.Equal(UnknownScore.Output, info.Output);
        Assert.Equal(trained.Data.Labels.Count, info.BankSize);

        var decoder = new OpenCvImageDecoder();
        var preprocessor = new Preprocessor(package.Manifest.Preprocess);
        var examples = trained.Data.Images.Select(i => trained.Data.Example(i, trained.Data.Labels)).ToList();
        var images = examples.Select(e => decoder.Decode(e.Read())).ToList();
        var (withFeatures, featuresName) = UnknownScore.WithFeaturesOutput(package.Model);
        using var runner = new BatchRunner(OnnxSessions.Create(withFeatures, ExecutionOptions.Cpu), OnnxGraphs.InputName, [featuresName, UnknownScore.Output], 3,
            package.Manifest.Preprocess.Height, package.Manifest.Preprocess.Width);
        // The prototypes built here, independently of the graph's constant: the refit trained on every image, so they
        // are the class means of the package's features of every image.
        var dataOutputs = runner.RunAll([.. images.Select(preprocessor.Run)]);
        var prototypes = UnknownScore.ClassMeans(UnknownScore.Normalise(dataOutputs[0]), [.. examples.Select(e => e.Label)]);
        var frames = FarOodFrames.Kinds.Select((k, i) => FarOodFrames.Make(k, images[i * 7 % images.Count], i)).Concat(images.Take(5)).ToList();
        var outputs = runner.RunAll([.. frames.Select(preprocessor.Run)]);

        for (var i = 0; i < frames.Count; i++)
            Assert.Equal(UnknownScore.Reference(outputs[0][i], prototypes), outputs[1][i][0], 1e-4);
        // Generated frames lie farther from every class than the images the classes were made of.
        var trainedWorst = dataOutputs[1].Max(s => s[0]);
        var generated = outputs[1].Take(FarOodFrames.Kinds.Count).Select(s => s[0]).ToList();
        Assert.True(generated.Average() > dataOutputs[1].Average(s => s[0]), $"generated mean {generated.Average()} trained mean {dataOutputs[1].Average(s => s[0])} (worst {trainedWorst})");
    }

    [Fact]
    public void Noise_and_a_flat_colour_are_unknown_and_the_trained_images_are_known()
    {
        using var classifier = new Classifier(trained.Package);
        var decoder = new OpenCvImageDecoder();
        var image = decoder.Decode(trained.Data.Example(trained.Data.Images[0], trained.Data.Labels).Read());

        var noise = classifier.Answer(FarOodFrames.Make("noise", image, 1));
        var flat = classifier.Answer(FarOodFrames.Make("flat-colour", image, 1));
        var known = classifier.Answer(image);

        Assert.True(noise.IsUnknown, $"noise score {noise.UnknownScore} threshold {trained.Package.Manifest.Unknown!.Threshold}");
        Assert.True(flat.IsUnknown, $"flat score {flat.UnknownScore}");
        Assert.False(known.IsUnknown);
        Assert.NotNull(known.UnknownScore);
    }

    [Fact]
    public void With_a_refit_the_threshold_is_calibrated_on_the_validation_images_by_the_validated_model()
    {
        var manifest = trained.Package.Manifest;
        var info = manifest.Unknown!;

        Assert.Equal(manifest.Training!.ValidationImages, info.CalibrationImages);
        Assert.Contains("before the refit", info.CalibratedOn, StringComparison.Ordinal);
        Assert.InRange(info.KeptShare, UnknownScoreInfo.TargetKeptShare, 1);
        Assert.True(info.Threshold > 0, "validation images are not in the validated model's bank, so the 95th percentile is above 0");
    }

    [Fact]
    public void A_package_without_an_unknown_score_still_loads_and_never_answers_unknown()
    {
        var copy = trained.CopyPackage();
        var path = Path.Combine(copy, ModelManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.True(json.Remove("unknown"));
        File.WriteAllText(path, json.ToJsonString());

        using var classifier = new Classifier(ModelPackageFiles.Load(copy));
        var image = new OpenCvImageDecoder().Decode(trained.Data.Example(trained.Data.Images[0], trained.Data.Labels).Read());
        var answer = classifier.Answer(FarOodFrames.Make("noise", image, 1));

        Assert.Null(answer.UnknownScore);
        Assert.False(answer.IsUnknown);
        Assert.Equal(classifier.Classify(FarOodFrames.Make("noise", image, 1)), answer.Probabilities);
    }
}
