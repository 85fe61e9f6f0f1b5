using System.Numerics.Tensors;
using DinoFlow.Pipeline.Models;
using Google.Protobuf;
using Onnx;

namespace DinoFlow.Inference;

/// <summary>
/// The unknown-input score baked into a package graph: 1 − the cosine similarity of the L2-normalised penultimate
/// features (the head's input) to the nearest reference vector. Two kinds of reference, one graph:
/// <see cref="Name"/> (KNN, k = 1): every training image's features; <see cref="ClassMeanName"/>: one prototype per class.
/// The references are a constant of the graph, so the edge needs nothing new; the output is <see cref="Output"/> [N, 1].
/// </summary>
public static class UnknownScore
{
    public const string Output = "unknown_score";
    public const string Name = UnknownScoreInfo.KnnCosine;

    /// <summary>1 − cosine similarity to the nearest class prototype: the normalised mean of a class's normalised features.</summary>
    public const string ClassMeanName = "class-mean-cosine";

    /// <summary>The score packages ship.</summary>
    public const string Shipped = ClassMeanName;

    public static IReadOnlyList<string> Kinds { get; } = [Name, ClassMeanName];

    /// <summary>The reference vectors the graph holds for <paramref name="score"/>, from the training images' normalised features.</summary>
    public static float[][] References(string score, float[][] normalisedFeatures, IReadOnlyList<int> labels) => score switch
    {
        Name => normalisedFeatures,
        ClassMeanName => ClassMeans(normalisedFeatures, labels),
        _ => throw UnknownName(score),
    };

    private static ArgumentException UnknownName(string score) =>
        new($"unknown score '{score}' is not one of {string.Join(", ", Kinds)}", nameof(score));

    /// <summary>
    /// Each training image scored against references built without it (calibration when there is no validation
    /// channel): for KNN the other images, for class means its own class's prototype without it (a class of one image
    /// has no prototype left).
    /// </summary>
    public static double[] LeaveOneOut(string score, float[][] normalisedFeatures, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(normalisedFeatures);
        ArgumentNullException.ThrowIfNull(labels);
        if (score == Name) return [.. normalisedFeatures.Select((f, i) => Reference(f, normalisedFeatures, skip: i))];
        if (score != ClassMeanName) throw UnknownName(score);
        var sums = ClassSums(normalisedFeatures, labels);
        return [.. normalisedFeatures.Select((f, i) =>
        {
            var prototypes = sums.Where(c => c.Key != labels[i] || c.Value.Count > 1)
                .Select(c => c.Key != labels[i] ? c.Value.Sum : Without(c.Value.Sum, f)).ToList();
            return prototypes.Count == 0 ? 1 : Reference(f, Normalise(prototypes));
        })];
    }

    private static float[] Without(float[] sum, float[] feature)
    {
        var rest = new float[sum.Length];
        TensorPrimitives.Subtract(sum, feature, rest);
        return rest;
    }

    /// <summary>The head's input: the first input of the Gemm whose output the package's softmax reads.</summary>
    public static string PenultimateTensor(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var softmax = graph.Node.SingleOrDefault(n => n.OpType == "Softmax" && n.Output.Contains(OnnxGraphs.ProbabilitiesOutput))
            ?? throw new ModelPackageException($"the graph has no Softmax producing '{OnnxGraphs.ProbabilitiesOutput}'");
        var logits = softmax.Input[0];
        var gemm = graph.Node.SingleOrDefault(n => n.OpType == "Gemm" && n.Output.Contains(logits))
            ?? throw new ModelPackageException($"the logits '{logits}' are not a Gemm's output");
        return gemm.Input[0];
    }

    /// <summary>The package graph with its penultimate features as an extra output (to build the bank and to test the score).</summary>
    public static (byte[] Model, string Output) WithFeaturesOutput(byte[] packageModel)
    {
        var model = ModelProto.Parser.ParseFrom(packageModel);
        var features = PenultimateTensor(model);
        model.Graph.Output.Add(OnnxProto.TensorInfo(features, [null, null]));
        return (model.ToByteArray(), features);
    }

    /// <summary>Rows scaled to unit length (a zero row stays zero).</summary>
    public static float[][] Normalise(IReadOnlyList<float[]> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        return features.Select(f =>
        {
            var norm = MathF.Sqrt(f.Sum(v => v * v));
            return norm > 0 ? f.Select(v => v / norm).ToArray() : (float[])f.Clone();
        }).ToArray();
    }

    /// <summary>
    /// One prototype per class that has features: the mean of its normalised feature vectors, scaled to unit length.
    /// Used as the bank, the graph computes the class-mean score.
    /// </summary>
    public static float[][] ClassMeans(IReadOnlyList<float[]> normalisedFeatures, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(normalisedFeatures);
        ArgumentNullException.ThrowIfNull(labels);
        return Normalise([.. ClassSums(normalisedFeatures, labels).Values.Select(c => c.Sum)]);
    }

    /// <summary>Per class (in label order), the sum of its feature vectors and how many there are.</summary>
    private static SortedDictionary<int, (float[] Sum, int Count)> ClassSums(IReadOnlyList<float[]> features, IReadOnlyList<int> labels)
    {
        if (features.Count != labels.Count) throw new ArgumentException($"{features.Count} feature vectors but {labels.Count} labels");
        var sums = new SortedDictionary<int, (float[] Sum, int Count)>();
        for (var i = 0; i < labels.Count; i++)
        {
            var (sum, count) = sums.TryGetValue(labels[i], out var entry) ? entry : (new float[features[i].Length], 0);
            TensorPrimitives.Add(sum, features[i], sum);
            sums[labels[i]] = (sum, count + 1);
        }

        return sums;
    }

    /// <summary>The score computed in C#: 1 − max cosine similarity of <paramref name="feature"/> to the (normalised) bank.</summary>
    public static double Reference(ReadOnlySpan<float> feature, IReadOnlyList<float[]> normalisedBank, int skip = -1)
    {
        ArgumentNullException.ThrowIfNull(normalisedBank);
        double norm = 0;
        foreach (var v in feature) norm += (double)v * v;
        norm = Math.Sqrt(norm);
        var best = double.NegativeInfinity;
        for (var b = 0; b < normalisedBank.Count; b++)
        {
            if (b == skip) continue;
            double dot = 0;
            var row = normalisedBank[b];
            for (var i = 0; i < row.Length; i++) dot += (double)row[i] * feature[i];
            best = Math.Max(best, norm > 0 ? dot / norm : 0);
        }

        return 1 - best;
    }

    /// <summary>Adds <see cref="Output"/> to a package graph: LpNormalization → MatMul with the references → ReduceMax → 1 − max.</summary>
    public static byte[] AddToGraph(byte[] packageModel, IReadOnlyList<float[]> normalisedBank)
    {
        ArgumentNullException.ThrowIfNull(normalisedBank);
        if (normalisedBank.Count == 0) throw new ArgumentException("the unknown score needs at least one reference vector");
        var model = ModelProto.Parser.ParseFrom(packageModel);
        var graph = model.Graph;
        var features = PenultimateTensor(model);
        var d = normalisedBank[0].Length;
        var n = normalisedBank.Count;
        // The bank transposed ([D, N]) so one MatMul gives every similarity.
        var bank = new float[d * n];
        for (var j = 0; j < n; j++) for (var i = 0; i < d; i++) bank[(i * n) + j] = normalisedBank[j][i];
        graph.Initializer.Add(OnnxProto.FloatTensor("unknown_bank", [d, n], bank));
        graph.Initializer.Add(OnnxProto.FloatTensor("unknown_one", [1], [1f]));
        Add(graph, "LpNormalization", [features], "unknown_normalised", x => { x.Attribute.Add(OnnxProto.Int("axis", 1)); x.Attribute.Add(OnnxProto.Int("p", 2)); });
        Add(graph, "MatMul", ["unknown_normalised", "unknown_bank"], "unknown_similarity");
        Add(graph, "ReduceMax", ["unknown_similarity"], "unknown_nearest", x => { x.Attribute.Add(OnnxProto.Ints("axes", 1)); x.Attribute.Add(OnnxProto.Int("keepdims", 1)); });
        Add(graph, "Sub", ["unknown_one", "unknown_nearest"], Output);
        graph.Output.Add(OnnxProto.TensorInfo(Output, [null, 1]));
        return model.ToByteArray();
    }

    /// <summary>
    /// The threshold: the lowest known score at which ≥ <paramref name="keep"/> of the known frames stay known and, when
    /// <paramref name="answeredRight"/> says which of them the model answers right, at most ⌊<paramref name="maxAccuracyDrop"/>
    /// · n⌋ of those score above it (a right answer called unknown is a miss, so accuracy drops by at most that). A frame is
    /// unknown when its score is above the threshold.
    /// </summary>
    public static UnknownThreshold Calibrate(IReadOnlyList<double> knownScores, IReadOnlyList<bool>? answeredRight = null,
        double keep = UnknownScoreInfo.TargetKeptShare, double maxAccuracyDrop = UnknownScoreInfo.MaxAccuracyDrop)
    {
        ArgumentNullException.ThrowIfNull(knownScores);
        if (knownScores.Count == 0) throw new ArgumentException("calibration needs at least one known frame");
        if (answeredRight is not null && answeredRight.Count != knownScores.Count)
            throw new ArgumentException($"{answeredRight.Count} answers for {knownScores.Count} calibration scores", nameof(answeredRight));
        var sorted = knownScores.Order().ToArray();
        var threshold = sorted[Math.Clamp((int)Math.Ceiling(keep * sorted.Length) - 1, 0, sorted.Length - 1)];
        if (answeredRight is not null)
        {
            var allowed = (int)Math.Floor((maxAccuracyDrop * sorted.Length) + 1e-9);
            var right = knownScores.Where((_, i) => answeredRight[i]).OrderDescending().ToArray();
            if (allowed < right.Length) threshold = Math.Max(threshold, right[allowed]);
        }

        var kept = (double)sorted.Count(s => s <= threshold) / sorted.Length;
        double? drop = answeredRight is null ? null : (double)knownScores.Where((s, i) => answeredRight[i] && s > threshold).Count() / sorted.Length;
        return new UnknownThreshold(threshold, kept, drop);
    }

    private static void Add(GraphProto graph, string op, IEnumerable<string> inputs, string output, Action<NodeProto>? configure = null)
    {
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        configure?.Invoke(node);
        graph.Node.Add(node);
    }
}

/// <summary>A calibrated threshold, the share of the calibration frames it keeps known and the accuracy it costs them (null: not known).</summary>
public readonly record struct UnknownThreshold(double Threshold, double KeptShare, double? AccuracyDrop);
