using DinoFlow.Inference;
using DinoFlow.Inference.FineTuning;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;

namespace DinoFlow.Models.Unknown;

/// <summary>
/// The unknown-score harness on the features a user actually ships: the fine-tuned network's. Near-OOD fine-tunes once
/// per held-out class (the recipe as given, on the other classes' training images, no refit) and scores that class's
/// validation frames against the other classes'; far-OOD fine-tunes once on every class and scores frames generated
/// from the validation images. The same scores and thresholds as <see cref="UnknownHarness"/>, so the two reports
/// compare side by side; it costs a fine-tune per class, which is why the frozen harness exists too.
/// </summary>
public static class FineTunedUnknownHarness
{
    public static UnknownHarnessReport Run(TrainingData data, SplitOptions split, FineTuneRecipe recipe, BackboneSpec backbone, IImageDecoder decoder,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(recipe);
        var (train, validation) = Examples(data, split);
        var spec = recipe.Preprocess(backbone);
        var tuner = new FineTuner(backbone, decoder);
        recipe = recipe with { Refit = false };

        var (validationTensors, far) = ValidationTensors(validation, decoder, new Preprocessor(spec));

        var loco = new List<HeldOutClassReport>();
        for (var held = 0; held < data.Labels.Count; held++)
        {
            if (validation.All(v => v.Label == held) || validation.All(v => v.Label != held)) continue;
            progress?.Report($"fine-tuning without {data.Labels[held]} ({loco.Count + 1} of {data.Labels.Count})");
            var model = Scorer.Of(FineTune(tuner, train, data.Labels.Count, held, recipe, cancellationToken), spec, decoder);
            var features = model.FeaturesOf(validationTensors);
            var knownFeatures = features.Where((_, i) => validation[i].Label != held).ToList();
            var knownLabels = validation.Where(v => v.Label != held).Select(v => v.Label < held ? v.Label : v.Label - 1).ToList();
            var unknownFeatures = features.Where((_, i) => validation[i].Label == held).ToList();
            loco.Add(new HeldOutClassReport(data.Labels[held], model.Reports(knownFeatures, knownLabels, unknownFeatures)));
        }

        progress?.Report("fine-tuning on every class (far-OOD)");
        var all = Scorer.Of(FineTune(tuner, train, data.Labels.Count, null, recipe, cancellationToken), spec, decoder);

        // One session over the validation tensors and every generated frame, split back by kind (building the features graph is not free).
        var allFeatures = all.FeaturesOf([.. validationTensors, .. far]);
        var knownAll = allFeatures.Take(validation.Count).ToArray();
        var farFeatures = FarOodFrames.Kinds.Select((k, i) => (k, allFeatures.Skip(validation.Count).Where((_, j) => j % FarOodFrames.Kinds.Count == i).ToArray()))
            .ToDictionary(f => f.k, f => f.Item2, StringComparer.Ordinal);
        int[] labelsAll = [.. validation.Select(v => v.Label)];
        var farReports = farFeatures.Select(f => new FarOodReport(f.Key, all.Reports(knownAll, labelsAll, f.Value))).ToList();
        var farAll = all.Reports(knownAll, labelsAll, [.. farFeatures.Values.SelectMany(v => v)]);
        var description = $"fine-tuned {backbone.Name} ({recipe.FrozenUntil.Split('_')[0]} frozen, {recipe.Epochs} epochs, seed {recipe.Seed}{(recipe.OutlierExposure > 0 ? $", outlier exposure {recipe.OutlierExposure:0.##}" : "")}{(recipe.Contrastive is { } c ? ", " + c.Describe() : "")}) at {spec.Width}x{spec.Height}; {train.Count} train / {validation.Count} validation images";
        return new UnknownHarnessReport(loco, UnknownHarness.MeanOf(loco), farReports, farAll, description);
    }

    /// <summary>
    /// Each validation image decoded once: its tensor, and its generated far-OOD frames' tensors, frame by frame (image
    /// i's <see cref="FarOodFrames.Kinds"/>[k] at i × kinds + k, which is also its generator's seed).
    /// </summary>
    public static (List<float[]> Validation, List<float[]> Far) ValidationTensors(IReadOnlyList<LabeledExample> validation, IImageDecoder decoder, Preprocessor preprocessor)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(preprocessor);
        var tensors = new List<float[]>();
        var far = new List<float[]>();
        foreach (var example in validation)
        {
            var image = decoder.Decode(example.Read());
            tensors.Add(preprocessor.Run(image));
            foreach (var kind in FarOodFrames.Kinds) far.Add(preprocessor.Run(FarOodFrames.Make(kind, image, far.Count)));
        }

        return (tensors, far);
    }

    /// <summary>The split's training and validation images with their labels (the order every harness network and feature row follows).</summary>
    public static (List<LabeledExample> Train, List<LabeledExample> Validation) Examples(TrainingData data, SplitOptions split)
    {
        ArgumentNullException.ThrowIfNull(data);
        var parts = DatasetSplitter.Split(data.Images, split);
        var byKey = data.Images.ToDictionary(i => i.Image.Key, StringComparer.Ordinal);
        return ([.. parts.Train.Select(i => data.Example(byKey[i.Key], data.Labels))], [.. parts.Validation.Select(i => data.Example(byKey[i.Key], data.Labels))]);
    }

    /// <summary>
    /// Fine-tunes on the training images of every class but <paramref name="heldOut"/> (null: every class), the kept
    /// classes relabelled 0, 1, … in their order, with the recipe as given.
    /// </summary>
    public static HarnessNetwork FineTune(FineTuner tuner, IReadOnlyList<LabeledExample> train, int classes, int? heldOut, FineTuneRecipe recipe,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tuner);
        ArgumentNullException.ThrowIfNull(train);
        var kept = Enumerable.Range(0, classes).Where(c => c != heldOut).ToList();
        var indices = Enumerable.Range(0, train.Count).Where(i => train[i].Label != heldOut).ToList();
        var examples = indices.Select(i => train[i] with { Label = kept.IndexOf(train[i].Label) }).ToList();
        var result = tuner.Train(kept.Count, examples, [], recipe, cancellationToken: cancellationToken);
        return new HarnessNetwork(heldOut, kept, indices, examples, result.Model);
    }

    /// <summary>A fine-tuned network as the package graph computes it: penultimate features, its head, and the bank of its training images.</summary>
    private sealed class Scorer(byte[] graph, PreprocessSpec spec, IImageDecoder decoder)
    {
        private FittedScores? _fitted;

        public static Scorer Of(HarnessNetwork network, PreprocessSpec spec, IImageDecoder decoder)
        {
            var scorer = new Scorer(OnnxGraphs.Serialize(network.Graph()), spec, decoder);
            scorer._fitted = FittedScores.Of(network.Head, scorer.Features(network.Train), [.. network.Train.Select(t => t.Label)]);
            return scorer;
        }

        public float[][] Features(IReadOnlyList<LabeledExample> examples) => new UnknownCalibration(decoder, spec).Features(graph, examples);

        public float[][] FeaturesOf(IReadOnlyList<float[]> tensors)
        {
            var (model, output) = UnknownScore.WithFeaturesOutput(graph);
            using var runner = new BatchRunner(OnnxSessions.Create(model, ExecutionOptions.Cpu), OnnxGraphs.InputName, output, 3, spec.Height, spec.Width);
            return runner.Run(tensors);
        }

        public IReadOnlyList<ScoreReport> Reports(IReadOnlyList<float[]> known, IReadOnlyList<int> knownLabels, IReadOnlyList<float[]> unknown) =>
            UnknownHarness.Reports(_fitted!, known, knownLabels, unknown);
    }
}

/// <summary>
/// One network of the fine-tuned harness: trained without <see cref="HeldOut"/> (null: on every class) on
/// <see cref="Train"/> (the training images at <see cref="TrainIndices"/>, labelled by their place in <see cref="Kept"/>).
/// </summary>
public sealed record HarnessNetwork(int? HeldOut, IReadOnlyList<int> Kept, IReadOnlyList<int> TrainIndices, IReadOnlyList<LabeledExample> Train, BackboneNetwork Model)
{
    /// <summary>The dense head's weights ([classes, features]) and bias: the network's only head parameters.</summary>
    public (NetworkParameter Weights, NetworkParameter Bias) Dense =>
        (Model.Network.Parameters.Single(p => p.IsHead && p.Shape.Length == 2), Model.Network.Parameters.Single(p => p.IsHead && p.Shape.Length == 1));

    public HeadModel Head
    {
        get
        {
            var (weights, bias) = Dense;
            return new([new DenseLayer((int)weights.Shape[1], (int)weights.Shape[0], weights.Value, bias.Value)]);
        }
    }

    /// <summary>The package's graph for these weights (image → probabilities).</summary>
    public Onnx.ModelProto Graph() => Model.Network.InferenceGraph(Model.FrozenPrefix);
}
