using System.Globalization;
using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Evaluation;
using DinoFlow.Pipeline.Labels;
using DinoFlow.Pipeline.Manifests;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Runner;
using DinoFlow.Pipeline.Stages;
using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Local.Runner.Stages;

/// <param name="Validation">Validation metrics (with a refit, of the model validated before it).</param>
/// <param name="ValidationImages">The files validated on, so the compile stage checks parity on them without reading the manifest or the channel again (null: a run trained before they were recorded).</param>
/// <param name="ValidationClasses">Each validation file's class (index into the package's labels), so cpu-int8 can check accuracy on them (null: a run trained before they were recorded).</param>
public sealed record TrainOutput(string PackageDirectory, string Version, EvaluationMetrics Validation, double Seconds, string Recipe, bool Refit,
    IReadOnlyList<string>? ValidationImages = null, IReadOnlyList<int>? ValidationClasses = null);

/// <param name="UnknownRate">The share of known validation frames the unknown score rejects (null: the package has none).</param>
public sealed record GateOutput(bool Passed, double Accuracy, double MinAccuracy, double MinClassRecall, double? UnknownRate = null);

/// <param name="Target">The target shipped (auto resolved; cpu when int8 was refused).</param>
/// <param name="Int8Refused">Why the int8 package was not shipped, when cpu-int8 was asked for and FP32 ships instead.</param>
public sealed record CompileOutput(string PackageDirectory, string Target, double MaxProbabilityDifference, double LatencyBeforeMs, double LatencyAfterMs,
    string? Int8Refused = null);

/// <summary>Trains on the prepare stage's train manifest, validates on its validation manifest, writes the package.</summary>
public sealed class TrainStage(WorkspaceFiles files) : Stage<TrainOutput>
{
    public const string StageName = "train";

    public override string Name => StageName;
    public override string Description => "fine-tune the backbone's last blocks and a head (or train a head on frozen features), refit on train + validation, package as one ONNX graph";

    protected override async Task<(TrainOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var prepare = context.OutputOf<PrepareOutput>(PrepareStage.StageName);
        var classIndex = prepare.Categories.Select((name, index) => (name, index)).ToDictionary(c => c.name, c => c.index, StringComparer.Ordinal);
        int ClassOf(string className, string source) => classIndex.TryGetValue(className, out var index) ? index
            : throw new StageValidationException($"label '{className}' of '{source}' is not one of the prepared categories ({string.Join(", ", prepare.Categories)})");

        // The trainer reads each image when it needs it, from the data folder (a path: the decoder wants bytes, not a stream).
        (LabeledExample Example, string Path)[] Examples(IEnumerable<LabeledObject> objects) => objects
            .Select(o => files.DataFile(o.SourceRef) is var path ? (new LabeledExample(o.SourceRef, ClassOf(o.ClassName, o.SourceRef), () => File.ReadAllBytes(path)), path) : default)
            .ToArray();

        var settings = context.Input.Settings;
        var recipe = ModelWorkflow.Recipe(settings.Split.Seed, settings.Epochs, settings.Recipe, settings.Refit);

        // The validation channel (an explicit validation set) when the run has one, else the prepare stage's held-out recordings.
        var validation = settings.Validation is { } channel
            ? TrainingData.Load(channel) is var v ? v.Images.Select(i => (Example: v.Example(i, prepare.Categories), Path: v.Paths[i.Image.Key])).ToArray() : []
            : Examples(await PreparedSplit.ReadAsync(context, prepare.ValidationManifestKey, cancellationToken).ConfigureAwait(false));
        // The train manifest, read once: its examples, and the labeling jobs they came from (the model's lineage).
        var trainObjects = await PreparedSplit.ReadAsync(context, prepare.TrainManifestKey, cancellationToken).ConfigureAwait(false);
        var train = Examples(trainObjects).Select(t => t.Example).ToArray();
        var jobs = trainObjects.Select(o => o.JobName).Distinct(StringComparer.Ordinal).ToList();
        var output = Path.Combine(files.StepFolder(context.RunId, context.StageName), "model");
        var result = new ModelTrainer(ModelWorkflow.Backbone, new DinoFlow.Imaging.OpenCvImageDecoder()).Train(
            "dinoflow", context.RunId, prepare.Categories, train, [.. validation.Select(v => v.Example)], recipe, output,
            new SynchronousProgress<TrainingProgress>(p => context.Report(p.Done, p.Total, $"{p.Phase}: {p.Text}")), cancellationToken);
        var m = result.Validation;
        PackageLineage.Record(output, new LineageInfo(context.RunId, jobs, context.Input.Source));
        return (new TrainOutput(output, context.RunId, m, result.Elapsed.TotalSeconds, result.Package.Manifest.Training?.Recipe ?? "", result.Package.Manifest.Training?.Refit ?? false,
                [.. validation.Select(v => v.Path)], [.. validation.Select(v => v.Example.Label)]),
            string.Create(CultureInfo.InvariantCulture, $"{recipe.Name}: validation accuracy {m.Accuracy:0.000} on {m.Count} images; min class recall {m.PerClass.Min(c => c.Recall):0.000}{(result.Package.Manifest.Training?.Refit == true ? "; shipped model refit on train + validation" : "")}"));
    }
}

/// <summary>Fails the run when the model is below the bar (minimum accuracy, minimum recall per class).</summary>
public sealed class GateStage : Stage<GateOutput>
{
    public const string StageName = "gate";

    public override string Name => StageName;
    public override string Description => "refuse a model below the minimum accuracy or per-class recall";

    protected override Task<(GateOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var trained = context.OutputOf<TrainOutput>(TrainStage.StageName);
        var options = context.Input.Settings.Gate;
        var verdict = QualityGate.Check(trained.Validation, options);
        if (!verdict.Passed) throw new StageValidationException("the model is below the bar: " + string.Join("; ", verdict.Failures));
        // The unknown rate is reported, not gated: calibration fixes it near 5 % of known validation frames by design.
        var unknown = ModelPackageFiles.Load(trained.PackageDirectory).Manifest.Unknown;
        double? unknownRate = unknown?.CalibrationUnknownRate;
        var unknownText = unknown is null ? "; no unknown score"
            : "; " + QualityGate.UnknownRateText(unknown.CalibrationUnknownRate, unknown.Score, unknown.Threshold, unknown.CalibrationImages);
        return Task.FromResult((new GateOutput(true, trained.Validation.Accuracy, options.MinAccuracy, options.MinClassRecall, unknownRate),
            string.Create(CultureInfo.InvariantCulture, $"passed: accuracy {trained.Validation.Accuracy:0.000} ≥ {options.MinAccuracy}, every class recall ≥ {options.MinClassRecall}") + unknownText));
    }
}

/// <summary>Optimises the package for the target with a parity check on the validation images.</summary>
public sealed class CompileStage(WorkspaceFiles files) : Stage<CompileOutput>
{
    public const string StageName = "compile";

    public override string Name => StageName;
    public override string Description => "optimise the model for the target with ONNX Runtime; refuse it if answers change";

    protected override async Task<(CompileOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var trained = context.OutputOf<TrainOutput>(TrainStage.StageName);
        var prepare = context.OutputOf<PrepareOutput>(PrepareStage.StageName);
        // The train stage's validation files; a run trained before it recorded them reads its validation set again.
        var images = trained.ValidationImages
            ?? (context.Input.Settings.Validation is { } channel
                ? TrainingData.Load(channel).Paths.Values
                : (await PreparedSplit.ReadAsync(context, prepare.ValidationManifestKey, cancellationToken).ConfigureAwait(false)).Select(o => files.DataFile(o.SourceRef)));
        var requested = context.Input.Settings.Target;
        var target = requested == CompileTarget.Auto ? CompileTarget.ForThisCpu() : requested;
        var output = Path.Combine(files.StepFolder(context.RunId, context.StageName), "model");
        var package = ModelPackageFiles.Load(trained.PackageDirectory);
        string? int8Refused = null;
        if (target == CompileTarget.CpuInt8)
        {
            // The best package that passes: int8 when it agrees with FP32 on the validation images, else FP32.
            try
            {
                var labeled = trained.ValidationClasses is { } classes && trained.ValidationImages is { } paths
                    ? paths.Zip(classes).ToList()
                    : throw new ParityException("this run's train stage did not record its validation classes (train again)");
                var int8 = ModelWorkflow.CompileInt8(package, labeled, output);
                return (new CompileOutput(output, target, int8.Info.MaxProbabilityDifference, int8.Info.LatencyBeforeMs, int8.Info.LatencyAfterMs),
                    string.Create(CultureInfo.InvariantCulture,
                        $"{target}{(requested == target ? "" : $" ({requested})")}: top-1 agreement with FP32 {int8.Info.Quantization!.Top1Agreement:0.000} on {int8.Info.ParityImages} images, accuracy {int8.Info.Quantization.AccuracyFp32:0.000} → {int8.Info.Quantization.AccuracyInt8:0.000}; latency {int8.Info.LatencyBeforeMs:0.0} → {int8.Info.LatencyAfterMs:0.0} ms"));
            }
            catch (Exception e) when (e is ParityException or StageValidationException)
            {
                int8Refused = e.Message;
                context.Report(0, 1, "int8 refused, shipping FP32: " + e.Message);
                if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
                target = "cpu";
            }
        }

        CompileResult result;
        try
        {
            result = ModelWorkflow.Compile(package, target, images, output);
        }
        catch (ParityException e)
        {
            throw new StageValidationException("compile refused: " + e.Message, e);
        }

        var i = result.Info;
        return (new CompileOutput(output, target, i.MaxProbabilityDifference, i.LatencyBeforeMs, i.LatencyAfterMs, int8Refused),
            string.Create(CultureInfo.InvariantCulture, $"{target}{(requested == target ? "" : $" ({requested})")}: parity on {i.ParityImages} images (max Δp {i.MaxProbabilityDifference:0.######}); latency {i.LatencyBeforeMs:0.0} → {i.LatencyAfterMs:0.0} ms")
            + (int8Refused is null ? "" : "; int8 not shipped: " + int8Refused));
    }
}

/// <summary>Reads one of the prepare stage's manifests (train or validation) with the label stage's attribute and categories.</summary>
internal static class PreparedSplit
{
    public static async Task<IReadOnlyList<LabeledObject>> ReadAsync(StageContext context, string manifestKey, CancellationToken cancellationToken)
    {
        var label = context.OutputOf<LabelOutput>(LabelStage.StageName);
        var prepared = context.ArtifactsOf(PrepareStage.StageName);
        var text = await prepared.ReadAllTextAsync(manifestKey, cancellationToken).ConfigureAwait(false);
        return GroundTruthManifest.ReadOutputManifest(text, prepared.Describe(manifestKey), label.LabelAttribute, label.Categories).Labeled;
    }
}
