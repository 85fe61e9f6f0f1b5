using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;

namespace DinoFlow.Models;

/// <summary>The model operations shared by the CLI commands and the local pipeline's stages.</summary>
public static class ModelWorkflow
{
    public static BackboneSpec Backbone => BackboneSpec.ResNet18(AppContext.BaseDirectory);

    /// <summary>The recipe by name (default "finetune"; "frozen-head" for comparison).</summary>
    public static ModelRecipe Recipe(int seed, int? epochs = null, string name = "finetune", bool refit = true) => ModelRecipe.Create(name, seed, epochs, refit);

    /// <summary>
    /// Trains and packages. Validation: <paramref name="validation"/> when given (an explicit validation set, as SageMaker's
    /// validation channel; every image of <paramref name="data"/> then trains), else a split of <paramref name="data"/>
    /// grouped by recording.
    /// </summary>
    public static TrainingResult Train(TrainingData data, SplitOptions split, ModelRecipe recipe, string name, string version, string output,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken, TrainingData? validation = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        List<LabeledExample> train, held;
        if (validation is not null)
        {
            train = data.Images.Select(i => data.Example(i, data.Labels)).ToList();
            held = validation.Images.Select(i => validation.Example(i, data.Labels)).ToList();
        }
        else
        {
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
            train = parts.Train.Select(i => data.Example(byKey[i.Key], data.Labels)).ToList();
            held = parts.Validation.Select(i => data.Example(byKey[i.Key], data.Labels)).ToList();
        }

        try
        {
            return new ModelTrainer(Backbone, new OpenCvImageDecoder()).Train(name, version, data.Labels, train, held, recipe, output, progress, cancellationToken);
        }
        catch (ArgumentException e)
        {
            throw new StageValidationException(e.Message, e);
        }
    }

    /// <summary>Scores a package on labeled images and writes report.html / report.md / confusion.svg into <paramref name="reportDirectory"/>.</summary>
    public static EvaluationMetrics Evaluate(LoadedPackage package, TrainingData data, string reportDirectory, IProgress<TrainingProgress>? progress = null) =>
        EvaluateWithUnknown(package, data, reportDirectory, progress).Metrics;

    /// <summary>
    /// As <see cref="Evaluate"/>, plus the unknown score's verdicts on the (known) data: the unknown rate and the
    /// accuracy among the frames kept; null for a package without an unknown score.
    /// </summary>
    public static (EvaluationMetrics Metrics, UnknownEvaluation? Unknown) EvaluateWithUnknown(LoadedPackage package, TrainingData data, string reportDirectory,
        IProgress<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(data);
        var unknown = data.Labels.Except(package.Manifest.Labels, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new StageValidationException($"the data has labels the model does not know: {string.Join(", ", unknown)} (model labels: {string.Join(", ", package.Manifest.Labels)})");
        using var classifier = new Classifier(package);
        var decoder = new OpenCvImageDecoder();
        var predictions = new List<Prediction>();
        var unknownVerdicts = new List<bool>();
        foreach (var image in data.Images)
        {
            var example = data.Example(image, package.Manifest.Labels);
            var answer = classifier.Answer(decoder.Decode(example.Read()));
            predictions.Add(new Prediction(example.Key, example.Label, answer.Probabilities));
            unknownVerdicts.Add(answer.IsUnknown);
            progress?.Report(new TrainingProgress("evaluate", predictions.Count, data.Images.Count, example.Key));
        }

        var metrics = Evaluator.Evaluate(package.Manifest.Labels, predictions);
        Directory.CreateDirectory(reportDirectory);
        var title = $"{package.Manifest.Name} {package.Manifest.Version}";
        File.WriteAllText(Path.Combine(reportDirectory, "report.html"), EvaluationReport.Html(title, metrics));
        File.WriteAllText(Path.Combine(reportDirectory, "report.md"), EvaluationReport.Markdown(title, metrics));
        File.WriteAllText(Path.Combine(reportDirectory, "confusion.svg"), EvaluationReport.ConfusionSvg(metrics));
        var unknownEvaluation = package.Manifest.Unknown is { } u
            ? UnknownEvaluation.From(unknownVerdicts, [.. predictions.Select(p => DinoFlow.Pipeline.Training.HeadTrainer.ArgMax(p.Probabilities) == p.Truth)], u.Threshold)
            : null;
        return (metrics, unknownEvaluation);
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
