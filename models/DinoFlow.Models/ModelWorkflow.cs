using DinoFlow.Imaging;
using DinoFlow.Inference;
using DinoFlow.Models.Unknown;
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
    /// As <see cref="Evaluate"/>, plus what the report's "Unknown inputs" section says: the unknown score's verdicts on the
    /// (known) data (the unknown rate, the accuracy among the frames kept) and the far-OOD check on frames generated from
    /// at most <paramref name="farOodSources"/> of the images; null for a package without an unknown score.
    /// </summary>
    public static (EvaluationMetrics Metrics, UnknownReport? Unknown) EvaluateWithUnknown(LoadedPackage package, TrainingData data, string reportDirectory,
        IProgress<TrainingProgress>? progress = null, int farOodSources = FarOodScorer.DefaultSourceCap)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(data);
        var unknown = data.Labels.Except(package.Manifest.Labels, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new StageValidationException($"the data has labels the model does not know: {string.Join(", ", unknown)} (model labels: {string.Join(", ", package.Manifest.Labels)})");
        using var classifier = new Classifier(package);
        var decoder = new OpenCvImageDecoder();
        var info = package.Manifest.Unknown;
        var far = info is null ? null : new FarOodScorer(classifier, data.Images.Count, farOodSources);
        var predictions = new List<Prediction>();
        var answers = new List<ModelAnswer>();
        foreach (var image in data.Images)
        {
            var example = data.Example(image, package.Manifest.Labels);
            var decoded = decoder.Decode(example.Read());
            var answer = classifier.Answer(decoded);
            far?.Offer(predictions.Count, decoded);
            predictions.Add(new Prediction(example.Key, example.Label, answer.Probabilities));
            answers.Add(answer);
            progress?.Report(new TrainingProgress("evaluate", predictions.Count, data.Images.Count, example.Key));
        }

        var metrics = Evaluator.Evaluate(package.Manifest.Labels, predictions);
        UnknownReport? report = null;
        if (info is not null && far is not null)
        {
            var verdicts = UnknownEvaluation.From([.. answers.Select(a => a.IsUnknown)],
                [.. predictions.Select(p => DinoFlow.Pipeline.Training.HeadTrainer.ArgMax(p.Probabilities) == p.Truth)], info.Threshold);
            report = new UnknownReport(info, verdicts, far.Result([.. answers.Select(a => a.UnknownScore ?? double.NaN)]));
        }

        Directory.CreateDirectory(reportDirectory);
        var title = $"{package.Manifest.Name} {package.Manifest.Version}";
        File.WriteAllText(Path.Combine(reportDirectory, "report.html"), EvaluationReport.Html(title, metrics, report));
        File.WriteAllText(Path.Combine(reportDirectory, "report.md"), EvaluationReport.Markdown(title, metrics, report));
        File.WriteAllText(Path.Combine(reportDirectory, "confusion.svg"), EvaluationReport.ConfusionSvg(metrics));
        return (metrics, report);
    }

    /// <summary>Compiles for a target, proving parity on the given images.</summary>
    public static CompileResult Compile(LoadedPackage package, string target, IEnumerable<string> parityImages, string output)
    {
        ArgumentNullException.ThrowIfNull(package);
        if (target == CompileTarget.CpuInt8)
            throw new StageValidationException($"target {CompileTarget.CpuInt8} needs labeled images to calibrate on and to check against: dinoflow compile --target {CompileTarget.CpuInt8} --data <labeled folder or manifest>");
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

    /// <summary>
    /// Compiles to <c>cpu-int8</c>: activation ranges are calibrated on <paramref name="calibration"/> (default: the
    /// check images), and the int8 package is refused unless it agrees with FP32 on <paramref name="check"/>'s labeled
    /// images (see <see cref="ModelCompiler.CompileInt8"/>).
    /// </summary>
    public static CompileResult CompileInt8(LoadedPackage package, TrainingData check, string output, TrainingData? calibration = null)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(check);
        var labeled = check.Images.Select(i => (check.Paths[i.Image.Key], check.Example(i, package.Manifest.Labels).Label)).ToList();
        return CompileInt8(package, labeled, output, calibration?.Paths.Values.ToList());
    }

    /// <summary>
    /// <see cref="CompileInt8(LoadedPackage, TrainingData, string, TrainingData?)"/> on image files and their class
    /// indices (into the package's labels), as a run's train stage records its validation images.
    /// </summary>
    public static CompileResult CompileInt8(LoadedPackage package, IReadOnlyList<(string Path, int Label)> check, string output, IReadOnlyList<string>? calibration = null)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(check);
        var spec = package.Manifest.Preprocess;
        var decoder = new OpenCvImageDecoder();
        var preprocessor = new Preprocessor(spec);
        float[] Tensor(string path) => preprocessor.Run(decoder.Decode(File.ReadAllBytes(path)));
        var labeled = check.Select(c => new LabeledTensor(Tensor(c.Path), c.Label)).ToList();
        var calibrationTensors = calibration is null ? labeled.Select(l => l.Tensor).ToList() : calibration.Select(Tensor).ToList();
        var probe = package.Manifest.Probe is { } p ? Tensor(Path.Combine(package.Directory, p.Image)) : null;
        try
        {
            var ranges = Int8Quantizer.Calibrate(package.Model, calibrationTensors, spec.Height, spec.Width);
            return ModelCompiler.CompileInt8(package, ranges, labeled, probe, output);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new StageValidationException(e.Message, e);
        }
    }
}
