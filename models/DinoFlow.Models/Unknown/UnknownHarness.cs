using System.Numerics.Tensors;
using DinoFlow.Inference;
using DinoFlow.Pipeline.Datasets;
using DinoFlow.Pipeline.Imaging;
using DinoFlow.Pipeline.Models;
using DinoFlow.Pipeline.Training;

namespace DinoFlow.Models.Unknown;

/// <summary>One held-out class: its validation images scored as unknown against the other classes' validation frames.</summary>
public sealed record HeldOutClassReport(string Label, IReadOnlyList<ScoreReport> Scores);

/// <summary>One kind of generated frame (from the validation images) scored as unknown against the validation frames.</summary>
public sealed record FarOodReport(string Kind, IReadOnlyList<ScoreReport> Scores);

/// <summary>What the scores are fitted on: the head, and the training images' normalised features and their class prototypes.</summary>
public sealed record FittedScores(HeadModel Head, float[][] Bank, float[][] ClassMeans)
{
    public static FittedScores Of(HeadModel head, IReadOnlyList<float[]> trainFeatures, IReadOnlyList<int> trainLabels)
    {
        var bank = UnknownScore.Normalise(trainFeatures);
        return new FittedScores(head, bank, UnknownScore.ClassMeans(bank, trainLabels));
    }
}

/// <param name="NearOod">Per score, the mean over held-out classes of AUROC, known kept and unknown caught.</param>
public sealed record UnknownHarnessReport(IReadOnlyList<HeldOutClassReport> LeaveOneClassOut, IReadOnlyList<ScoreReport> NearOod,
    IReadOnlyList<FarOodReport> FarOod, IReadOnlyList<ScoreReport> FarOodAll, string Features);

/// <summary>
/// An evaluation of unknown scores with no outside data. Near-OOD: leave one class out (train the head on the other
/// classes, score the held-out class as unknown), for each class in turn. Far-OOD: frames generated from the validation
/// images (<see cref="FarOodFrames"/>). Thresholds are calibrated on the known validation frames as the trainer does.
/// The features come from the frozen backbone (<see cref="TrainingRecipe"/>), extracted once, so a held-out class costs a
/// head, not a backbone pass; the shipped score (<see cref="UnknownScore"/>) is the same KNN on the package's own features.
/// </summary>
public static class UnknownHarness
{
    public static IReadOnlyList<string> Scores { get; } = [UnknownScore.Name, UnknownScore.ClassMeanName, SumOfBoth, "msp", "max-logit", "energy"];

    public static UnknownHarnessReport Run(TrainingData data, SplitOptions split, TrainingRecipe recipe, BackboneSpec backbone, IImageDecoder decoder,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(decoder);
        var parts = DatasetSplitter.Split(data.Images, split);
        var byKey = data.Images.ToDictionary(i => i.Image.Key, StringComparer.Ordinal);
        var spec = new ModelTrainer(backbone, decoder).PreprocessFor(recipe);
        var preprocessor = new Preprocessor(spec);
        using var extractor = FeatureExtractor.Create(backbone, recipe, spec.Width, spec.Height);

        // Training: the plain view (the bank) and the recipe's views (the head); validation: the plain view and the far-OOD frames.
        var train = new List<(int Label, float[] Plain, float[][] Views)>();
        foreach (var item in parts.Train)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var example = data.Example(byKey[item.Key], data.Labels);
            var image = decoder.Decode(example.Read());
            var features = extractor.Run([preprocessor.Run(image), .. recipe.AugmentViews.Select(v => v.Render(image, spec))]);
            train.Add((example.Label, features[0], features[1..]));
        }

        var validation = new List<(int Label, float[] Plain)>();
        var far = FarOodFrames.Kinds.ToDictionary(k => k, _ => new List<float[]>(), StringComparer.Ordinal);
        var seed = 0;
        foreach (var item in parts.Validation)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var example = data.Example(byKey[item.Key], data.Labels);
            var image = decoder.Decode(example.Read());
            var kinds = FarOodFrames.Kinds;
            var features = extractor.Run([preprocessor.Run(image), .. kinds.Select(k => preprocessor.Run(FarOodFrames.Make(k, image, seed++)))]);
            validation.Add((example.Label, features[0]));
            for (var k = 0; k < kinds.Count; k++) far[kinds[k]].Add(features[k + 1]);
        }

        var loco = new List<HeldOutClassReport>();
        for (var held = 0; held < data.Labels.Count; held++)
        {
            var kept = Enumerable.Range(0, data.Labels.Count).Where(c => c != held).ToList();
            var known = validation.Where(v => v.Label != held).Select(v => v.Plain).ToList();
            var knownLabels = validation.Where(v => v.Label != held).Select(v => kept.IndexOf(v.Label)).ToList();
            // Only the held-out class's validation frames: they come from the same recordings as the known validation
            // frames, so the score must tell the class apart, not the recording (its training-recording frames look
            // like the bank's recording and would score as known for that reason alone).
            var unknown = validation.Where(v => v.Label == held).Select(v => v.Plain).ToList();
            if (unknown.Count == 0 || known.Count == 0) continue;
            var model = Fit(train.Where(t => t.Label != held).Select(t => (kept.IndexOf(t.Label), t.Plain, t.Views)).ToList(), kept.Count, recipe.Head);
            loco.Add(new HeldOutClassReport(data.Labels[held], Reports(model, known, knownLabels, unknown)));
        }

        var all = Fit(train, data.Labels.Count, recipe.Head);
        var knownAll = validation.Select(v => v.Plain).ToList();
        var labelsAll = validation.Select(v => v.Label).ToList();
        var farReports = far.Select(f => new FarOodReport(f.Key, Reports(all, knownAll, labelsAll, f.Value))).ToList();
        var farAll = Reports(all, knownAll, labelsAll, [.. far.Values.SelectMany(v => v)]);
        var description = $"frozen {backbone.Name} at {spec.Width}x{spec.Height}, taps {string.Join("+", recipe.Taps)}, {recipe.Pooling}; {parts.Train.Count} train / {parts.Validation.Count} validation images";
        return new UnknownHarnessReport(loco, MeanOf(loco), farReports, farAll, description);
    }

    /// <summary>Per score, the mean over the held-out classes of AUROC, known kept and unknown caught.</summary>
    public static IReadOnlyList<ScoreReport> MeanOf(IReadOnlyList<HeldOutClassReport> loco)
    {
        ArgumentNullException.ThrowIfNull(loco);
        return [.. Scores.Select((s, i) => new ScoreReport(s, Mean(loco, i, r => r.Auroc), double.NaN, Mean(loco, i, r => r.KnownKept), Mean(loco, i, r => r.UnknownCaught),
            loco.Sum(l => l.Scores[i].Known), loco.Sum(l => l.Scores[i].Unknown), Mean(loco, i, r => r.CaughtAtPercentile)))];
    }

    /// <summary>A candidate: the class-mean distance plus the nearest image's (the first catches new classes better, the second odd textures).</summary>
    public const string SumOfBoth = "class-mean+knn";

    /// <summary>A score of a feature vector, higher = more unknown.</summary>
    public static double Score(string score, FittedScores fitted, float[] features)
    {
        ArgumentNullException.ThrowIfNull(fitted);
        if (score == UnknownScore.Name) return UnknownScore.Reference(features, fitted.Bank);
        if (score == UnknownScore.ClassMeanName) return UnknownScore.Reference(features, fitted.ClassMeans);
        if (score == SumOfBoth) return UnknownScore.Reference(features, fitted.ClassMeans) + UnknownScore.Reference(features, fitted.Bank);
        var head = fitted.Head;
        var logits = Logits(head, features);
        var max = TensorPrimitives.Max(logits);
        return score switch
        {
            "msp" => 1 - (1 / logits.Sum(z => Math.Exp(z - max))),
            "max-logit" => -max,
            "energy" => -(max + Math.Log(logits.Sum(z => Math.Exp(z - max)))),
            _ => throw new ArgumentException($"score '{score}' is not one of {string.Join(", ", Scores)}", nameof(score)),
        };
    }

    /// <summary>
    /// Every score's report on one known/unknown set; the known frames (<paramref name="knownLabels"/>: their classes in
    /// <paramref name="fitted"/>'s order) calibrate each threshold with the head's answers, as the trainer does.
    /// </summary>
    public static IReadOnlyList<ScoreReport> Reports(FittedScores fitted, IReadOnlyList<float[]> known, IReadOnlyList<int> knownLabels, IReadOnlyList<float[]> unknown)
    {
        ArgumentNullException.ThrowIfNull(fitted);
        ArgumentNullException.ThrowIfNull(known);
        ArgumentNullException.ThrowIfNull(knownLabels);
        ArgumentNullException.ThrowIfNull(unknown);
        var right = known.Select((f, i) => TopClass(Logits(fitted.Head, f)) == knownLabels[i]).ToList();
        return [.. Scores.Select(score =>
        {
            var k = known.Select(f => Score(score, fitted, f)).ToList();
            return OodMetrics.Report(score, k, right, k, [.. unknown.Select(f => Score(score, fitted, f))]);
        })];
    }

    private static int TopClass(float[] logits) => Array.IndexOf(logits, logits.Max());

    private static FittedScores Fit(List<(int Label, float[] Plain, float[][] Views)> train, int classes, HeadTrainingOptions options)
    {
        var features = train.SelectMany(t => t.Views.Prepend(t.Plain)).ToList();
        var labels = train.SelectMany(t => Enumerable.Repeat(t.Label, t.Views.Length + 1)).ToList();
        return FittedScores.Of(HeadTrainer.Train(features, labels, classes, options), [.. train.Select(t => t.Plain)], [.. train.Select(t => t.Label)]);
    }

    private static float[] Logits(HeadModel head, float[] features)
    {
        var current = features;
        for (var l = 0; l < head.Layers.Count; l++)
        {
            var layer = head.Layers[l];
            var next = new float[layer.Outputs];
            for (var o = 0; o < layer.Outputs; o++) next[o] = TensorPrimitives.Dot(layer.Weights.AsSpan(o * layer.Inputs, layer.Inputs), current) + layer.Bias[o];
            if (l < head.Layers.Count - 1) TensorPrimitives.Max(next, 0f, next);
            current = next;
        }

        return current;
    }

    private static double Mean(IReadOnlyList<HeldOutClassReport> loco, int score, Func<ScoreReport, double> value) =>
        loco.Count == 0 ? double.NaN : loco.Average(l => value(l.Scores[score]));
}
