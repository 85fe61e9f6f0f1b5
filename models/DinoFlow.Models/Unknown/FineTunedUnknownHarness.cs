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
        var parts = DatasetSplitter.Split(data.Images, split);
        var byKey = data.Images.ToDictionary(i => i.Image.Key, StringComparer.Ordinal);
        var train = parts.Train.Select(i => data.Example(byKey[i.Key], data.Labels)).ToList();
        var validation = parts.Validation.Select(i => data.Example(byKey[i.Key], data.Labels)).ToList();
        var spec = recipe.Preprocess(backbone);
        var tuner = new FineTuner(backbone, decoder);
        recipe = recipe with { Refit = false };

        var loco = new List<HeldOutClassReport>();
        for (var held = 0; held < data.Labels.Count; held++)
        {
            var kept = Enumerable.Range(0, data.Labels.Count).Where(c => c != held).ToList();
            var known = validation.Where(v => v.Label != held).ToList();
            var unknown = validation.Where(v => v.Label == held).ToList();
            if (unknown.Count == 0 || known.Count == 0) continue;
            progress?.Report($"fine-tuning without {data.Labels[held]} ({loco.Count + 1} of {data.Labels.Count})");
            var others = train.Where(t => t.Label != held).Select(t => t with { Label = kept.IndexOf(t.Label) }).ToList();
            var model = Scorer.Train(tuner, others, kept.Count, recipe, spec, decoder, cancellationToken);
            var knownFeatures = model.Features(known);
            var unknownFeatures = model.Features(unknown);
            loco.Add(new HeldOutClassReport(data.Labels[held], [.. UnknownHarness.Scores.Select(s => model.Report(s, knownFeatures, unknownFeatures))]));
        }

        progress?.Report("fine-tuning on every class (far-OOD)");
        var all = Scorer.Train(tuner, train, data.Labels.Count, recipe, spec, decoder, cancellationToken);
        var knownAll = all.Features(validation);
        var preprocessor = new Preprocessor(spec);
        var far = FarOodFrames.Kinds.ToDictionary(k => k, _ => new List<float[]>(), StringComparer.Ordinal);
        var seed = 0;
        foreach (var example in validation)
        {
            var image = decoder.Decode(example.Read());
            foreach (var kind in FarOodFrames.Kinds) far[kind].Add(preprocessor.Run(FarOodFrames.Make(kind, image, seed++)));
        }

        // One session over every generated frame, split back by kind (building the features graph is not free).
        var allFar = all.FeaturesOf([.. far.Values.SelectMany(v => v)]);
        var farFeatures = far.Keys.Select((k, i) => (k, allFar.Skip(i * validation.Count).Take(validation.Count).ToArray()))
            .ToDictionary(f => f.k, f => f.Item2, StringComparer.Ordinal);
        var farReports = farFeatures.Select(f => new FarOodReport(f.Key, [.. UnknownHarness.Scores.Select(s => all.Report(s, knownAll, f.Value))])).ToList();
        var farAll = UnknownHarness.Scores.Select(s => all.Report(s, knownAll, [.. farFeatures.Values.SelectMany(v => v)])).ToList();
        var description = $"fine-tuned {backbone.Name} ({recipe.FrozenUntil.Split('_')[0]} frozen, {recipe.Epochs} epochs, seed {recipe.Seed}{(recipe.OutlierExposure > 0 ? $", outlier exposure {recipe.OutlierExposure:0.##}" : "")}) at {spec.Width}x{spec.Height}; {train.Count} train / {validation.Count} validation images";
        return new UnknownHarnessReport(loco, UnknownHarness.MeanOf(loco), farReports, farAll, description);
    }

    /// <summary>A fine-tuned network as the package graph computes it: penultimate features, its head, and the bank of its training images.</summary>
    private sealed class Scorer(byte[] graph, PreprocessSpec spec, IImageDecoder decoder)
    {
        private FittedScores? _fitted;

        public static Scorer Train(FineTuner tuner, List<LabeledExample> train, int classes, FineTuneRecipe recipe, PreprocessSpec spec, IImageDecoder decoder,
            CancellationToken cancellationToken)
        {
            var result = tuner.Train(classes, train, [], recipe, cancellationToken: cancellationToken);
            var graph = OnnxGraphs.Serialize(result.Model.Network.InferenceGraph(result.Model.FrozenPrefix));
            var dense = result.Model.Network.Parameters.Where(p => p.IsHead).ToList();
            var (weights, bias) = (dense.Single(p => p.Shape.Length == 2), dense.Single(p => p.Shape.Length == 1));
            var head = new HeadModel([new DenseLayer((int)weights.Shape[1], (int)weights.Shape[0], weights.Value, bias.Value)]);
            var scorer = new Scorer(graph, spec, decoder);
            scorer._fitted = FittedScores.Of(head, scorer.Features(train), [.. train.Select(t => t.Label)]);
            return scorer;
        }

        public float[][] Features(IReadOnlyList<LabeledExample> examples) => new UnknownCalibration(decoder, spec).Features(graph, examples);

        public float[][] FeaturesOf(IReadOnlyList<float[]> tensors)
        {
            var (model, output) = UnknownScore.WithFeaturesOutput(graph);
            using var runner = new BatchRunner(OnnxSessions.Create(model, ExecutionOptions.Cpu), OnnxGraphs.InputName, output, 3, spec.Height, spec.Width);
            return runner.Run(tensors);
        }

        public ScoreReport Report(string score, IReadOnlyList<float[]> known, IReadOnlyList<float[]> unknown) =>
            UnknownHarness.Report(_fitted!, score, known, unknown);
    }
}
