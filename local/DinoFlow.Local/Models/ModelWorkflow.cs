using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Local.Models;

/// <summary>The model operations shared by the CLI commands and the local pipeline's stages.</summary>
public static class ModelWorkflow
{
    public static BackboneSpec Backbone => BackboneSpec.ResNet18(AppContext.BaseDirectory);

    public static TrainingRecipe Recipe(int seed, int? epochs = null) => new TrainingRecipe() is var r
        ? r with { Head = r.Head with { Seed = seed, Epochs = epochs ?? r.Head.Epochs } }
        : r;

    /// <summary>Splits (grouped by recording), trains and packages.</summary>
    public static TrainingResult Train(TrainingData data, SplitOptions split, TrainingRecipe recipe, string name, string version, string output,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        DatasetSplit parts;
        try
        {
            parts = DatasetSplitter.Split(data.Images, split);
        }
        catch (SplitException e)
        {
            throw new StageValidationException(e.Message, e);
        }

        var byKey = data.Images.ToDictionary(i => i.Image.Key, StringComparer.Ordinal);
        var train = parts.Train.Select(i => data.Example(byKey[i.Key], data.Labels)).ToList();
        var validation = parts.Validation.Select(i => data.Example(byKey[i.Key], data.Labels)).ToList();
        return new ModelTrainer(Backbone, new OpenCvImageDecoder()).Train(name, version, data.Labels, train, validation, recipe, output, progress, cancellationToken);
    }

    /// <summary>Scores a package on labeled images and writes report.html / report.md / confusion.svg into <paramref name="reportDirectory"/>.</summary>
    public static EvaluationMetrics Evaluate(LoadedPackage package, TrainingData data, string reportDirectory, IProgress<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(data);
        var unknown = data.Labels.Except(package.Manifest.Labels, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new StageValidationException($"the data has labels the model does not know: {string.Join(", ", unknown)} (model labels: {string.Join(", ", package.Manifest.Labels)})");
        using var classifier = new Classifier(package);
        var decoder = new OpenCvImageDecoder();
        var predictions = new List<Prediction>();
        foreach (var image in data.Images)
        {
            var example = data.Example(image, package.Manifest.Labels);
            predictions.Add(new Prediction(example.Key, example.Label, classifier.Classify(decoder.Decode(example.Read()))));
            progress?.Report(new TrainingProgress("evaluate", predictions.Count, data.Images.Count, example.Key));
        }

        var metrics = Evaluator.Evaluate(package.Manifest.Labels, predictions);
        Directory.CreateDirectory(reportDirectory);
        var title = $"{package.Manifest.Name} {package.Manifest.Version}";
        File.WriteAllText(Path.Combine(reportDirectory, "report.html"), EvaluationReport.Html(title, metrics));
        File.WriteAllText(Path.Combine(reportDirectory, "report.md"), EvaluationReport.Markdown(title, metrics));
        File.WriteAllText(Path.Combine(reportDirectory, "confusion.svg"), EvaluationReport.ConfusionSvg(metrics));
        return metrics;
    }

    /// <summary>Compiles for a target, proving parity on the given images.</summary>
    public static CompileResult Compile(LoadedPackage package, string target, IEnumerable<string> parityImages, string output)
    {
        ArgumentNullException.ThrowIfNull(package);
        var decoder = new OpenCvImageDecoder();
        var preprocessor = new Preprocessor(package.Manifest.Preprocess);
        var tensors = parityImages.Select(p => preprocessor.Run(decoder.Decode(File.ReadAllBytes(p)))).ToList();
        if (package.Manifest.Probe is { } probe) tensors.Add(preprocessor.Run(decoder.Decode(File.ReadAllBytes(Path.Combine(package.Directory, probe.Image)))));
        try
        {
            return ModelCompiler.Compile(package, CompileTarget.Parse(target), tensors, output);
        }
        catch (ArgumentException e)
        {
            throw new StageValidationException(e.Message, e);
        }
    }
}
