using System.Globalization;
using DinoFlow.Inference;
using DinoFlow.Models;
using DinoFlow.Local.Runner.Storage;
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
public sealed record TrainOutput(string PackageDirectory, string Version, EvaluationMetrics Validation, double Seconds, string Recipe, bool Refit);

public sealed record GateOutput(bool Passed, double Accuracy, double MinAccuracy, double MinClassRecall);

public sealed record CompileOutput(string PackageDirectory, string Target, double MaxProbabilityDifference, double LatencyBeforeMs, double LatencyAfterMs);

/// <summary>Trains on the prepare stage's train manifest, validates on its validation manifest, writes the package.</summary>
public sealed class TrainStage : Stage<TrainOutput>
{
    public const string StageName = "train";
    public const string EpochsOption = "epochs";
    public const string RecipeOption = "recipe";
    public const string RefitOption = "refit";

    public override string Name => StageName;
    public override string Description => "fine-tune the backbone's last blocks and a head (or train a head on frozen features), refit on train + validation, package as one ONNX graph";

    protected override Task<(TrainOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var prepare = context.OutputOf<PrepareOutput>(PrepareStage.StageName);
        var data = (FolderObjectStore)context.Data;
        LabeledExample[] Read(string manifestKey) => PreparedSplit.Read(context, manifestKey, cancellationToken)
            .Select(o => new LabeledExample(o.SourceRef, prepare.Categories.ToList().IndexOf(o.ClassName), () => File.ReadAllBytes(data.Describe(o.SourceRef))))
            .ToArray();

        var seed = int.Parse(context.Input.Option(PrepareStage.SeedOption, "42"), CultureInfo.InvariantCulture);
        var epochs = context.Input.Options.TryGetValue(EpochsOption, out var e) ? int.Parse(e, CultureInfo.InvariantCulture) : (int?)null;
        ModelRecipe recipe;
        try
        {
            recipe = ModelWorkflow.Recipe(seed, epochs, context.Input.Option(RecipeOption, "finetune"), context.Input.Option(RefitOption, "true") != "false");
        }
        catch (ArgumentException ex)
        {
            throw new StageValidationException(ex.Message, ex);
        }

        // The validation channel (an explicit validation set) when the run has one, else the prepare stage's held-out recordings.
        var validation = context.Input.Options.TryGetValue(PrepareStage.ValidationChannelOption, out var channel)
            ? TrainingData.Load(channel) is var v ? v.Images.Select(i => v.Example(i, prepare.Categories)).ToArray() : []
            : Read(prepare.ValidationManifestKey);
        var output = Path.Combine(((FolderObjectStore)context.Artifacts).Root, "model");
        var result = new ModelTrainer(ModelWorkflow.Backbone, new DinoFlow.Imaging.OpenCvImageDecoder()).Train(
            "dinoflow", context.RunId, prepare.Categories, Read(prepare.TrainManifestKey), validation, recipe, output,
            new SynchronousProgress<TrainingProgress>(p => context.Report(p.Done, p.Total, $"{p.Phase}: {p.Text}")), cancellationToken);
        var m = result.Validation;
        return Task.FromResult((new TrainOutput(output, context.RunId, m, result.Elapsed.TotalSeconds, result.Package.Manifest.Training?.Recipe ?? "", result.Package.Manifest.Training?.Refit ?? false),
            string.Create(CultureInfo.InvariantCulture, $"{recipe.Name}: validation accuracy {m.Accuracy:0.000} on {m.Count} images; min class recall {m.PerClass.Min(c => c.Recall):0.000}{(result.Package.Manifest.Training?.Refit == true ? "; shipped model refit on train + validation" : "")}")));
    }
}

/// <summary>Fails the run when the model is below the bar (minimum accuracy, minimum recall per class).</summary>
public sealed class GateStage : Stage<GateOutput>
{
    public const string StageName = "gate";
    public const string MinAccuracyOption = "min-accuracy";
    public const string MinClassRecallOption = "min-class-recall";

    public override string Name => StageName;
    public override string Description => "refuse a model below the minimum accuracy or per-class recall";

    protected override Task<(GateOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var trained = context.OutputOf<TrainOutput>(TrainStage.StageName);
        var options = new GateOptions
        {
            MinAccuracy = double.Parse(context.Input.Option(MinAccuracyOption, "0.9"), CultureInfo.InvariantCulture),
            MinClassRecall = double.Parse(context.Input.Option(MinClassRecallOption, "0.7"), CultureInfo.InvariantCulture),
        };
        var verdict = QualityGate.Check(trained.Validation, options);
        if (!verdict.Passed) throw new StageValidationException("the model is below the bar: " + string.Join("; ", verdict.Failures));
        return Task.FromResult((new GateOutput(true, trained.Validation.Accuracy, options.MinAccuracy, options.MinClassRecall),
            string.Create(CultureInfo.InvariantCulture, $"passed: accuracy {trained.Validation.Accuracy:0.000} ≥ {options.MinAccuracy}, every class recall ≥ {options.MinClassRecall}")));
    }
}

/// <summary>Optimises the package for the target with a parity check on the validation images.</summary>
public sealed class CompileStage : Stage<CompileOutput>
{
    public const string StageName = "compile";
    public const string TargetOption = "target";

    public override string Name => StageName;
    public override string Description => "optimise the model for the target with ONNX Runtime; refuse it if answers change";

    protected override Task<(CompileOutput Output, string Summary)> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var trained = context.OutputOf<TrainOutput>(TrainStage.StageName);
        var prepare = context.OutputOf<PrepareOutput>(PrepareStage.StageName);
        var data = (FolderObjectStore)context.Data;
        var images = context.Input.Options.TryGetValue(PrepareStage.ValidationChannelOption, out var channel)
            ? TrainingData.Load(channel).Paths.Values
            : PreparedSplit.Read(context, prepare.ValidationManifestKey, cancellationToken).Select(o => data.Describe(o.SourceRef));
        var target = context.Input.Option(TargetOption, "cpu");
        var output = Path.Combine(((FolderObjectStore)context.Artifacts).Root, "model");
        CompileResult result;
        try
        {
            result = ModelWorkflow.Compile(ModelPackageFiles.Load(trained.PackageDirectory), target, images, output);
        }
        catch (ParityException e)
        {
            throw new StageValidationException("compile refused: " + e.Message, e);
        }

        var i = result.Info;
        return Task.FromResult((new CompileOutput(output, target, i.MaxProbabilityDifference, i.LatencyBeforeMs, i.LatencyAfterMs),
            string.Create(CultureInfo.InvariantCulture, $"{target}: parity on {i.ParityImages} images (max Δp {i.MaxProbabilityDifference:0.######}); latency {i.LatencyBeforeMs:0.0} → {i.LatencyAfterMs:0.0} ms")));
    }
}

/// <summary>Reads one of the prepare stage's manifests (train or validation) with the label stage's attribute and categories.</summary>
internal static class PreparedSplit
{
    public static IReadOnlyList<LabeledObject> Read(StageContext context, string manifestKey, CancellationToken cancellationToken)
    {
        var label = context.OutputOf<LabelOutput>(LabelStage.StageName);
        var prepared = context.ArtifactsOf(PrepareStage.StageName);
        var text = prepared.ReadAllTextAsync(manifestKey, cancellationToken).GetAwaiter().GetResult();
        return GroundTruthManifest.ReadOutputManifest(text, prepared.Describe(manifestKey), label.LabelAttribute, label.Categories).Labeled;
    }
}
